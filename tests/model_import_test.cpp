// Checkpoint import: the three formats against the shared fixtures, F16/BF16 conversion,
// tokenizer discovery, and a matrix of corrupt or inconsistent inputs that must each fail
// with l2n::Error and a message that names the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <climits>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/model.h"
#include "scratch_dir.h"
#include "test_data.h"

namespace fs = std::filesystem;
using l2n::DType;
using l2n::Error;
using l2n::Shape;
using l2n::Tensor;
using namespace l2n::model;
using nlohmann::json;

namespace {

using l2n::testing::ScratchDir;

std::string read_bytes(const fs::path& path) { return l2n::read_text_file(path); }

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

template <typename T>
void append(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Runs fn, expecting an l2n::Error whose message contains every keyword.
void expect_error(const std::function<void()>& fn, std::vector<std::string> keywords) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one mentioning '" << keywords.front() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& k : keywords) EXPECT_NE(msg.find(k), std::string::npos) << "'" << k << "' not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-l2n exception: " << e.what();
  }
}

std::vector<float> to_vector(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<float>(p, p + t.numel());
}

// f32 -> f16 for values that f16 represents exactly (normal range), enough for test data.
uint16_t f16_bits(float f) {
  const uint32_t b = std::bit_cast<uint32_t>(f);
  if ((b & 0x7fffffffu) == 0) return static_cast<uint16_t>(b >> 16);
  const uint32_t sign = (b >> 16) & 0x8000u;
  const int32_t exponent = static_cast<int32_t>((b >> 23) & 0xff) - 127 + 15;
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exponent) << 10) | ((b >> 13) & 0x3ffu));
}
uint16_t bf16_bits(float f) { return static_cast<uint16_t>(std::bit_cast<uint32_t>(f) >> 16); }

// ---- safetensors / Hugging Face directories written by the tests ----

struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16" (values are encoded from `values`)
  Shape shape;
  std::vector<float> values;
};

std::string encode(const StTensor& t) {
  std::string out;
  for (float v : t.values) {
    if (t.dtype == "F16") append(out, f16_bits(v));
    else if (t.dtype == "BF16") append(out, bf16_bits(v));
    else append(out, v);
  }
  return out;
}

// `edit` may change the header JSON before it is written (to corrupt it).
std::string safetensors_bytes(const std::vector<StTensor>& tensors,
                              const std::function<void(json&)>& edit = nullptr) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const auto& t : tensors) {
    const std::string bytes = encode(t);
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  if (edit) edit(header);
  const std::string text = header.dump();
  std::string out;
  append<uint64_t>(out, text.size());
  return out + text + data;
}

// A tiny Llama: dim 4, hidden 6, 1 layer, 2 heads, 1 kv head (head_dim 2), vocab 5.
constexpr int64_t kDim = 4, kHidden = 6, kHeads = 2, kKvHeads = 1, kHeadDim = 2, kVocab = 5;

json tiny_config(const std::string& arch = "LlamaForCausalLM") {
  return {{"architectures", {arch}},
          {"hidden_size", kDim},
          {"intermediate_size", kHidden},
          {"num_hidden_layers", 1},
          {"num_attention_heads", kHeads},
          {"num_key_value_heads", kKvHeads},
          {"vocab_size", kVocab},
          {"max_position_embeddings", 64},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 500000.0},
          {"tie_word_embeddings", false},
          {"bos_token_id", 1},
          {"eos_token_id", json::array({2, 3})}};
}

// Values k/8 (k small) are exact in f16, bf16 and f32.
std::vector<float> ramp(int64_t n, int start) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((start + i) % 29 - 14) / 8.0f;
  return v;
}

std::vector<StTensor> tiny_tensors(const std::string& dtype, bool biases = false) {
  const int64_t q = kHeads * kHeadDim, kv = kKvHeads * kHeadDim;
  std::vector<StTensor> t = {
      {"model.embed_tokens.weight", dtype, {kVocab, kDim}, {}},
      {"model.norm.weight", dtype, {kDim}, {}},
      {"lm_head.weight", dtype, {kVocab, kDim}, {}},
      {"model.layers.0.input_layernorm.weight", dtype, {kDim}, {}},
      {"model.layers.0.post_attention_layernorm.weight", dtype, {kDim}, {}},
      {"model.layers.0.self_attn.q_proj.weight", dtype, {q, kDim}, {}},
      {"model.layers.0.self_attn.k_proj.weight", dtype, {kv, kDim}, {}},
      {"model.layers.0.self_attn.v_proj.weight", dtype, {kv, kDim}, {}},
      {"model.layers.0.self_attn.o_proj.weight", dtype, {kDim, q}, {}},
      {"model.layers.0.mlp.gate_proj.weight", dtype, {kHidden, kDim}, {}},
      {"model.layers.0.mlp.up_proj.weight", dtype, {kHidden, kDim}, {}},
      {"model.layers.0.mlp.down_proj.weight", dtype, {kDim, kHidden}, {}},
  };
  if (biases) {
    t.push_back({"model.layers.0.self_attn.q_proj.bias", dtype, {q}, {}});
    t.push_back({"model.layers.0.self_attn.k_proj.bias", dtype, {kv}, {}});
    t.push_back({"model.layers.0.self_attn.v_proj.bias", dtype, {kv}, {}});
  }
  int start = 0;
  for (auto& x : t) {
    x.values = ramp(l2n::shape_numel(x.shape), start);
    start += 7;
  }
  return t;
}

