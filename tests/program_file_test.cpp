// The program file (.l2n): round trips of real graphs (stories260K, full window and decode
// step) and of every op, attribute and dtype; deterministic bytes; every kind of damage to
// the header and the payload refused with a message naming the file; atomic writes; and the
// tokenizer rebuilt from the program exactly like the one loaded from its file.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "graph/llama_builder.h"
#include "hostile_util.h"
#include "model/model.h"
#include "program/program.h"
#include "program/tokenizer_blob.h"
#include "program_generated.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace l2n::program {
namespace {

using graph::Attrs;
using graph::Graph;
using graph::OpKind;
using graph::ValueId;
using testing::expect_l2n_error;
using testing::ScratchDir;

const model::Model& stories260k() {
  static const model::Model model = model::load_model(testing::stories260k_bin());
  return model;
}

template <typename T>
Tensor ramp(Shape shape, T start) {
  Tensor t(dtype_of<T>(), std::move(shape));
  T* data = t.mutable_data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = static_cast<T>(start + static_cast<T>(i));
  return t;
}

// 16-bit float constants, filled with raw bit patterns (no Tensor accessor for them).
Tensor raw16(DType dtype, Shape shape, uint16_t start) {
  Tensor t(dtype, std::move(shape));
  auto* data = static_cast<uint16_t*>(t.mutable_raw());
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = static_cast<uint16_t>(start + 7 * i);
  return t;
}

// Every integer op, every data-movement op on every dtype, and every Attrs field set to a
// value other than its default somewhere.
Graph every_op_graph() {
  Graph g;
  const ValueId x = g.add_input("x", DType::F32, {2, 3, 4});
  Attrs quant;
  quant.dtype = DType::I8;
  quant.scale = 0.0625f;
  quant.zero_point = -3;
  quant.qmin = -127;
  quant.qmax = 127;
  const ValueId q = g.add_node(OpKind::Quantize, "q", {x}, quant);
  g.add_output("dq", g.add_node(OpKind::Dequantize, "dq", {q}, quant));

  // A per-channel double-round RESCALE from int48 (i64) to i16, after an i16 IntMatMul.
  const ValueId a16 = g.add_input("a16", DType::I16, {2, 3, 4});
  const ValueId b16 = g.add_input("b16", DType::I16, {2, 4, 5});
  const ValueId mm = g.add_node(OpKind::IntMatMul, "mm",
                                {a16, b16, g.add_constant("azp", Tensor::from_vector<int16_t>({1}, {0})),
                                 g.add_constant("bzp", Tensor::from_vector<int16_t>({1}, {0}))});
  Attrs rescale;
  rescale.dtype = DType::I16;
  rescale.scale32 = false;
  rescale.double_round = false;
  rescale.per_channel = true;
  g.add_output("rescaled", g.add_node(OpKind::Rescale, "rescale",
                                      {mm, g.add_constant("mult", ramp<int16_t>({5}, 1000)),
                                       g.add_constant("shift", ramp<int8_t>({5}, 20)),
                                       g.add_constant("mm_zp", Tensor::from_vector<int64_t>({1}, {0})),
                                       g.add_constant("out_zp", Tensor::from_vector<int16_t>({1}, {0}))},
                                      rescale));
  Attrs rescale8;
  rescale8.dtype = DType::I8;
  rescale8.double_round = true;
  const ValueId x32 = g.add_input("x32", DType::I32, {6});
  g.add_output("rescaled8", g.add_node(OpKind::Rescale, "rescale8",
                                       {x32, g.add_constant("mult8", Tensor::from_vector<int32_t>({1}, {1 << 30})),
                                        g.add_constant("shift8", Tensor::from_vector<int8_t>({1}, {33})),
                                        g.add_constant("x32_zp", Tensor::from_vector<int32_t>({1}, {0})),
                                        g.add_constant("out8_zp", Tensor::from_vector<int8_t>({1}, {4}))},
                                       rescale8));

  const ValueId x8 = g.add_input("x8", DType::I8, {3, 8});
  g.add_output("table8", g.add_node(OpKind::Table, "table8", {x8, g.add_constant("lut8", ramp<int8_t>({256}, -128))}));
  const ValueId x16 = g.add_input("x16", DType::I16, {3, 8});
  g.add_output("table16",
               g.add_node(OpKind::Table, "table16", {x16, g.add_constant("lut16", ramp<int16_t>({513}, -256))}));
  g.add_output("lin", g.add_node(OpKind::IntLinear, "lin",
                                 {x8, g.add_constant("w8", ramp<int8_t>({5, 8}, -20)),
                                  g.add_constant("bias", ramp<int32_t>({5}, -2)),
                                  g.add_constant("x8_zp", Tensor::from_vector<int8_t>({1}, {1})),
                                  g.add_constant("w8_zp", Tensor::from_vector<int8_t>({1}, {0}))}));

  // Data movement on the dtypes no other node uses.
  const ValueId h = g.add_constant("half", raw16(DType::F16, {2, 6}, 0x3c00));
  Attrs reshape;
  reshape.shape = {3, 4};
  g.add_output("half_reshaped", g.add_node(OpKind::Reshape, "half_reshape", {h}, reshape));
  const ValueId bf = g.add_constant("bfloat", raw16(DType::BF16, {2, 3}, 0x3f80));
  Attrs transpose;
  transpose.perm = {1, 0};
  g.add_output("bf_t", g.add_node(OpKind::Transpose, "bf_transpose", {bf}, transpose));
  const ValueId u = g.add_constant("bytes", ramp<uint8_t>({4, 5}, 250));
  Attrs slice;
  slice.begin = {1, 2};
  slice.size = {2, 3};
  g.add_output("u_slice", g.add_node(OpKind::Slice, "u_slice",
                                     {
                                         u,
                                     },
                                     slice));
  const ValueId l0 = g.add_constant("longs0", ramp<int64_t>({2, 2}, int64_t{1} << 40));
  const ValueId l1 = g.add_constant("longs1", ramp<int64_t>({2, 3}, -5));
  Attrs concat;
  concat.axis = -1;  // stored normalized: 1
  g.add_output("l_cat", g.add_node(OpKind::Concat, "l_cat", {l0, l1}, concat));
  g.add_output("empty", g.add_constant("empty", Tensor(DType::F32, {0, 4})));

  // Float ops the Llama builder does not use.
  const ValueId diff =
      g.add_node(OpKind::Sub, "diff", {x, g.add_constant("one", Tensor::from_vector<float>({1}, {1.0f}))});
  const ValueId e = g.add_node(OpKind::Exp, "exp", {diff});
  const ValueId r = g.add_node(OpKind::Reciprocal, "reciprocal", {e});
  Attrs middle;
  middle.axis = 1;
  g.add_output("sum", g.add_node(OpKind::ReduceSum, "sum", {r}, middle));
  middle.axis = -3;
  g.add_output("max", g.add_node(OpKind::ReduceMax, "max", {r}, middle));
  return g;
}

void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(graph::to_string(a), graph::to_string(b));
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  EXPECT_EQ(a.outputs(), b.outputs());
  for (size_t k = 0; k < a.nodes().size(); ++k) {
    const graph::Node& x = a.nodes()[k];
    const graph::Node& y = b.nodes()[k];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.dtype, y.dtype);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.attrs.axis, y.attrs.axis);
    EXPECT_EQ(x.attrs.perm, y.attrs.perm);
    EXPECT_EQ(x.attrs.shape, y.attrs.shape);
    EXPECT_EQ(x.attrs.begin, y.attrs.begin);
    EXPECT_EQ(x.attrs.size, y.attrs.size);
    EXPECT_EQ(x.attrs.dtype, y.attrs.dtype);
    EXPECT_EQ(x.attrs.scale, y.attrs.scale);
    EXPECT_EQ(x.attrs.zero_point, y.attrs.zero_point);
    EXPECT_EQ(x.attrs.qmin, y.attrs.qmin);
    EXPECT_EQ(x.attrs.qmax, y.attrs.qmax);
    EXPECT_EQ(x.attrs.scale32, y.attrs.scale32);
    EXPECT_EQ(x.attrs.double_round, y.attrs.double_round);
    EXPECT_EQ(x.attrs.per_channel, y.attrs.per_channel);
    if (x.op == OpKind::Constant) {
      EXPECT_EQ(x.value.dtype(), y.value.dtype());
      EXPECT_EQ(x.value.shape(), y.value.shape());
      ASSERT_EQ(x.value.nbytes(), y.value.nbytes());
      if (x.value.nbytes()) {
        EXPECT_EQ(std::memcmp(x.value.raw(), y.value.raw(), x.value.nbytes()), 0);
      }
    }
  }
}

