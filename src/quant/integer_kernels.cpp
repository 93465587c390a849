#include "quant/integer_kernels.h"

#include <fmt/format.h>

#include <cstring>
#include <exception>
#include <mutex>

#include "core/error.h"
#include "quant/integer_ops.h"
#include "quant/qparams.h"

namespace l2n::quant {
namespace {

using graph::Node;
using graph::OpKind;

// Runs body(i) for i in [0, n) on the OpenMP threads. An exception must not leave an
// OpenMP region, so the first one is kept and rethrown after the loop.
template <typename F>
void parallel_for(int64_t n, F&& body) {
  std::exception_ptr error;
  std::mutex mutex;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

int64_t load_int(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::I8: return t.data<int8_t>()[i];
    case DType::I16: return t.data<int16_t>()[i];
    case DType::I32: return t.data<int32_t>()[i];
    case DType::I64: return t.data<int64_t>()[i];
    default: fail("internal: integer kernel given a {} tensor", dtype_name(t.dtype()));
  }
}

// Stores a value already known to fit `t`'s dtype.
void store_int(Tensor& t, int64_t i, int64_t v) {
  switch (t.dtype()) {
    case DType::I8: t.mutable_data<int8_t>()[i] = static_cast<int8_t>(v); return;
    case DType::I16: t.mutable_data<int16_t>()[i] = static_cast<int16_t>(v); return;
    case DType::I32: t.mutable_data<int32_t>()[i] = static_cast<int32_t>(v); return;
    case DType::I64: t.mutable_data<int64_t>()[i] = v; return;
    default: fail("internal: integer kernel writing a {} tensor", dtype_name(t.dtype()));
  }
}

int64_t scalar_int(const Tensor& t) { return load_int(t, 0); }

QDType qdtype_of(DType d) {
  switch (d) {
    case DType::I8: return QDType::I8;
    case DType::I16: return QDType::I16;
    case DType::I32: return QDType::I32;
    case DType::I64: return QDType::I48;
    default: fail("internal: {} is not a quantized type", dtype_name(d));
  }
}

// For each output element (row-major over `out`), the element offsets of a and b under
// numpy broadcasting.
struct Broadcast {
  Shape out;
  std::vector<int64_t> a_strides, b_strides, out_strides;

