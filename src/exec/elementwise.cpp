#include <algorithm>
#include <cmath>

#include "exec/fast_exp.h"
#include "exec/kernels.h"

namespace l2n::exec {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelElements = 1 << 15;

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t k = 0; k < rank; ++k) {
    const int64_t da = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
    const int64_t db = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      fail("internal: shapes {} and {} do not broadcast", shape_str(a), shape_str(b));
    out[k] = da == 1 ? db : da;
  }
  return out;
}

// Element strides of `shape` seen through the broadcast `out` shape: 0 on broadcast axes.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  const size_t rank = out.size(), lead = rank - shape.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t k = rank; k-- > lead;) {
    const int64_t d = shape[k - lead];
    strides[k] = d == 1 ? 0 : stride;
    stride *= d;
  }
  return strides;
}

template <typename Op>
Tensor binary(const Tensor& a, const Tensor& b, Op op) {
  const Shape out_shape = broadcast_shape(a.shape(), b.shape());
  Tensor out = Tensor::uninitialized(DType::F32, out_shape);  // every element is written below
  const float* as = a.data<float>();
  const float* bs = b.data<float>();
  float* os = out.mutable_data<float>();
  const int64_t n = out.numel();
  if (n == 0) return out;
  if (a.shape() == b.shape()) {
#pragma omp parallel for if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) os[i] = op(as[i], bs[i]);
    return out;
  }
  if (b.numel() == 1) {
    const float scalar = bs[0];
#pragma omp parallel for if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) os[i] = op(as[i], scalar);
    return out;
  }
  // Walk the output row by row (rows along the last axis); each operand steps through a
  // row with stride 1 or 0 and starts at an offset found by decomposing the row index.
  const int rank = static_cast<int>(out_shape.size());
  const std::vector<int64_t> sa = broadcast_strides(a.shape(), out_shape);
  const std::vector<int64_t> sb = broadcast_strides(b.shape(), out_shape);
  const int64_t inner = out_shape[rank - 1];
  const int64_t rows = n / inner;
  const bool a_varies = sa[rank - 1] != 0, b_varies = sb[rank - 1] != 0;
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset_a = 0, offset_b = 0, rest = row;
    for (int k = rank - 2; k >= 0; --k) {
      const int64_t index = rest % out_shape[k];
      rest /= out_shape[k];
      offset_a += index * sa[k];
      offset_b += index * sb[k];
    }
    const float* ar = as + offset_a;
    const float* br = bs + offset_b;
    float* orow = os + row * inner;
    // Separate loops per stride pattern so that each one vectorizes.
    if (a_varies && b_varies) {
      for (int64_t i = 0; i < inner; ++i) orow[i] = op(ar[i], br[i]);
    } else if (a_varies) {
      for (int64_t i = 0; i < inner; ++i) orow[i] = op(ar[i], br[0]);
    } else if (b_varies) {
      for (int64_t i = 0; i < inner; ++i) orow[i] = op(ar[0], br[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) orow[i] = op(ar[0], br[0]);
    }
  }
  return out;
}

// exp()-based activations in AVX2 as well as baseline; like softmax, without FMA, so both
// clones give the same bits.
[[gnu::target_clones("avx2", "default")]] void silu_span(const float* __restrict x, float* __restrict out,
                                                        int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] / (1.0f + detail::exp_f32(-x[i]));
}
[[gnu::target_clones("avx2", "default")]] void exp_span(const float* __restrict x, float* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = detail::exp_f32(x[i]);
}

// Runs span(x, out, count) over x in chunks shared among the threads.
template <typename Span>
Tensor unary_spans(const Tensor& x, Span span) {
  Tensor out = Tensor::uninitialized(DType::F32, x.shape());
  const float* xs = x.data<float>();
  float* os = out.mutable_data<float>();
  const int64_t n = x.numel();
  constexpr int64_t kChunk = 8192;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t c = 0; c < chunks; ++c) span(xs + c * kChunk, os + c * kChunk, std::min(kChunk, n - c * kChunk));
  return out;
}

template <typename Op>
Tensor unary(const Tensor& x, Op op) {
  return unary_spans(x, [op](const float* __restrict in, float* __restrict out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = op(in[i]);
  });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(a, b, [](float x, float y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(a, b, [](float x, float y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(a, b, [](float x, float y) { return x * y; });
}

Tensor neg(const Tensor& x) {
  return unary(x, [](float v) { return -v; });
}
Tensor rsqrt(const Tensor& x) {
  return unary(x, [](float v) { return 1.0f / std::sqrt(v); });
}
Tensor silu(const Tensor& x) { return unary_spans(x, silu_span); }
Tensor exp(const Tensor& x) { return unary_spans(x, exp_span); }
Tensor reciprocal(const Tensor& x) {
  return unary(x, [](float v) { return 1.0f / v; });
}

}  // namespace l2n::exec