ValueSpec spec_of(const Graph& g, const std::string& name) {
  const graph::Node* node = g.find(name);
  return ValueSpec{name, node->dtype, node->shape};
}

// A program like an export makes: "forward" runs the full window on the CPU, then a
// delegate, then the every-op graph; "decode" runs the KV-cache step.
const Program& sample_program() {
  static const Program program = [] {
    const model::Model& model = stories260k();
    Program p;
    p.producer = "llm2npu test";
    p.config_yaml = "model: stories260K\nexport:\n  max_seq_length: 8\n";
    p.model_config = model.config;
    p.model_config.sliding_window = 4096;  // exercise the optional field and RoPE scaling
    p.model_config.rope_scaling = {"llama3", 8.0, 1.5, 4.5, 4096};
    p.tokenizer = make_tokenizer_blob(model, std::nullopt);
    p.partition_report_json = R"({"delegates":1,"cpu_nodes":12})";
    p.quant_report_json = R"({"mode":"a8w8"})";

    Delegate d;
    d.name = "delegate_0";
    d.target = "TOSA-1.0+INT";
    d.tosa = {0x10, 0, 0, 0, 'T', 'O', 'S', 'A'};
    for (int i = 0; i < 1000; ++i) d.tosa.push_back(static_cast<uint8_t>(i * 37));
    d.compiled = {1, 2, 3};
    d.compiler_log = "cycles: 1234\n";
    p.delegates.push_back(d);
    p.delegates.push_back(Delegate{"delegate_1", "", {}, {}, ""});

    Method forward;
    forward.name = "forward";
    forward.cpu_graphs.push_back(graph::build_full_window(model, 8));
    forward.cpu_graphs.push_back(every_op_graph());
    forward.inputs = {spec_of(forward.cpu_graphs[0], "tokens")};
    forward.outputs = {ValueSpec{"logits", DType::F32, {8, model.config.vocab_size}}};
    forward.steps = {{Step::Kind::Cpu, 0}, {Step::Kind::Delegate, 0}, {Step::Kind::Cpu, 1}};
    p.methods.push_back(std::move(forward));

    Method decode;
    decode.name = "decode";
    decode.cpu_graphs.push_back(graph::build_decode_step(model, 16));
    for (ValueId v : decode.cpu_graphs[0].inputs())
      decode.inputs.push_back(spec_of(decode.cpu_graphs[0], decode.cpu_graphs[0].node(v).name));
    for (const auto& [name, v] : decode.cpu_graphs[0].outputs()) {
      const graph::Node& node = decode.cpu_graphs[0].node(v);
      decode.outputs.push_back(ValueSpec{name, node.dtype, node.shape});
    }
    decode.steps = {{Step::Kind::Cpu, 0}};
    p.methods.push_back(std::move(decode));
    return p;
  }();
  return program;
}