const StTensor& find_tensor(const std::vector<StTensor>& ts, const std::string& name) {
  for (const auto& t : ts)
    if (t.name == name) return t;
  throw std::runtime_error("test bug: no tensor " + name);
}

void write_hf(const fs::path& dir, const json& config, const std::vector<StTensor>& tensors,
              const std::function<void(json&)>& edit = nullptr) {
  fs::create_directories(dir);
  write_bytes(dir / "config.json", config.dump());
  write_bytes(dir / "model.safetensors", safetensors_bytes(tensors, edit));
}

// ---- llama2.c files written by the tests ----

std::string llama2c_bytes(int32_t dim, int32_t hidden, int32_t layers, int32_t heads, int32_t kv_heads,
                          int32_t vocab, int32_t seq) {
  std::string out;
  for (int32_t v : {dim, hidden, layers, heads, kv_heads, vocab, seq}) append(out, v);
  const int64_t head = dim / heads, kv = kv_heads * head, av = vocab < 0 ? -int64_t{vocab} : vocab;
  const int64_t floats = av * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hidden * dim) + dim +
                         seq * head + (vocab < 0 ? av * dim : 0);
  out.append(static_cast<size_t>(floats) * 4, '\0');
  return out;
}

// ---- GGUF files written by the tests ----

class GgufWriter {
 public:
  void kv_string(const std::string& key, const std::string& value) {
    str(kv_, key);
    append<uint32_t>(kv_, 8);
    str(kv_, value);
    ++n_kv_;
  }
  void kv_u32(const std::string& key, uint32_t value) {
    str(kv_, key);
    append<uint32_t>(kv_, 4);
    append(kv_, value);
    ++n_kv_;
  }
  void kv_f32(const std::string& key, float value) {
    str(kv_, key);
    append<uint32_t>(kv_, 6);
    append(kv_, value);
    ++n_kv_;
  }
  void kv_strings(const std::string& key, const std::vector<std::string>& values) {
    str(kv_, key);
    append<uint32_t>(kv_, 9);
    append<uint32_t>(kv_, 8);
    append<uint64_t>(kv_, values.size());
    for (const auto& v : values) str(kv_, v);
    ++n_kv_;
  }
  template <typename T>  // float (type 6) or int32_t (type 5) arrays
  void kv_numbers(const std::string& key, const std::vector<T>& values) {
    str(kv_, key);
    append<uint32_t>(kv_, 9);
    append<uint32_t>(kv_, std::is_same_v<T, float> ? 6 : 5);
    append<uint64_t>(kv_, values.size());
    for (T v : values) append(kv_, v);
    ++n_kv_;
  }
  // ne in GGUF order (innermost first); type 0 = F32, 1 = F16, others as given.
  void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type) {
    str(info_, name);
    append<uint32_t>(info_, static_cast<uint32_t>(ne.size()));
    uint64_t n = 1;
    for (uint64_t d : ne) {
      append(info_, d);
      n *= d;
    }
    append(info_, type);
    append<uint64_t>(info_, data_.size());
    data_.append(n * (type == 0 ? 4 : 2), '\0');
    data_.append((32 - data_.size() % 32) % 32, '\0');
    ++n_tensors_;
  }
  std::string bytes() const {
    std::string out = "GGUF";
    append<uint32_t>(out, 3);
    append<uint64_t>(out, n_tensors_);
    append<uint64_t>(out, n_kv_);
    out += kv_ + info_;
    out.append((32 - out.size() % 32) % 32, '\0');
    return out + data_;
  }

 private:
  static void str(std::string& out, const std::string& s) {
    append<uint64_t>(out, s.size());
    out += s;
  }
  std::string kv_, info_, data_;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
};

// A complete tiny llama GGUF (dim 4, 1 layer, 2 heads, vocab 5 with an embedded vocab);
// `weight_type` is the ggml type of the attention/FFN matrices.
GgufWriter tiny_gguf(const std::string& arch = "llama", uint32_t weight_type = 1) {
  GgufWriter w;
  w.kv_string("general.architecture", arch);
  w.kv_u32(arch + ".embedding_length", kDim);
  w.kv_u32(arch + ".feed_forward_length", kHidden);
  w.kv_u32(arch + ".block_count", 1);
  w.kv_u32(arch + ".attention.head_count", kHeads);
  w.kv_u32(arch + ".attention.head_count_kv", kKvHeads);
  w.kv_u32(arch + ".context_length", 64);
  w.kv_u32(arch + ".vocab_size", kVocab);
  w.kv_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.kv_string("tokenizer.ggml.model", "llama");
  w.kv_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "b"});
  w.kv_numbers<float>("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
  w.kv_numbers<int32_t>("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
  w.kv_u32("tokenizer.ggml.bos_token_id", 1);
  w.kv_u32("tokenizer.ggml.eos_token_id", 2);
  const uint64_t q = kHeads * kHeadDim, kv = kKvHeads * kHeadDim;
  w.tensor("token_embd.weight", {kDim, kVocab}, 1);
  w.tensor("output_norm.weight", {kDim}, 0);
  w.tensor("blk.0.attn_norm.weight", {kDim}, 0);
  w.tensor("blk.0.ffn_norm.weight", {kDim}, 0);
  w.tensor("blk.0.attn_q.weight", {kDim, q}, weight_type);
  w.tensor("blk.0.attn_k.weight", {kDim, kv}, 1);
  w.tensor("blk.0.attn_v.weight", {kDim, kv}, 1);
  w.tensor("blk.0.attn_output.weight", {q, kDim}, 1);
  w.tensor("blk.0.ffn_gate.weight", {kDim, kHidden}, 1);
  w.tensor("blk.0.ffn_up.weight", {kDim, kHidden}, 1);
  w.tensor("blk.0.ffn_down.weight", {kHidden, kDim}, 1);
  return w;
}

}  // namespace

