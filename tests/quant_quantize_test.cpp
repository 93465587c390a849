// annotate / calibrate / convert on small graphs and on stories260K.
#include <gtest/gtest.h>

#include <cmath>

#include "exec/executor.h"
#include "graph/graph.h"
#include "graph/llama_builder.h"
#include "model/model.h"
#include "quant/integer_kernels.h"
#include "quant/integer_ops.h"
#include "quant/quantize.h"
#include "test_data.h"

namespace l2n::quant {
namespace {

using graph::GraphBuilder;
using graph::OpKind;
using graph::ValueId;

// x -> rmsnorm-ish mul -> linear -> reshape -> silu -> linear
graph::Graph small_graph() {
  GraphBuilder b;
  const ValueId x = b.input("x", DType::F32, {2, 3});
  const ValueId sq = b.mul(x, x, "square");
  const ValueId w1 = b.constant("w1", Tensor::from_vector<float>({4, 3}, {0.5f, -1, 0.25f, 1, 2, -0.5f, 0, 0.75f,
                                                                          -2, 1.5f, 0.1f, 0.2f}));
  const ValueId l1 = b.linear(sq, w1, std::nullopt, "l1");
  const ValueId r = b.reshape(l1, {4, 2}, "l1_reshaped");
  const ValueId s = b.silu(r, "act");
  const ValueId back = b.reshape(s, {2, 4}, "act_rows");
  const ValueId w2 = b.constant("w2", Tensor::from_vector<float>({2, 4}, {1, -1, 0.5f, 0.25f, -0.5f, 1, 2, 0}));
  b.output("y", b.linear(back, w2, std::nullopt, "l2"));
  return std::move(b).finish();
}

TEST(Annotate, LinearScopeQuantizesLinearsAndTheirDataMovement) {
  const graph::Graph g = small_graph();
  const Annotation a = annotate(g, QuantScope::Linear);
  auto q = [&](const char* name) { return bool(a.quantized[g.find(name)->output.index]); };
  EXPECT_TRUE(q("l1"));
  EXPECT_TRUE(q("l2"));
  EXPECT_TRUE(q("l1_reshaped"));
  EXPECT_EQ(a.shares[g.find("l1_reshaped")->output.index], g.find("l1")->output.index);
  EXPECT_FALSE(q("square"));
  EXPECT_FALSE(q("act"));
  EXPECT_FALSE(q("act_rows"));  // fed by a float value
  const std::vector<std::string> observed{"square", "l1", "act_rows", "l2"};
  EXPECT_EQ(a.observed, observed);
  EXPECT_EQ(a.weights, (std::vector<std::string>{"w1", "w2"}));
}

// A Linear-only 16a8w graph equals the integer pipeline computed by hand.
TEST(Convert, Linear16a8wEqualsHandComputedPipeline) {
  GraphBuilder b;
  const ValueId x = b.input("x", DType::F32, {1, 3});
  const ValueId w = b.constant("w", Tensor::from_vector<float>({2, 3}, {0.5f, -1.0f, 0.25f, 1.0f, 2.0f, -0.5f}));
  b.output("y", b.linear(x, w, std::nullopt, "lin"));
  const graph::Graph g = std::move(b).finish();

  QuantRecipe recipe;
  recipe.mode = "ethosu_16a8w";
  recipe.scope = QuantScope::Linear;
  recipe.params["x"] = QuantParams::per_tensor(0.001f, 0, QDType::I16, -32767, 32767);
  recipe.params["lin"] = QuantParams::per_tensor(0.002f, 0, QDType::I16, -32767, 32767);
  QuantParams wq;
  wq.dtype = QDType::I8;
  wq.qmin = -127;
  wq.qmax = 127;
  wq.axis = 0;
  wq.scales = {1.0f / 127, 2.0f / 127};
  wq.zero_points = {0, 0};
  recipe.params[weight_key("w")] = wq;
  const graph::Graph q = convert(g, recipe);

  const std::vector<float> xv{0.3f, -0.7f, 1.1f};
  const auto out = exec::Executor(q, integer_exec_options()).run({{"x", Tensor::from_vector<float>({1, 3}, xv)}});
  // By hand: x codes, int8 weights, int48 sums, 16-bit RESCALE, dequantize.
  const std::vector<int64_t> xq{300, -700, 1100};
  const std::vector<std::vector<int64_t>> wcodes{{64, -127, 32}, {64, 127, -32}};  // round(w / s_w)
  for (int o = 0; o < 2; ++o) {
    int64_t acc = 0;
    for (int k = 0; k < 3; ++k) acc += xq[k] * wcodes[o][k];
    const ScaleMultiplier m = compute_multiplier(double(0.001f) * double(wq.scales[o]) / double(0.002f), false);
    const int64_t code = (acc * m.multiplier + (int64_t{1} << (m.shift - 1))) >> m.shift;
    EXPECT_EQ(out.at("y").data<float>()[o], static_cast<float>(code) * 0.002f) << o;
  }
}

class Stories260k : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new model::Model(model::load_model(testing::stories260k_bin())); }
  static void TearDownTestSuite() { delete model_; }
  static model::Model* model_;

