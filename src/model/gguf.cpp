// GGUF checkpoints (llama.cpp). The container is parsed with every length checked against
// the remaining bytes, because a GGUF header is a chain of self-declared sizes and a
// corrupt one must fail as an error, never as a huge allocation or an out-of-bounds read.
#include "model/gguf.h"

#include <cstring>
#include <set>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/loaders.h"

namespace l2n::model::detail {

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: case GgufType::Bool:
      return true;
    default:
      return false;
  }
}

bool GgufValue::is_number() const { return is_integer() || type == GgufType::F32 || type == GgufType::F64; }

namespace {

constexpr int kMaxArrayNesting = 4;
constexpr uint32_t kMaxDims = 4;  // ggml tensors have at most four dimensions

const char* value_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "uint8";
    case GgufType::I8: return "int8";
    case GgufType::U16: return "uint16";
    case GgufType::I16: return "int16";
    case GgufType::U32: return "uint32";
    case GgufType::I32: return "int32";
    case GgufType::F32: return "float32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "uint64";
    case GgufType::I64: return "int64";
    case GgufType::F64: return "float64";
  }
  return "?";
}

// Size in the file of a scalar value type, 0 for string/array.
size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

// ggml tensor type ids, for naming the unsupported ones in errors.
std::string ggml_type_name(uint32_t type) {
  static const std::map<uint32_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {6, "Q5_0"},   {7, "Q5_1"},
      {8, "Q8_0"},    {9, "Q8_1"},    {10, "Q2_K"},   {11, "Q3_K"},   {12, "Q4_K"},  {13, "Q5_K"},
      {14, "Q6_K"},   {15, "Q8_K"},   {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"},
      {20, "IQ4_NL"}, {21, "IQ3_S"},  {22, "IQ2_S"},  {23, "IQ4_XS"}, {24, "I8"},    {25, "I16"},
      {26, "I32"},    {27, "I64"},    {28, "F64"},    {29, "IQ1_M"},  {30, "BF16"},  {34, "TQ1_0"},
      {35, "TQ2_0"},  {39, "MXFP4"}};
  auto it = names.find(type);
  return it == names.end() ? fmt::format("unknown type {}", type) : fmt::format("{} (type {})", it->second, type);
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, std::string src) : data_(data), size_(size), src_(std::move(src)) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail("{} is truncated or corrupt: {} needs {} bytes at offset {}, but only {} bytes remain", src_, what, n,
           pos_, remaining());
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const std::string& what) {
    const uint64_t len = read<uint64_t>(what + " length");
    if (len > remaining())
      fail("{} is corrupt: {} declares a length of {} bytes at offset {}, but only {} bytes remain in the file",
           src_, what, len, pos_ - 8, remaining());
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }
  // Checks that `count` items of at least `min_size` bytes each can still fit in the file.
  void check_count(uint64_t count, uint64_t min_size, const std::string& what) const {
    if (count > remaining() / min_size)
      fail("{} is truncated or corrupt: it declares {} {}, but only {} bytes remain in the file (each needs at least {} "
           "bytes)",
           src_, count, what, remaining(), min_size);
  }
  const std::string& src() const { return src_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string src_;
};

GgufType read_value_type(Reader& r, const std::string& what) {
  const uint32_t t = r.read<uint32_t>(what + " type");
  if (t > static_cast<uint32_t>(GgufType::F64))
    fail("{} is corrupt: {} has unknown value type {}", r.src(), what, t);
  return static_cast<GgufType>(t);
}