// ======================= llama2.c =======================

TEST(Llama2c, Stories260kConfig) {
  const Model m = load_model(l2n::testing::stories260k_bin());
  const ModelConfig& c = m.config;
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.source_format, "llama2c");
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_seq_len, 512);
  EXPECT_EQ(c.rope_layout, RopeLayout::Interleaved);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
  EXPECT_EQ(m.parameter_count(), 260032);  // SOURCES.md: freq_cis excluded, embedding counted once
  EXPECT_FALSE(m.weights->has("output"));
  EXPECT_EQ(m.weights->names().size(), 2u + 5u * 9u);
  ASSERT_TRUE(m.tokenizer_path.has_value());
  EXPECT_EQ(m.tokenizer_path->filename(), "tok512.bin");
  EXPECT_FALSE(m.embedded_vocab.has_value());
}

TEST(Llama2c, WeightsComeFromTheRightOffsets) {
  const Model m = load_model(l2n::testing::stories260k_bin());
  const std::string raw = read_bytes(l2n::testing::stories260k_bin());
  auto raw_float = [&](int64_t index) {
    float f;
    std::memcpy(&f, raw.data() + 28 + 4 * index, 4);
    return f;
  };
  const Tensor embed = m.weights->load_f32("embed");
  ASSERT_EQ(embed.shape(), (Shape{512, 64}));
  EXPECT_EQ(embed.data<float>()[0], raw_float(0));
  EXPECT_EQ(embed.data<float>()[512 * 64 - 1], raw_float(512 * 64 - 1));
  // wk of layer 3: after embedding, rms_att, wq (all layers), then 3 layers of wk.
  const int64_t wk_offset = 512 * 64 + 5 * 64 + 5 * 64 * 64 + 3 * 32 * 64;
  const Tensor wk3 = m.weights->load_f32(layer_weight(3, "wk"));
  ASSERT_EQ(wk3.shape(), (Shape{32, 64}));
  EXPECT_EQ(wk3.data<float>()[0], raw_float(wk_offset));
  EXPECT_EQ(wk3.data<float>()[32 * 64 - 1], raw_float(wk_offset + 32 * 64 - 1));
  // rms_final sits right before the freq_cis tables at the end of the file.
  const int64_t total = (static_cast<int64_t>(raw.size()) - 28) / 4;
  const Tensor norm = m.weights->load_f32("final_norm");
  EXPECT_EQ(norm.data<float>()[63], raw_float(total - 2 * 512 * 4 - 1));
  EXPECT_EQ(m.weights->info("layers.4.w_down").shape, (Shape{64, 172}));
  EXPECT_EQ(m.weights->info("layers.4.w_down").dtype, DType::F32);
}

TEST(Llama2c, SeparateClassifier) {
  const ScratchDir tmp("l2n_model_test");
  write_bytes(tmp / "m.bin", llama2c_bytes(8, 12, 2, 2, 1, -10, 16));
  const Model m = load_model(tmp / "m.bin");
  EXPECT_FALSE(m.config.tied_embeddings);
  EXPECT_EQ(m.config.vocab_size, 10);
  EXPECT_EQ(m.weights->info("output").shape, (Shape{10, 8}));
  EXPECT_EQ(m.parameter_count(), 2 * 10 * 8 + 8 + 2 * (2 * 8 + 2 * 64 + 2 * 4 * 8 + 3 * 12 * 8));
}

TEST(Llama2c, TokenizerDiscovery) {
  const ScratchDir tmp("l2n_model_test");
  write_bytes(tmp / "m.bin", llama2c_bytes(8, 12, 1, 2, 2, 10, 16));
  EXPECT_FALSE(load_model(tmp / "m.bin").tokenizer_path.has_value());
  write_bytes(tmp / "tok7.model", "x");
  EXPECT_EQ(load_model(tmp / "m.bin").tokenizer_path->filename(), "tok7.model");
  write_bytes(tmp / "tok32.bin", "x");
  EXPECT_EQ(load_model(tmp / "m.bin").tokenizer_path->filename(), "tok32.bin");
  write_bytes(tmp / "tok10.bin", "x");  // tok<vocab>.bin wins when there are several
  EXPECT_EQ(load_model(tmp / "m.bin").tokenizer_path->filename(), "tok10.bin");
}

// ======================= Hugging Face =======================

