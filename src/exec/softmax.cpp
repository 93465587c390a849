#include <algorithm>

#include "exec/fast_exp.h"
#include "exec/kernels.h"

namespace l2n::exec {

namespace {

// One row. Compiled for AVX2 as well as the baseline: without FMA contraction (GCC's avx2
// target does not enable FMA), so both clones give the same bits; AVX2 doubles the width of
// exp() and of the float/double conversions, most of a softmax.
[[gnu::target_clones("avx2", "default")]] void softmax_row(const float* __restrict in, float* __restrict o,
                                                          int64_t n) {
  // Subtracting the row max keeps exp() finite; the sum is kept in double.
  // Eight running maxima, so that the loop vectorizes (a single one is a float reduction
  // the compiler may not reorder). The maximum does not depend on the order; a NaN anywhere
  // makes the whole row NaN through the sum either way.
  float lanes[8];
  std::fill_n(lanes, 8, in[0]);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int lane = 0; lane < 8; ++lane) lanes[lane] = std::max(lanes[lane], in[j + lane]);
  for (; j < n; ++j) lanes[0] = std::max(lanes[0], in[j]);
  float max = lanes[0];
  for (int lane = 1; lane < 8; ++lane) max = std::max(max, lanes[lane]);
  // Masked entries (mask -1e30) come out as exactly 0.
  for (int64_t j = 0; j < n; ++j) o[j] = detail::exp_f32(in[j] - max);
  // Four partial sums break the dependency chain of one double accumulator.
  double partial[4] = {0, 0, 0, 0};
  int64_t tail = 0;
  for (; tail + 4 <= n; tail += 4)
    for (int lane = 0; lane < 4; ++lane) partial[lane] += o[tail + lane];
  for (; tail < n; ++tail) partial[0] += o[tail];
  const double inv = 1.0 / ((partial[0] + partial[1]) + (partial[2] + partial[3]));
  for (int64_t j = 0; j < n; ++j) o[j] = static_cast<float>(o[j] * inv);
}

}  // namespace

Tensor softmax(const Tensor& x) {
  if (x.rank() < 1) fail("internal: softmax of a scalar");
  Tensor out = Tensor::uninitialized(DType::F32, x.shape());
  const int64_t n = x.dim(-1);
  if (n == 0) return out;
  const int64_t rows = x.numel() / n;
  const float* xs = x.data<float>();
  float* os = out.mutable_data<float>();
#pragma omp parallel for if (x.numel() > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) softmax_row(xs + r * n, os + r * n, n);
  return out;
}

}  // namespace l2n::exec
