// End-to-end checks of the Llama graphs under the FP32 executor, against a plain
// llama2.c-style forward pass written here from the same weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "exec/executor.h"
#include "graph/llama_builder.h"
#include "graph_memory_weights.h"
#include "model/model.h"
#include "test_data.h"

namespace l2n {
namespace {

using model::ModelConfig;
using model::RopeLayout;

// ---- An independent plain forward pass: one position at a time, with a KV cache. ------

class PlainLlama {
 public:
  // float_rope: compute RoPE angles in float exactly as llama2.c's run.c does
  // (powf, pos * freq in float, cosf/sinf); otherwise in double like the graph's tables.
  explicit PlainLlama(const model::Model& m, bool float_rope = false) : c_(m.config), float_rope_(float_rope) {
    auto load = [&](const std::string& name) {
      const Tensor t = m.weights->load_f32(name);
      return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
    };
    embed_ = load("embed");
    final_norm_ = load("final_norm");
    head_ = c_.tied_embeddings ? embed_ : load("output");
    for (int64_t l = 0; l < c_.n_layers; ++l) {
      auto lw = [&](const char* n) { return load(model::layer_weight(l, n)); };
      Layer layer{lw("attn_norm"), lw("ffn_norm"), lw("wq"), lw("wk"), lw("wv"), lw("wo"),
                  lw("w_gate"),    lw("w_up"),     lw("w_down"), {}, {}, {}};
      if (c_.qkv_bias) {
        layer.bq = lw("bq");
        layer.bk = lw("bk");
        layer.bv = lw("bv");
      }
      layers_.push_back(std::move(layer));
    }
    // Pair frequencies, with the rope scaling rules written out again here.
    const int64_t half = c_.head_dim / 2;
    for (int64_t i = 0; i < half; ++i) {
      double f = 1.0 / std::pow(c_.rope_theta, static_cast<double>(2 * i) / static_cast<double>(c_.head_dim));
      const auto& rs = c_.rope_scaling;
      if (rs.type == "linear") f /= rs.factor;
      if (rs.type == "llama3") {
        const double wavelen = 2 * std::numbers::pi / f;
        const double high_wavelen = rs.original_max_position_embeddings / rs.high_freq_factor;
        const double low_wavelen = rs.original_max_position_embeddings / rs.low_freq_factor;
        if (wavelen > low_wavelen) {
          f = f / rs.factor;
        } else if (wavelen >= high_wavelen) {
          const double smooth = (rs.original_max_position_embeddings / wavelen - rs.low_freq_factor) /
                                (rs.high_freq_factor - rs.low_freq_factor);
          f = (1 - smooth) * f / rs.factor + smooth * f;
        }
      }
      freqs_.push_back(f);
    }
  }