const std::vector<uint8_t>& sample_bytes() {
  static const std::vector<uint8_t> bytes = encode_program(sample_program());
  return bytes;
}

void expect_same_program(const Program& a, const Program& b) {
  EXPECT_EQ(b.format_version, kFormatVersion);
  EXPECT_EQ(a.producer, b.producer);
  EXPECT_EQ(a.config_yaml, b.config_yaml);
  const model::ModelConfig &x = a.model_config, &y = b.model_config;
  EXPECT_EQ(x.architecture, y.architecture);
  EXPECT_EQ(x.source_format, y.source_format);
  EXPECT_EQ(x.dim, y.dim);
  EXPECT_EQ(x.hidden_dim, y.hidden_dim);
  EXPECT_EQ(x.n_layers, y.n_layers);
  EXPECT_EQ(x.n_heads, y.n_heads);
  EXPECT_EQ(x.n_kv_heads, y.n_kv_heads);
  EXPECT_EQ(x.head_dim, y.head_dim);
  EXPECT_EQ(x.vocab_size, y.vocab_size);
  EXPECT_EQ(x.max_seq_len, y.max_seq_len);
  EXPECT_EQ(x.rope_theta, y.rope_theta);
  EXPECT_EQ(x.rope_scaling.type, y.rope_scaling.type);
  EXPECT_EQ(x.rope_scaling.factor, y.rope_scaling.factor);
  EXPECT_EQ(x.rope_scaling.low_freq_factor, y.rope_scaling.low_freq_factor);
  EXPECT_EQ(x.rope_scaling.high_freq_factor, y.rope_scaling.high_freq_factor);
  EXPECT_EQ(x.rope_scaling.original_max_position_embeddings, y.rope_scaling.original_max_position_embeddings);
  EXPECT_EQ(x.rope_layout, y.rope_layout);
  EXPECT_EQ(x.norm_eps, y.norm_eps);
  EXPECT_EQ(x.tied_embeddings, y.tied_embeddings);
  EXPECT_EQ(x.qkv_bias, y.qkv_bias);
  EXPECT_EQ(x.sliding_window, y.sliding_window);
  EXPECT_EQ(x.bos_id, y.bos_id);
  EXPECT_EQ(x.eos_id, y.eos_id);

  EXPECT_EQ(a.tokenizer.file_name, b.tokenizer.file_name);
  EXPECT_EQ(a.tokenizer.bytes, b.tokenizer.bytes);
  EXPECT_EQ(a.tokenizer.companion_files, b.tokenizer.companion_files);
  const model::EmbeddedVocab &v = a.tokenizer.embedded_vocab, &w = b.tokenizer.embedded_vocab;
  EXPECT_EQ(v.model, w.model);
  EXPECT_EQ(v.pre, w.pre);
  EXPECT_EQ(v.tokens, w.tokens);
  EXPECT_EQ(v.scores, w.scores);
  EXPECT_EQ(v.token_types, w.token_types);
  EXPECT_EQ(v.merges, w.merges);
  EXPECT_EQ(v.bos_id, w.bos_id);
  EXPECT_EQ(v.eos_id, w.eos_id);
  EXPECT_EQ(v.unk_id, w.unk_id);
  EXPECT_EQ(v.pad_id, w.pad_id);
  EXPECT_EQ(v.add_bos, w.add_bos);
  EXPECT_EQ(v.add_space_prefix, w.add_space_prefix);

  EXPECT_EQ(a.partition_report_json, b.partition_report_json);
  EXPECT_EQ(a.quant_report_json, b.quant_report_json);
  ASSERT_EQ(a.delegates.size(), b.delegates.size());
  for (size_t k = 0; k < a.delegates.size(); ++k) {
    EXPECT_EQ(a.delegates[k].name, b.delegates[k].name);
    EXPECT_EQ(a.delegates[k].target, b.delegates[k].target);
    EXPECT_EQ(a.delegates[k].tosa, b.delegates[k].tosa);
    EXPECT_EQ(a.delegates[k].compiled, b.delegates[k].compiled);
    EXPECT_EQ(a.delegates[k].compiler_log, b.delegates[k].compiler_log);
  }
  ASSERT_EQ(a.methods.size(), b.methods.size());
  for (size_t k = 0; k < a.methods.size(); ++k) {
    SCOPED_TRACE(a.methods[k].name);
    EXPECT_EQ(a.methods[k].name, b.methods[k].name);
    EXPECT_EQ(a.methods[k].inputs, b.methods[k].inputs);
    EXPECT_EQ(a.methods[k].outputs, b.methods[k].outputs);
    EXPECT_EQ(a.methods[k].steps, b.methods[k].steps);
    ASSERT_EQ(a.methods[k].cpu_graphs.size(), b.methods[k].cpu_graphs.size());
    for (size_t g = 0; g < a.methods[k].cpu_graphs.size(); ++g)
      expect_same_graph(a.methods[k].cpu_graphs[g], b.methods[k].cpu_graphs[g]);
  }
}

