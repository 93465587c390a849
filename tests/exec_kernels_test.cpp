#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "exec/fast_exp.h"
#include "exec/kernels.h"

namespace l2n::exec {
namespace {

Tensor f32(Shape shape, std::vector<float> values) { return Tensor::from_vector<float>(std::move(shape), values); }
Tensor i32(Shape shape, std::vector<int32_t> values) { return Tensor::from_vector<int32_t>(std::move(shape), values); }

void expect_near_all(const Tensor& t, const std::vector<float>& expected, float tol = 1e-6f) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(t.data<float>()[i], expected[i], tol) << "at " << i;
}

Tensor random_tensor(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensor t(DType::F32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = u(rng);
  return t;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data<float>()[i] - b.data<float>()[i]));
  return m;
}

TEST(ExecKernels, LinearByHand) {
  const Tensor x = f32({2, 3}, {1, 2, 3, -1, 0, 1});
  const Tensor w = f32({2, 3}, {1, 0, 0, 1, 1, 1});
  const Tensor b = f32({2}, {10, 20});
  for (bool fast : {false, true}) {
    const Tensor y = fast ? linear(x, w, &b) : linear_reference(x, w, &b);
    EXPECT_EQ(y.shape(), (Shape{2, 2}));
    expect_near_all(y, {11, 26, 9, 20});
    expect_near_all(fast ? linear(x, w, nullptr) : linear_reference(x, w, nullptr), {1, 6, -1, 0});
  }
  // One row takes the matrix-vector path; leading axes are kept.
  const Tensor row = f32({1, 1, 3}, {1, 2, 3});
  const Tensor y_row = linear(row, w, &b);
  EXPECT_EQ(y_row.shape(), (Shape{1, 1, 2}));
  expect_near_all(y_row, {11, 26});
  EXPECT_THROW(linear(x, f32({2, 2}, {1, 2, 3, 4}), nullptr), Error);
}

TEST(ExecKernels, BatchedMatMulByHand) {
  // Batch 0: identity · B; batch 1: [[1, 2]] · [[3], [4]] style sums.
  const Tensor a = f32({2, 2, 2}, {1, 0, 0, 1, 1, 2, 3, 4});
  const Tensor b = f32({2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 0, 1, 0, 1, 1});
  for (bool fast : {false, true}) {
    const Tensor c = fast ? matmul(a, b) : matmul_reference(a, b);
    EXPECT_EQ(c.shape(), (Shape{2, 2, 3}));
    expect_near_all(c, {1, 2, 3, 4, 5, 6, 1, 2, 3, 3, 4, 7});
  }
}

// Float rounding of a k-term dot product of values in [-1, 1], summed in different orders.
float sum_tolerance(int64_t k) { return 1e-5f * static_cast<float>(std::max<int64_t>(1, k / 64)); }

TEST(ExecKernels, BlasMatchesReferenceOnOddShapes) {
  // 172 = stories260K's FFN width; 1 row = the decode (gemv) path; 37/13 = nothing aligned;
  // the large ones are split across threads by rows (many rows) or by columns (few rows).
  for (auto [rows, in, out] :
       {std::tuple{7, 64, 172}, {1, 172, 64}, {37, 13, 29}, {512, 64, 512}, {1, 512, 1001}, {3, 256, 701}}) {
    const Tensor x = random_tensor({rows, in}, 1);
    const Tensor w = random_tensor({out, in}, 2);
    const Tensor b = random_tensor({out}, 3);
    EXPECT_LE(max_abs_diff(linear(x, w, &b), linear_reference(x, w, &b)), sum_tolerance(in))
        << rows << "x" << in << "x" << out;
  }
  for (auto [batch, m, k, n] : {std::tuple{4, 2, 8, 172}, {3, 37, 13, 1}, {4, 1024, 8, 512}, {2, 1, 512, 8},
                                {2, 1, 512, 1001}, {2, 3, 256, 701}}) {
    const Tensor a = random_tensor({batch, m, k}, 4);
    const Tensor b = random_tensor({batch, k, n}, 5);
    EXPECT_LE(max_abs_diff(matmul(a, b), matmul_reference(a, b)), sum_tolerance(k))
        << batch << "x" << m << "x" << k << "x" << n;
  }
}

