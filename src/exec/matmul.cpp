#include <algorithm>

#include "exec/gemm.h"
#include "exec/kernels.h"

namespace l2n::exec {
namespace {

struct MatMulDims {
  int64_t batch, m, k, n;
};

MatMulDims check_matmul(const Tensor& a, const Tensor& b) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  if (as.size() < 2 || as.size() != bs.size() || !std::equal(as.begin(), as.end() - 2, bs.begin()) ||
      a.dim(-1) != b.dim(-2))
    fail("internal: matmul of {} by {} does not fit", shape_str(as), shape_str(bs));
  return {a.numel() / (a.dim(-2) * a.dim(-1)), a.dim(-2), a.dim(-1), b.dim(-1)};
}

Tensor matmul_output(const Tensor& a, const Tensor& b) {
  Shape shape = a.shape();
  shape.back() = b.dim(-1);
  return Tensor::uninitialized(DType::F32, shape);  // the GEMM stores every element (beta = 0)
}

}  // namespace

Tensor matmul_reference(const Tensor& a, const Tensor& b) {
  const MatMulDims d = check_matmul(a, b);
  Tensor c = matmul_output(a, b);
  const float* as = a.data<float>();
  const float* bs = b.data<float>();
  float* cs = c.mutable_data<float>();
#pragma omp parallel for collapse(2) if (d.batch * d.m * d.n * d.k > (1 << 16))
  for (int64_t batch = 0; batch < d.batch; ++batch) {
    for (int64_t i = 0; i < d.m; ++i) {
      const float* ar = as + (batch * d.m + i) * d.k;
      const float* bm = bs + batch * d.k * d.n;
      float* cr = cs + (batch * d.m + i) * d.n;
      for (int64_t j = 0; j < d.n; ++j) {
        float sum = 0.0f;
        for (int64_t p = 0; p < d.k; ++p) sum += ar[p] * bm[p * d.n + j];
        cr[j] = sum;
      }
    }
  }
  return c;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  const MatMulDims d = check_matmul(a, b);
  Tensor c = matmul_output(a, b);
  detail::gemm(d.batch, d.m, d.n, d.k, a.data<float>(), b.data<float>(), /*b_transposed=*/false,
               c.mutable_data<float>());
  return c;
}

bool matmul_permuted_b_supported(const Shape& x_shape, const std::vector<int64_t>& perm) {
  return x_shape.size() == 3 && (perm == std::vector<int64_t>{1, 2, 0} || perm == std::vector<int64_t>{1, 0, 2});
}

Tensor matmul_permuted_b(const Tensor& a, const Tensor& x, const std::vector<int64_t>& perm) {
  if (x.dtype() != DType::F32 || !matmul_permuted_b_supported(x.shape(), perm))
    fail("internal: matmul_permuted_b of {} with permutation of rank {}", shape_str(x.shape()), perm.size());
  const int64_t s = x.dim(0), h = x.dim(1), d = x.dim(2);
  const bool keys = perm[1] == 2;  // {1, 2, 0}: b[h] = x[:, h, :]ᵀ, a [D, S] matrix
  Shape b_shape = keys ? Shape{h, d, s} : Shape{h, s, d};
  if (a.rank() != 3 || a.dim(0) != h || a.dim(2) != b_shape[1])
    fail("internal: matmul of {} by {} does not fit", shape_str(a.shape()), shape_str(b_shape));
  const int64_t m = a.dim(1), k = b_shape[1], n = b_shape[2];
  Tensor c = Tensor::uninitialized(DType::F32, {h, m, n});  // the GEMM stores every element
  // Head h of x starts at element h·D; consecutive positions are H·D apart. For keys those
  // positions are the columns of b (so b is read transposed), for values its rows.
  const detail::StridedB layout{keys, h * d, d};
  detail::gemm(h, m, n, k, a.data<float>(), x.data<float>(), layout, c.mutable_data<float>());
  return c;
}

}  // namespace l2n::exec