// A payload (any bytes) behind a valid header, as encode_program() would frame it.
std::vector<uint8_t> framed(std::span<const uint8_t> payload, uint32_t version = kFormatVersion) {
  std::vector<uint8_t> out(kHeaderSize, 0);
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, payload.data(), static_cast<uInt>(payload.size())));
  const uint64_t size = payload.size();
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<uint8_t>(version >> (8 * i));
  for (int i = 0; i < 8; ++i) out[12 + i] = static_cast<uint8_t>(size >> (8 * i));
  for (int i = 0; i < 4; ++i) out[20 + i] = static_cast<uint8_t>(crc >> (8 * i));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> finished(flatbuffers::FlatBufferBuilder& b, flatbuffers::Offset<fb::Program> root) {
  fb::FinishProgramBuffer(b, root);
  return framed(std::span<const uint8_t>(b.GetBufferPointer(), b.GetSize()));
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- round trips -------------------------------------------------------------------------

TEST(ProgramFile, RoundTripKeepsEverything) {
  const Program decoded = decode_program(sample_bytes());
  expect_same_program(sample_program(), decoded);
  ASSERT_NE(decoded.find_method("forward"), nullptr);
  ASSERT_NE(decoded.find_method("decode"), nullptr);
  EXPECT_EQ(decoded.find_method("prefill"), nullptr);
  EXPECT_EQ(decoded.find_method("decode")->steps.size(), 1u);
}

TEST(ProgramFile, EveryOpAndDTypeIsCovered) {
  // Guards the test itself: the sample holds every op and every dtype as a constant.
  std::set<OpKind> ops;
  std::set<DType> constant_dtypes;
  for (const Method& m : sample_program().methods)
    for (const Graph& g : m.cpu_graphs)
      for (const graph::Node& n : g.nodes()) {
        ops.insert(n.op);
        if (n.op == OpKind::Constant) constant_dtypes.insert(n.dtype);
      }
  for (int k = 0; k <= static_cast<int>(OpKind::IntMatMul); ++k)
    EXPECT_TRUE(ops.count(static_cast<OpKind>(k))) << graph::op_name(static_cast<OpKind>(k));
  EXPECT_EQ(constant_dtypes.size(), static_cast<size_t>(DType::I64) + 1);
}

TEST(ProgramFile, EmptyProgramRoundTrips) {
  const Program decoded = decode_program(encode_program(Program{}));
  expect_same_program(Program{}, decoded);
}

TEST(ProgramFile, DecodesFromAnyAddress) {
  // A program inside a larger buffer at an odd offset decodes the same.
  std::vector<uint8_t> shifted(sample_bytes().size() + 3);
  std::memcpy(shifted.data() + 3, sample_bytes().data(), sample_bytes().size());
  expect_same_program(sample_program(), decode_program(std::span(shifted).subspan(3)));
}

TEST(ProgramFile, EncodingIsDeterministic) {
  EXPECT_EQ(encode_program(sample_program()), sample_bytes());
  // And decoding then encoding again gives the same bytes.
  EXPECT_EQ(encode_program(decode_program(sample_bytes())), sample_bytes());
}

TEST(ProgramFile, LargeByteVectorsAre16ByteAlignedInTheFile) {
  const std::vector<uint8_t>& bytes = sample_bytes();
  const auto& tosa = sample_program().delegates[0].tosa;
  const auto it = std::search(bytes.begin(), bytes.end(), tosa.begin(), tosa.end());
  ASSERT_NE(it, bytes.end());
  EXPECT_EQ((it - bytes.begin()) % 16, 0);
}

// ---- damage -----------------------------------------------------------------------------------

TEST(ProgramFile, FlippedPayloadByteIsAChecksumError) {
  const std::vector<uint8_t>& good = sample_bytes();
  const size_t payload = good.size() - kHeaderSize;
  for (size_t k = 0; k < 64; ++k) {
    std::vector<uint8_t> bad = good;
    const size_t at = kHeaderSize + (k * 7919 * 131) % payload;
    bad[at] ^= static_cast<uint8_t>(1u << (k % 8));
    SCOPED_TRACE(at);
    expect_l2n_error([&] { decode_program(bad, "program 'x.l2n'"); },
                     {"program 'x.l2n' is corrupted (checksum mismatch): re-export it"});
  }
  std::vector<uint8_t> last = good;
  last.back() ^= 0x80;
  expect_l2n_error([&] { decode_program(last); }, {"checksum mismatch"});
}

TEST(ProgramFile, FlippedHeaderBytesAreRefused) {
  const std::vector<uint8_t>& good = sample_bytes();
  for (size_t at = 0; at < kHeaderSize; ++at) {
    std::vector<uint8_t> bad = good;
    bad[at] ^= 0x01;
    SCOPED_TRACE(at);
    std::string expected;
    if (at < 8)
      expected = "not an llm2npu program file";
    else if (at < 12)
      expected = at == 8 ? "corrupted (format version 0" : "newer llm2npu";
    else if (at < 20)
      expected = (good[at] & 1) ? "unexpected bytes after the payload" : "truncated";
    else if (at < 24)
      expected = "checksum mismatch";
    else
      expected = "reserved header bytes";
    expect_l2n_error([&] { decode_program(bad, "program 'x.l2n'"); }, {"program 'x.l2n'", expected});
  }
}

TEST(ProgramFile, TruncationIsReported) {
  const std::vector<uint8_t>& good = sample_bytes();
  expect_l2n_error([&] { decode_program(std::span(good).first(0), "program 'x.l2n'"); }, {"'x.l2n' is empty"});
  for (const size_t length : {size_t{3}, size_t{8}, size_t{20}, kHeaderSize - 1}) {
    SCOPED_TRACE(length);
    expect_l2n_error([&] { decode_program(std::span(good).first(length), "program 'x.l2n'"); },
                     {"program 'x.l2n' is truncated", "header"});
  }
  for (const size_t length : {kHeaderSize, kHeaderSize + 1, good.size() / 2, good.size() - 1}) {
    SCOPED_TRACE(length);
    expect_l2n_error([&] { decode_program(std::span(good).first(length), "program 'x.l2n'"); },
                     {"program 'x.l2n' is truncated", "payload bytes", "copy it again"});
  }
}

TEST(ProgramFile, NewerFormatVersionSaysWhatToDo) {
  std::vector<uint8_t> newer = sample_bytes();
  newer[8] = 7;
  expect_l2n_error([&] { decode_program(newer, "program 'x.l2n'"); },
                   {"program 'x.l2n' was written by a newer llm2npu (format version 7, this build reads up to 1): "
                    "re-export it with this version or upgrade llm2npu"});
}

TEST(ProgramFile, OtherFilesAreNotPrograms) {
  const std::string gguf = "GGUF\x03\0\0\0 and then some more bytes to pass the header size";
  expect_l2n_error([&] { decode_program(std::span(reinterpret_cast<const uint8_t*>(gguf.data()), gguf.size())); },
                   {"not an llm2npu program file", "check the path"});
}

TEST(ProgramFile, PayloadThatIsNoFlatbufferIsRefused) {
  std::vector<uint8_t> junk(100);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 13 + 5);
  expect_l2n_error([&] { decode_program(framed(junk), "program 'x.l2n'"); },
                   {"program 'x.l2n' is corrupted", "not a valid program flatbuffer"});
  // A valid flatbuffer with another file identifier (a TOSA file, say).
  std::vector<uint8_t> other(sample_bytes().begin() + kHeaderSize, sample_bytes().end());
  std::memcpy(other.data() + 4, "TOSA", 4);
  expect_l2n_error([&] { decode_program(framed(other)); }, {"not a valid program flatbuffer"});
}

