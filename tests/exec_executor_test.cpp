#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "exec/executor.h"
#include "graph/graph.h"

namespace l2n::exec {
namespace {

using graph::GraphBuilder;
using graph::ValueId;

template <typename F>
void expect_error(F body, std::initializer_list<const char*> fragments) {
  try {
    body();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

// y = softmax(x · wᵀ + b) and a side output x_sum = reduce_sum(x).
graph::Graph small_graph() {
  GraphBuilder b;
  const ValueId x = b.input("x", DType::F32, {2, 3});
  const ValueId w = b.constant("w", Tensor::from_vector<float>({2, 3}, {1, 0, 0, 0, 1, 0}));
  const ValueId bias = b.constant("b", Tensor::from_vector<float>({2}, {0, 1}));
  const ValueId logits = b.linear(x, w, bias, "proj");
  b.output("y", b.softmax(logits, "probs"));
  b.output("x_sum", b.reduce_sum(x, "sum"));
  b.neg(x, "unused");  // never read: computed and dropped
  return std::move(b).finish();
}

TEST(Executor, RunsNodesInOrderAndReturnsNamedOutputs) {
  const Executor executor(small_graph());
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 0, 5, 2, 2, -4});
  const auto out = executor.run({{"x", x}});
  ASSERT_EQ(out.size(), 2u);
  // Row 0: logits [1, 1] -> [0.5, 0.5]; row 1: [2, 3] -> [1/(1+e), e/(1+e)].
  const float* y = out.at("y").data<float>();
  EXPECT_NEAR(y[0], 0.5f, 1e-7f);
  EXPECT_NEAR(y[1], 0.5f, 1e-7f);
  EXPECT_NEAR(y[2], 1.0f / (1.0f + std::exp(1.0f)), 1e-7f);
  EXPECT_NEAR(y[3], std::exp(1.0f) / (1.0f + std::exp(1.0f)), 1e-7f);
  EXPECT_EQ(out.at("x_sum").shape(), (Shape{2, 1}));
  EXPECT_EQ(out.at("x_sum").data<float>()[0], 6.0f);
  EXPECT_EQ(out.at("x_sum").data<float>()[1], 0.0f);
  EXPECT_EQ(x.data<float>()[2], 5.0f);  // inputs are untouched

  // Same result without BLAS and with an explicit thread count; repeated runs agree.
  const auto reference = Executor(small_graph(), {1, false}).run({{"x", x}});
  EXPECT_NEAR(reference.at("y").data<float>()[3], y[3], 1e-7f);
  EXPECT_EQ(executor.run({{"x", x}}).at("y").data<float>()[2], y[2]);
}

// Attention over a [S, H, D] cache: scores = q · cacheᵀ per head, context = scores · cache.
// The keys' transpose is read only by its matmul (fused); the values' is also an output
// (must be materialised).
TEST(Executor, MatMulReadsAKvCacheTransposeThroughStridesUnlessObserved) {
  const int64_t s = 5, h = 2, d = 3;
  GraphBuilder b;
  const ValueId q = b.input("q", DType::F32, {h, 1, d});
  const ValueId cache = b.input("cache", DType::F32, {s, h, d});
  const ValueId keys = b.transpose(cache, {1, 2, 0}, "keys");
  const ValueId scores = b.matmul(q, keys, "scores");
  const ValueId values = b.transpose(cache, {1, 0, 2}, "values");
  b.output("context", b.matmul(scores, values, "context"));
  b.output("values", values);
  const graph::Graph g = std::move(b).finish();
  std::vector<float> qv(h * d), cv(s * h * d);
  for (size_t i = 0; i < qv.size(); ++i) qv[i] = 0.25f * static_cast<float>(i) - 0.5f;
  for (size_t i = 0; i < cv.size(); ++i) cv[i] = std::sin(static_cast<float>(i));
  const std::map<std::string, Tensor> inputs = {{"q", Tensor::from_vector<float>({h, 1, d}, qv)},
                                                {"cache", Tensor::from_vector<float>({s, h, d}, cv)}};
  const Executor executor(g);
  const auto fused = executor.run(inputs);
  int observed_keys = 0;
  const auto observed = executor.run(inputs, [&](const graph::Node& node, const Tensor& value) {
    if (node.name == "keys") observed_keys += value.shape() == Shape{h, d, s};
  });
  EXPECT_EQ(observed_keys, 1) << "with an observer every node runs";
  // The context by hand: Σ_j (Σ_c q[hh, c]·cache[j, hh, c])·cache[j, hh, e].
  for (int64_t hh = 0; hh < h; ++hh)
    for (int64_t e = 0; e < d; ++e) {
      double want = 0;
      for (int64_t j = 0; j < s; ++j) {
        double score = 0;
        for (int64_t c = 0; c < d; ++c) score += double(qv[hh * d + c]) * cv[(j * h + hh) * d + c];
        want += score * cv[(j * h + hh) * d + e];
      }
      EXPECT_NEAR(fused.at("context").data<float>()[hh * d + e], want, 1e-5);
      EXPECT_NEAR(observed.at("context").data<float>()[hh * d + e], want, 1e-5);
    }
  EXPECT_EQ(fused.at("values").shape(), (Shape{h, s, d}));
  EXPECT_EQ(fused.at("values").data<float>()[1 * s * d + 2 * d + 1], cv[(2 * h + 1) * d + 1]);
}

// cache.out = the f32 [4, 2] cache with `row` ([1, 2]) written at row `pos`.
graph::Graph cache_update_graph() {
  GraphBuilder b;
  const ValueId cache = b.input("cache", DType::F32, {4, 2});
  const ValueId row = b.input("row", DType::F32, {1, 2});
  const ValueId pos = b.input("pos", DType::I32, {1});
  b.output("cache.out", b.cache_update(cache, row, pos, "update"));
  return std::move(b).finish();
}

TEST(Executor, CacheUpdateWritesAHandedOverCacheInPlaceAndNeverASharedOne) {
  const Executor executor(cache_update_graph());
  const std::vector<float> before = {0, 0, 1, 1, 2, 2, 3, 3}, after = {0, 0, 1, 1, 9, 8, 3, 3};
  auto inputs = [](Tensor c) {
    return std::map<std::string, Tensor>{{"cache", std::move(c)},
                                         {"row", Tensor::from_vector<float>({1, 2}, {9, 8})},
                                         {"pos", Tensor::from_vector<int32_t>({1}, {2})}};
  };
  auto values = [](const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); };
  // Handed over: the cache's own buffer comes back, with the row written.
  Tensor handed = Tensor::from_vector<float>({4, 2}, before);
  const void* buffer = handed.raw();
  auto out = executor.run(inputs(std::move(handed)));
  EXPECT_EQ(out.at("cache.out").raw(), buffer);
  EXPECT_EQ(values(out.at("cache.out")), after);
  // Shared with the caller: a copy is updated and the caller's values stay.
  const Tensor kept = Tensor::from_vector<float>({4, 2}, before);
  out = executor.run(inputs(kept));
  EXPECT_NE(out.at("cache.out").raw(), kept.raw());
  EXPECT_EQ(values(out.at("cache.out")), after);
  EXPECT_EQ(values(kept), before);
}

TEST(Executor, ObserverSeesEveryNode) {
  const graph::Graph g = small_graph();
  std::vector<std::string> seen;
  Executor(g).run({{"x", Tensor(DType::F32, {2, 3})}}, [&](const graph::Node& node, const Tensor& value) {
    seen.push_back(node.name);
    EXPECT_EQ(value.shape(), node.shape) << node.name;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"x", "w", "b", "proj", "probs", "sum", "unused"}));
}