TEST(ExecKernels, BroadcastingBinaryOps) {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_near_all(add(a, f32({3}, {10, 20, 30})), {11, 22, 33, 14, 25, 36});
  expect_near_all(sub(a, f32({2, 1}, {1, 2})), {0, 1, 2, 2, 3, 4});
  expect_near_all(mul(a, f32({1}, {2})), {2, 4, 6, 8, 10, 12});
  expect_near_all(mul(f32({1}, {2}), a), {2, 4, 6, 8, 10, 12});
  expect_near_all(mul(a, a), {1, 4, 9, 16, 25, 36});
  // Both operands broadcast: [2,1] x [1,3] -> [2,3]; and rank expansion to 3-D.
  expect_near_all(add(f32({2, 1}, {0, 10}), f32({1, 3}, {1, 2, 3})), {1, 2, 3, 11, 12, 13});
  const Tensor c = add(f32({2, 1, 2}, {0, 1, 10, 11}), f32({3, 1}, {100, 200, 300}));
  EXPECT_EQ(c.shape(), (Shape{2, 3, 2}));
  expect_near_all(c, {100, 101, 200, 201, 300, 301, 110, 111, 210, 211, 310, 311});
  // Big enough for the parallel path.
  const Tensor big = random_tensor({64, 4, 256}, 9);
  const Tensor row = random_tensor({4, 256}, 10);
  const Tensor sum = add(big, row);
  for (int64_t i = 0; i < big.numel(); i += 997)
    EXPECT_EQ(sum.data<float>()[i], big.data<float>()[i] + row.data<float>()[i % 1024]);
}

TEST(ExecKernels, UnaryOps) {
  const Tensor x = f32({4}, {-2, 0.5f, 1, 4});
  expect_near_all(neg(x), {2, -0.5f, -1, -4});
  expect_near_all(rsqrt(f32({3}, {4, 0.25f, 1})), {0.5f, 2, 1});
  expect_near_all(reciprocal(x), {-0.5f, 2, 1, 0.25f});
  expect_near_all(exp(f32({2}, {0, 1})), {1, 2.7182818f});
  // silu(x) = x / (1 + e^-x): silu(0) = 0, silu(1) = 0.7310586, silu(-2) = -0.2384058.
  expect_near_all(silu(f32({3}, {0, 1, -2})), {0, 0.7310586f, -0.2384058f});
}

TEST(ExecKernels, FastExpIsWithinTwoUlpOfStdExp) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
    const double expected = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(detail::exp_f32(x) - expected) / expected);
  }
  EXPECT_LT(worst, 2.4e-7);
  EXPECT_EQ(detail::exp_f32(0.0f), 1.0f);
  EXPECT_EQ(detail::exp_f32(-87.5f), 0.0f);
  EXPECT_EQ(detail::exp_f32(-1e30f), 0.0f);
  EXPECT_TRUE(std::isinf(detail::exp_f32(89.0f)));
  EXPECT_TRUE(std::isnan(detail::exp_f32(NAN)));
}

TEST(ExecKernels, ReductionsKeepTheAxis) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 9});
  Tensor s = reduce_sum(x, -1);
  EXPECT_EQ(s.shape(), (Shape{2, 1}));
  expect_near_all(s, {6, 18});
  expect_near_all(reduce_mean(x, 1), {2, 6});
  expect_near_all(reduce_max(x, 1), {3, 9});
  Tensor columns = reduce_sum(x, 0);
  EXPECT_EQ(columns.shape(), (Shape{1, 3}));
  expect_near_all(columns, {5, 7, 12});
  expect_near_all(reduce_max(f32({1, 3}, {-5, -7, -6}), -1), {-5});
}

TEST(ExecKernels, SoftmaxIsExactForMaskedEntries) {
  // softmax([0, ln 3]) = [1/4, 3/4]; a -1e30 entry contributes exactly 0.
  const Tensor x = f32({2, 3}, {0, std::log(3.0f), -1e30f, 1, 1, 1});
  const Tensor y = softmax(x);
  expect_near_all(y, {0.25f, 0.75f, 0, 1.0f / 3, 1.0f / 3, 1.0f / 3});
  EXPECT_EQ(y.data<float>()[2], 0.0f);
  // Large values do not overflow thanks to the max subtraction.
  expect_near_all(softmax(f32({2}, {1000, 1000})), {0.5f, 0.5f});
}

TEST(ExecKernels, SoftmaxOfLongRowsMatchesADoubleReference) {
  // Row lengths around the 8-wide maximum and the 4-wide sums, with the row's maximum at
  // the first, a middle and the last position and a causal mask over part of each row. The
  // maximum, 100, overflows exp() unless the kernel finds it wherever it is.
  for (const int64_t n : {1, 7, 8, 9, 172, 513}) {
    Tensor x = random_tensor({3, n}, static_cast<uint32_t>(n));
    float* xs = x.mutable_data<float>();
    const int64_t peak[3] = {0, n / 2, n - 1};
    for (int64_t r = 0; r < 3; ++r) {
      xs[r * n + peak[r]] = 100.0f;
      for (int64_t j = peak[r] + 1 + n / 3; j < n; ++j) xs[r * n + j] = -1e30f;
    }
    const Tensor y = softmax(x);
    for (int64_t r = 0; r < 3; ++r) {
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(double(xs[r * n + j]) - 100.0);
      for (int64_t j = 0; j < n; ++j) {
        const double want = std::exp(double(xs[r * n + j]) - 100.0) / sum;
        EXPECT_NEAR(y.data<float>()[r * n + j], want, 1e-6 * want + 1e-30) << "n " << n << " row " << r << " col " << j;
      }
    }
  }
}

