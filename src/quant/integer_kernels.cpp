#include "quant/integer_kernels.h"

#include <fmt/format.h>

#include <omp.h>

#include <cstring>
#include <exception>
#include <mutex>

#include "core/error.h"
#include "quant/integer_elementwise.h"
#include "quant/integer_gemm.h"
#include "quant/integer_ops.h"
#include "quant/qparams.h"

namespace l2n::quant {
namespace {

using graph::Node;
using graph::OpKind;

// Runs body(i) for i in [0, n) on the OpenMP threads. An exception must not leave an
// OpenMP region, so the first one is kept and rethrown after the loop. Small loops run on
// the calling thread (a fork/join costs more than they do), and each thread runs one
// contiguous chunk under one try block, stopping at its first exception.
template <typename F>
void parallel_for(int64_t n, F&& body) {
  constexpr int64_t kSerialBelow = 4096;
  if (n < kSerialBelow) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  std::exception_ptr error;
  std::mutex mutex;
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    try {
      for (int64_t i = begin; i < end; ++i) body(i);
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// Calls f.template operator()<T>() with the storage type of an integer tensor dtype, so
// that loops are compiled per type instead of switching on the dtype per element.
template <typename F>
decltype(auto) dispatch_int(DType d, F&& f) {
  switch (d) {
    case DType::I8: return f.template operator()<int8_t>();
    case DType::I16: return f.template operator()<int16_t>();
    case DType::I32: return f.template operator()<int32_t>();
    case DType::I64: return f.template operator()<int64_t>();
    default: fail("internal: integer kernel given a {} tensor", dtype_name(d));
  }
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

// Stores a value already known to fit `t`'s dtype. (Kept for per-element kernels; the fast
// kernels above dispatch on the dtype once.)
[[maybe_unused]] void store_int(Tensor& t, int64_t i, int64_t v) {
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

// Calls run(a_offset, a_step, b_offset, b_step, out_offset, n) for each run of output
// elements along the innermost axis (steps 0 for an operand broadcast along it, else 1), so
// the broadcast offsets are computed once per run instead of per element.
template <typename Run>
void for_each_run(const Shape& a, const Shape& b, const Shape& out, Run&& run) {
  const int64_t total = shape_numel(out);
  if (a == out && b == out) {
    run(0, 1, 0, 1, 0, total);
    return;
  }
  const Broadcast bc(a, b, out);
  const int64_t inner = out.empty() ? 1 : out.back();
  const int64_t a_step = out.empty() ? 0 : bc.a_strides.back(), b_step = out.empty() ? 0 : bc.b_strides.back();
  for (int64_t start = 0; inner > 0 && start < total; start += inner) {
    const auto [ao, bo] = bc.offsets(start);
    run(ao, a_step, bo, b_step, start, inner);
  }
}

// An int32 binary op over numpy-broadcast operands, one innermost run at a time through a
// whole-run kernel of integer_elementwise.h (fast loop, exact REQUIREs).
template <typename RunFn>
Tensor binary_i32_runs(const Node& node, const std::vector<Tensor>& in, RunFn run_fn) {
  Tensor out = Tensor::uninitialized(DType::I32, node.shape);
  const int32_t* a = in[0].data<int32_t>();
  const int32_t* b = in[1].data<int32_t>();
  int32_t* o = out.mutable_data<int32_t>();
  for_each_run(in[0].shape(), in[1].shape(), node.shape,
               [&](int64_t ao, int64_t as, int64_t bo, int64_t bs, int64_t oo, int64_t n) {
                 run_fn(a + ao, as, b + bo, bs, o + oo, n);
               });
  return out;
}

Tensor add_kernel(const Node& node, const std::vector<Tensor>& in) { return binary_i32_runs(node, in, add_i32_run); }
Tensor sub_kernel(const Node& node, const std::vector<Tensor>& in) { return binary_i32_runs(node, in, sub_i32_run); }
// TOSA MAXIMUM/MINIMUM on int32: exact, no REQUIRE.
template <const int32_t& (*pick)(const int32_t&, const int32_t&)>
Tensor pick_kernel(const Node& node, const std::vector<Tensor>& in) {
  return binary_i32_runs(node, in, [](const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = pick(a[i * sa], b[i * sb]);
  });
}

Tensor mul_kernel(const Node& node, const std::vector<Tensor>& in) {
  const int shift = static_cast<int>(scalar_int(in[2]));
  return binary_i32_runs(node, in,
                         [shift](const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n) {
                           mul_i32_run(a, sa, b, sb, o, n, shift);
                         });
}

Tensor neg_kernel(const Node& node, const std::vector<Tensor>& in) {
  // TOSA NEGATE: −(x − x_zp) + out_zp in int32, clipped to the type.
  Tensor out = Tensor::uninitialized(node.dtype, node.shape);
  const int64_t x_zp = scalar_int(in[1]), out_zp = scalar_int(in[2]);
  const QDType t = qdtype_of(node.dtype);
  const int64_t lo = qdtype_min(t), hi = qdtype_max(t), n = out.numel();
  dispatch_int(in[0].dtype(), [&]<typename I>() {
    dispatch_int(node.dtype, [&]<typename O>() {
      const I* x = in[0].data<I>();
      O* o = out.mutable_data<O>();
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = -(static_cast<int64_t>(x[i]) - x_zp) + out_zp;
        o[i] = static_cast<O>(v < lo ? lo : v > hi ? hi : v);
      }
    });
  });
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
  Tensor out = Tensor::uninitialized(DType::I32, node.shape);
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
  Tensor out = Tensor::uninitialized(node.dtype, node.shape);
  dispatch_int(in[0].dtype(), [&]<typename I>() {
    dispatch_int(node.dtype, [&]<typename O>() {
      const I* x = in[0].data<I>();
      O* o = out.mutable_data<O>();
      parallel_for(l.outer * l.inner, [&](int64_t r) {
        const int64_t i = r / l.inner, j = r % l.inner;
        I best = x[i * l.extent * l.inner + j];
        for (int64_t k = 1; k < l.extent; ++k) best = std::max(best, x[(i * l.extent + k) * l.inner + j]);
        o[r] = static_cast<O>(best);
      });
    });
  });
  return out;
}

Tensor quantize_kernel(const Node& node, const std::vector<Tensor>& in) {
  const graph::Attrs& a = node.attrs;
  const QDType t = qdtype_of(node.dtype);
  const int64_t qmin = a.qmin == 0 && a.qmax == 0 ? qdtype_min(t) : a.qmin;
  const int64_t qmax = a.qmin == 0 && a.qmax == 0 ? qdtype_max(t) : a.qmax;
  const float inv = per_tensor_inv_scale(a.scale);
  Tensor out = Tensor::uninitialized(node.dtype, node.shape);
  const float* x = in[0].data<float>();
  dispatch_int(node.dtype, [&]<typename O>() {
    quantize_tensor(x, out.mutable_data<O>(), out.numel(), inv, a.zero_point, qmin, qmax);
  });
  return out;
}

Tensor dequantize_kernel(const Node& node, const std::vector<Tensor>& in) {
  Tensor out = Tensor::uninitialized(DType::F32, node.shape);
  float* o = out.mutable_data<float>();
  dispatch_int(in[0].dtype(), [&]<typename I>() {
    dequantize_tensor(in[0].data<I>(), o, out.numel(), node.attrs.scale, node.attrs.zero_point);
  });
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
  Tensor out = Tensor::uninitialized(node.dtype, node.shape);
  // rescale_tensor validates once, then runs per type with the channel multipliers hoisted.
  dispatch_int(in[0].dtype(), [&]<typename I>() {
    dispatch_int(node.dtype, [&]<typename O>() {
      if constexpr (std::is_same_v<O, int64_t>) fail("internal: RESCALE cannot produce int48");
      else rescale_tensor(in[0].data<I>(), out.mutable_data<O>(), out.numel(), m, attrs);
    });
  });
  return out;
}

Tensor table_kernel(const Node& node, const std::vector<Tensor>& in) {
  Tensor out = Tensor::uninitialized(node.dtype, node.shape);
  if (in[0].dtype() == DType::I8) {
    TableI8 table;
    std::copy_n(in[1].data<int8_t>(), 256, table.begin());
    table_i8_tensor(in[0].data<int8_t>(), out.mutable_data<int8_t>(), out.numel(), table);
  } else {
    TableI16 table;
    std::copy_n(in[1].data<int16_t>(), 513, table.begin());
    table_i16_tensor(in[0].data<int16_t>(), out.mutable_data<int32_t>(), out.numel(), table);
  }
  return out;
}

Tensor int_linear_kernel(const Node& node, const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  const Tensor& w = in[1];
  const int64_t n_in = w.dim(1), n_out = w.dim(0), rows = x.numel() / n_in;
  const int32_t x_zp = static_cast<int32_t>(scalar_int(in[3]));
  const int32_t w_zp = static_cast<int32_t>(scalar_int(in[4]));
  Tensor out = Tensor::uninitialized(node.dtype, node.shape);
  const int8_t* wd = w.data<int8_t>();
  if (x.dtype() == DType::I8) {
    int32_t* o = out.mutable_data<int32_t>();
    gemm_i8(x.data<int8_t>(), wd, rows, n_out, n_in, x_zp, w_zp, o, in[2].data<int32_t>());
  } else {
    if (x_zp != 0 && rows * n_out > 0) fail("internal: int16 input with zero point {}", x_zp);
    int64_t* o = out.mutable_data<int64_t>();
    gemm_i16_i8(x.data<int16_t>(), wd, rows, n_out, n_in, w_zp, o, in[2].data<int64_t>());
  }
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
  Tensor out = Tensor::uninitialized(node.dtype, node.shape);
  if (i8) matmul_i8(a.data<int8_t>(), b.data<int8_t>(), batch, m, k, n, a_zp, b_zp, out.mutable_data<int32_t>());
  else matmul_i16(a.data<int16_t>(), b.data<int16_t>(), batch, m, k, n, out.mutable_data<int64_t>());
  return out;
}

}  // namespace

const std::map<graph::OpKind, exec::Kernel>& integer_kernels() {
  static const std::map<graph::OpKind, exec::Kernel> kernels{
      {OpKind::Add, add_kernel},
      {OpKind::Sub, sub_kernel},
      {OpKind::Mul, mul_kernel},
      {OpKind::Neg, neg_kernel},
      {OpKind::Maximum, pick_kernel<std::max<int32_t>>},
      {OpKind::Minimum, pick_kernel<std::min<int32_t>>},
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
