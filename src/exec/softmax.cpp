#include <algorithm>

#include "exec/fast_exp.h"
#include "exec/kernels.h"

namespace l2n::exec {

Tensor softmax(const Tensor& x) {
  if (x.rank() < 1) fail("internal: softmax of a scalar");
  Tensor out = Tensor::uninitialized(DType::F32, x.shape());
  const int64_t n = x.dim(-1);
  if (n == 0) return out;
  const int64_t rows = x.numel() / n;
  const float* xs = x.data<float>();
  float* os = out.mutable_data<float>();
#pragma omp parallel for if (x.numel() > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = xs + r * n;
    float* o = os + r * n;
    // Subtracting the row max keeps exp() finite; the sum is kept in double.
    float max = in[0];
    for (int64_t j = 1; j < n; ++j) max = std::max(max, in[j]);  // branch-free, unlike max_element
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
  return out;
}

}  // namespace l2n::exec