// ---- hostile payloads with a valid checksum -------------------------------------------------

// A one-method program whose single graph has the given nodes.
flatbuffers::Offset<fb::Program> one_graph_program(flatbuffers::FlatBufferBuilder& b,
                                                   const std::vector<flatbuffers::Offset<fb::Node>>& nodes,
                                                   uint32_t step_index = 0) {
  const auto graph = fb::CreateGraph(b, b.CreateVector(nodes));
  const std::vector<flatbuffers::Offset<fb::Step>> steps = {fb::CreateStep(b, fb::StepKind::Cpu, step_index)};
  const std::vector<flatbuffers::Offset<fb::Graph>> graphs = {graph};
  const auto method =
      fb::CreateMethod(b, b.CreateString("forward"), 0, 0, b.CreateVector(steps), b.CreateVector(graphs));
  const std::vector<flatbuffers::Offset<fb::Method>> methods = {method};
  return fb::CreateProgram(b, 0, 0, 0, 0, 0, 0, 0, b.CreateVector(methods));
}

flatbuffers::Offset<fb::Node> input_node(flatbuffers::FlatBufferBuilder& b, const char* name,
                                         std::vector<int64_t> shape, fb::DType dtype = fb::DType::F32) {
  return fb::CreateNodeDirect(b, fb::OpKind::Input, name, nullptr, dtype, &shape);
}