TEST(HuggingFace, Stories260kMatchesLlama2c) {
  const Model hf = load_model(l2n::testing::stories260k_hf_dir());
  const Model ref = load_model(l2n::testing::stories260k_bin());
  const ModelConfig& c = hf.config;
  EXPECT_EQ(c.source_format, "huggingface");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.rope_layout, RopeLayout::RotateHalf);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.dim, ref.config.dim);
  EXPECT_EQ(c.hidden_dim, ref.config.hidden_dim);
  EXPECT_EQ(c.n_layers, ref.config.n_layers);
  EXPECT_EQ(c.n_heads, ref.config.n_heads);
  EXPECT_EQ(c.n_kv_heads, ref.config.n_kv_heads);
  EXPECT_EQ(c.head_dim, ref.config.head_dim);
  EXPECT_EQ(c.vocab_size, ref.config.vocab_size);
  EXPECT_EQ(c.max_seq_len, 512);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
  EXPECT_EQ(hf.parameter_count(), 260032);
  EXPECT_FALSE(hf.tokenizer_path.has_value());  // the fixture has no tokenizer files

  std::vector<std::string> exact = {"embed", "final_norm"};
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (const char* f : {"attn_norm", "ffn_norm", "wv", "wo", "w_gate", "w_up", "w_down"})
      exact.push_back(layer_weight(l, f));
  for (const auto& name : exact)
    EXPECT_EQ(to_vector(hf.weights->load_f32(name)), to_vector(ref.weights->load_f32(name))) << name;

  // q/k: HF row (h, j, i) = interleaved row (h, i, j) with j in {0,1}, i < head_dim/2.
  const int64_t hd = c.head_dim, in = c.dim;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    for (const char* f : {"wq", "wk"}) {
      const Tensor a = hf.weights->load_f32(layer_weight(l, f));
      const Tensor b = ref.weights->load_f32(layer_weight(l, f));
      ASSERT_EQ(a.shape(), b.shape());
      const int64_t heads = a.dim(0) / hd;
      int64_t mismatches = 0;
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < 2; ++j)
          for (int64_t i = 0; i < hd / 2; ++i)
            for (int64_t x = 0; x < in; ++x)
              mismatches += a.data<float>()[(h * hd + j * (hd / 2) + i) * in + x] !=
                            b.data<float>()[(h * hd + 2 * i + j) * in + x];
      EXPECT_EQ(mismatches, 0) << layer_weight(l, f);
    }
  }
}

TEST(HuggingFace, ConvertsF16AndBf16) {
  for (const std::string dtype : {"F32", "F16", "BF16"}) {
    const ScratchDir tmp("l2n_model_test");
    const auto tensors = tiny_tensors(dtype);
    write_hf(tmp.path(), tiny_config(), tensors);
    const Model m = load_model(tmp.path());
    EXPECT_EQ(m.weights->info("layers.0.wq").dtype,
              dtype == "F32" ? DType::F32 : dtype == "F16" ? DType::F16 : DType::BF16);
    EXPECT_EQ(to_vector(m.weights->load_f32("layers.0.wq")),
              find_tensor(tensors, "model.layers.0.self_attn.q_proj.weight").values)
        << dtype;
    EXPECT_EQ(to_vector(m.weights->load_f32("output")), find_tensor(tensors, "lm_head.weight").values) << dtype;
    EXPECT_EQ(to_vector(m.weights->load_f32("layers.0.w_down")),
              find_tensor(tensors, "model.layers.0.mlp.down_proj.weight").values)
        << dtype;
  }
}

TEST(HuggingFace, Bf16SpecialValuesAndF16Subnormals) {
  const ScratchDir tmp("l2n_model_test");
  write_bytes(tmp / "config.json", tiny_config().dump());
  // The final norm as F16 bit patterns: smallest subnormal, +inf, -2, 0x3555 (~1/3).
  std::vector<StTensor> st = tiny_tensors("F32");
  std::string data;
  json header = json::object();
  for (const auto& t : st) {
    std::string bytes;
    if (t.name == "model.norm.weight") {
      for (uint16_t h : {uint16_t{0x0001}, uint16_t{0x7c00}, uint16_t{0xc000}, uint16_t{0x3555}}) append(bytes, h);
      header[t.name] = {{"dtype", "F16"}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + 8}}};
    } else {
      bytes = encode(t);
      header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    }
    data += bytes;
  }
  const std::string text = header.dump();
  std::string file;
  append<uint64_t>(file, text.size());
  write_bytes(tmp / "model.safetensors", file + text + data);
  const Model m = load_model(tmp.path());
  const auto norm = to_vector(m.weights->load_f32("final_norm"));
  EXPECT_EQ(norm[0], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(norm[1]) && norm[1] > 0);
  EXPECT_EQ(norm[2], -2.0f);
  EXPECT_NEAR(norm[3], 0.33325195f, 1e-7);
}