TEST(Executor, ChecksInputsByNameDtypeAndShape) {
  const Executor executor(small_graph());
  expect_error([&] { executor.run({}); }, {"'x'", "f32[2, 3]", "not given"});
  expect_error(
      [&] {
        executor.run({{"x", Tensor(DType::F32, {3, 2})}});
      },
      {"'x'", "must be f32[2, 3]", "got f32[3, 2]"});
  expect_error([&] { executor.run({{"x", Tensor(DType::I32, {2, 3})}}); }, {"got i32[2, 3]"});
  expect_error([&] { executor.run({{"x", Tensor(DType::F32, {2, 3})}, {"z", Tensor(DType::F32, {1})}}); },
               {"'z' is not an input", "x"});
  expect_error([&] { executor.run({{"x", Tensor(DType::F32, {2, 3})}, {"proj", Tensor(DType::F32, {2, 2})}}); },
               {"'proj' is not an input"});
}

TEST(Executor, DataErrorsSurfaceFromKernels) {
  const Executor executor(cache_update_graph());
  std::map<std::string, Tensor> inputs{{"cache", Tensor(DType::F32, {4, 2})},
                                       {"row", Tensor::from_vector<float>({1, 2}, {7, 8})},
                                       {"pos", Tensor::from_vector<int32_t>({1}, {3})}};
  const Tensor updated = executor.run(inputs).at("cache.out");
  EXPECT_EQ(updated.data<float>()[6], 7.0f);
  EXPECT_EQ(inputs.at("cache").data<float>()[6], 0.0f);
  inputs["pos"] = Tensor::from_vector<int32_t>({1}, {4});
  expect_error([&] { executor.run(inputs); }, {"cache position 4 is out of range"});
}

TEST(Executor, OutlivesTheGraphItWasGiven) {
  std::optional<Executor> executor;
  {
    const graph::Graph g = small_graph();
    executor.emplace(g);
  }
  // x = 0: logits [0, 1].
  const Tensor y = executor->run({{"x", Tensor(DType::F32, {2, 3})}}).at("y");
  EXPECT_NEAR(y.data<float>()[0], 1.0f / (1.0f + std::exp(1.0f)), 1e-7f);
}

}  // namespace
}  // namespace l2n::exec