TEST(ProgramFile, HostilePayloadsAreRefused) {
  {
    flatbuffers::FlatBufferBuilder b;
    const auto root =
        one_graph_program(b, {input_node(b, "x", {4}), fb::CreateNodeDirect(b, static_cast<fb::OpKind>(200), "y")});
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"unknown graph op 200", "newer llm2npu"});
  }
  {
    flatbuffers::FlatBufferBuilder b;
    const auto root = one_graph_program(b, {input_node(b, "x", {4}, static_cast<fb::DType>(99))});
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"node %0 ('x')", "unknown dtype 99"});
  }
  {
    flatbuffers::FlatBufferBuilder b;
    const auto root = one_graph_program(b, {input_node(b, "x", {4})}, 3);
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"step 0 runs cpu graph 3", "has 1"});
  }
  {  // Shapes that do not fit: the IR's shape inference refuses them.
    flatbuffers::FlatBufferBuilder b;
    const std::vector<int32_t> operands = {0, 1};
    const std::vector<int64_t> shape = {4};
    const auto root =
        one_graph_program(b, {input_node(b, "a", {4}), input_node(b, "b", {3}),
                              fb::CreateNodeDirect(b, fb::OpKind::Add, "sum", &operands, fb::DType::F32, &shape)});
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"node %2 ('sum')", "does not rebuild"});
  }
  {  // A stored shape that differs from the re-inferred one.
    flatbuffers::FlatBufferBuilder b;
    const std::vector<int32_t> operands = {0, 0};
    const std::vector<int64_t> shape = {5};
    const auto root = one_graph_program(
        b,
        {input_node(b, "a", {4}), fb::CreateNodeDirect(b, fb::OpKind::Add, "sum", &operands, fb::DType::F32, &shape)});
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"stored as f32[5] but it rebuilds as f32[4]"});
  }
  {  // An operand from the future, and a negative one.
    for (const int32_t operand : {1, -1, 1 << 30}) {
      flatbuffers::FlatBufferBuilder b;
      const std::vector<int32_t> operands = {operand};
      const auto root =
          one_graph_program(b, {input_node(b, "a", {4}), fb::CreateNodeDirect(b, fb::OpKind::Neg, "n", &operands)});
      expect_l2n_error([&] { decode_program(finished(b, root)); }, {"is not produced before the node"});
    }
  }
  {  // Constant data that does not match its shape.
    flatbuffers::FlatBufferBuilder b;
    const std::vector<int64_t> shape = {1000000, 1000000};
    const std::vector<uint8_t> data(16);
    const auto root = one_graph_program(
        b, {fb::CreateNodeDirect(b, fb::OpKind::Constant, "c", nullptr, fb::DType::F32, &shape, 0, &data)});
    expect_l2n_error([&] { decode_program(finished(b, root)); },
                     {"needs 4000000000000 bytes of data, the file has 16"});
  }
  {  // Absurd dimensions.
    flatbuffers::FlatBufferBuilder b;
    const auto root = one_graph_program(b, {input_node(b, "x", {int64_t{1} << 62})});
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"out of range"});
    flatbuffers::FlatBufferBuilder b2;
    const auto root2 = one_graph_program(b2, {input_node(b2, "x", {1 << 30, 1 << 30, 1 << 30})});
    expect_l2n_error([&] { decode_program(finished(b2, root2)); }, {"too many elements"});
  }
  {  // Duplicate node names.
    flatbuffers::FlatBufferBuilder b;
    const auto root = one_graph_program(b, {input_node(b, "x", {4}), input_node(b, "x", {4})});
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"duplicate graph node name 'x'"});
  }
  {  // Unknown RoPE layout and step kind.
    flatbuffers::FlatBufferBuilder b;
    fb::ModelConfigBuilder mc(b);
    mc.add_rope_layout(static_cast<fb::RopeLayout>(9));
    const auto config = mc.Finish();
    const auto root = fb::CreateProgram(b, 0, 0, config);
    expect_l2n_error([&] { decode_program(finished(b, root)); }, {"unknown RoPE layout 9"});
    flatbuffers::FlatBufferBuilder b2;
    const std::vector<flatbuffers::Offset<fb::Step>> steps = {fb::CreateStep(b2, static_cast<fb::StepKind>(7), 0)};
    const std::vector<flatbuffers::Offset<fb::Method>> methods = {
        fb::CreateMethodDirect(b2, "m", nullptr, nullptr, &steps)};
    const auto root2 = fb::CreateProgram(b2, 0, 0, 0, 0, 0, 0, 0, b2.CreateVector(methods));
    expect_l2n_error([&] { decode_program(finished(b2, root2)); }, {"unknown step kind 7"});
  }
}

TEST(ProgramFile, EncodeRefusesMeaninglessPrograms) {
  Program p;
  p.methods.push_back(Method{"forward", {}, {}, {{Step::Kind::Delegate, 0}}, {}});
  expect_l2n_error([&] { encode_program(p); }, {"method 'forward'", "step 0 runs delegate 0", "has 0"});
  p.methods[0].steps.clear();
  p.methods.push_back(p.methods[0]);
  expect_l2n_error([&] { encode_program(p); }, {"method 'forward' is listed twice"});
}

// ---- files -------------------------------------------------------------------------------------

TEST(ProgramFile, WriteAndReadFile) {
  const ScratchDir dir("l2n_hostile");
  const auto path = dir / "stories.l2n";
  write_program_file(sample_program(), path);
  EXPECT_EQ(files_in(dir.path()), std::vector<std::filesystem::path>{"stories.l2n"});
  const std::string on_disk = read_all(path);
  EXPECT_EQ(on_disk, std::string(sample_bytes().begin(), sample_bytes().end()));
  expect_same_program(sample_program(), read_program_file(path));

  // Overwriting replaces the file whole.
  Program small;
  small.producer = "small";
  write_program_file(small, path);
  EXPECT_EQ(read_program_file(path).producer, "small");
  EXPECT_EQ(files_in(dir.path()), std::vector<std::filesystem::path>{"stories.l2n"});
}

TEST(ProgramFile, FailedEncodeLeavesTheExistingFileUntouched) {
  const ScratchDir dir("l2n_hostile");
  const auto path = dir / "model.l2n";
  write_program_file(sample_program(), path);
  const std::string before = read_all(path);
  Program bad;
  bad.methods.push_back(Method{"forward", {}, {}, {{Step::Kind::Cpu, 2}}, {}});
  expect_l2n_error([&] { write_program_file(bad, path); }, {"cannot write program '", "model.l2n'", "step 0"});
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(files_in(dir.path()), std::vector<std::filesystem::path>{"model.l2n"});
}

TEST(ProgramFile, WriteErrorsNameTheFile) {
  const ScratchDir dir("l2n_hostile");
  expect_l2n_error([&] { write_program_file(Program{}, dir / "missing" / "x.l2n"); },
                   {"cannot write program '", "x.l2n'", "check that the directory exists"});
  std::filesystem::create_directories(dir / "taken.l2n");
  expect_l2n_error([&] { write_program_file(Program{}, dir / "taken.l2n"); }, {"cannot write program '", "taken.l2n'"});
  EXPECT_EQ(files_in(dir.path()), std::vector<std::filesystem::path>{"taken.l2n"});
}