TEST(HuggingFace, ConfigDetails) {
  const ScratchDir tmp("l2n_model_test");
  json config = tiny_config();
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 32}};
  write_hf(tmp.path(), config, tiny_tensors("BF16"));
  write_bytes(tmp / "tokenizer.model", "x");
  write_bytes(tmp / "tokenizer.json", "{}");
  const Model m = load_model(tmp.path());
  const ModelConfig& c = m.config;
  EXPECT_EQ(c.head_dim, kHeadDim);
  EXPECT_EQ(c.kv_dim(), kKvHeads * kHeadDim);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 32);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);  // first of the list
  ASSERT_TRUE(m.tokenizer_path.has_value());
  EXPECT_EQ(m.tokenizer_path->filename(), "tokenizer.json");
  fs::remove(tmp / "tokenizer.json");
  EXPECT_EQ(load_model(tmp.path()).tokenizer_path->filename(), "tokenizer.model");
}

TEST(HuggingFace, RopeParametersKey) {
  const ScratchDir tmp("l2n_model_test");
  json config = tiny_config();
  config.erase("rope_theta");
  config["rope_parameters"] = {{"rope_type", "linear"}, {"rope_theta", 1e6}, {"factor", 2.0}};
  write_hf(tmp.path(), config, tiny_tensors("F32"));
  const ModelConfig c = load_model(tmp.path()).config;
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 2.0);
}

TEST(HuggingFace, TiedWhenLmHeadMissing) {
  const ScratchDir tmp("l2n_model_test");
  json config = tiny_config();
  config["tie_word_embeddings"] = true;
  auto tensors = tiny_tensors("F32");
  tensors.erase(tensors.begin() + 2);  // lm_head.weight
  write_hf(tmp.path(), config, tensors);
  const Model m = load_model(tmp.path());
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_FALSE(m.weights->has("output"));
}

TEST(HuggingFace, Qwen2Biases) {
  const ScratchDir tmp("l2n_model_test");
  const auto tensors = tiny_tensors("F32", true);
  write_hf(tmp.path(), tiny_config("Qwen2ForCausalLM"), tensors);
  const Model m = load_model(tmp.path());
  EXPECT_TRUE(m.config.qkv_bias);
  EXPECT_EQ(m.config.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(to_vector(m.weights->load_f32("layers.0.bk")),
            find_tensor(tensors, "model.layers.0.self_attn.k_proj.bias").values);
  // Qwen2 without its biases is incomplete.
  const ScratchDir tmp2("l2n_model_test");
  write_hf(tmp2.path(), tiny_config("Qwen2ForCausalLM"), tiny_tensors("F32"));
  expect_error([&] { load_model(tmp2.path()); }, {"missing", "model.layers.0.self_attn.q_proj.bias"});
}

TEST(HuggingFace, ShardedIndex) {
  const ScratchDir tmp("l2n_model_test");
  const auto tensors = tiny_tensors("F16");
  const std::vector<StTensor> a(tensors.begin(), tensors.begin() + 5), b(tensors.begin() + 5, tensors.end());
  write_bytes(tmp / "config.json", tiny_config().dump());
  write_bytes(tmp / "model-00001-of-00002.safetensors", safetensors_bytes(a));
  write_bytes(tmp / "model-00002-of-00002.safetensors", safetensors_bytes(b));
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  for (const auto& t : a) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
  for (const auto& t : b) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
  write_bytes(tmp / "model.safetensors.index.json", index.dump());
  const Model m = load_model(tmp.path());
  EXPECT_EQ(to_vector(m.weights->load_f32("layers.0.w_up")),
            find_tensor(tensors, "model.layers.0.mlp.up_proj.weight").values);
  EXPECT_EQ(to_vector(m.weights->load_f32("embed")), find_tensor(tensors, "model.embed_tokens.weight").values);

  // The same tensor in both shards.
  std::vector<StTensor> b2 = b;
  b2.push_back(a[0]);
  write_bytes(tmp / "model-00002-of-00002.safetensors", safetensors_bytes(b2));
  expect_error([&] { load_model(tmp.path()); }, {"stored twice", a[0].name});
}

// ======================= GGUF =======================

TEST(Gguf, TinyRandomLlama) {
  const Model m = load_model(l2n::testing::tiny_gguf());
  const ModelConfig& c = m.config;
  EXPECT_EQ(c.source_format, "gguf");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.dim, 8);
  EXPECT_EQ(c.hidden_dim, 32);
  EXPECT_EQ(c.n_layers, 1);
  EXPECT_EQ(c.n_heads, 2);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.max_seq_len, 4096);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.rope_layout, RopeLayout::Interleaved);
  EXPECT_GT(c.norm_eps, 0);
  EXPECT_EQ(m.weights->info("embed").shape, (Shape{32000, 8}));
  EXPECT_EQ(m.weights->info("embed").dtype, DType::F16);
  EXPECT_EQ(m.weights->info("final_norm").dtype, DType::F32);
  EXPECT_EQ(m.weights->info("layers.0.w_down").shape, (Shape{8, 32}));
  const Tensor wq = m.weights->load_f32("layers.0.wq");
  EXPECT_EQ(wq.shape(), (Shape{8, 8}));
  for (float v : to_vector(wq)) EXPECT_TRUE(std::isfinite(v));
  ASSERT_TRUE(m.embedded_vocab.has_value());
  const EmbeddedVocab& v = *m.embedded_vocab;
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.tokens.size(), 32000u);
  EXPECT_EQ(v.scores.size(), 32000u);
  EXPECT_EQ(v.token_types.size(), 32000u);
  EXPECT_EQ(v.tokens[1], "<s>");
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
  int64_t expected_params = 0;
  for (const auto& name : m.weights->names()) expected_params += l2n::shape_numel(m.weights->info(name).shape);
  EXPECT_EQ(m.parameter_count(), expected_params);
}