// Reads one scalar of type t into v.integer / v.number.
void read_scalar(Reader& r, GgufType t, GgufValue& v, const std::string& what) {
  switch (t) {
    case GgufType::U8: v.integer = r.read<uint8_t>(what); break;
    case GgufType::I8: v.integer = r.read<int8_t>(what); break;
    case GgufType::U16: v.integer = r.read<uint16_t>(what); break;
    case GgufType::I16: v.integer = r.read<int16_t>(what); break;
    case GgufType::U32: v.integer = r.read<uint32_t>(what); break;
    case GgufType::I32: v.integer = r.read<int32_t>(what); break;
    case GgufType::U64: {
      const uint64_t u = r.read<uint64_t>(what);
      v.integer = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
      break;
    }
    case GgufType::I64: v.integer = r.read<int64_t>(what); break;
    case GgufType::Bool: {
      const uint8_t b = r.read<uint8_t>(what);
      if (b > 1) fail("{} is corrupt: {} is a bool with value {}", r.src(), what, b);
      v.integer = b;
      break;
    }
    case GgufType::F32: v.number = r.read<float>(what); return;
    case GgufType::F64: v.number = r.read<double>(what); return;
    default: fail("internal: read_scalar on a non-scalar GGUF type");
  }
  v.number = static_cast<double>(v.integer);
}

GgufValue read_value(Reader& r, GgufType type, const std::string& what, int depth) {
  GgufValue v;
  v.type = type;
  if (type == GgufType::String) {
    v.string = r.read_string(what);
  } else if (type == GgufType::Array) {
    if (depth >= kMaxArrayNesting)
      fail("{} is corrupt: {} nests arrays more than {} deep", r.src(), what, kMaxArrayNesting);
    v.element_type = read_value_type(r, what + " element");
    v.count = r.read<uint64_t>(what + " element count");
    const size_t elem = scalar_size(v.element_type);
    const uint64_t min_size = elem ? elem : v.element_type == GgufType::String ? 8 : 12;
    r.check_count(v.count, min_size, fmt::format("elements in {}", what));
    if (v.element_type == GgufType::String) {
      v.strings.reserve(v.count);
      for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(r.read_string(what + " element"));
    } else if (v.element_type == GgufType::Array) {
      for (uint64_t i = 0; i < v.count; ++i) read_value(r, GgufType::Array, what + " element", depth + 1);
    } else {
      v.numbers.reserve(v.count);
      GgufValue scalar;
      for (uint64_t i = 0; i < v.count; ++i) {
        read_scalar(r, v.element_type, scalar, what);
        v.numbers.push_back(scalar.number);
      }
    }
  } else {
    read_scalar(r, type, v, what);
  }
  return v;
}

}  // namespace

