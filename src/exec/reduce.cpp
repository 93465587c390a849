#include <algorithm>
#include <limits>

#include "exec/kernels.h"

namespace l2n::exec {
namespace {

enum class Reduction { Sum, Mean, Max };

// x viewed as [outer, n, inner] with n the reduced axis; the result is [outer, 1, inner].
Tensor reduce(const Tensor& x, int64_t axis, Reduction kind) {
  const int rank = x.rank();
  const int64_t k = axis < 0 ? axis + rank : axis;
  if (k < 0 || k >= rank) fail("internal: reduce axis {} out of range for shape {}", axis, shape_str(x.shape()));
  const Shape& shape = x.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < k; ++i) outer *= shape[i];
  for (int64_t i = k + 1; i < rank; ++i) inner *= shape[i];
  const int64_t n = shape[k];
  Shape out_shape = shape;
  out_shape[k] = 1;
  Tensor out = Tensor::uninitialized(DType::F32, out_shape);
  const float* xs = x.data<float>();
  float* os = out.mutable_data<float>();
#pragma omp parallel for collapse(2) if (x.numel() > (1 << 15))
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* start = xs + o * n * inner + i;
      if (kind == Reduction::Max) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) best = std::max(best, start[j * inner]);
        os[o * inner + i] = best;
      } else {
        double sum = 0.0;
        for (int64_t j = 0; j < n; ++j) sum += start[j * inner];
        os[o * inner + i] = static_cast<float>(kind == Reduction::Mean ? sum / static_cast<double>(n) : sum);
      }
    }
  }
  return out;
}

}  // namespace

Tensor reduce_sum(const Tensor& x, int64_t axis) { return reduce(x, axis, Reduction::Sum); }
Tensor reduce_mean(const Tensor& x, int64_t axis) { return reduce(x, axis, Reduction::Mean); }
Tensor reduce_max(const Tensor& x, int64_t axis) { return reduce(x, axis, Reduction::Max); }

}  // namespace l2n::exec