TEST(Gguf, WrittenFromScratch) {
  const ScratchDir tmp("l2n_model_test");
  write_bytes(tmp / "t.gguf", tiny_gguf().bytes());
  const Model m = load_model(tmp / "t.gguf");
  EXPECT_EQ(m.config.n_kv_heads, kKvHeads);
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.weights->info("layers.0.wk").shape, (Shape{kKvHeads * kHeadDim, kDim}));
  ASSERT_TRUE(m.embedded_vocab.has_value());
  EXPECT_EQ(m.embedded_vocab->tokens[3], "\xe2\x96\x81" "a");
  EXPECT_EQ(m.embedded_vocab->scores[4], -2.0f);
  EXPECT_EQ(m.embedded_vocab->token_types[0], 2);
  EXPECT_TRUE(m.embedded_vocab->add_bos);
  EXPECT_EQ(m.config.bos_id, 1);
  EXPECT_EQ(m.config.eos_id, 2);
}

// ======================= error matrix =======================

TEST(Errors, SafetensorsContainer) {
  const auto tensors = tiny_tensors("F32");
  const json config = tiny_config();
  auto check = [&](const std::function<void(json&)>& edit, std::vector<std::string> keywords) {
    const ScratchDir tmp("l2n_model_test");
    write_hf(tmp.path(), config, tensors, edit);
    expect_error([&] { load_model(tmp.path()); }, keywords);
  };
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  check([&](json& h) { h[q]["data_offsets"][1] = 1 << 20; }, {"past the end", q});
  check([&](json& h) { h[q]["data_offsets"] = {40, 8}; }, {"begin > end", q});
  check([&](json& h) { h[q]["data_offsets"][1] = h[q]["data_offsets"][1].get<int>() - 4; }, {"needs", "bytes", q});
  check([&](json& h) { h[q]["shape"] = {4, 3}; }, {"needs", q});
  check([&](json& h) { h[q]["dtype"] = "Q9"; }, {"unknown dtype", "Q9", q});
  check([&](json& h) { h[q]["dtype"] = "I64"; }, {"not supported", "I64"});
  check([&](json& h) { h[q]["shape"] = {-4, 4}; }, {"negative", q});
  check([&](json& h) { h[q]["data_offsets"] = {0, -4}; }, {"data_offsets", q});
  check([&](json& h) { h[q]["shape"] = "4x4"; }, {"shape", q});
  check([&](json& h) { h.erase("model.norm.weight"); }, {"missing tensor", "model.norm.weight"});
  check([&](json& h) { h.erase("lm_head.weight"); }, {"missing tensor", "lm_head.weight"});
  // A correctly sized tensor whose shape disagrees with the config.
  check([&](json& h) { h[q]["shape"] = {2, 8}; }, {"has shape [2, 8]", "expects [4, 4]", q});
  check([&](json& h) { h["model.layers.0.self_attn.o_proj.bias"] = h["model.norm.weight"]; },
        {"o_proj.bias", "not supported"});
  check([&](json& h) { h["model.layers.3.mlp.up_proj.weight"] = h["model.layers.0.mlp.up_proj.weight"]; },
        {"num_hidden_layers"});
}

TEST(Errors, SafetensorsRawBytes) {
  const json config = tiny_config();
  auto check = [&](const std::string& bytes, std::vector<std::string> keywords) {
    const ScratchDir tmp("l2n_model_test");
    write_bytes(tmp / "config.json", config.dump());
    write_bytes(tmp / "model.safetensors", bytes);
    expect_error([&] { load_model(tmp.path()); }, keywords);
  };
  const std::string good = safetensors_bytes(tiny_tensors("F32"));
  std::string longer = good;
  const uint64_t huge = good.size() + 1;
  std::memcpy(longer.data(), &huge, 8);
  check(longer, {"header length"});
  std::string max_len = good;
  const uint64_t max = ~uint64_t{0};
  std::memcpy(max_len.data(), &max, 8);
  check(max_len, {"header length"});
  check(good.substr(0, 5), {"too small"});
  std::string bad_json = good;
  bad_json[8] = '#';
  check(bad_json, {"not valid JSON"});
  std::string array_json;
  append<uint64_t>(array_json, 2);
  check(array_json + "[]", {"JSON object"});
  check(good.substr(0, good.size() - 1), {"past the end"});
}