GgufFile read_gguf(const std::filesystem::path& path) {
  GgufFile g;
  g.file = MappedFile::open(path);
  const std::string src = path.string();
  Reader r(g.file->data(), g.file->size(), src);

  if (g.file->size() < 4 || std::memcmp(g.file->data(), "GGUF", 4) != 0)
    fail("{} is not a GGUF file (it does not start with \"GGUF\")", src);
  r.read<uint32_t>("magic");
  g.version = r.read<uint32_t>("version");
  if (g.version == 1)
    fail("{} is GGUF version 1, which is not supported (only 2 and 3); convert it again with a current "
         "llama.cpp",
         src);
  if (g.version != 2 && g.version != 3) {
    if ((g.version & 0xffff) == 0)
      fail("{} looks like a big-endian GGUF (version field {:#x}); only little-endian files are supported", src,
           g.version);
    fail("{} has GGUF version {}; only versions 2 and 3 are supported", src, g.version);
  }
  const uint64_t tensor_count = r.read<uint64_t>("tensor count");
  const uint64_t kv_count = r.read<uint64_t>("metadata count");
  // Smallest possible entries: key (8-byte length) + type + 1-byte value; name + n_dims +
  // type + offset.
  r.check_count(kv_count, 8 + 4 + 1, "metadata entries");
  r.check_count(tensor_count, 8 + 4 + 4 + 8, "tensors");

  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = r.read_string(fmt::format("metadata key #{}", i));
    const std::string what = fmt::format("metadata '{}'", key);
    const GgufType type = read_value_type(r, what);
    GgufValue value = read_value(r, type, what, 0);
    if (g.metadata.count(key)) fail("{} is corrupt: {} appears twice", src, what);
    g.metadata.emplace(std::move(key), std::move(value));
  }

  uint64_t alignment = 32;
  if (auto it = g.metadata.find("general.alignment"); it != g.metadata.end()) {
    const GgufValue& a = it->second;
    if (!a.is_integer() || a.integer <= 0 || (a.integer & (a.integer - 1)) != 0 || a.integer > (1 << 20))
      fail("{} is corrupt: general.alignment must be a power of two, but it is {}", src,
           a.is_number() ? std::to_string(a.number) : value_type_name(a.type));
    alignment = static_cast<uint64_t>(a.integer);
  }

  struct Info {
    std::string name;
    Shape shape;
    DType dtype;
    uint64_t offset, bytes;
  };
  std::vector<Info> infos;
  infos.reserve(tensor_count);
  std::set<std::string> seen;
  const uint64_t file_size = g.file->size();
  for (uint64_t i = 0; i < tensor_count; ++i) {
    Info info;
    info.name = r.read_string(fmt::format("tensor name #{}", i));
    const std::string what = fmt::format("tensor '{}'", info.name);
    const uint32_t n_dims = r.read<uint32_t>(what + " dimension count");
    if (n_dims > kMaxDims)
      fail("{} is corrupt: {} has {} dimensions (ggml allows at most {})", src, what, n_dims, kMaxDims);
    std::vector<uint64_t> ne(n_dims);
    uint64_t numel = 1;
    bool too_big = false;
    for (uint32_t d = 0; d < n_dims; ++d) {
      ne[d] = r.read<uint64_t>(what + " dimension");
      if (ne[d] > file_size) too_big = true;  // no tensor can have more elements than the file has bytes
      else if (ne[d] != 0 && numel > file_size / ne[d]) too_big = true;
      else numel *= ne[d];
    }
    const uint32_t type = r.read<uint32_t>(what + " type");
    info.offset = r.read<uint64_t>(what + " offset");
    if (type == 0) info.dtype = DType::F32;
    else if (type == 1) info.dtype = DType::F16;
    else if (type == 30) info.dtype = DType::BF16;
    else
      fail("{}: {} has ggml type {}, which is not supported; only F32, F16 and BF16 tensors can be loaded "
           "(quantized GGUFs are not supported), so convert the model again with --outtype f16 or f32",
           src, what, ggml_type_name(type));
    if (too_big)
      fail("{} is corrupt: {} has dimensions whose product exceeds the file size", src, what);
    for (uint32_t d = n_dims; d-- > 0;) info.shape.push_back(static_cast<int64_t>(ne[d]));
    info.bytes = numel * dtype_size(info.dtype);
    if (!seen.insert(info.name).second) fail("{} is corrupt: tensor '{}' appears twice", src, info.name);
    infos.push_back(std::move(info));
  }

  const uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
  if (data_start > file_size && tensor_count > 0)
    fail("{} is truncated: the tensor data section should start at offset {}, past the end of the {}-byte "
         "file",
         src, data_start, file_size);
  const uint64_t data_size = data_start <= file_size ? file_size - data_start : 0;
  for (Info& info : infos) {
    if (info.offset % alignment != 0)
      fail("{} is corrupt: tensor '{}' has offset {}, which is not a multiple of the alignment {}", src, info.name,
           info.offset, alignment);
    if (info.offset > data_size || info.bytes > data_size - info.offset)
      fail("{} is truncated or corrupt: tensor '{}' ({} bytes at data offset {}) extends past the end of the "
           "file (the data section holds {} bytes)",
           src, info.name, info.bytes, info.offset, data_size);
    StoredTensor t;
    t.dtype = info.dtype;
    t.shape = std::move(info.shape);
    t.data = g.file->data() + data_start + info.offset;
    t.file = g.file;
    t.file_name = info.name;
    g.tensors.emplace(info.name, std::move(t));
  }
  return g;
}

