#include "exec/gemm.h"
#include "exec/kernels.h"

namespace l2n::exec {
namespace {

struct LinearDims {
  int64_t rows, in, out;
};

LinearDims check_linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  if (x.rank() < 1 || w.rank() != 2 || x.dim(-1) != w.dim(1) || (bias && bias->shape() != Shape{w.dim(0)}))
    fail("internal: linear of x {} by weight {}{} does not fit", shape_str(x.shape()), shape_str(w.shape()),
         bias ? " + bias " + shape_str(bias->shape()) : "");
  return {x.numel() / x.dim(-1), w.dim(1), w.dim(0)};
}

Tensor linear_output(const Tensor& x, const Tensor& w) {
  Shape shape = x.shape();
  shape.back() = w.dim(0);
  return Tensor::uninitialized(DType::F32, shape);  // the GEMM stores every element (beta = 0)
}

}  // namespace

Tensor linear_reference(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const LinearDims d = check_linear(x, w, bias);
  Tensor y = linear_output(x, w);
  const float* xs = x.data<float>();
  const float* ws = w.data<float>();
  const float* bs = bias ? bias->data<float>() : nullptr;
  float* ys = y.mutable_data<float>();
#pragma omp parallel for collapse(2) if (d.rows * d.out * d.in > (1 << 16))
  for (int64_t r = 0; r < d.rows; ++r) {
    for (int64_t o = 0; o < d.out; ++o) {
      const float* xr = xs + r * d.in;
      const float* wr = ws + o * d.in;
      float sum = 0.0f;
      for (int64_t i = 0; i < d.in; ++i) sum += xr[i] * wr[i];
      ys[r * d.out + o] = bs ? sum + bs[o] : sum;
    }
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const LinearDims d = check_linear(x, w, bias);
  Tensor y = linear_output(x, w);
  float* ys = y.mutable_data<float>();
  detail::gemm(1, d.rows, d.out, d.in, x.data<float>(), w.data<float>(), /*b_transposed=*/true, ys);
  if (bias) {
    const float* bs = bias->data<float>();
    for (int64_t r = 0; r < d.rows; ++r)
      for (int64_t o = 0; o < d.out; ++o) ys[r * d.out + o] += bs[o];
  }
  return y;
}

}  // namespace l2n::exec