  Broadcast(const Shape& a, const Shape& b, const Shape& o) : out(o) {
    const size_t rank = o.size();
    a_strides.assign(rank, 0);
    b_strides.assign(rank, 0);
    out_strides.assign(rank, 1);
    for (size_t k = rank; k-- > 1;) out_strides[k - 1] = out_strides[k] * o[k];
    auto fill = [&](const Shape& s, std::vector<int64_t>& strides) {
      int64_t stride = 1;
      for (size_t j = s.size(); j-- > 0;) {
        const size_t k = j + (rank - s.size());
        strides[k] = s[j] == 1 ? 0 : stride;
        stride *= s[j];
      }
    };
    fill(a, a_strides);
    fill(b, b_strides);
  }
  std::pair<int64_t, int64_t> offsets(int64_t i) const {
    int64_t ao = 0, bo = 0;
    for (size_t k = 0; k < out.size(); ++k) {
      const int64_t idx = (i / out_strides[k]) % out[k];
      ao += idx * a_strides[k];
      bo += idx * b_strides[k];
    }
    return {ao, bo};
  }
};

template <typename Op>
Tensor binary_i32(const Node& node, const std::vector<Tensor>& in, Op op) {
  Tensor out(DType::I32, node.shape);
  const Broadcast bc(in[0].shape(), in[1].shape(), node.shape);
  const int32_t* a = in[0].data<int32_t>();
  const int32_t* b = in[1].data<int32_t>();
  int32_t* o = out.mutable_data<int32_t>();
  const bool same = in[0].shape() == node.shape && in[1].shape() == node.shape;
  parallel_for(out.numel(), [&](int64_t i) {
    if (same) {
      o[i] = op(a[i], b[i]);
    } else {
      const auto [ai, bi] = bc.offsets(i);
      o[i] = op(a[ai], b[bi]);
    }
  });
  return out;
}

Tensor add_kernel(const Node& node, const std::vector<Tensor>& in) { return binary_i32(node, in, add_i32); }
Tensor sub_kernel(const Node& node, const std::vector<Tensor>& in) { return binary_i32(node, in, sub_i32); }
Tensor mul_kernel(const Node& node, const std::vector<Tensor>& in) {
  const int shift = static_cast<int>(scalar_int(in[2]));
  return binary_i32(node, in, [shift](int32_t a, int32_t b) { return mul_i32(a, b, shift); });
}

Tensor neg_kernel(const Node& node, const std::vector<Tensor>& in) {
  // TOSA NEGATE: −(x − x_zp) + out_zp in int32, clipped to the type.
  Tensor out(node.dtype, node.shape);
  const int64_t x_zp = scalar_int(in[1]), out_zp = scalar_int(in[2]);
  const QDType t = qdtype_of(node.dtype);
  parallel_for(out.numel(), [&](int64_t i) { store_int(out, i, clip_to(-(load_int(in[0], i) - x_zp) + out_zp, t)); });
  return out;
}

// Reductions over node.attrs.axis: outer × axis × inner.
struct ReduceLayout {
  int64_t outer = 1, extent = 1, inner = 1;
  ReduceLayout(const Shape& s, int64_t axis) {
    for (int64_t k = 0; k < static_cast<int64_t>(s.size()); ++k) {
      if (k < axis) outer *= s[k];
      else if (k == axis) extent = s[k];
      else inner *= s[k];
    }
  }
};

Tensor reduce_sum_kernel(const Node& node, const std::vector<Tensor>& in) {
  const ReduceLayout l(in[0].shape(), node.attrs.axis);
  Tensor out(DType::I32, node.shape);
  const int32_t* x = in[0].data<int32_t>();
  int32_t* o = out.mutable_data<int32_t>();
  parallel_for(l.outer * l.inner, [&](int64_t r) {
    const int64_t i = r / l.inner, j = r % l.inner;
    int32_t acc = 0;
    for (int64_t k = 0; k < l.extent; ++k) acc = add_i32(acc, x[(i * l.extent + k) * l.inner + j]);
    o[r] = acc;
  });
  return out;
}

Tensor reduce_max_kernel(const Node& node, const std::vector<Tensor>& in) {
  const ReduceLayout l(in[0].shape(), node.attrs.axis);
  Tensor out(node.dtype, node.shape);
  parallel_for(l.outer * l.inner, [&](int64_t r) {
    const int64_t i = r / l.inner, j = r % l.inner;
    int64_t best = load_int(in[0], i * l.extent * l.inner + j);
    for (int64_t k = 1; k < l.extent; ++k) best = std::max(best, load_int(in[0], (i * l.extent + k) * l.inner + j));
    store_int(out, r, best);
  });
  return out;
}

Tensor quantize_kernel(const Node& node, const std::vector<Tensor>& in) {
  const graph::Attrs& a = node.attrs;
  const QDType t = qdtype_of(node.dtype);
  const int64_t qmin = a.qmin == 0 && a.qmax == 0 ? qdtype_min(t) : a.qmin;
  const int64_t qmax = a.qmin == 0 && a.qmax == 0 ? qdtype_max(t) : a.qmax;
  const float inv = per_tensor_inv_scale(a.scale);
  Tensor out(node.dtype, node.shape);
  const float* x = in[0].data<float>();
  parallel_for(out.numel(), [&](int64_t i) { store_int(out, i, quantize_value(x[i], inv, a.zero_point, qmin, qmax)); });
  return out;
}

Tensor dequantize_kernel(const Node& node, const std::vector<Tensor>& in) {
  Tensor out(DType::F32, node.shape);
  float* o = out.mutable_data<float>();
  parallel_for(out.numel(),
               [&](int64_t i) { o[i] = dequantize_value(load_int(in[0], i), node.attrs.scale, node.attrs.zero_point); });
  return out;
}

Tensor rescale_kernel(const Node& node, const std::vector<Tensor>& in) {
  RescaleAttrs attrs;
  attrs.in_dtype = qdtype_of(in[0].dtype());
  attrs.out_dtype = qdtype_of(node.dtype);
  attrs.scale32 = node.attrs.scale32;
  attrs.rounding = node.attrs.double_round ? RoundingMode::Double : RoundingMode::Single;
  attrs.input_zp = static_cast<int32_t>(scalar_int(in[3]));
  attrs.output_zp = static_cast<int32_t>(scalar_int(in[4]));
  std::vector<ScaleMultiplier> m(static_cast<size_t>(in[1].numel()));
  for (size_t c = 0; c < m.size(); ++c) {
    m[c].multiplier = static_cast<int32_t>(load_int(in[1], static_cast<int64_t>(c)));
    m[c].shift = static_cast<int8_t>(load_int(in[2], static_cast<int64_t>(c)));
  }
  validate_rescale(attrs, m);
  const int64_t channels = static_cast<int64_t>(m.size());
  Tensor out(node.dtype, node.shape);
  parallel_for(out.numel(), [&](int64_t i) {
    const ScaleMultiplier& mc = m[static_cast<size_t>(channels == 1 ? 0 : i % channels)];
    store_int(out, i, rescale(load_int(in[0], i), mc, attrs));
  });
  return out;
}

Tensor table_kernel(const Node& node, const std::vector<Tensor>& in) {
  Tensor out(node.dtype, node.shape);
  if (in[0].dtype() == DType::I8) {
    TableI8 table;
    std::copy_n(in[1].data<int8_t>(), 256, table.begin());
    const int8_t* x = in[0].data<int8_t>();
    int8_t* o = out.mutable_data<int8_t>();
    parallel_for(out.numel(), [&](int64_t i) { o[i] = lookup_i8(x[i], table); });
  } else {
    TableI16 table;
    std::copy_n(in[1].data<int16_t>(), 513, table.begin());
    const int16_t* x = in[0].data<int16_t>();
    int32_t* o = out.mutable_data<int32_t>();
    parallel_for(out.numel(), [&](int64_t i) { o[i] = lookup_i16(x[i], table); });
  }
  return out;
}

Tensor int_linear_kernel(const Node& node, const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  const Tensor& w = in[1];
  const int64_t n_in = w.dim(1), n_out = w.dim(0), rows = x.numel() / n_in;
  const int32_t x_zp = static_cast<int32_t>(scalar_int(in[3]));
  const int32_t w_zp = static_cast<int32_t>(scalar_int(in[4]));
  Tensor out(node.dtype, node.shape);
  const int8_t* wd = w.data<int8_t>();
  parallel_for(rows * n_out, [&](int64_t r) {
    const int64_t row = r / n_out, o = r % n_out;
    if (x.dtype() == DType::I8) {
      const int32_t acc = dot_i8(x.data<int8_t>() + row * n_in, wd + o * n_in, n_in, x_zp, w_zp);
      out.mutable_data<int32_t>()[r] = add_bias_i32(acc, in[2].data<int32_t>()[o]);
    } else {
      if (x_zp != 0) fail("internal: int16 input with zero point {}", x_zp);
      const int64_t acc = dot_i16_i8(x.data<int16_t>() + row * n_in, wd + o * n_in, n_in, w_zp);
      out.mutable_data<int64_t>()[r] = add_bias_i48(acc, in[2].data<int64_t>()[o]);
    }
  });
  return out;
}

Tensor int_matmul_kernel(const Node& node, const std::vector<Tensor>& in) {
  const Tensor& a = in[0];
  const Tensor& b = in[1];
  const int rank = a.rank();
  const int64_t m = a.dim(rank - 2), k = a.dim(rank - 1), n = b.dim(rank - 1);
  const int64_t batch = a.numel() / (m * k);
  const int32_t a_zp = static_cast<int32_t>(scalar_int(in[2]));
  const int32_t b_zp = static_cast<int32_t>(scalar_int(in[3]));
  const bool i8 = a.dtype() == DType::I8;
  if (!i8 && (a_zp != 0 || b_zp != 0)) fail("internal: int16 matmul with non-zero zero points");
  // b transposed per batch so that each output element is one contiguous dot product.
  const size_t elem = i8 ? 1 : 2;
  std::vector<uint8_t> bt(static_cast<size_t>(b.numel()) * elem);
  const uint8_t* bsrc = static_cast<const uint8_t*>(b.raw());
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < n; ++c)
        std::memcpy(&bt[((bi * n + c) * k + r) * elem], bsrc + ((bi * k + r) * n + c) * elem, elem);
  Tensor out(node.dtype, node.shape);
  parallel_for(batch * m * n, [&](int64_t idx) {
    const int64_t bi = idx / (m * n), row = (idx / n) % m, col = idx % n;
    if (i8) {
      const int8_t* ap = a.data<int8_t>() + (bi * m + row) * k;
      const int8_t* bp = reinterpret_cast<const int8_t*>(bt.data()) + (bi * n + col) * k;
      out.mutable_data<int32_t>()[idx] = dot_i8(ap, bp, k, a_zp, b_zp);
    } else {
      const int16_t* ap = a.data<int16_t>() + (bi * m + row) * k;
      const int16_t* bp = reinterpret_cast<const int16_t*>(bt.data()) + (bi * n + col) * k;
      out.mutable_data<int64_t>()[idx] = dot_i16_i16(ap, bp, k);
    }
  });
  return out;
}

}  // namespace

const std::map<graph::OpKind, exec::Kernel>& integer_kernels() {
  static const std::map<graph::OpKind, exec::Kernel> kernels{
      {OpKind::Add, add_kernel},
      {OpKind::Sub, sub_kernel},
      {OpKind::Mul, mul_kernel},
      {OpKind::Neg, neg_kernel},
      {OpKind::ReduceSum, reduce_sum_kernel},
      {OpKind::ReduceMax, reduce_max_kernel},
      {OpKind::Quantize, quantize_kernel},
      {OpKind::Dequantize, dequantize_kernel},
      {OpKind::Rescale, rescale_kernel},
      {OpKind::Table, table_kernel},
      {OpKind::IntLinear, int_linear_kernel},
      {OpKind::IntMatMul, int_matmul_kernel},
  };
  return kernels;
}

exec::ExecOptions integer_exec_options(int threads) {
  exec::ExecOptions options;
  options.threads = threads;
  options.extra_kernels = integer_kernels();
  return options;
}

}  // namespace l2n::quant