namespace {

class Metadata {
 public:
  Metadata(const GgufFile& g, std::string src) : g_(g), src_(std::move(src)) {}

  const GgufValue* find(const std::string& key) const {
    auto it = g_.metadata.find(key);
    return it == g_.metadata.end() ? nullptr : &it->second;
  }
  std::optional<int64_t> get_int(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type == GgufType::Array)
      fail("{}: metadata '{}' is an array (per-layer values), which is not supported; only models with the same "
           "value in every layer can be loaded",
           src_, key);
    if (!v->is_integer())
      fail("{}: metadata '{}' must be an integer, but it is a {}", src_, key, value_type_name(v->type));
    return v->integer;
  }
  int64_t require_int(const std::string& key) const {
    auto v = get_int(key);
    if (!v) fail("{}: required metadata '{}' is missing; the GGUF is incomplete", src_, key);
    return *v;
  }
  std::optional<double> get_number(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number())
      fail("{}: metadata '{}' must be a number, but it is a {}", src_, key, value_type_name(v->type));
    return v->number;
  }
  std::optional<std::string> get_string(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != GgufType::String)
      fail("{}: metadata '{}' must be a string, but it is a {}", src_, key, value_type_name(v->type));
    return v->string;
  }
  const GgufValue* get_array(const std::string& key, bool strings) const {
    const GgufValue* v = find(key);
    if (!v) return nullptr;
    const bool ok = v->type == GgufType::Array &&
                    (strings ? v->element_type == GgufType::String
                             : (v->element_type != GgufType::String && v->element_type != GgufType::Array));
    if (!ok)
      fail("{}: metadata '{}' must be an array of {}, but it is a {}", src_, key, strings ? "strings" : "numbers",
           v->type == GgufType::Array ? fmt::format("array of {}", value_type_name(v->element_type))
                                      : std::string(value_type_name(v->type)));
    return v;
  }

 private:
  const GgufFile& g_;
  std::string src_;
};

int32_t token_id(const Metadata& md, const std::string& key, int64_t n_tokens, const std::string& src) {
  auto v = md.get_int(key);
  if (!v) return -1;
  if (*v < 0 || *v >= n_tokens)
    fail("{}: metadata '{}' is {}, outside the vocabulary of {} tokens", src, key, *v, n_tokens);
  return static_cast<int32_t>(*v);
}

std::optional<EmbeddedVocab> read_vocab(const Metadata& md, const std::string& src) {
  const GgufValue* tokens = md.get_array("tokenizer.ggml.tokens", true);
  if (!tokens) return std::nullopt;
  EmbeddedVocab vocab;
  vocab.model = md.get_string("tokenizer.ggml.model").value_or("llama");
  if (vocab.model != "llama" && vocab.model != "gpt2")
    fail("{}: tokenizer.ggml.model is \"{}\"; only \"llama\" (SentencePiece) and \"gpt2\" (byte-level BPE) "
         "vocabularies are supported; pass a tokenizer file explicitly instead",
         src, vocab.model);
  vocab.pre = md.get_string("tokenizer.ggml.pre").value_or("");
  vocab.tokens = tokens->strings;
  const int64_t n = static_cast<int64_t>(vocab.tokens.size());
  if (const GgufValue* scores = md.get_array("tokenizer.ggml.scores", false)) {
    if (static_cast<int64_t>(scores->numbers.size()) != n)
      fail("{}: tokenizer.ggml.scores has {} entries but there are {} tokens", src, scores->numbers.size(), n);
    vocab.scores.assign(scores->numbers.begin(), scores->numbers.end());
  }
  if (const GgufValue* types = md.get_array("tokenizer.ggml.token_type", false)) {
    if (static_cast<int64_t>(types->numbers.size()) != n)
      fail("{}: tokenizer.ggml.token_type has {} entries but there are {} tokens", src, types->numbers.size(), n);
    vocab.token_types.reserve(n);
    for (double t : types->numbers) {
      if (!(t >= INT32_MIN && t <= INT32_MAX))
        fail("{}: tokenizer.ggml.token_type holds {}, which is not a valid token type", src, t);
      vocab.token_types.push_back(static_cast<int32_t>(t));
    }
  }
  if (const GgufValue* merges = md.get_array("tokenizer.ggml.merges", true)) vocab.merges = merges->strings;
  vocab.bos_id = token_id(md, "tokenizer.ggml.bos_token_id", n, src);
  vocab.eos_id = token_id(md, "tokenizer.ggml.eos_token_id", n, src);
  vocab.unk_id = token_id(md, "tokenizer.ggml.unknown_token_id", n, src);
  vocab.pad_id = token_id(md, "tokenizer.ggml.padding_token_id", n, src);
  // SentencePiece vocabularies add BOS and a leading space by default; byte-level BPE does neither.
  const bool spm = vocab.model == "llama";
  vocab.add_bos = md.get_int("tokenizer.ggml.add_bos_token").value_or(spm) != 0;
  vocab.add_space_prefix = md.get_int("tokenizer.ggml.add_space_prefix").value_or(spm) != 0;
  return vocab;
}