TEST(ProgramFile, ReadErrorsNameTheFile) {
  const ScratchDir dir("l2n_hostile");
  expect_l2n_error([&] { read_program_file(dir / "nope.l2n"); }, {"cannot open program '", "nope.l2n'"});
  expect_l2n_error([&] { read_program_file(dir.path()); }, {"is a directory"});
  const std::vector<uint8_t>& good = sample_bytes();
  testing::write_file(dir / "cut.l2n",
                      std::string(good.begin(), good.begin() + static_cast<ptrdiff_t>(good.size() / 3)));
  expect_l2n_error([&] { read_program_file(dir / "cut.l2n"); }, {"program '", "cut.l2n' is truncated"});
  testing::write_file(dir / "empty.l2n", "");
  expect_l2n_error([&] { read_program_file(dir / "empty.l2n"); }, {"empty.l2n' is empty"});
  std::string flipped(good.begin(), good.end());
  flipped[flipped.size() / 2] ^= 0x10;
  testing::write_file(dir / "flipped.l2n", flipped);
  expect_l2n_error([&] { read_program_file(dir / "flipped.l2n"); }, {"flipped.l2n' is corrupted (checksum mismatch)"});
  // A header claiming a huge payload is refused before anything of that size is allocated.
  std::string huge(good.begin(), good.begin() + static_cast<ptrdiff_t>(kHeaderSize));
  huge[19] = '\x7f';
  testing::write_file(dir / "huge.l2n", huge);
  expect_l2n_error([&] { read_program_file(dir / "huge.l2n"); }, {"huge.l2n' is truncated"});
}

// ---- fuzz seeds --------------------------------------------------------------------------------

// A program of a few KB that still has every op and dtype, a delegate, an embedded vocabulary
// and a tokenizer file: the seeds of tests/fuzz/program_read_fuzz.cpp.
Program small_program() {
  graph::GraphBuilder b;
  const ValueId tokens = b.input("tokens", DType::I32, {3});
  const ValueId embed = b.constant("embed", ramp<float>({8, 4}, 0.5f));
  const ValueId h = b.gather(embed, tokens, "embed_lookup");
  const ValueId mean = b.reduce_mean(b.mul(h, h, "square"), "mean");
  const ValueId norm = b.mul(h, b.rsqrt(b.add(mean, b.scalar("eps", 1e-5f), "add_eps"), "rsqrt"), "norm");
  const ValueId q =
      b.linear(norm, b.constant("wq", ramp<float>({4, 4}, -1.0f)), b.constant("bq", ramp<float>({4}, 0.0f)), "q");
  const ValueId scores = b.matmul(q, b.transpose(norm, {1, 0}, "kT"), "scores");
  const ValueId probs = b.softmax(b.neg(scores, "neg"), "probs");
  const ValueId mixed = b.silu(b.matmul(probs, norm, "mix"), "silu");
  const ValueId cache = b.input("cache", DType::F32, {6, 4});
  const ValueId pos = b.input("pos", DType::I32, {1});
  b.output("cache.out", b.cache_update(cache, b.slice(mixed, {0, 0}, {1, 4}, "row"), pos, "cache_update"));
  b.output("logits", b.reshape(b.concat({mixed, norm}, 0, "cat"), {-1}, "flat"));

  Program p;
  p.producer = "llm2npu seed";
  p.model_config = stories260k().config;
  p.tokenizer.embedded_vocab.model = "llama";
  p.tokenizer.embedded_vocab.tokens = {"<unk>", "<s>", "</s>",
                                       "\xE2\x96\x81"
                                       "a",
                                       "b"};
  p.tokenizer.embedded_vocab.scores = {0, 0, 0, -1, -2};
  p.tokenizer.embedded_vocab.token_types = {2, 3, 3, 1, 1};
  p.delegates.push_back(Delegate{"delegate_0", "TOSA-1.0+INT", {1, 2, 3, 4}, {5}, "log"});
  Method forward;
  forward.name = "forward";
  forward.cpu_graphs.push_back(std::move(b).finish());
  forward.cpu_graphs.push_back(every_op_graph());
  forward.inputs = {ValueSpec{"tokens", DType::I32, {3}}};
  forward.outputs = {ValueSpec{"logits", DType::F32, {24}}};
  forward.steps = {{Step::Kind::Cpu, 0}, {Step::Kind::Delegate, 0}, {Step::Kind::Cpu, 1}};
  p.methods.push_back(std::move(forward));
  return p;
}

TEST(ProgramFile, SmallProgramRoundTrips) {
  const Program p = small_program();
  const std::vector<uint8_t> bytes = encode_program(p);
  EXPECT_LT(bytes.size(), 16u * 1024);
  expect_same_program(p, decode_program(bytes));
  EXPECT_EQ(load_tokenizer(p.tokenizer)->encode("ab", false), (std::vector<int32_t>{3, 4}));
}

// Writes the committed seeds: L2N_FUZZ_SEED_DIR=tests/fuzz/corpus/program_read_fuzz
// build/program_file_test --gtest_also_run_disabled_tests --gtest_filter=*WriteFuzzSeeds
TEST(ProgramFile, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("L2N_FUZZ_SEED_DIR");
  ASSERT_NE(dir, nullptr) << "set L2N_FUZZ_SEED_DIR";
  std::filesystem::create_directories(dir);
  auto put = [&](const char* name, std::span<const uint8_t> bytes) {
    testing::write_file(std::filesystem::path(dir) / name, std::string(bytes.begin(), bytes.end()));
  };
  const std::vector<uint8_t> small = encode_program(small_program());
  put("small.l2n", small);
  put("small_payload.bin", std::span(small).subspan(kHeaderSize));  // the target frames it itself
  Program with_file;
  with_file.tokenizer = make_tokenizer_blob(testing::stories260k_dir() / "tok512.bin");
  const std::vector<uint8_t> tokenizer_file = encode_program(with_file);
  put("tokenizer_file.l2n", tokenizer_file);
  const std::vector<uint8_t> empty = encode_program(Program{});
  put("empty_payload.bin", std::span(empty).subspan(kHeaderSize));
  put("header_only.l2n", std::span(small).first(kHeaderSize));
}