  // Logits for every position of `tokens`, [T][vocab].
  std::vector<std::vector<float>> forward(const std::vector<int32_t>& tokens) const {
    const int64_t dim = c_.dim, hd = c_.head_dim, kv_dim = c_.kv_dim();
    const int64_t group = c_.n_heads / c_.n_kv_heads;
    const int64_t T = static_cast<int64_t>(tokens.size());
    std::vector<std::vector<float>> key_cache(c_.n_layers, std::vector<float>(T * kv_dim));
    std::vector<std::vector<float>> value_cache = key_cache;
    std::vector<std::vector<float>> all_logits;
    std::vector<float> x(dim), xb(dim), q(c_.q_dim()), k(kv_dim), v(kv_dim), att(T), ctx(c_.q_dim());
    std::vector<float> hb(c_.hidden_dim), hb2(c_.hidden_dim), tmp(dim);
    for (int64_t pos = 0; pos < T; ++pos) {
      std::copy_n(embed_.begin() + tokens[pos] * dim, dim, x.begin());
      for (int64_t l = 0; l < c_.n_layers; ++l) {
        const Layer& w = layers_[l];
        rmsnorm(xb, x, w.attn_norm);
        matvec(q, xb, w.wq, w.bq);
        matvec(k, xb, w.wk, w.bk);
        matvec(v, xb, w.wv, w.bv);
        for (int64_t h = 0; h < c_.n_heads; ++h) rotate(&q[h * hd], pos);
        for (int64_t h = 0; h < c_.n_kv_heads; ++h) rotate(&k[h * hd], pos);
        std::copy(k.begin(), k.end(), key_cache[l].begin() + pos * kv_dim);
        std::copy(v.begin(), v.end(), value_cache[l].begin() + pos * kv_dim);
        for (int64_t h = 0; h < c_.n_heads; ++h) {
          const int64_t kvh = h / group;
          const float* qh = &q[h * hd];
          float max = -INFINITY;
          for (int64_t t = 0; t <= pos; ++t) {
            const float* kh = &key_cache[l][t * kv_dim + kvh * hd];
            float score = 0;
            for (int64_t i = 0; i < hd; ++i) score += qh[i] * kh[i];
            att[t] = score / std::sqrt(static_cast<float>(hd));
            max = std::max(max, att[t]);
          }
          float sum = 0;
          for (int64_t t = 0; t <= pos; ++t) sum += (att[t] = std::exp(att[t] - max));
          float* out = &ctx[h * hd];
          std::fill(out, out + hd, 0.0f);
          for (int64_t t = 0; t <= pos; ++t) {
            const float* vh = &value_cache[l][t * kv_dim + kvh * hd];
            for (int64_t i = 0; i < hd; ++i) out[i] += att[t] / sum * vh[i];
          }
        }
        matvec(tmp, ctx, w.wo, {});
        for (int64_t i = 0; i < dim; ++i) x[i] += tmp[i];
        rmsnorm(xb, x, w.ffn_norm);
        matvec(hb, xb, w.w_gate, {});
        matvec(hb2, xb, w.w_up, {});
        for (int64_t i = 0; i < c_.hidden_dim; ++i) hb[i] = hb[i] / (1.0f + std::exp(-hb[i])) * hb2[i];
        matvec(tmp, hb, w.w_down, {});
        for (int64_t i = 0; i < dim; ++i) x[i] += tmp[i];
      }
      rmsnorm(xb, x, final_norm_);
      std::vector<float> logits(c_.vocab_size);
      matvec(logits, xb, head_, {});
      all_logits.push_back(std::move(logits));
    }
    return all_logits;
  }

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, wq, wk, wv, wo, w_gate, w_up, w_down, bq, bk, bv;
  };

  void rmsnorm(std::vector<float>& out, const std::vector<float>& x, const std::vector<float>& weight) const {
    float ss = 0;
    for (float v : x) ss += v * v;
    const float scale = 1.0f / std::sqrt(ss / static_cast<float>(x.size()) + static_cast<float>(c_.norm_eps));
    for (size_t i = 0; i < x.size(); ++i) out[i] = weight[i] * (scale * x[i]);
  }

  static void matvec(std::vector<float>& out, const std::vector<float>& x, const std::vector<float>& w,
                     const std::vector<float>& bias) {
    const size_t n = x.size();
    for (size_t o = 0; o < out.size(); ++o) {
      float sum = 0;
      for (size_t i = 0; i < n; ++i) sum += w[o * n + i] * x[i];
      out[o] = bias.empty() ? sum : sum + bias[o];
    }
  }

  void rotate(float* head, int64_t pos) const {
    const int64_t half = c_.head_dim / 2;
    for (int64_t i = 0; i < half; ++i) {
      float* a = c_.rope_layout == RopeLayout::Interleaved ? &head[2 * i] : &head[i];
      float* b = c_.rope_layout == RopeLayout::Interleaved ? &head[2 * i + 1] : &head[i + half];
      float cs, sn;
      if (float_rope_) {
        const float freq = 1.0f / std::pow(static_cast<float>(c_.rope_theta),
                                           static_cast<float>(2 * i) / static_cast<float>(c_.head_dim));
        const float angle = static_cast<float>(pos) * freq;
        cs = std::cos(angle);
        sn = std::sin(angle);
      } else {
        const double angle = static_cast<double>(pos) * freqs_[i];
        cs = static_cast<float>(std::cos(angle));
        sn = static_cast<float>(std::sin(angle));
      }
      const float a0 = *a, b0 = *b;
      *a = a0 * cs - b0 * sn;
      *b = a0 * sn + b0 * cs;
    }
  }

  ModelConfig c_;
  bool float_rope_;
  std::vector<float> embed_, final_norm_, head_;
  std::vector<Layer> layers_;
  std::vector<double> freqs_;
};

// ---- Helpers ------------------------------------------------------------------------------

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> u(3, static_cast<int32_t>(vocab) - 1);
  std::vector<int32_t> tokens(n);
  tokens[0] = 1;  // BOS
  for (int64_t i = 1; i < n; ++i) tokens[i] = u(rng);
  return tokens;
}