// GGUF tensor name of a canonical weight.
std::string gguf_name(const std::string& canonical) {
  static const std::map<std::string, std::string> globals = {
      {"embed", "token_embd.weight"}, {"final_norm", "output_norm.weight"}, {"output", "output.weight"}};
  static const std::map<std::string, std::string> fields = {
      {"attn_norm", "attn_norm.weight"}, {"ffn_norm", "ffn_norm.weight"}, {"wq", "attn_q.weight"},
      {"wk", "attn_k.weight"},           {"wv", "attn_v.weight"},         {"wo", "attn_output.weight"},
      {"w_gate", "ffn_gate.weight"},     {"w_up", "ffn_up.weight"},       {"w_down", "ffn_down.weight"}};
  if (auto it = globals.find(canonical); it != globals.end()) return it->second;
  int64_t layer;
  std::string field;
  if (split_layer_name(canonical, layer, field))
    if (auto it = fields.find(field); it != fields.end()) return fmt::format("blk.{}.{}", layer, it->second);
  return canonical;
}

std::string canonical_from_gguf(const std::string& name, int64_t n_layers, const std::string& src) {
  static const std::map<std::string, std::string> globals = {
      {"token_embd.weight", "embed"}, {"output_norm.weight", "final_norm"}, {"output.weight", "output"}};
  static const std::map<std::string, std::string> fields = {
      {"attn_norm.weight", "attn_norm"}, {"ffn_norm.weight", "ffn_norm"}, {"attn_q.weight", "wq"},
      {"attn_k.weight", "wk"},           {"attn_v.weight", "wv"},         {"attn_output.weight", "wo"},
      {"ffn_gate.weight", "w_gate"},     {"ffn_up.weight", "w_up"},       {"ffn_down.weight", "w_down"}};
  if (auto it = globals.find(name); it != globals.end()) return it->second;
  if (name == "rope_freqs.weight")
    fail("{} holds rope_freqs.weight (Llama 3.1-style RoPE frequency scaling baked into the GGUF), which is not "
         "supported; load the Hugging Face checkpoint instead",
         src);
  int64_t layer;
  std::string field;
  if (name.compare(0, 4, "blk.") == 0 && split_layer_name("layers." + name.substr(4), layer, field)) {
    if (field == "rope_freqs.weight" || field == "attn_rot_embd") return "";  // RoPE tables, recomputed
    if (auto it = fields.find(field); it != fields.end()) {
      if (layer >= n_layers)
        fail("{} holds tensor '{}', but llama.block_count is {}; the file is inconsistent", src, name, n_layers);
      return layer_weight(layer, it->second.c_str());
    }
  }
  fail("{} holds tensor '{}', which is not part of a Llama model as this loader understands it; the model "
       "probably uses a feature that is not supported",
       src, name);
}

}  // namespace