TEST(ExecKernels, MatMulThroughAPermutedKvCacheMatchesTheTransposeThenMatMul) {
  // x = [S, H, D] as a KV cache; {1, 2, 0} gives the keys' [H, D, S], {1, 0, 2} the values'
  // [H, S, D]. One row (decode: the GEMV path), a few, and a window; an odd S.
  for (const int64_t s : {1, 37, 172})
    for (const int64_t m : {1, 3, 64})
      for (const bool keys : {true, false}) {
        const int64_t h = 3, d = 16;
        const std::vector<int64_t> perm = keys ? std::vector<int64_t>{1, 2, 0} : std::vector<int64_t>{1, 0, 2};
        ASSERT_TRUE(matmul_permuted_b_supported({s, h, d}, perm));
        const Tensor x = random_tensor({s, h, d}, static_cast<uint32_t>(s * 10 + m));
        const Tensor a = random_tensor({h, m, keys ? d : s}, static_cast<uint32_t>(s + m));
        const Tensor want = matmul_reference(a, transpose(x, perm));
        const Tensor got = matmul_permuted_b(a, x, perm);
        EXPECT_EQ(got.shape(), want.shape());
        EXPECT_LE(max_abs_diff(got, want), 1e-4f) << "s " << s << " m " << m << " keys " << keys;
      }
  EXPECT_FALSE(matmul_permuted_b_supported({4, 3, 2}, {0, 2, 1}));
  EXPECT_FALSE(matmul_permuted_b_supported({4, 3, 2, 1}, {1, 2, 0, 3}));
}

TEST(ExecKernels, TransposeSliceConcat) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor t = transpose(x, {1, 0});
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  expect_near_all(t, {1, 4, 2, 5, 3, 6});
  // 3-D: out[j, k, i] = x3[i, j, k]
  const Tensor x3 = f32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  expect_near_all(transpose(x3, {1, 2, 0}), {0, 4, 1, 5, 2, 6, 3, 7});
  expect_near_all(slice(x, {0, 1}, {2, 2}), {2, 3, 5, 6});
  expect_near_all(slice(x, {1, 0}, {1, 3}), {4, 5, 6});
  expect_near_all(slice(x3, {0, 0, 1}, {2, 2, 1}), {1, 3, 5, 7});
  const Tensor c = concat({x, f32({2, 1}, {7, 8})}, -1);
  EXPECT_EQ(c.shape(), (Shape{2, 4}));
  expect_near_all(c, {1, 2, 3, 7, 4, 5, 6, 8});
  expect_near_all(concat({x, x}, 0), {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6});
  EXPECT_THROW(concat({x, f32({3, 1}, {0, 0, 0})}, 1), Error);
  // Data movement is dtype-generic.
  const Tensor ti = transpose(i32({2, 2}, {1, 2, 3, 4}), {1, 0});
  EXPECT_EQ(ti.data<int32_t>()[1], 3);
  EXPECT_EQ(reshape(x, {3, 2}).shape(), (Shape{3, 2}));
}

TEST(ExecKernels, GatherRows) {
  const Tensor table = f32({3, 2}, {0, 1, 10, 11, 20, 21});
  const Tensor rows = gather(table, i32({2, 2}, {2, 0, 1, 1}));
  EXPECT_EQ(rows.shape(), (Shape{2, 2, 2}));
  expect_near_all(rows, {20, 21, 0, 1, 10, 11, 10, 11});
  try {
    gather(table, i32({1}, {3}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gather(table, i32({1}, {-1})), Error);
}

TEST(ExecKernels, CacheUpdateWritesRowsAndLeavesTheInputAlone) {
  const Tensor cache = f32({4, 2}, {0, 0, 1, 1, 2, 2, 3, 3});
  const Tensor out = cache_update(cache, f32({1, 2}, {9, 8}), i32({1}, {2}));
  expect_near_all(out, {0, 0, 1, 1, 9, 8, 3, 3});
  expect_near_all(cache, {0, 0, 1, 1, 2, 2, 3, 3});
  expect_near_all(cache_update(cache, f32({2, 2}, {9, 8, 7, 6}), i32({1}, {2})), {0, 0, 1, 1, 9, 8, 7, 6});
  EXPECT_THROW(cache_update(cache, f32({2, 2}, {9, 8, 7, 6}), i32({1}, {3})), Error);
  EXPECT_THROW(cache_update(cache, f32({1, 2}, {9, 8}), i32({1}, {-1})), Error);
  EXPECT_THROW(cache_update(cache, f32({1, 3}, {9, 8, 7}), i32({1}, {0})), Error);
}

}  // namespace
}  // namespace l2n::exec