Tensor run_full_window(const model::Model& m, const std::vector<int32_t>& tokens, int threads = 0) {
  const graph::Graph g = graph::build_full_window(m, static_cast<int64_t>(tokens.size()));
  exec::Executor executor(g, {threads});
  return executor.run({{"tokens", Tensor::from_vector<int32_t>({static_cast<int64_t>(tokens.size())}, tokens)}})
      .at("logits");
}

// Runs the decode-step graph over `tokens` one at a time, feeding the caches back; returns
// the logits of each step.
std::vector<std::vector<float>> run_decode(const model::Model& m, const std::vector<int32_t>& tokens,
                                           int64_t max_context) {
  const ModelConfig& c = m.config;
  exec::Executor executor(graph::build_decode_step(m, max_context));
  std::map<std::string, Tensor> inputs;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    inputs[fmt::format("cache_k.{}", l)] = Tensor(DType::F32, {max_context, c.n_kv_heads, c.head_dim});
    inputs[fmt::format("cache_v.{}", l)] = Tensor(DType::F32, {max_context, c.n_kv_heads, c.head_dim});
  }
  std::vector<std::vector<float>> logits;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    inputs["tokens"] = Tensor::from_vector<int32_t>({1}, {tokens[pos]});
    inputs["input_pos"] = Tensor::from_vector<int32_t>({1}, {static_cast<int32_t>(pos)});
    std::map<std::string, Tensor> out = executor.run(inputs);
    const Tensor& step = out.at("logits");
    EXPECT_EQ(step.shape(), (Shape{1, c.vocab_size}));
    logits.emplace_back(step.data<float>(), step.data<float>() + step.numel());
    for (int64_t l = 0; l < c.n_layers; ++l) {
      for (const char* kind : {"cache_k", "cache_v"})
        inputs[fmt::format("{}.{}", kind, l)] = out.at(fmt::format("{}.{}.out", kind, l));
    }
  }
  return logits;
}

float max_abs_diff(const Tensor& logits, const std::vector<std::vector<float>>& rows) {
  EXPECT_EQ(logits.dim(0), static_cast<int64_t>(rows.size()));
  const int64_t vocab = logits.dim(1);
  float m = 0;
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t j = 0; j < vocab; ++j) m = std::max(m, std::abs(logits.data<float>()[r * vocab + j] - rows[r][j]));
  return m;
}

float max_abs(const Tensor& t) {
  float m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.data<float>()[i]));
  return m;
}

// ---- stories260K ------------------------------------------------------------------------------

class Stories260k : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new model::Model(model::load_model(testing::stories260k_bin())); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static model::Model* model_;
};
model::Model* Stories260k::model_ = nullptr;

TEST_F(Stories260k, FullWindowMatchesPlainForwardOver512Positions) {
  ASSERT_EQ(model_->config.rope_layout, RopeLayout::Interleaved);
  const std::vector<int32_t> tokens = random_tokens(512, model_->config.vocab_size, 11);
  const Tensor logits = run_full_window(*model_, tokens);
  ASSERT_EQ(logits.shape(), (Shape{512, 512}));
  const float diff = max_abs_diff(logits, PlainLlama(*model_).forward(tokens));
  std::printf("stories260K T=512: max |graph - plain| = %.3g (max |logit| %.3g)\n", diff, max_abs(logits));
  EXPECT_LE(diff, 1e-4f);
  // llama2.c computes the RoPE angles in float; at position 511 they are off by up to ~3e-5.
  const float float_rope_diff = max_abs_diff(logits, PlainLlama(*model_, /*float_rope=*/true).forward(tokens));
  std::printf("stories260K T=512: max |graph - plain with llama2.c float RoPE| = %.3g\n", float_rope_diff);
  EXPECT_LE(float_rope_diff, 1e-4f);
}

TEST_F(Stories260k, GreedyDecodeReproducesReferenceTokens) {
  const int n = static_cast<int>(std::size(testing::kStories260kGreedy));
  const ModelConfig& c = model_->config;
  const int64_t max_context = 32;
  exec::Executor executor(graph::build_decode_step(*model_, max_context));
  std::map<std::string, Tensor> inputs;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    inputs[fmt::format("cache_k.{}", l)] = Tensor(DType::F32, {max_context, c.n_kv_heads, c.head_dim});
    inputs[fmt::format("cache_v.{}", l)] = Tensor(DType::F32, {max_context, c.n_kv_heads, c.head_dim});
  }
  std::vector<int32_t> generated{1};
  while (static_cast<int>(generated.size()) < n) {
    inputs["tokens"] = Tensor::from_vector<int32_t>({1}, {generated.back()});
    inputs["input_pos"] = Tensor::from_vector<int32_t>({1}, {static_cast<int32_t>(generated.size() - 1)});
    std::map<std::string, Tensor> out = executor.run(inputs);
    const float* logits = out.at("logits").data<float>();
    generated.push_back(static_cast<int32_t>(std::max_element(logits, logits + c.vocab_size) - logits));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      inputs[fmt::format("cache_k.{}", l)] = out.at(fmt::format("cache_k.{}.out", l));
      inputs[fmt::format("cache_v.{}", l)] = out.at(fmt::format("cache_v.{}.out", l));
    }
  }
  const std::vector<int32_t> expected(std::begin(testing::kStories260kGreedy), std::end(testing::kStories260kGreedy));
  EXPECT_EQ(generated, expected);
}