Model load_gguf(const std::filesystem::path& path) {
  GgufFile g = read_gguf(path);
  const std::string src = path.string();
  Metadata md(g, src);

  const std::string arch = md.get_string("general.architecture").value_or("");
  if (arch != "llama")
    fail("{}: GGUF architecture \"{}\" is not supported; supported GGUF architectures: llama", src,
         arch.empty() ? "(general.architecture missing)" : arch);
  const std::string p = arch + ".";

  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.source_format = "gguf";
  c.dim = md.require_int(p + "embedding_length");
  c.hidden_dim = md.require_int(p + "feed_forward_length");
  c.n_layers = md.require_int(p + "block_count");
  c.n_heads = md.require_int(p + "attention.head_count");
  c.n_kv_heads = md.get_int(p + "attention.head_count_kv").value_or(c.n_heads);
  if (auto key_length = md.get_int(p + "attention.key_length")) {
    c.head_dim = *key_length;
    if (auto value_length = md.get_int(p + "attention.value_length"); value_length && *value_length != c.head_dim)
      fail("{}: attention.key_length ({}) differs from attention.value_length ({}), which is not supported", src,
           c.head_dim, *value_length);
  } else {
    if (c.n_heads <= 0 || c.dim <= 0 || c.dim % c.n_heads != 0)
      fail("{}: attention.head_count ({}) does not divide embedding_length ({}); the GGUF is inconsistent", src,
           c.n_heads, c.dim);
    c.head_dim = c.dim / c.n_heads;
  }
  c.max_seq_len = md.require_int(p + "context_length");
  c.rope_theta = md.get_number(p + "rope.freq_base").value_or(10000.0);
  c.norm_eps = md.get_number(p + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  if (auto rot = md.get_int(p + "rope.dimension_count"); rot && *rot != c.head_dim)
    fail("{}: rope.dimension_count ({}) differs from the head size ({}); partial rotary embeddings are not "
         "supported",
         src, *rot, c.head_dim);
  if (auto type = md.get_string(p + "rope.scaling.type"); type && *type != "none") {
    if (*type != "linear")
      fail("{}: rope.scaling.type \"{}\" is not supported (supported: linear, none)", src, *type);
    c.rope_scaling.type = "linear";
    c.rope_scaling.factor = md.get_number(p + "rope.scaling.factor").value_or(1.0);
  }
  c.rope_layout = RopeLayout::Interleaved;

  std::optional<EmbeddedVocab> vocab = read_vocab(md, src);
  if (auto v = md.get_int(p + "vocab_size")) c.vocab_size = *v;
  else if (vocab) c.vocab_size = static_cast<int64_t>(vocab->tokens.size());
  else if (auto it = g.tensors.find("token_embd.weight"); it != g.tensors.end() && !it->second.shape.empty())
    c.vocab_size = it->second.shape[0];
  if (vocab) {
    if (static_cast<int64_t>(vocab->tokens.size()) != c.vocab_size)
      fail("{}: the embedded vocabulary has {} tokens but the model's vocab_size is {}; the GGUF is inconsistent",
           src, vocab->tokens.size(), c.vocab_size);
    c.bos_id = vocab->bos_id;
    c.eos_id = vocab->eos_id;
  }
  c.tied_embeddings = g.tensors.count("output.weight") == 0;
  validate_config(c, path);

  auto store = std::make_shared<MappedWeightStore>();
  for (auto& [name, t] : g.tensors) {
    const std::string canonical = canonical_from_gguf(name, c.n_layers, src);
    if (!canonical.empty()) store->add(canonical, std::move(t));
  }

  Model model;
  model.config = c;
  model.weights = store;
  model.path = path;
  model.embedded_vocab = std::move(vocab);
  check_weights(model, gguf_name);
  return model;
}

}  // namespace l2n::model::detail
