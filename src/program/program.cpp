// The program file codec: Program <-> flatbuffer payload, the fixed header around it, and
// the atomic file writer.
#include "program/program.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "program/codec_internal.h"

namespace l2n::program {

namespace {

using detail::from_fb;
using detail::to_fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::Vector;

// A flatbuffer addresses at most 2^31 - 1 bytes; leave room for the tables around the
// large byte vectors when estimating whether a program fits before building it.
constexpr uint64_t kMaxPayloadBytes = FLATBUFFERS_MAX_BUFFER_SIZE - 1;
constexpr uint64_t kMetadataAllowance = uint64_t{64} << 20;

// ---- header --------------------------------------------------------------------------------

struct Header {
  uint32_t format_version = 0;
  uint64_t payload_size = 0;
  uint32_t payload_crc = 0;
};

template <typename T>
void put_le(std::vector<uint8_t>& out, size_t offset, T value) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out[offset + i] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i));
}

template <typename T>
T get_le(std::span<const uint8_t> bytes, size_t offset) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<uint64_t>(bytes[offset + i]) << (8 * i);
  return static_cast<T>(value);
}

uint32_t crc32_of(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a 32-bit length; feed large payloads in pieces.
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t offset = 0; offset < bytes.size(); offset += kChunk) {
    const size_t n = std::min(kChunk, bytes.size() - offset);
    crc = crc32(crc, bytes.data() + offset, static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

// Checks everything the header alone can tell, given the first bytes of a file (up to
// kHeaderSize of them) and the size of the whole file; the CRC is checked by the caller.
Header check_header(std::span<const uint8_t> prefix, uint64_t total_size, const std::string& what) {
  if (total_size == 0 || prefix.empty()) fail("{} is empty: re-export it", what);
  const size_t magic_bytes = std::min(prefix.size(), sizeof(kMagic));
  if (std::memcmp(prefix.data(), kMagic, magic_bytes) != 0) {
    fail("{} is not an llm2npu program file (it does not start with \"L2NPROG\"): check the path", what);
  }
  if (total_size < kHeaderSize)
    fail(
        "{} is truncated ({} bytes, shorter than the {}-byte header): the copy was cut short; re-export or copy "
        "it again",
        what, total_size, kHeaderSize);
  Header header;
  header.format_version = get_le<uint32_t>(prefix, 8);
  header.payload_size = get_le<uint64_t>(prefix, 12);
  header.payload_crc = get_le<uint32_t>(prefix, 20);
  if (header.format_version > kFormatVersion)
    fail(
        "{} was written by a newer llm2npu (format version {}, this build reads up to {}): re-export it with this "
        "version or upgrade llm2npu",
        what, header.format_version, kFormatVersion);
  if (header.format_version == 0) fail("{} is corrupted (format version 0 does not exist): re-export it", what);
  if (get_le<uint64_t>(prefix, 24) != 0)
    fail("{} is corrupted (reserved header bytes are not zero): re-export it", what);
  const uint64_t actual = total_size - kHeaderSize;
  if (actual < header.payload_size)
    fail("{} is truncated ({} of {} payload bytes): the copy was cut short; re-export or copy it again", what, actual,
         header.payload_size);
  if (actual > header.payload_size)
    fail("{} is corrupted ({} unexpected bytes after the payload): re-export it", what, actual - header.payload_size);
  if (header.payload_size > kMaxPayloadBytes)
    fail("{} is corrupted (a payload of {} bytes, more than format version {} can hold): re-export it", what,
         header.payload_size, header.format_version);
  return header;
}

// ---- checks shared by encode and decode -------------------------------------------------------

void check_value_specs(const std::vector<ValueSpec>& specs, const std::string& where) {
  std::set<std::string, std::less<>> names;
  for (const ValueSpec& spec : specs) {
    if (spec.name.empty()) fail("{}: a value has no name", where);
    if (!names.insert(spec.name).second) fail("{}: value '{}' is listed twice", where, spec.name);
    if (dtype_size(spec.dtype) == 0) fail("{}: value '{}' has an unknown dtype", where, spec.name);
    // The same bounds the reader applies (detail::read_shape), so what is written reads back.
    if (spec.shape.size() > detail::kMaxRank)
      fail("{}: value '{}' has rank {} (at most {})", where, spec.name, spec.shape.size(), detail::kMaxRank);
    for (int64_t d : spec.shape)
      if (d < 0 || d > detail::kMaxExtent)
        fail("{}: value '{}' has a dimension out of range in {}", where, spec.name, shape_str(spec.shape));
  }
}

// What makes a Program meaningful beyond its graphs (which check themselves).
void check_program(const Program& program, const std::string& what) {
  std::set<std::string, std::less<>> names;
  for (const Method& method : program.methods) {
    if (method.name.empty()) fail("{}: a method has no name", what);
    if (!names.insert(method.name).second) fail("{}: method '{}' is listed twice", what, method.name);
    const std::string where = fmt::format("{}: method '{}'", what, method.name);
    check_value_specs(method.inputs, where + " inputs");
    check_value_specs(method.outputs, where + " outputs");
    for (size_t k = 0; k < method.steps.size(); ++k) {
      const Step& step = method.steps[k];
      if (step.kind == Step::Kind::Cpu) {
        if (step.index >= method.cpu_graphs.size())
          fail("{}: step {} runs cpu graph {}, but the method has {}", where, k, step.index, method.cpu_graphs.size());
      } else if (step.kind == Step::Kind::Delegate) {
        if (step.index >= program.delegates.size())
          fail("{}: step {} runs delegate {}, but the program has {}", where, k, step.index, program.delegates.size());
      } else {
        fail("{}: step {} has an unknown kind {}", where, k, static_cast<int>(step.kind));
      }
    }
  }
}

// ---- encode ----------------------------------------------------------------------------------

Offset<flatbuffers::String> string_or_null(FlatBufferBuilder& b, const std::string& s) {
  return s.empty() ? 0 : b.CreateString(s);
}

Offset<Vector<uint8_t>> bytes_or_null(FlatBufferBuilder& b, const std::vector<uint8_t>& bytes) {
  return bytes.empty() ? 0 : detail::aligned_bytes(b, bytes.data(), bytes.size());
}

Offset<Vector<Offset<fb::ValueSpec>>> encode_specs(FlatBufferBuilder& b, const std::vector<ValueSpec>& specs) {
  std::vector<Offset<fb::ValueSpec>> out;
  for (const ValueSpec& spec : specs) {
    const auto name = b.CreateString(spec.name);
    const auto shape = b.CreateVector(spec.shape);
    out.push_back(fb::CreateValueSpec(b, name, to_fb(spec.dtype), shape));
  }
  return b.CreateVector(out);
}

Offset<fb::Method> encode_method(FlatBufferBuilder& b, const Method& method) {
  const auto name = b.CreateString(method.name);
  const auto inputs = encode_specs(b, method.inputs);
  const auto outputs = encode_specs(b, method.outputs);
  std::vector<Offset<fb::Step>> steps;
  for (const Step& step : method.steps)
    steps.push_back(
        fb::CreateStep(b, step.kind == Step::Kind::Cpu ? fb::StepKind::Cpu : fb::StepKind::Delegate, step.index));
  const auto step_vector = b.CreateVector(steps);
  std::vector<Offset<fb::Graph>> graphs;
  for (const graph::Graph& graph : method.cpu_graphs) graphs.push_back(detail::encode_graph(b, graph));
  const auto graph_vector = b.CreateVector(graphs);
  return fb::CreateMethod(b, name, inputs, outputs, step_vector, graph_vector);
}

Offset<fb::Delegate> encode_delegate(FlatBufferBuilder& b, const Delegate& d) {
  const auto tosa = bytes_or_null(b, d.tosa);
  const auto compiled = bytes_or_null(b, d.compiled);
  const auto name = string_or_null(b, d.name);
  const auto target = string_or_null(b, d.target);
  const auto log = string_or_null(b, d.compiler_log);
  return fb::CreateDelegate(b, name, target, tosa, compiled, log);
}

Offset<fb::EmbeddedVocab> encode_vocab(FlatBufferBuilder& b, const model::EmbeddedVocab& v) {
  const auto model = string_or_null(b, v.model);
  const auto pre = string_or_null(b, v.pre);
  const auto tokens = v.tokens.empty() ? 0 : b.CreateVectorOfStrings(v.tokens);
  const auto scores = v.scores.empty() ? 0 : b.CreateVector(v.scores);
  const auto types = v.token_types.empty() ? 0 : b.CreateVector(v.token_types);
  const auto merges = v.merges.empty() ? 0 : b.CreateVectorOfStrings(v.merges);
  return fb::CreateEmbeddedVocab(b, model, pre, tokens, scores, types, merges, v.bos_id, v.eos_id, v.unk_id, v.pad_id,
                                 v.add_bos, v.add_space_prefix);
}

Offset<fb::TokenizerBlob> encode_tokenizer(FlatBufferBuilder& b, const TokenizerBlob& t) {
  const auto file_name = string_or_null(b, t.file_name);
  const auto bytes = t.bytes.empty() ? 0 : b.CreateVector(t.bytes);
  const auto vocab = encode_vocab(b, t.embedded_vocab);
  std::vector<Offset<fb::CompanionFile>> companions;
  for (const auto& [name, content] : t.companion_files) {  // a std::map: sorted, so deterministic
    const auto name_offset = b.CreateString(name);
    const auto content_offset = b.CreateVector(reinterpret_cast<const uint8_t*>(content.data()), content.size());
    companions.push_back(fb::CreateCompanionFile(b, name_offset, content_offset));
  }
  const auto companion_vector = companions.empty() ? 0 : b.CreateVector(companions);
  return fb::CreateTokenizerBlob(b, file_name, bytes, vocab, companion_vector);
}

Offset<fb::ModelConfig> encode_config(FlatBufferBuilder& b, const model::ModelConfig& c) {
  const auto architecture = string_or_null(b, c.architecture);
  const auto source_format = string_or_null(b, c.source_format);
  const auto scaling_type = string_or_null(b, c.rope_scaling.type);
  const auto scaling =
      fb::CreateRopeScaling(b, scaling_type, c.rope_scaling.factor, c.rope_scaling.low_freq_factor,
                            c.rope_scaling.high_freq_factor, c.rope_scaling.original_max_position_embeddings);
  fb::RopeLayout layout;
  switch (c.rope_layout) {
    case model::RopeLayout::Interleaved: layout = fb::RopeLayout::Interleaved; break;
    case model::RopeLayout::RotateHalf: layout = fb::RopeLayout::RotateHalf; break;
    default: fail("internal: RoPE layout {} has no value in the program file schema", static_cast<int>(c.rope_layout));
  }
  flatbuffers::Optional<int64_t> sliding_window = flatbuffers::nullopt;
  if (c.sliding_window) sliding_window = *c.sliding_window;
  return fb::CreateModelConfig(b, architecture, source_format, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                               c.head_dim, c.vocab_size, c.max_seq_len, c.rope_theta, scaling, layout, c.norm_eps,
                               c.tied_embeddings, c.qkv_bias, sliding_window, c.bos_id, c.eos_id);
}

// An upper bound on what the payload needs beyond the tables themselves.
uint64_t estimated_payload_bytes(const Program& p) {
  uint64_t total = kMetadataAllowance + p.producer.size() + p.config_yaml.size() + p.partition_report_json.size() +
                   p.quant_report_json.size() + p.tokenizer.bytes.size();
  for (const auto& [name, content] : p.tokenizer.companion_files) total += name.size() + content.size() + 16;
  for (const std::string& token : p.tokenizer.embedded_vocab.tokens) total += token.size() + 8;
  for (const std::string& merge : p.tokenizer.embedded_vocab.merges) total += merge.size() + 8;
  total += 4 * (p.tokenizer.embedded_vocab.scores.size() + p.tokenizer.embedded_vocab.token_types.size());
  for (const Delegate& d : p.delegates) total += d.tosa.size() + d.compiled.size() + d.compiler_log.size() + 32;
  for (const Method& m : p.methods)
    for (const graph::Graph& g : m.cpu_graphs) total += detail::constant_bytes(g) + 16 * g.nodes().size();
  return total;
}

// ---- decode ----------------------------------------------------------------------------------

std::string read_string(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

std::vector<uint8_t> read_bytes(const Vector<uint8_t>* v) {
  return v ? std::vector<uint8_t>(v->begin(), v->end()) : std::vector<uint8_t>();
}

std::vector<ValueSpec> decode_specs(const Vector<Offset<fb::ValueSpec>>* specs, const std::string& where) {
  std::vector<ValueSpec> out;
  if (!specs) return out;
  out.reserve(specs->size());
  for (const fb::ValueSpec* spec : *specs) {
    ValueSpec v;
    v.name = spec->name()->str();
    const std::string at = fmt::format("{} '{}'", where, v.name);
    v.dtype = from_fb(spec->dtype(), at);
    v.shape = detail::read_shape(spec->shape(), at);
    out.push_back(std::move(v));
  }
  return out;
}

Method decode_method(const fb::Method& m, const std::string& what) {
  Method method;
  method.name = m.name()->str();
  const std::string where = fmt::format("{}: method '{}'", what, method.name);
  method.inputs = decode_specs(m.inputs(), where + " input");
  method.outputs = decode_specs(m.outputs(), where + " output");
  if (m.steps()) {
    for (const fb::Step* s : *m.steps()) {
      Step step;
      switch (s->kind()) {
        case fb::StepKind::Cpu: step.kind = Step::Kind::Cpu; break;
        case fb::StepKind::Delegate: step.kind = Step::Kind::Delegate; break;
        default:
          fail("{}: unknown step kind {} (the file may come from a newer llm2npu)", where, static_cast<int>(s->kind()));
      }
      step.index = s->index();
      method.steps.push_back(step);
    }
  }
  if (m.cpu_graphs()) {
    method.cpu_graphs.reserve(m.cpu_graphs()->size());
    for (flatbuffers::uoffset_t k = 0; k < m.cpu_graphs()->size(); ++k)
      method.cpu_graphs.push_back(
          detail::decode_graph(*m.cpu_graphs()->Get(k), fmt::format("{} cpu graph {}", where, k)));
  }
  return method;
}

model::EmbeddedVocab decode_vocab(const fb::EmbeddedVocab* v) {
  model::EmbeddedVocab out;
  if (!v) return out;
  out.model = read_string(v->model());
  out.pre = read_string(v->pre());
  if (v->tokens()) {
    out.tokens.reserve(v->tokens()->size());
    for (const flatbuffers::String* s : *v->tokens()) out.tokens.push_back(s->str());
  }
  if (v->scores()) out.scores.assign(v->scores()->begin(), v->scores()->end());
  if (v->token_types()) out.token_types.assign(v->token_types()->begin(), v->token_types()->end());
  if (v->merges()) {
    out.merges.reserve(v->merges()->size());
    for (const flatbuffers::String* s : *v->merges()) out.merges.push_back(s->str());
  }
  out.bos_id = v->bos_id();
  out.eos_id = v->eos_id();
  out.unk_id = v->unk_id();
  out.pad_id = v->pad_id();
  out.add_bos = v->add_bos();
  out.add_space_prefix = v->add_space_prefix();
  return out;
}

TokenizerBlob decode_tokenizer(const fb::TokenizerBlob* t, const std::string& what) {
  TokenizerBlob out;
  if (!t) return out;
  out.file_name = read_string(t->file_name());
  out.bytes = read_bytes(t->bytes());
  out.embedded_vocab = decode_vocab(t->embedded_vocab());
  if (t->companions()) {
    for (const fb::CompanionFile* c : *t->companions()) {
      const auto* content = c->bytes();
      std::string text =
          content ? std::string(reinterpret_cast<const char*>(content->data()), content->size()) : std::string();
      if (!out.companion_files.emplace(c->name()->str(), std::move(text)).second)
        fail("{}: tokenizer companion file '{}' is listed twice", what, c->name()->str());
    }
  }
  return out;
}

model::ModelConfig decode_config(const fb::ModelConfig* c, const std::string& what) {
  model::ModelConfig out;
  if (!c) return out;
  out.architecture = read_string(c->architecture());
  out.source_format = read_string(c->source_format());
  out.dim = c->dim();
  out.hidden_dim = c->hidden_dim();
  out.n_layers = c->n_layers();
  out.n_heads = c->n_heads();
  out.n_kv_heads = c->n_kv_heads();
  out.head_dim = c->head_dim();
  out.vocab_size = c->vocab_size();
  out.max_seq_len = c->max_seq_len();
  out.rope_theta = c->rope_theta();
  if (const fb::RopeScaling* s = c->rope_scaling()) {
    out.rope_scaling.type = read_string(s->type());
    out.rope_scaling.factor = s->factor();
    out.rope_scaling.low_freq_factor = s->low_freq_factor();
    out.rope_scaling.high_freq_factor = s->high_freq_factor();
    out.rope_scaling.original_max_position_embeddings = s->original_max_position_embeddings();
  }
  switch (c->rope_layout()) {
    case fb::RopeLayout::Interleaved: out.rope_layout = model::RopeLayout::Interleaved; break;
    case fb::RopeLayout::RotateHalf: out.rope_layout = model::RopeLayout::RotateHalf; break;
    default:
      fail("{}: model config: unknown RoPE layout {} (the file may come from a newer llm2npu)", what,
           static_cast<int>(c->rope_layout()));
  }
  out.norm_eps = c->norm_eps();
  out.tied_embeddings = c->tied_embeddings();
  out.qkv_bias = c->qkv_bias();
  if (const auto window = c->sliding_window(); window.has_value()) out.sliding_window = *window;
  out.bos_id = c->bos_id();
  out.eos_id = c->eos_id();
  return out;
}

// ---- files -----------------------------------------------------------------------------------

std::string program_name(const std::filesystem::path& path) { return fmt::format("program '{}'", path.string()); }


}  // namespace

const Method* Program::find_method(std::string_view name) const {
  for (const Method& method : methods)
    if (method.name == name) return &method;
  return nullptr;
}

namespace {

// Builds the payload of `program` in `b` and puts the header in front of it, inside the
// builder: the finished file is then the builder's buffer, one copy of the payload in
// memory instead of three (the builder, the framed copy, and the builder's growth steps).
// The builder starts at the payload estimate, so it does not grow by reallocation (each
// step would hold the old and the new buffer at once); untouched pages cost no memory.
void build_program_file(const Program& program, FlatBufferBuilder& b) {
  // Children first (flatbuffers builds back to front); the order is fixed, so the bytes are
  // too.
  std::vector<Offset<fb::Method>> methods;
  for (const Method& method : program.methods) methods.push_back(encode_method(b, method));
  const auto method_vector = b.CreateVector(methods);
  std::vector<Offset<fb::Delegate>> delegates;
  for (const Delegate& d : program.delegates) delegates.push_back(encode_delegate(b, d));
  const auto delegate_vector = b.CreateVector(delegates);
  const auto tokenizer = encode_tokenizer(b, program.tokenizer);
  const auto config = encode_config(b, program.model_config);
  const auto producer = string_or_null(b, program.producer);
  const auto config_yaml = string_or_null(b, program.config_yaml);
  const auto partition_report = string_or_null(b, program.partition_report_json);
  const auto quant_report = string_or_null(b, program.quant_report_json);
  const auto root = fb::CreateProgram(b, producer, config_yaml, config, tokenizer, partition_report, quant_report,
                                      delegate_vector, method_vector);
  fb::FinishProgramBuffer(b, root);

  // The header goes in front of the finished payload (the builder grows downwards); the
  // payload's bytes and their alignment relative to its own start do not change.
  const std::span<const uint8_t> payload(b.GetBufferPointer(), b.GetSize());
  std::vector<uint8_t> header(kHeaderSize, 0);
  std::memcpy(header.data(), kMagic, sizeof(kMagic));
  put_le<uint32_t>(header, 8, kFormatVersion);
  put_le<uint64_t>(header, 12, payload.size());
  put_le<uint32_t>(header, 20, crc32_of(payload));
  b.PushBytes(header.data(), header.size());
}

// The builder for a program: checked first, sized by the estimate.
std::unique_ptr<FlatBufferBuilder> encode_to_builder(const Program& program) {
  check_program(program, "program");
  const uint64_t estimate = estimated_payload_bytes(program);
  if (estimate > kMaxPayloadBytes)
    fail(
        "the program needs about {} MiB, more than the {} MiB a program file (format version {}) can hold; "
        "export fewer layers to the CPU (delegate them) or quantize the weights",
        estimate >> 20, kMaxPayloadBytes >> 20, kFormatVersion);
  auto b = std::make_unique<FlatBufferBuilder>(static_cast<size_t>(estimate) + kHeaderSize);
  build_program_file(program, *b);
  return b;
}

}  // namespace

std::vector<uint8_t> encode_program(const Program& program) {
  const auto b = encode_to_builder(program);
  return std::vector<uint8_t>(b->GetBufferPointer(), b->GetBufferPointer() + b->GetSize());
}

Program decode_program(std::span<const uint8_t> bytes, const std::string& what) {
  const Header header = check_header(bytes.first(std::min(bytes.size(), kHeaderSize)), bytes.size(), what);
  std::span<const uint8_t> payload = bytes.subspan(kHeaderSize);
  if (crc32_of(payload) != header.payload_crc) fail("{} is corrupted (checksum mismatch): re-export it", what);
  // The flatbuffers accessors load scalars in place; the verifier checks their alignment
  // relative to the payload's start, so the start itself must be aligned. A caller's
  // buffer at an odd address (a slice of a larger mapping, say) is copied first.
  std::vector<uint8_t> aligned_copy;
  if (reinterpret_cast<uintptr_t>(payload.data()) % alignof(std::max_align_t) != 0) {
    aligned_copy.assign(payload.begin(), payload.end());
    payload = aligned_copy;
  }

  flatbuffers::Verifier verifier(payload.data(), payload.size());
  if (!fb::VerifyProgramBuffer(verifier))
    fail(
        "{} is corrupted (its payload is not a valid program flatbuffer although the checksum matches; a bug in "
        "the writer?): re-export it",
        what);
  const fb::Program& root = *fb::GetProgram(payload.data());

  Program program;
  program.format_version = header.format_version;
  program.producer = read_string(root.producer());
  program.config_yaml = read_string(root.config_yaml());
  program.model_config = decode_config(root.model_config(), what);
  program.tokenizer = decode_tokenizer(root.tokenizer(), what);
  program.partition_report_json = read_string(root.partition_report_json());
  program.quant_report_json = read_string(root.quant_report_json());
  if (root.delegates()) {
    for (const fb::Delegate* d : *root.delegates()) {
      Delegate delegate;
      delegate.name = read_string(d->name());
      delegate.target = read_string(d->target());
      delegate.tosa = read_bytes(d->tosa());
      delegate.compiled = read_bytes(d->compiled());
      delegate.compiler_log = read_string(d->compiler_log());
      program.delegates.push_back(std::move(delegate));
    }
  }
  if (root.methods())
    for (const fb::Method* m : *root.methods()) program.methods.push_back(decode_method(*m, what));
  check_program(program, what);
  return program;
}

void write_program_file(const Program& program, const std::filesystem::path& path) {
  std::unique_ptr<FlatBufferBuilder> b;
  try {
    b = encode_to_builder(program);
  } catch (const Error& e) {
    fail("cannot write {}: {}", program_name(path), e.what());
  }
  write_file_atomic(path, std::span<const uint8_t>(b->GetBufferPointer(), b->GetSize()), program_name(path));
}

Program read_program_file(const std::filesystem::path& path) {
  const std::string what = program_name(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail("{} is a directory: pass the .l2n file", what);
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) fail("cannot open {}: {}; check the path", what, ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open {}: {}; check the path and permissions", what, std::strerror(errno));
  // The header first, so that a damaged size or a file that is no program is refused
  // before a buffer of the file's size is allocated.
  std::vector<uint8_t> bytes(static_cast<size_t>(std::min<uintmax_t>(size, kHeaderSize)));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in) fail("cannot read {}: the read failed; check the file", what);
  check_header(bytes, size, what);
  bytes.resize(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data() + kHeaderSize), static_cast<std::streamsize>(size - kHeaderSize));
  if (!in || static_cast<uintmax_t>(in.gcount()) != size - kHeaderSize)
    fail("cannot read {}: it changed size while being read; try again", what);
  return decode_program(bytes, what);
}

}  // namespace l2n::program