TEST_F(Stories260k, DecodeStepsEqualFullWindow) {
  const std::vector<int32_t> tokens = random_tokens(30, model_->config.vocab_size, 13);
  const Tensor full = run_full_window(*model_, tokens);
  const float diff = max_abs_diff(full, run_decode(*model_, tokens, 40));
  std::printf("stories260K 30 steps: max |decode - full window| = %.3g\n", diff);
  EXPECT_LE(diff, 1e-4f);
}

TEST_F(Stories260k, HuggingFaceCheckpointGivesTheSameLogits) {
  const model::Model hf = model::load_model(testing::stories260k_hf_dir());
  ASSERT_EQ(hf.config.rope_layout, RopeLayout::RotateHalf);
  const std::vector<int32_t> tokens = random_tokens(64, hf.config.vocab_size, 14);
  const Tensor a = run_full_window(*model_, tokens);
  const Tensor b = run_full_window(hf, tokens);
  float diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a.data<float>()[i] - b.data<float>()[i]));
  std::printf("stories260K HF vs llama2.c, T=64: max |diff| = %.3g\n", diff);
  EXPECT_LE(diff, 1e-4f);
}

// ---- Random-weight configurations -------------------------------------------------------

void check_against_plain(const ModelConfig& config, int64_t window) {
  const model::Model m = testing::random_model(config);
  const std::vector<int32_t> tokens = random_tokens(window, config.vocab_size, 21);
  const Tensor logits = run_full_window(m, tokens);
  ASSERT_EQ(logits.shape(), (Shape{window, config.vocab_size}));
  const float diff = max_abs_diff(logits, PlainLlama(m).forward(tokens));
  EXPECT_LE(diff, 1e-4f) << "max |logit| " << max_abs(logits);
  const float decode_diff = max_abs_diff(logits, run_decode(m, tokens, window + 3));
  EXPECT_LE(decode_diff, 1e-4f);
}

TEST(RandomLlama, Llama3RopeScalingMatchesPlainForward) {
  ModelConfig c = testing::tiny_config();
  c.rope_theta = 500000.0;
  // head_dim 8 gives wavelengths ~6, ~167, ~4.4e3, ~1.2e5: one pair kept, one blended, one
  // slowed with these factors, so every branch of the rule is used.
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 8192};
  c.rope_layout = RopeLayout::Interleaved;
  check_against_plain(c, 40);

  // The scaling changes the result.
  ModelConfig unscaled = c;
  unscaled.rope_scaling = {};
  const std::vector<int32_t> tokens = random_tokens(40, c.vocab_size, 21);
  const Tensor a = run_full_window(testing::random_model(c), tokens);
  const Tensor b = run_full_window(testing::random_model(unscaled), tokens);
  float diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a.data<float>()[i] - b.data<float>()[i]));
  EXPECT_GT(diff, 1e-5f);
}

TEST(RandomLlama, LinearRopeScalingMatchesPlainForward) {
  ModelConfig c = testing::tiny_config();
  c.rope_scaling.type = "linear";
  c.rope_scaling.factor = 4.0;
  check_against_plain(c, 24);
}

TEST(RandomLlama, QkvBiasUntiedHeadMatchesPlainForward) {
  ModelConfig c = testing::tiny_config();
  c.architecture = "Qwen2ForCausalLM";
  c.qkv_bias = true;
  c.tied_embeddings = false;
  c.rope_theta = 1000000.0;
  check_against_plain(c, 33);
}

TEST(RandomLlama, MultiHeadAttentionWithoutGroupsMatchesPlainForward) {
  ModelConfig c = testing::tiny_config();
  c.n_kv_heads = c.n_heads;
  c.tied_embeddings = true;
  check_against_plain(c, 17);
}

}  // namespace
}  // namespace l2n