TEST(Errors, HuggingFaceConfig) {
  const auto tensors = tiny_tensors("F32");
  auto check = [&](const json& config, std::vector<std::string> keywords, int64_t context = 0) {
    const ScratchDir tmp("l2n_model_test");
    write_hf(tmp.path(), config, tensors);
    expect_error([&] { load_model(tmp.path(), LoadOptions{context}); }, keywords);
  };
  json c = tiny_config();
  c["num_attention_heads"] = 3;
  check(c, {"num_attention_heads (3) does not divide hidden_size (4)"});
  c = tiny_config();
  c["num_key_value_heads"] = 3;  // 2 heads, 3 kv heads
  check(c, {"n_kv_heads"});
  c = tiny_config();
  c["head_dim"] = 3;
  check(c, {"head_dim"});
  c = tiny_config("GPT2LMHeadModel");
  check(c, {"GPT2LMHeadModel", "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"});
  c = tiny_config();
  c.erase("hidden_size");
  check(c, {"hidden_size", "missing"});
  c = tiny_config();
  c["vocab_size"] = "many";
  check(c, {"vocab_size", "integer"});
  c = tiny_config();
  c["rms_norm_eps"] = 0;
  check(c, {"epsilon"});
  c = tiny_config();
  c["num_hidden_layers"] = -2;
  check(c, {"n_layers", "positive"});
  c = tiny_config();
  c["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
  check(c, {"yarn"});
  c = tiny_config("MistralForCausalLM");
  c["sliding_window"] = 16;
  check(c, {"sliding", "16", "32"}, 32);
  {
    const ScratchDir tmp("l2n_model_test");  // the same Mistral is fine within its window
    write_hf(tmp.path(), c, tensors);
    EXPECT_EQ(load_model(tmp.path(), LoadOptions{16}).config.sliding_window, 16);
  }
  {
    const ScratchDir tmp("l2n_model_test");
    write_bytes(tmp / "config.json", "{\"hidden_size\": 4,");
    expect_error([&] { load_model(tmp.path()); }, {"config.json", "not valid JSON"});
  }
  {
    const ScratchDir tmp("l2n_model_test");
    write_bytes(tmp / "config.json", tiny_config().dump());
    expect_error([&] { load_model(tmp.path()); }, {"no model.safetensors"});
  }
  {
    const ScratchDir tmp("l2n_model_test");
    expect_error([&] { load_model(tmp.path()); }, {"no config.json"});
    expect_error([&] { load_model(tmp / "nothing.bin"); }, {"does not exist"});
  }
}

TEST(Errors, Llama2c) {
  const std::string good = read_bytes(l2n::testing::stories260k_bin());
  auto check = [&](const std::string& bytes, std::vector<std::string> keywords) {
    const ScratchDir tmp("l2n_model_test");
    write_bytes(tmp / "m.bin", bytes);
    expect_error([&] { load_model(tmp / "m.bin"); }, keywords);
  };
  check(good.substr(0, good.size() - 1), {"truncated", "1056540"});
  check(good + std::string(4, '\0'), {"longer"});
  check(good.substr(0, 10), {"too small"});
  for (int field = 0; field < 7; ++field) {
    for (int32_t value : {0, -3, 1 << 30}) {
      if (field == 5 && value == -3) continue;  // negative vocab is legal (separate classifier)
      std::string bytes = good;
      std::memcpy(bytes.data() + 4 * field, &value, 4);
      check(bytes, {"header field"});
    }
  }
  std::string bad_heads = good;
  const int32_t heads = 7;  // does not divide dim 64
  std::memcpy(bad_heads.data() + 12, &heads, 4);
  check(bad_heads, {"does not divide"});
  // Negative vocab claims a separate classifier the file does not have.
  std::string neg_vocab = good;
  const int32_t vocab = -512;
  std::memcpy(neg_vocab.data() + 20, &vocab, 4);
  check(neg_vocab, {"truncated", "separate classifier"});
  // llama2.c's versioned exports start with the u32 0x616b3432 ("ak42" read big-endian).
  check(std::string("24ka") + good.substr(4), {"version 0"});
}

TEST(Errors, GgufTruncatedEverywhere) {
  const std::string good = read_bytes(l2n::testing::tiny_gguf());
  const ScratchDir tmp("l2n_model_test");
  for (size_t cut : {size_t{0}, size_t{3}, size_t{4}, size_t{7}, size_t{8}, size_t{15}, size_t{23}, size_t{24},
                     size_t{30}, size_t{200}, size_t{5000}, size_t{400000}, size_t{900000}, good.size() - 100,
                     good.size() - 1}) {
    write_bytes(tmp / "t.gguf", good.substr(0, cut));
    try {
      load_model(tmp / "t.gguf");
      ADD_FAILURE() << "no error for a GGUF cut at " << cut;
    } catch (const Error& e) {
      SUCCEED() << e.what();
    }
  }
  write_bytes(tmp / "t.gguf", good.substr(0, good.size() - 1));
  expect_error([&] { load_model(tmp / "t.gguf"); }, {"past the end"});
  write_bytes(tmp / "t.gguf", good.substr(0, 5000));
  expect_error([&] { load_model(tmp / "t.gguf"); }, {"truncated"});
}

TEST(Errors, GgufHugeDeclaredSizes) {
  const ScratchDir tmp("l2n_model_test");
  auto header = [](uint64_t tensors, uint64_t kvs) {
    std::string out = "GGUF";
    append<uint32_t>(out, 3);
    append(out, tensors);
    append(out, kvs);
    return out;
  };
  auto check = [&](const std::string& bytes, std::vector<std::string> keywords) {
    write_bytes(tmp / "t.gguf", bytes);
    expect_error([&] { load_model(tmp / "t.gguf"); }, keywords);
  };
  // A 40-byte file claiming a 2^60-byte key.
  std::string s = header(0, 1);
  append<uint64_t>(s, uint64_t{1} << 60);
  s += "abcdefgh";
  check(s, {"declares a length"});
  check(header(uint64_t{1} << 62, 0) + std::string(16, '\0'), {"declares", "tensors"});
  check(header(0, ~uint64_t{0}) + std::string(16, '\0'), {"declares", "metadata"});
  // A string array claiming 2^40 elements.
  s = header(0, 1);
  append<uint64_t>(s, 1);
  s += "k";
  append<uint32_t>(s, 9);
  append<uint32_t>(s, 8);
  append<uint64_t>(s, uint64_t{1} << 40);
  check(s + std::string(32, '\0'), {"declares", "elements"});
  // A tensor whose extents multiply past the file size.
  s = header(1, 0);
  append<uint64_t>(s, 1);
  s += "w";
  append<uint32_t>(s, 2);
  append<uint64_t>(s, uint64_t{1} << 33);
  append<uint64_t>(s, uint64_t{1} << 33);
  append<uint32_t>(s, 0);
  append<uint64_t>(s, 0);
  check(s, {"exceeds the file size"});
  // Unknown value type, bad version.
  s = header(0, 1);
  append<uint64_t>(s, 1);
  s += "k";
  append<uint32_t>(s, 77);
  check(s + std::string(8, '\0'), {"unknown value type"});
  s = "GGUF";
  append<uint32_t>(s, 1);
  check(s + std::string(32, '\0'), {"version 1"});
}

TEST(Errors, GgufModelLevel) {
  const ScratchDir tmp("l2n_model_test");
  auto check = [&](const GgufWriter& w, std::vector<std::string> keywords) {
    write_bytes(tmp / "t.gguf", w.bytes());
    expect_error([&] { load_model(tmp / "t.gguf"); }, keywords);
  };
  check(tiny_gguf("llama", 2), {"Q4_0", "blk.0.attn_q.weight", "not supported"});
  check(tiny_gguf("llama", 12), {"Q4_K"});
  check(tiny_gguf("llama", 1234), {"unknown type 1234"});
  check(tiny_gguf("gpt2"), {"gpt2", "supported GGUF architectures: llama"});
  GgufWriter missing = tiny_gguf();
  missing.tensor("blk.0.attn_q.bias", {8}, 0);
  check(missing, {"blk.0.attn_q.bias"});
  GgufWriter wrong;
  wrong.kv_string("general.architecture", "llama");
  wrong.kv_u32("llama.embedding_length", kDim);
  wrong.kv_u32("llama.feed_forward_length", kHidden);
  wrong.kv_u32("llama.block_count", 1);
  wrong.kv_u32("llama.attention.head_count", kHeads);
  wrong.kv_u32("llama.context_length", 64);
  wrong.kv_u32("llama.vocab_size", kVocab);
  wrong.tensor("token_embd.weight", {kDim, kVocab}, 1);
  wrong.tensor("output_norm.weight", {kDim}, 0);
  check(wrong, {"missing tensor", "blk.0.attn_norm.weight"});
  GgufWriter no_width;
  no_width.kv_string("general.architecture", "llama");
  check(no_width, {"llama.embedding_length", "missing"});
}

// Every single-byte corruption of small valid files must load or fail with l2n::Error;
// never crash, hang or throw anything else.
TEST(Errors, ByteCorruptionNeverCrashes) {
  const ScratchDir tmp("l2n_model_test");
  auto sweep = [&](const fs::path& target, const std::string& good, const fs::path& load_path, size_t limit) {
    int loaded = 0, rejected = 0;
    write_bytes(target, good);
    // Patch one byte in place: rewriting (truncating) the file each time is 100x slower.
    auto poke = [&](size_t at, char value) {
      std::fstream f(target, std::ios::binary | std::ios::in | std::ios::out);
      f.seekp(static_cast<std::streamoff>(at));
      f.put(value);
    };
    for (size_t i = 0; i < std::min(limit, good.size()); ++i) {
      for (uint8_t value : {uint8_t{0xff}, uint8_t{0x00}}) {
        if (static_cast<uint8_t>(good[i]) == value) continue;
        poke(i, static_cast<char>(value));
        struct Restore {
          std::function<void()> fn;
          ~Restore() { fn(); }
        } restore{[&] { poke(i, good[i]); }};
        try {
          const Model m = load_model(load_path);
          for (const auto& name : m.weights->names()) m.weights->load_f32(name);
          ++loaded;
        } catch (const Error&) {
          ++rejected;
        } catch (const std::exception& e) {
          ADD_FAILURE() << target << " byte " << i << " = " << int(value) << ": non-l2n exception " << e.what();
        }
      }
    }
    EXPECT_GT(rejected, 0);
    EXPECT_GT(loaded, 0);  // flips inside weight data are harmless
  };
  write_bytes(tmp / "config.json", tiny_config().dump());
  sweep(tmp / "model.safetensors", safetensors_bytes(tiny_tensors("BF16")), tmp.path(), SIZE_MAX);
  fs::remove(tmp / "model.safetensors");
  fs::remove(tmp / "config.json");
  sweep(tmp / "t.gguf", tiny_gguf().bytes(), tmp / "t.gguf", SIZE_MAX);
  sweep(tmp / "m.bin", llama2c_bytes(8, 12, 1, 2, 2, 10, 4), tmp / "m.bin", 40);  // header + a little data
}