  static std::vector<std::vector<int32_t>> samples(int64_t n, int64_t length) {
    return testing::stories260k_samples(n, length);
  }
};
model::Model* Stories260k::model_ = nullptr;

TEST_F(Stories260k, CalibrationIsBitIdenticalForOneAndTwoThreads) {
  CalibrationOptions o;
  o.seq_length = 64;
  o.progress = false;
  o.threads = 1;
  const QuantRecipe r1 = calibrate(*model_, find_quant_mode("tosa_8a8w"), QuantScope::Linear, samples(2, 64), o);
  o.threads = 2;
  const QuantRecipe r2 = calibrate(*model_, find_quant_mode("tosa_8a8w"), QuantScope::Linear, samples(2, 64), o);
  EXPECT_FALSE(r1.params.empty());
  for (const auto& [name, qp] : r1.params) EXPECT_TRUE(r2.params.at(name) == qp) << name << ": " << to_string(qp) << " vs " << to_string(r2.params.at(name));
  EXPECT_EQ(r1.params.size(), r2.params.size());
}

// tosa/ethosu/vgf 8a8w are one scheme, ethosu/vgf 16a8w another: identical parameters.
TEST_F(Stories260k, ModesOfOneSchemeCalibrateIdentically) {
  CalibrationOptions o;
  o.seq_length = 32;
  o.progress = false;
  auto cal = [&](const char* mode) {
    return calibrate(*model_, find_quant_mode(mode), QuantScope::Linear, samples(1, 32), o).params;
  };
  const auto tosa8 = cal("tosa_8a8w");
  EXPECT_EQ(tosa8, cal("ethosu_8a8w"));
  EXPECT_EQ(tosa8, cal("vgf_8a8w"));
  EXPECT_EQ(cal("ethosu_16a8w"), cal("vgf_16a8w"));
}

TEST_F(Stories260k, ConvertedLinearGraphStaysCloseToFp32) {
  const std::vector<int32_t> text(std::begin(testing::kStories260kGreedy), std::end(testing::kStories260kGreedy));
  CalibrationOptions o;
  o.seq_length = 64;
  o.progress = false;
  const auto cal = samples(2, 64);
  const graph::Graph g = graph::build_full_window(*model_, 20);
  Tensor ids = Tensor::from_vector<int32_t>({20}, text);
  const Tensor ref = exec::Executor(g).run({{"tokens", ids}}).at("logits");
  auto nll = [&](const Tensor& logits) {
    double total = 0;
    const int64_t v = logits.dim(1);
    for (int64_t i = 0; i + 1 < 20; ++i) {
      const float* l = logits.data<float>() + i * v;
      double mx = l[0], sum = 0;
      for (int64_t j = 0; j < v; ++j) mx = std::max<double>(mx, l[j]);
      for (int64_t j = 0; j < v; ++j) sum += std::exp(l[j] - mx);
      total += -(l[text[i + 1]] - mx - std::log(sum));
    }
    return total / 19;
  };
  const double fp32 = nll(ref);
  for (const char* mode : {"ethosu_16a8w", "tosa_8a8w"}) {
    const QuantRecipe r = calibrate(*model_, find_quant_mode(mode), QuantScope::Linear, cal, o);
    const graph::Graph q = convert(g, r);
    const Tensor logits = exec::Executor(q, integer_exec_options()).run({{"tokens", ids}}).at("logits");
    // Perplexity within 1 % (16a8w) / 10 % (8a8w) of FP32 on the reference continuation.
    EXPECT_LT(std::abs(std::exp(nll(logits) - fp32) - 1), std::string(mode) == "tosa_8a8w" ? 0.10 : 0.01) << mode;
  }
}

}  // namespace
}  // namespace l2n::quant