// ---- tokenizers -------------------------------------------------------------------------------

std::vector<std::string> sample_texts() {
  std::ifstream in(testing::tinystories_text());
  std::string story(3000, '\0');
  in.read(story.data(), static_cast<std::streamsize>(story.size()));
  story.resize(static_cast<size_t>(in.gcount()));
  return {story, "Hello wörld 🙂 <s> </s> <|endoftext|>\n\t  two  spaces", "", " ", "日本語のテキスト 123 4567"};
}

void expect_same_tokenizer(const tokenizer::Tokenizer& a, const tokenizer::Tokenizer& b) {
  EXPECT_EQ(a.kind(), b.kind());
  EXPECT_EQ(a.vocab_size(), b.vocab_size());
  EXPECT_EQ(a.bos_id(), b.bos_id());
  EXPECT_EQ(a.eos_id(), b.eos_id());
  EXPECT_EQ(a.add_bos_by_default(), b.add_bos_by_default());
  for (int32_t id = 0; id < a.vocab_size(); id += 1 + a.vocab_size() / 500) {
    EXPECT_EQ(a.piece(id), b.piece(id));
    EXPECT_EQ(a.is_special(id), b.is_special(id));
  }
  for (const std::string& text : sample_texts()) {
    const auto ids = a.encode(text, true, true);
    EXPECT_EQ(ids, b.encode(text, true, true));
    EXPECT_EQ(a.decode(ids), b.decode(ids));
  }
}

// The blob survives the program file too.
TokenizerBlob through_program(const TokenizerBlob& blob) {
  Program p;
  p.tokenizer = blob;
  return decode_program(encode_program(p)).tokenizer;
}

TEST(ProgramTokenizer, Llama2cBinRebuildsIdentically) {
  const auto path = testing::stories260k_dir() / "tok512.bin";
  const TokenizerBlob blob = through_program(make_tokenizer_blob(path));
  EXPECT_EQ(blob.file_name, "tok512.bin");
  EXPECT_TRUE(blob.companion_files.empty());
  expect_same_tokenizer(*tokenizer::load_tokenizer(path), *load_tokenizer(blob));
  expect_same_tokenizer(*tokenizer::load_tokenizer(path),
                        *tokenizer::load_tokenizer_from_bytes(blob.bytes, "tok512.bin"));
}

TEST(ProgramTokenizer, SentencePieceModelRebuildsIdentically) {
  const auto path = testing::stories260k_dir() / "tok512.model";
  expect_same_tokenizer(*tokenizer::load_tokenizer(path), *load_tokenizer(through_program(make_tokenizer_blob(path))));
}

TEST(ProgramTokenizer, TokenizerJsonCarriesItsCompanions) {
  for (const char* name : {"llama2", "gpt2", "smollm2"}) {
    SCOPED_TRACE(name);
    const auto dir = testing::shared_data() / "tokenizers" / name;
    const TokenizerBlob blob = through_program(make_tokenizer_blob(dir));  // a directory, as load_tokenizer takes
    EXPECT_EQ(blob.file_name, "tokenizer.json");
    EXPECT_EQ(blob.companion_files.size(), std::string(name) == "smollm2" ? 0u : 2u);
    expect_same_tokenizer(*tokenizer::load_tokenizer(dir), *load_tokenizer(blob));
  }
  // From bytes alone (no companions) it is the tokenizer.json read in a directory of its own.
  const ScratchDir alone("l2n_hostile");
  std::filesystem::copy_file(testing::shared_data() / "tokenizers" / "llama2" / "tokenizer.json",
                             alone / "tokenizer.json");
  const std::string json = read_all(alone / "tokenizer.json");
  expect_same_tokenizer(*tokenizer::load_tokenizer(alone / "tokenizer.json"),
                        *tokenizer::load_tokenizer_from_bytes(
                            std::span(reinterpret_cast<const uint8_t*>(json.data()), json.size()), "tokenizer.json"));
}

TEST(ProgramTokenizer, EmbeddedGgufVocabRebuildsIdentically) {
  const model::Model model = model::load_model(testing::tiny_gguf());
  ASSERT_TRUE(model.embedded_vocab.has_value());
  const TokenizerBlob blob = through_program(make_tokenizer_blob(model, std::nullopt));
  EXPECT_TRUE(blob.file_name.empty());
  expect_same_tokenizer(*tokenizer::tokenizer_from_vocab(*model.embedded_vocab), *load_tokenizer(blob));

  Program p;
  p.model_config = model.config;
  p.tokenizer = blob;
  expect_same_tokenizer(*tokenizer::tokenizer_for_model(model, std::nullopt),
                        *load_tokenizer(decode_program(encode_program(p))));
}

TEST(ProgramTokenizer, ProgramTokenizerMatchesTokenizerForModel) {
  const Program decoded = decode_program(sample_bytes());
  expect_same_tokenizer(*tokenizer::tokenizer_for_model(stories260k(), std::nullopt), *load_tokenizer(decoded));
}

TEST(ProgramTokenizer, ErrorsNameTheFile) {
  TokenizerBlob blob;
  expect_l2n_error([&] { load_tokenizer(blob); }, {"carries no tokenizer"});
  blob.file_name = "tok.bin";
  blob.bytes = {1, 2, 3};
  expect_l2n_error([&] { load_tokenizer(blob); }, {"tok.bin"});
}

}  // namespace
}  // namespace l2n::program
