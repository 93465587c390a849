// The static int8 KV cache (recipe.kv_cache_scales) on stories260K, in both scopes:
// calibrated scales, int8 cache tensors, the current token exact and the history
// int8-rounded, and a decode close to the one with the scope's own cache.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "exec/executor.h"
#include "graph/graph.h"
#include "graph/llama_builder.h"
#include "model/model.h"
#include "quant/integer_kernels.h"
#include "quant/quantize.h"
#include "test_data.h"

namespace l2n::quant {
namespace {

constexpr int64_t kLength = 24;

class StaticKv : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new model::Model(model::load_model(testing::stories260k_bin())); }
  static void TearDownTestSuite() { delete model_; }
  static model::Model* model_;

  static std::vector<int32_t> tokens(int offset) {
    std::vector<int32_t> t{1};
    for (int64_t i = 1; i < kLength; ++i) t.push_back(testing::kStories260kGreedy[(i + offset) % 20]);
    return t;
  }
  static QuantRecipe recipe(const char* mode, QuantScope scope, KvCacheCalibration kv) {
    CalibrationOptions o;
    o.seq_length = kLength;
    o.progress = false;
    o.kv_cache = kv;
    o.fixed_kv_scale = 0.05f;
    return calibrate(*model_, find_quant_mode(mode), scope, {tokens(0), tokens(3)}, o);
  }

  // Logits of every decode step of `ids` through the converted decode graph of `r`.
  static std::vector<std::vector<float>> decode(const QuantRecipe& r, const std::vector<int32_t>& ids,
                                                std::map<std::string, DType>* cache_dtypes = nullptr) {
    const graph::Graph step = convert(graph::build_decode_step(*model_, kLength), r);
    std::map<std::string, Tensor> state;
    for (graph::ValueId id : step.inputs()) {
      const graph::Node& n = step.node(id);
      if (n.name == "tokens" || n.name == "input_pos") continue;
      Tensor c(n.dtype, n.shape);
      std::memset(c.mutable_raw(), 0, c.nbytes());
      state[n.name] = c;
      if (cache_dtypes) (*cache_dtypes)[n.name] = n.dtype;
    }
    exec::Executor ex(step, integer_exec_options());
    std::vector<std::vector<float>> logits;
    for (size_t pos = 0; pos < ids.size(); ++pos) {
      auto inputs = state;
      inputs["tokens"] = Tensor::from_vector<int32_t>({1}, {ids[pos]});
      inputs["input_pos"] = Tensor::from_vector<int32_t>({1}, {static_cast<int32_t>(pos)});
      auto out = ex.run(inputs);
      for (auto& [name, c] : state) {
        c = out.at(name + ".out");
        if (cache_dtypes) {
          EXPECT_EQ(c.dtype(), (*cache_dtypes)[name]) << name;
        }
      }
      const Tensor& l = out.at("logits");
      logits.emplace_back(l.data<float>(), l.data<float>() + l.numel());
    }
    return logits;
  }

  static double mean_nll(const std::vector<std::vector<float>>& logits, const std::vector<int32_t>& ids) {
    double total = 0;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const std::vector<float>& l = logits[i];
      double mx = l[0], sum = 0;
      for (float x : l) mx = std::max<double>(mx, x);
      for (float x : l) sum += std::exp(x - mx);
      total += -(l[static_cast<size_t>(ids[i + 1])] - mx - std::log(sum));
    }
    return total / static_cast<double>(ids.size() - 1);
  }
};
model::Model* StaticKv::model_ = nullptr;

// Upstream's StaticQuantizedKVCache: max|x| / 127 per head-dim channel, shared across heads
// and positions, of the K (after RoPE) and V rows; recomputed here from the FP32 graph.
TEST_F(StaticKv, ScalesAreTheChannelMaximaOverTheCalibrationSamplesDividedBy127) {
  const QuantRecipe r = recipe("ethosu_16a8w", QuantScope::Linear, KvCacheCalibration::Observed);
  const int64_t hd = model_->config.head_dim;
  ASSERT_EQ(r.kv_cache_scales.size(), 2u * static_cast<size_t>(model_->config.n_layers));
  std::map<std::string, std::vector<float>> expected;
  const graph::Graph g = graph::build_full_window(*model_, kLength);
  exec::ExecOptions one_thread;  // as calibrate(): FP32 rounding depends on the thread count
  one_thread.threads = 1;
  for (const auto& ids : {tokens(0), tokens(3)}) {
    exec::Executor(g, one_thread).run({{"tokens", Tensor::from_vector<int32_t>({kLength}, ids)}},
                          [&](const graph::Node& n, const Tensor& v) {
                            if (!r.kv_cache_scales.count(n.name)) return;
                            auto& m = expected[n.name];
                            m.resize(static_cast<size_t>(hd), 0.0f);
                            for (int64_t i = 0; i < v.numel(); ++i)
                              m[static_cast<size_t>(i % hd)] = std::max(m[static_cast<size_t>(i % hd)], std::abs(v.data<float>()[i]));
                          });
  }
  ASSERT_EQ(expected.size(), r.kv_cache_scales.size());
  for (const auto& [name, scales] : r.kv_cache_scales) {
    ASSERT_EQ(scales.size(), static_cast<size_t>(hd)) << name;
    for (int64_t c = 0; c < hd; ++c)
      EXPECT_FLOAT_EQ(scales[static_cast<size_t>(c)], expected.at(name)[static_cast<size_t>(c)] / 127.0f) << name << " " << c;
  }
  EXPECT_NE(r.kv_cache_calibration.find("max|x|/127"), std::string::npos);
  const QuantRecipe fixed = recipe("ethosu_16a8w", QuantScope::Linear, KvCacheCalibration::Fixed);
  for (const auto& [name, scales] : fixed.kv_cache_scales)
    for (float s : scales) EXPECT_EQ(s, 0.05f) << name;
}

// In both scopes: the caches are int8, the first step (whose attention sees only the current,
// unquantized token) equals the decode without the int8 cache bit for bit, later steps read
// an int8-rounded history and stay within 1 % in perplexity.
TEST_F(StaticKv, Int8CacheKeepsTheCurrentTokenExactAndTheHistoryClose) {
  const std::vector<int32_t> ids = tokens(7);
  for (QuantScope scope : {QuantScope::Linear, QuantScope::Full}) {
    const char* what = scope == QuantScope::Linear ? "linear" : "full";
    const QuantRecipe with = recipe("ethosu_16a8w", scope, KvCacheCalibration::Observed);
    QuantRecipe without = with;
    without.kv_cache_scales.clear();
    std::map<std::string, DType> dtypes;
    const auto a = decode(with, ids, &dtypes);
    const auto b = decode(without, ids);
    ASSERT_EQ(dtypes.size(), 2u * static_cast<size_t>(model_->config.n_layers));
    for (const auto& [name, dtype] : dtypes) EXPECT_EQ(dtype, DType::I8) << what << " " << name;
    EXPECT_EQ(a[0], b[0]) << what << ": step 0 attends to the current token only";
    EXPECT_NE(a[5], b[5]) << what << ": later steps read the int8 history";
    const double nll_a = mean_nll(a, ids), nll_b = mean_nll(b, ids);
    EXPECT_LT(std::abs(std::exp(nll_a - nll_b) - 1), 0.01) << what << ": " << nll_a << " vs " << nll_b;
  }
}

}  // namespace
}  // namespace l2n::quant
