#include "tosa/interpreter.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <span>
#include <unordered_map>

#include "core/error.h"
#include "core/op_timer.h"
#include "core/strided_copy.h"
#include "quant/integer_elementwise.h"
#include "quant/integer_gemm.h"
#include "quant/integer_ops.h"

namespace l2n::tosa {
namespace {

namespace q = l2n::quant;
using l2n::Shape;

// ---------------------------------------------------------------------------------------
// Values

TosaValue make_value(DType type, Shape shape) { return TosaValue{type, Tensor(value_storage(type), std::move(shape))}; }

const Shape& shape_of(const TosaValue& v) { return v.tensor.shape(); }
int64_t numel(const TosaValue& v) { return v.tensor.numel(); }
size_t elem_size(const TosaValue& v) { return dtype_size(v.tensor.dtype()); }

template <typename T>
const T* ptr(const TosaValue& v) {
  return static_cast<const T*>(v.tensor.raw());
}
template <typename T>
T* mptr(TosaValue& v) {
  return static_cast<T*>(v.tensor.mutable_raw());
}

std::string shape_text(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ",")); }

bool is_int(DType t) { return t == DType::INT8 || t == DType::INT16 || t == DType::INT32; }

// Calls f.template operator()<T>() with the storage type of an integer/bool/float TOSA type.
template <typename F>
decltype(auto) dispatch(DType t, F&& f) {
  switch (t) {
    case DType::BOOL: return f.template operator()<uint8_t>();
    case DType::INT8: return f.template operator()<int8_t>();
    case DType::INT16: return f.template operator()<int16_t>();
    case DType::INT32: return f.template operator()<int32_t>();
    case DType::INT48: case DType::SHAPE: return f.template operator()<int64_t>();
    case DType::FP32: return f.template operator()<float>();
    default: fail("type {} is not supported by the interpreter", dtype_name(t));
  }
}

int64_t int_at(const TosaValue& v, int64_t i) {
  return dispatch(v.type, [&]<typename T>() -> int64_t {
    if constexpr (std::is_same_v<T, float>) fail("expected an integer tensor, got FP32");
    else return static_cast<int64_t>(ptr<T>(v)[i]);
  });
}

void require_type(const TosaValue& v, DType t, const char* what) {
  if (v.type != t) fail("ERROR_IF: {} must be {}, it is {}", what, dtype_name(t), dtype_name(v.type));
}

void require_shape(const TosaValue& v, const Shape& s, const char* what) {
  if (shape_of(v) != s) fail("ERROR_IF: {} must have shape {}, it has {}", what, shape_text(s), shape_text(shape_of(v)));
}

// A zero point operand: a rank-1 [1] tensor of type `t`.
int64_t zero_point(const TosaValue& v, DType t, const char* what) {
  require_type(v, t, what);
  if (numel(v) != 1 || v.tensor.rank() != 1) fail("ERROR_IF: {} must have shape [1], it has {}", what, shape_text(shape_of(v)));
  return int_at(v, 0);
}

std::vector<int64_t> shape_values(const TosaValue& v, const char* what) {
  if (v.type != DType::SHAPE) fail("{} must be a shape_t (CONST_SHAPE output), it is {}", what, dtype_name(v.type));
  return std::vector<int64_t>(ptr<int64_t>(v), ptr<int64_t>(v) + numel(v));
}

// ---------------------------------------------------------------------------------------
// Broadcasting (broadcast_shape.tosac: same rank, each dim equal or 1)

Shape broadcast_shape(const Shape& a, const Shape& b) {
  if (a.size() != b.size()) fail("ERROR_IF: operands of rank {} and {} (insert a RESHAPE; TOSA does not expand ranks)", a.size(), b.size());
  Shape out(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && a[i] != 1 && b[i] != 1) fail("ERROR_IF: shapes {} and {} do not broadcast", shape_text(a), shape_text(b));
    out[i] = a[i] == 1 ? b[i] : a[i];
  }
  return out;
}

// Calls run(out_offset, offsets, steps, n) for consecutive runs of n output elements that
// cover the output in row-major order; along a run, input k advances by steps[k] elements
// (1: a dense operand, 0: a broadcast one) from offsets[k]. Adjacent axes on which every
// input is alike (dense on both or broadcast on both) are merged first, so that a run spans
// as many axes as possible: [1,512,9,64] + [1,512,1,1] gives runs of 576, not of 64.
// Visiting the runs in output order keeps "the first failing element throws" of the
// per-element form.
template <size_t K, typename F>
void broadcast_runs(const Shape& out, const std::array<const Shape*, K>& ins, F&& run) {
  const int64_t total = shape_numel(out);
  if (total == 0) return;
  std::vector<int64_t> dims;                  // merged extents, innermost last
  std::vector<std::array<bool, K>> broadcast;  // per merged axis: input k repeats along it
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;  // every input has extent 1 there too
    std::array<bool, K> b;
    for (size_t k = 0; k < K; ++k) b[k] = (*ins[k])[d] == 1;
    if (!dims.empty() && broadcast.back() == b) {
      dims.back() *= out[d];
    } else {
      dims.push_back(out[d]);
      broadcast.push_back(b);
    }
  }
  std::array<int64_t, K> off{}, steps{};
  if (dims.empty()) {  // a single element
    run(int64_t{0}, off, steps, int64_t{1});
    return;
  }
  const size_t rank = dims.size();
  std::array<std::vector<int64_t>, K> strides;
  for (size_t k = 0; k < K; ++k) {
    strides[k].assign(rank, 0);
    int64_t s = 1;
    for (size_t a = rank; a-- > 0;) {
      if (broadcast[a][k]) continue;
      strides[k][a] = s;
      s *= dims[a];
    }
    steps[k] = broadcast[rank - 1][k] ? 0 : 1;
  }
  const int64_t inner = dims.back();
  std::vector<int64_t> idx(rank, 0);
  for (int64_t start = 0; start < total; start += inner) {
    run(start, off, steps, inner);
    for (size_t a = rank - 1; a-- > 0;) {  // odometer over the outer axes
      ++idx[a];
      for (size_t k = 0; k < K; ++k) off[k] += strides[k][a];
      if (idx[a] < dims[a]) break;
      for (size_t k = 0; k < K; ++k) off[k] -= strides[k][a] * dims[a];
      idx[a] = 0;
    }
  }
}

// o[i] = f(a[i·sa], b[i·sb]) for i in [0, n), sa and sb in {0, 1}: one loop per stride
// pattern, so that each vectorises (the per-element f is the same, so are the results).
template <typename A, typename B, typename O, typename F>
void map_run(const A* a, int64_t sa, const B* b, int64_t sb, O* o, int64_t n, F f) {
  if (sa && sb) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa) {
    const B v = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], v);
  } else if (sb) {
    const A u = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(u, b[i]);
  } else {
    const O r = f(a[0], b[0]);
    std::fill_n(o, n, r);
  }
}

// ---------------------------------------------------------------------------------------
// Operators. Each gets its operands (already type-checked for existence) and the declared
// output tensor (type and shape the file states), and returns the result.

std::string declared_mismatch(DType type, const Shape& shape, const TosaTensor& declared) {
  if (type != declared.type)
    return fmt::format("the result is {}, the output tensor is declared {}", dtype_name(type), dtype_name(declared.type));
  if (!declared.is_unranked && !std::equal(shape.begin(), shape.end(), declared.shape.begin(), declared.shape.end()))
    return fmt::format("the result has shape {}, the output tensor is declared [{}]", shape_text(shape),
                       fmt::join(declared.shape, ","));
  return {};
}

// declared_mismatch against the compact copy of the declared output; the TosaTensor only
// when they differ (for the message) or the copy could not hold the shape.
std::string declared_mismatch(DType type, const Shape& shape, const DeclaredOutput& declared, const TosaTensor& tensor) {
  if (type == declared.type && (declared.unranked || (declared.compact && shape.size() == declared.rank &&
                                                      std::equal(shape.begin(), shape.end(), declared.dims.begin()))))
    return {};
  return declared_mismatch(type, shape, tensor);
}

struct Args {
  const TosaOperator& op;
  std::span<const TosaValue*> in;
  const TosaTensor* out;  // the declared output tensor
  const DeclaredOutput* declared;  // its type and shape
  // Operand 0 when this operator reads it last: the operator may move it out and reuse its
  // buffer if that buffer is shared with no one (Tensor::sole_owner).
  TosaValue* first_input_to_take = nullptr;
  // A RESCALE whose parameters are constants keeps its checked plan here across runs.
  RescaleCache* rescale_cache = nullptr;
  DType out_type() const { return declared->type; }
  const TosaValue& operator[](size_t i) const { return *in[i]; }

  // The result buffer, after checking it against the declared output: a hostile file must
  // not make the interpreter allocate a shape it never declared. Uninitialised: every
  // operator writes each element of its result (or throws), so a zero fill would be a
  // wasted pass over memory.
  TosaValue alloc(DType type, const Shape& shape) const {
    if (const std::string why = declared_mismatch(type, shape, *declared, *out); !why.empty()) fail("ERROR_IF: {}", why);
    return TosaValue{type, Tensor::uninitialized(value_storage(type), shape)};
  }
};

void expect_inputs(const Args& a, size_t n) {
  if (a.in.size() != n) fail("ERROR_IF: {} operands, the operator takes {}", a.in.size(), n);
}

TosaValue op_elementwise_binary(const Args& a) {
  const Op op = a.op.op;
  if (op == Op::MUL) {
    if (a.in.size() != 2 && a.in.size() != 3) fail("ERROR_IF: MUL takes input1, input2 and shift");
  } else {
    expect_inputs(a, 2);
  }
  const TosaValue& x = a[0];
  const TosaValue& y = a[1];
  if (x.type != y.type) fail("ERROR_IF: input types {} and {} differ", dtype_name(x.type), dtype_name(y.type));
  const Shape out_shape = broadcast_shape(shape_of(x), shape_of(y));
  const std::array<const Shape*, 2> ins{&shape_of(x), &shape_of(y)};

  if (x.type == DType::FP32) {
    TosaValue r = a.alloc(DType::FP32, out_shape);
    const float* p = ptr<float>(x);
    const float* s = ptr<float>(y);
    float* o = mptr<float>(r);
    if (op == Op::MUL && a.in.size() == 3 && zero_point(a[2], DType::INT8, "shift") != 0)
      fail("REQUIRE: shift must be 0 for FP32 MUL");
    auto each = [&](auto f) {
      broadcast_runs(out_shape, ins, [&](int64_t oo, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st,
                                         int64_t n) { map_run(p + off[0], st[0], s + off[1], st[1], o + oo, n, f); });
    };
    switch (op) {
      case Op::ADD: each([](float u, float v) { return u + v; }); break;
      case Op::SUB: each([](float u, float v) { return u - v; }); break;
      case Op::MUL: each([](float u, float v) { return u * v; }); break;
      case Op::MAXIMUM:
        each([](float u, float v) {
          return (std::isnan(u) || std::isnan(v)) ? std::numeric_limits<float>::quiet_NaN() : std::max(u, v);
        });
        break;
      case Op::MINIMUM:
        each([](float u, float v) {
          return (std::isnan(u) || std::isnan(v)) ? std::numeric_limits<float>::quiet_NaN() : std::min(u, v);
        });
        break;
      default: fail("FP32 is not supported");
    }
    return r;
  }

  if (op == Op::MUL) {
    if (!is_int(x.type)) fail("ERROR_IF: MUL of {} is not supported (i8, i16, i32, fp32)", dtype_name(x.type));
    const int64_t shift = a.in.size() == 3 ? zero_point(a[2], DType::INT8, "shift") : 0;
    if (shift < 0 || shift > 63) fail("REQUIRE: 0 <= shift <= 63, shift is {}", shift);
    if (x.type != DType::INT32 && shift != 0) fail("REQUIRE: shift must be 0 for {} inputs, it is {}", dtype_name(x.type), shift);
    TosaValue r = a.alloc(DType::INT32, out_shape);
    int32_t* o = mptr<int32_t>(r);
    if (x.type == DType::INT32) {
      const int32_t* p = ptr<int32_t>(x);
      const int32_t* s = ptr<int32_t>(y);
      broadcast_runs(out_shape, ins, [&](int64_t oo, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st,
                                         int64_t n) {
        q::mul_i32_run(p + off[0], st[0], s + off[1], st[1], o + oo, n, static_cast<int>(shift));
      });
      return r;
    }
    dispatch(x.type, [&]<typename T>() {
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, int64_t>) {
        const T* p = ptr<T>(x);
        const T* s = ptr<T>(y);
        // int8/int16 products fit int32 and shift is 0 here: mul_i32 cannot fail and is
        // the plain product, which the run loop computes directly.
        broadcast_runs(out_shape, ins, [&](int64_t oo, const std::array<int64_t, 2>& off,
                                           const std::array<int64_t, 2>& st, int64_t n) {
          map_run(p + off[0], st[0], s + off[1], st[1], o + oo, n,
                    [](T u, T v) { return static_cast<int32_t>(u) * static_cast<int32_t>(v); });
        });
      }
    });
    return r;
  }

  if (op == Op::ARITHMETIC_RIGHT_SHIFT) {
    if (!is_int(x.type)) fail("ERROR_IF: ARITHMETIC_RIGHT_SHIFT of {} is not supported (i8, i16, i32)", dtype_name(x.type));
    const bool round = std::get<RightShiftAttr>(a.op.attribute).round;
    TosaValue r = a.alloc(x.type, out_shape);
    dispatch(x.type, [&]<typename T>() {
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, int64_t> && !std::is_same_v<T, uint8_t>) {
        const T* p = ptr<T>(x);
        const T* s = ptr<T>(y);
        T* o = mptr<T>(r);
        constexpr int64_t max_shift = 8 * sizeof(T) - 1;
        broadcast_runs(out_shape, ins, [&](int64_t oo, const std::array<int64_t, 2>& off,
                                           const std::array<int64_t, 2>& st, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            const int64_t v = p[off[0] + i * st[0]], sh = s[off[1] + i * st[1]];
            if (sh < 0 || sh > max_shift) fail("REQUIRE: shift amount {} outside 0..{}", sh, max_shift);
            int64_t res = v >> sh;
            if (round && sh > 0 && ((v >> (sh - 1)) & 1) != 0) res += 1;
            o[oo + i] = static_cast<T>(res);
          }
        });
      }
    });
    return r;
  }

  // ADD, SUB, MAXIMUM, MINIMUM: int32 only among the integers.
  if (x.type != DType::INT32) fail("ERROR_IF: {} of {} is not supported (i32, fp32)", op_name(op), dtype_name(x.type));
  TosaValue r = a.alloc(DType::INT32, out_shape);
  const int32_t* p = ptr<int32_t>(x);
  const int32_t* s = ptr<int32_t>(y);
  int32_t* o = mptr<int32_t>(r);
  // Run by run in output order: the run kernels' REQUIREs throw at the first failing
  // element of a run, so the first failing element of the tensor throws, as per element.
  broadcast_runs(out_shape, ins, [&](int64_t oo, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st,
                                     int64_t n) {
    const int32_t* u = p + off[0];
    const int32_t* v = s + off[1];
    switch (op) {
      case Op::ADD: q::add_i32_run(u, st[0], v, st[1], o + oo, n); break;
      case Op::SUB: q::sub_i32_run(u, st[0], v, st[1], o + oo, n); break;
      case Op::MAXIMUM: map_run(u, st[0], v, st[1], o + oo, n, [](int32_t a, int32_t b) { return std::max(a, b); }); break;
      case Op::MINIMUM: map_run(u, st[0], v, st[1], o + oo, n, [](int32_t a, int32_t b) { return std::min(a, b); }); break;
      default: fail("unsupported");
    }
  });
  return r;
}

TosaValue op_float_unary(const Args& a) {
  expect_inputs(a, 1);
  const TosaValue& x = a[0];
  const Op op = a.op.op;
  if (x.type == DType::INT32 && op == Op::ABS) {
    TosaValue r = a.alloc(DType::INT32, shape_of(x));
    const int32_t* p = ptr<int32_t>(x);
    int32_t* o = mptr<int32_t>(r);
    for (int64_t i = 0, end = numel(x); i < end; ++i) {
      if (p[i] == INT32_MIN) fail("REQUIRE: ABS of the int32 minimum does not fit int32");
      o[i] = p[i] < 0 ? -p[i] : p[i];
    }
    return r;
  }
  if (x.type != DType::FP32) fail("ERROR_IF: {} of {} is not supported (fp32 only; use TABLE for integers)", op_name(op), dtype_name(x.type));
  TosaValue r = a.alloc(DType::FP32, shape_of(x));
  const float* p = ptr<float>(x);
  float* o = mptr<float>(r);
  for (int64_t i = 0, end = numel(x); i < end; ++i) {
    const float v = p[i];
    switch (op) {
      case Op::EXP: o[i] = std::exp(v); break;
      case Op::RSQRT: o[i] = 1.0f / std::sqrt(v); break;
      case Op::RECIPROCAL: o[i] = 1.0f / v; break;
      case Op::SIGMOID: o[i] = 1.0f / (1.0f + std::exp(-v)); break;
      case Op::TANH: o[i] = std::tanh(v); break;
      case Op::ABS: o[i] = std::fabs(v); break;
      default: fail("unsupported");
    }
  }
  return r;
}

TosaValue op_clamp(const Args& a) {
  expect_inputs(a, 1);
  const TosaValue& x = a[0];
  const auto& attr = std::get<ClampAttr>(a.op.attribute);
  TosaValue r = a.alloc(x.type, shape_of(x));
  dispatch(x.type, [&]<typename T>() {
    if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, int16_t> || std::is_same_v<T, float>) {
      auto decode = [&](const std::vector<uint8_t>& bytes, const char* what) {
        if (bytes.size() < sizeof(T))
          fail("ERROR_IF: {} holds {} bytes, one {} value needs {}", what, bytes.size(), dtype_name(x.type), sizeof(T));
        T v;
        std::memcpy(&v, bytes.data(), sizeof(T));  // little-endian host
        return v;
      };
      const T lo = decode(attr.min_val, "min_val"), hi = decode(attr.max_val, "max_val");
      if constexpr (std::is_same_v<T, float>)
        if (std::isnan(lo) || std::isnan(hi)) fail("ERROR_IF: min_val/max_val is NaN");
      if (hi < lo) fail("ERROR_IF: max_val {} < min_val {}", hi, lo);
      const T* p = ptr<T>(x);
      T* o = mptr<T>(r);
      for (int64_t i = 0, end = numel(x); i < end; ++i) {
        if constexpr (std::is_same_v<T, float>) {
          if (std::isnan(p[i])) {
            o[i] = attr.nan_mode == NanMode::IGNORE ? lo : p[i];
            continue;
          }
        }
        o[i] = std::min(std::max(p[i], lo), hi);
      }
    } else {
      fail("ERROR_IF: CLAMP of {} is not supported (i8, i16, fp32)", dtype_name(x.type));
    }
  });
  return r;
}

TosaValue op_table(const Args& a) {
  expect_inputs(a, 2);
  const TosaValue& x = a[0];
  const TosaValue& table = a[1];
  if (x.type == DType::INT8) {
    require_type(table, DType::INT8, "the table of an int8 TABLE");
    require_shape(table, {256}, "the int8 table");
    q::TableI8 t;
    std::copy_n(ptr<int8_t>(table), 256, t.begin());
    TosaValue r = a.alloc(DType::INT8, shape_of(x));
    q::table_i8_tensor(ptr<int8_t>(x), mptr<int8_t>(r), numel(x), t);
    return r;
  }
  if (x.type == DType::INT16) {
    require_type(table, DType::INT16, "the table of an int16 TABLE");
    require_shape(table, {513}, "the int16 table");
    q::TableI16 t;
    std::copy_n(ptr<int16_t>(table), 513, t.begin());
    TosaValue r = a.alloc(DType::INT32, shape_of(x));
    q::table_i16_tensor(ptr<int16_t>(x), mptr<int32_t>(r), numel(x), t);
    return r;
  }
  fail("ERROR_IF: TABLE of {} is not supported (i8, i16)", dtype_name(x.type));
}

std::optional<q::QDType> qdtype(DType t) {
  switch (t) {
    case DType::INT8: return q::QDType::I8;
    case DType::INT16: return q::QDType::I16;
    case DType::INT32: return q::QDType::I32;
    case DType::INT48: return q::QDType::I48;
    default: return std::nullopt;
  }
}

// The constant operands of a RESCALE (multiplier, shift, zero points), checked.
struct RescaleParams {
  int64_t in_zp = 0, out_zp = 0;
  std::vector<q::ScaleMultiplier> ms;
};

RescaleParams rescale_params(const Args& a, const RescaleAttr& attr, int64_t nc) {
  const TosaValue& mult = a[1];
  const TosaValue& shift = a[2];
  require_type(mult, attr.scale32 ? DType::INT32 : DType::INT16, "multiplier (INT32 when scale32, else INT16)");
  require_type(shift, DType::INT8, "shift");
  require_shape(mult, {nc}, "multiplier");
  require_shape(shift, {nc}, "shift");
  RescaleParams p;
  p.in_zp = zero_point(a[3], a[0].type, "input_zp");
  p.out_zp = zero_point(a[4], a.out_type(), "output_zp");
  p.ms.resize(static_cast<size_t>(nc));
  const int8_t* shifts = ptr<int8_t>(shift);
  for (int64_t c = 0; c < nc; ++c)  // typed reads: the head's RESCALE has one channel per vocabulary entry
    p.ms[static_cast<size_t>(c)] = {attr.scale32 ? ptr<int32_t>(mult)[c] : int32_t{ptr<int16_t>(mult)[c]}, shifts[c]};
  for (const auto& m : p.ms)
    if (m.shift < 2 || m.shift > 62 || m.multiplier < 0)
      fail("REQUIRE: multiplier {} >= 0 and 2 <= shift {} <= 62", m.multiplier, static_cast<int>(m.shift));
  return p;
}

// The signed RESCALE's plan: every check of its parameters, and their per-channel layout.
std::shared_ptr<const q::RescalePlan> make_rescale_plan(const Args& a, const RescaleAttr& attr, int64_t nc) {
  const DType in_t = a[0].type, out_t = a.out_type();
  const RescaleParams p = rescale_params(a, attr, nc);
  // validate_rescale (in the plan) holds the ERROR_IF rules of the signed case (zero points
  // only on int8, scale32 with int48, DOUBLE_ROUND without scale32).
  if ((in_t != DType::INT8 && p.in_zp != 0) || (out_t != DType::INT8 && p.out_zp != 0))
    fail("ERROR_IF: zero points must be 0 except on int8 (input_zp {}, output_zp {})", p.in_zp, p.out_zp);
  const q::RescaleAttrs qa{*qdtype(in_t), *qdtype(out_t), attr.scale32,
                           attr.rounding_mode == RoundingMode::DOUBLE_ROUND ? q::RoundingMode::Double
                                                                             : q::RoundingMode::Single,
                           static_cast<int32_t>(p.in_zp), static_cast<int32_t>(p.out_zp)};
  return std::make_shared<const q::RescalePlan>(p.ms, qa);
}

}  // namespace

// The plan of one RESCALE whose parameters are constants: made by its first run, reused
// while the input type, output type and channel count are those it was made for. run() is
// const and may run on several threads, hence the lock (held once per operator call).
struct RescaleCache {
  std::mutex mutex;
  std::shared_ptr<const q::RescalePlan> plan;
  DType in = DType::UNKNOWN, out = DType::UNKNOWN;
  int64_t channels = 0;

  template <typename Make>
  std::shared_ptr<const q::RescalePlan> get(DType in_t, DType out_t, int64_t nc, Make make) {
    const std::lock_guard lock(mutex);
    if (!plan || in != in_t || out != out_t || channels != nc) {
      plan = make();  // throws what an uncached RESCALE throws, and then caches nothing
      in = in_t, out = out_t, channels = nc;
    }
    return plan;
  }
};

namespace {

TosaValue op_rescale(const Args& a) {
  expect_inputs(a, 5);
  const auto& attr = std::get<RescaleAttr>(a.op.attribute);
  const TosaValue& x = a[0];
  const DType in_t = x.type, out_t = a.out_type();
  const auto in_q = qdtype(in_t), out_q = qdtype(out_t);
  if (!in_q) fail("ERROR_IF: RESCALE input type {} (i8, i16, i32, i48)", dtype_name(in_t));
  if (!out_q || out_t == DType::INT48) fail("ERROR_IF: RESCALE output type {} (i8, i16, i32)", dtype_name(out_t));
  if (attr.rounding_mode == RoundingMode::UNKNOWN) fail("ERROR_IF: rounding_mode is UNKNOWN");
  if (attr.rounding_mode == RoundingMode::INEXACT_ROUND)
    fail("rounding_mode INEXACT_ROUND has no exact result; this interpreter only computes bit-exact ones");
  if (attr.per_channel && x.tensor.rank() < 1) fail("ERROR_IF: per_channel needs an input of rank >= 1");
  const int64_t nc = attr.per_channel ? shape_of(x).back() : 1;
  const int64_t n = numel(x);

  if (!attr.input_unsigned && !attr.output_unsigned) {
    auto make = [&] { return make_rescale_plan(a, attr, nc); };
    const std::shared_ptr<const q::RescalePlan> plan = a.rescale_cache ? a.rescale_cache->get(in_t, out_t, nc, make) : make();
    TosaValue r = a.alloc(out_t, shape_of(x));
    // The plan runs per storage type with the channel constants hoisted (channel = i % nc,
    // the innermost axis; nc is 1 unless per_channel).
    dispatch(in_t, [&]<typename I>() {
      dispatch(out_t, [&]<typename O>() {
        if constexpr (std::is_integral_v<I> && !std::is_same_v<I, uint8_t> && std::is_integral_v<O> &&
                      !std::is_same_v<O, uint8_t> && !std::is_same_v<O, int64_t>)
          plan->run(ptr<I>(x), mptr<O>(r), n);
        else
          fail("internal: RESCALE from {} to {}", dtype_name(in_t), dtype_name(out_t));
      });
    });
    return r;
  }

  const RescaleParams params = rescale_params(a, attr, nc);
  const int64_t in_zp = params.in_zp, out_zp = params.out_zp;
  const std::vector<q::ScaleMultiplier>& ms = params.ms;
  TosaValue r = a.alloc(out_t, shape_of(x));
  auto store = [&](int64_t i, int64_t v) {
    switch (out_t) {
      case DType::INT8: mptr<int8_t>(r)[i] = static_cast<int8_t>(v); break;
      case DType::INT16: mptr<int16_t>(r)[i] = static_cast<int16_t>(v); break;
      default: mptr<int32_t>(r)[i] = static_cast<int32_t>(v); break;
    }
  };

  // Unsigned input or output (uint8 / uint16 carried in int8 / int16 tensors).
  if (attr.input_unsigned && attr.output_unsigned) fail("ERROR_IF: input and output cannot both be unsigned");
  if (attr.input_unsigned && in_t != DType::INT8 && in_t != DType::INT16)
    fail("ERROR_IF: input_unsigned needs an i8 or i16 input, not {}", dtype_name(in_t));
  if (attr.output_unsigned && out_t != DType::INT8 && out_t != DType::INT16)
    fail("ERROR_IF: output_unsigned needs an i8 or i16 output, not {}", dtype_name(out_t));
  if (attr.input_unsigned && out_t == DType::INT32) fail("ERROR_IF: input_unsigned with an i32 output");
  if (attr.output_unsigned && (in_t == DType::INT32 || in_t == DType::INT48))
    fail("ERROR_IF: output_unsigned with an {} input", dtype_name(in_t));
  if (attr.scale32 && in_t == DType::INT48) fail("ERROR_IF: scale32 with an int48 input");
  if (!attr.scale32 && attr.rounding_mode == RoundingMode::DOUBLE_ROUND) fail("ERROR_IF: DOUBLE_ROUND needs scale32");
  const bool in_u16 = attr.input_unsigned && in_t == DType::INT16;
  const bool out_u16 = attr.output_unsigned && out_t == DType::INT16;
  if (in_t != DType::INT8 && !in_u16 && in_zp != 0) fail("ERROR_IF: input_zp {} must be 0", in_zp);
  if (out_t != DType::INT8 && !out_u16 && out_zp != 0) fail("ERROR_IF: output_zp {} must be 0", out_zp);
  auto zext = [](int64_t v, DType t) { return t == DType::INT8 ? (v & 0xff) : t == DType::INT16 ? (v & 0xffff) : v; };
  if (in_u16 && zext(in_zp, in_t) != 0 && zext(in_zp, in_t) != 32768) fail("ERROR_IF: uint16 input_zp must be 0 or 32768");
  if (out_u16 && zext(out_zp, out_t) != 0 && zext(out_zp, out_t) != 32768)
    fail("ERROR_IF: uint16 output_zp must be 0 or 32768");
  const int64_t izp = attr.input_unsigned ? zext(in_zp, in_t) : in_zp;
  const int64_t ozp = attr.output_unsigned ? zext(out_zp, out_t) : out_zp;
  int64_t lo = q::qdtype_min(*out_q), hi = q::qdtype_max(*out_q);
  if (attr.output_unsigned) lo = 0, hi = out_t == DType::INT8 ? 255 : 65535;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = attr.per_channel ? i % nc : 0;
    const q::ScaleMultiplier m = ms[static_cast<size_t>(c)];
    const int64_t raw = int_at(x, i);
    const int64_t value = (attr.input_unsigned ? zext(raw, in_t) : raw) - izp;
    const int32_t scaled = attr.scale32 ? q::apply_scale_32(static_cast<int32_t>(value), m.multiplier, m.shift,
                                                          attr.rounding_mode == RoundingMode::DOUBLE_ROUND)
                                        : q::apply_scale_16(value, m.multiplier, m.shift);
    const int64_t with_zp = static_cast<int64_t>(scaled) + ozp;
    if (with_zp < INT32_MIN || with_zp > INT32_MAX) fail("REQUIRE: result + output_zp {} does not fit int32", with_zp);
    store(i, std::clamp(with_zp, lo, hi));
  }
  return r;
}

TosaValue op_conv2d(const Args& a) {
  expect_inputs(a, 5);
  const auto& attr = std::get<ConvAttr>(a.op.attribute);
  const TosaValue& x = a[0];
  const TosaValue& w = a[1];
  const TosaValue& bias = a[2];
  if (x.tensor.rank() != 4 || w.tensor.rank() != 4)
    fail("ERROR_IF: input must be [N,IH,IW,IC] and weight [OC,KH,KW,IC], they are {} and {}", shape_text(shape_of(x)),
         shape_text(shape_of(w)));
  if (attr.pad.size() != 4 || attr.stride.size() != 2 || attr.dilation.size() != 2)
    fail("ERROR_IF: pad needs 4 values, stride and dilation 2 (they have {}, {}, {})", attr.pad.size(),
         attr.stride.size(), attr.dilation.size());
  const int64_t N = shape_of(x)[0], IH = shape_of(x)[1], IW = shape_of(x)[2], IC = shape_of(x)[3];
  const int64_t OC = shape_of(w)[0], KH = shape_of(w)[1], KW = shape_of(w)[2];
  if (shape_of(w)[3] != IC) fail("ERROR_IF: weight has {} input channels, the input {}", shape_of(w)[3], IC);
  const int64_t pt = attr.pad[0], pb = attr.pad[1], pl = attr.pad[2], pr = attr.pad[3];
  const int64_t sy = attr.stride[0], sx = attr.stride[1], dy = attr.dilation[0], dx = attr.dilation[1];
  if (pt < 0 || pb < 0 || pl < 0 || pr < 0) fail("ERROR_IF: negative padding");
  if (sy < 1 || sx < 1) fail("ERROR_IF: stride < 1");
  if (dy < 1 || dx < 1) fail("ERROR_IF: dilation < 1");
  const int64_t hnum = IH - 1 + pt + pb - (KH - 1) * dy, wnum = IW - 1 + pl + pr - (KW - 1) * dx;
  if (hnum < 0 || wnum < 0 || hnum % sy != 0 || wnum % sx != 0)
    fail("ERROR_IF: the output size is not a whole number (idiv_check) for input {}, kernel {}x{}", shape_text(shape_of(x)), KH, KW);
  const int64_t OH = hnum / sy + 1, OW = wnum / sx + 1;
  if (bias.tensor.rank() != 1 || (numel(bias) != OC && numel(bias) != 1))
    fail("ERROR_IF: bias must have shape [{}] or [1], it has {}", OC, shape_text(shape_of(bias)));
  const Shape out_shape{N, OH, OW, OC};
  const bool bias_bc = numel(bias) == 1;

  if (x.type == DType::FP32) {
    require_type(w, DType::FP32, "weight");
    require_type(bias, DType::FP32, "bias");
    if (attr.acc_type != DType::FP32) fail("ERROR_IF: acc_type must be FP32, it is {}", dtype_name(attr.acc_type));
    require_type(a[3], DType::FP32, "input_zp");
    require_type(a[4], DType::FP32, "weight_zp");
    if (numel(a[3]) != 1 || numel(a[4]) != 1) fail("ERROR_IF: zero points must have shape [1]");
    const float xzp = ptr<float>(a[3])[0], wzp = ptr<float>(a[4])[0];
    if (xzp != 0.0f || wzp != 0.0f) fail("ERROR_IF: zero points must be 0 for FP32");
    TosaValue r = a.alloc(DType::FP32, out_shape);
    float* o = mptr<float>(r);
    const float* xp = ptr<float>(x);
    const float* wp = ptr<float>(w);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox)
          for (int64_t oc = 0; oc < OC; ++oc) {
            float acc = 0.0f;
            for (int64_t ky = 0; ky < KH; ++ky)
              for (int64_t kx = 0; kx < KW; ++kx) {
                const int64_t y = oy * sy - pt + ky * dy, xx = ox * sx - pl + kx * dx;
                if (y < 0 || y >= IH || xx < 0 || xx >= IW) continue;
                const float* xr = xp + ((n * IH + y) * IW + xx) * IC;
                const float* wr = wp + ((oc * KH + ky) * KW + kx) * IC;
                for (int64_t ic = 0; ic < IC; ++ic) acc += xr[ic] * wr[ic];
              }
            o[((n * OH + oy) * OW + ox) * OC + oc] = acc + ptr<float>(bias)[bias_bc ? 0 : oc];
          }
    return r;
  }

  require_type(w, DType::INT8, "weight (int8; int4 weights are widened when loaded)");
  const bool wide = x.type == DType::INT16;
  if (x.type != DType::INT8 && !wide) fail("ERROR_IF: CONV2D input type {} (i8, i16, fp32)", dtype_name(x.type));
  const DType acc_t = wide ? DType::INT48 : DType::INT32;
  if (attr.acc_type != acc_t)
    fail("ERROR_IF: acc_type must be {} for a {} input, it is {}", dtype_name(acc_t), dtype_name(x.type), dtype_name(attr.acc_type));
  require_type(bias, acc_t, "bias");
  const int64_t xzp = zero_point(a[3], x.type, "input_zp");
  const int64_t wzp = zero_point(a[4], DType::INT8, "weight_zp");
  if (wide && xzp != 0) fail("ERROR_IF: input_zp must be 0 for int16, it is {}", xzp);
  TosaValue r = a.alloc(acc_t, out_shape);
  const bool pointwise = KH == 1 && KW == 1 && pt == 0 && pb == 0 && pl == 0 && pr == 0 && sy == 1 && sx == 1;
  const int8_t* wp = ptr<int8_t>(w);
  if (pointwise) {
    // A 1x1 CONV2D is a GEMM of the N·IH·IW input rows with the [OC, IC] weight, bias
    // included (integer_gemm.h: the same dot products and bias REQUIREs, bit for bit).
    const int64_t rows = N * IH * IW;
    if (wide) {
      std::vector<int64_t> b(static_cast<size_t>(OC));
      for (int64_t oc = 0; oc < OC; ++oc) b[static_cast<size_t>(oc)] = ptr<int64_t>(bias)[bias_bc ? 0 : oc];
      q::gemm_i16_i8(ptr<int16_t>(x), wp, rows, OC, IC, static_cast<int32_t>(wzp), mptr<int64_t>(r), b.data());
    } else {
      std::vector<int32_t> b(static_cast<size_t>(OC));
      for (int64_t oc = 0; oc < OC; ++oc) b[static_cast<size_t>(oc)] = ptr<int32_t>(bias)[bias_bc ? 0 : oc];
      q::gemm_i8(ptr<int8_t>(x), wp, rows, OC, IC, static_cast<int32_t>(xzp), static_cast<int32_t>(wzp), mptr<int32_t>(r),
                 b.data());
    }
    return r;
  }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox)
        for (int64_t oc = 0; oc < OC; ++oc) {
          int64_t acc = 0;
          for (int64_t ky = 0; ky < KH; ++ky)
            for (int64_t kx = 0; kx < KW; ++kx) {
              const int64_t y = oy * sy - pt + ky * dy, xx = ox * sx - pl + kx * dx;
              if (y < 0 || y >= IH || xx < 0 || xx >= IW) continue;
              const int64_t xo = ((n * IH + y) * IW + xx) * IC;
              const int8_t* wr = wp + ((oc * KH + ky) * KW + kx) * IC;
              if (pointwise) {
                acc = wide ? q::dot_i16_i8(ptr<int16_t>(x) + xo, wr, IC, static_cast<int32_t>(wzp))
                           : q::dot_i8(ptr<int8_t>(x) + xo, wr, IC, static_cast<int32_t>(xzp), static_cast<int32_t>(wzp));
                continue;
              }
              // General kernels: every partial sum is checked, as apply_add_s<acc_t> REQUIREs.
              for (int64_t ic = 0; ic < IC; ++ic) {
                const int64_t v = (wide ? ptr<int16_t>(x)[xo + ic] : ptr<int8_t>(x)[xo + ic]) - xzp;
                acc += v * (wr[ic] - wzp);
                if (wide) q::require_i48(acc, "CONV2D int48 accumulator");
                else if (acc < INT32_MIN || acc > INT32_MAX) fail("REQUIRE: the int32 accumulator overflows ({})", acc);
              }
            }
          const int64_t out_i = ((n * OH + oy) * OW + ox) * OC + oc;
          const int64_t b = int_at(bias, bias_bc ? 0 : oc);
          if (wide) mptr<int64_t>(r)[out_i] = q::add_bias_i48(acc, b);
          else mptr<int32_t>(r)[out_i] = q::add_bias_i32(static_cast<int32_t>(acc), static_cast<int32_t>(b));
        }
  return r;
}

// MATMUL's B operand: a value, or the input of a TRANSPOSE that the interpreter skipped, read
// through the permutation's strides (Interpreter: only for int16).
struct MatmulB {
  const TosaValue& value;
  Shape shape;                      // of B, [N, C, W]
  std::array<int64_t, 3> strides;   // element strides of B's dimensions in value
};

TosaValue matmul(const Args& a, const MatmulB& B) {
  const TosaValue& A = a[0];
  if (A.tensor.rank() != 3 || B.shape.size() != 3)
    fail("ERROR_IF: A must be [N,H,C] and B [N,C,W], they are {} and {}", shape_text(shape_of(A)), shape_text(B.shape));
  const int64_t N = shape_of(A)[0], H = shape_of(A)[1], C = shape_of(A)[2], W = B.shape[2];
  if (B.shape[0] != N || B.shape[1] != C) fail("ERROR_IF: B is {}, it must be [{},{},W]", shape_text(B.shape), N, C);
  if (A.type != B.value.type)
    fail("ERROR_IF: A is {} and B {}; they must have the same type", dtype_name(A.type), dtype_name(B.value.type));
  const bool dense = B.strides == std::array<int64_t, 3>{C * W, W, 1};
  if (!dense && A.type != DType::INT16) fail("internal: a strided MATMUL operand must be int16");
  const Shape out_shape{N, H, W};
  if (A.type == DType::FP32) {
    TosaValue r = a.alloc(DType::FP32, out_shape);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          float acc = 0.0f;
          for (int64_t c = 0; c < C; ++c)
            acc += ptr<float>(A)[(n * H + h) * C + c] * ptr<float>(B.value)[(n * C + c) * W + w];
          mptr<float>(r)[(n * H + h) * W + w] = acc;
        }
    return r;
  }
  const int64_t azp = zero_point(a[2], A.type, "A_zp"), bzp = zero_point(a[3], B.value.type, "B_zp");
  if (A.type == DType::INT8) {
    TosaValue r = a.alloc(DType::INT32, out_shape);
    q::matmul_i8(ptr<int8_t>(A), ptr<int8_t>(B.value), N, H, C, W, static_cast<int32_t>(azp), static_cast<int32_t>(bzp),
                 mptr<int32_t>(r));
    return r;
  }
  if (A.type == DType::INT16) {
    if (azp != 0 || bzp != 0) fail("ERROR_IF: zero points must be 0 for int16 (A_zp {}, B_zp {})", azp, bzp);
    TosaValue r = a.alloc(DType::INT48, out_shape);
    int64_t* o = mptr<int64_t>(r);
    const q::StridedI16 b{ptr<int16_t>(B.value), B.strides[0], B.strides[1], B.strides[2]};
    q::matmul_i16(ptr<int16_t>(A), b, N, H, C, W, o);
    for (int64_t i = 0, end = numel(r); i < end; ++i) q::require_i48(o[i], "MATMUL");  // the int48 result TOSA stores
    return r;
  }
  fail("ERROR_IF: MATMUL of {} is not supported (i8, i16, fp32)", dtype_name(A.type));
}

TosaValue op_matmul(const Args& a) {
  expect_inputs(a, 4);
  const TosaValue& B = a[1];
  if (B.tensor.rank() != 3) return matmul(a, {B, shape_of(B), {}});  // reports the rank
  return matmul(a, {B, shape_of(B), {shape_of(B)[1] * shape_of(B)[2], shape_of(B)[2], 1}});
}

// MATMUL whose B is TRANSPOSE(a[1], perms), declared as `transposed`, with the transpose not
// run: the TRANSPOSE's own checks, then B read through strides.
TosaValue op_matmul_reading_transpose(const Args& a, const std::vector<int32_t>& perms, const TosaTensor& transposed) {
  expect_inputs(a, 4);
  const TosaValue& source = a[1];
  if (source.tensor.rank() != 3) fail("ERROR_IF: the TRANSPOSE of B has perms for rank 3, its input has rank {}", source.tensor.rank());
  const std::vector<int64_t> source_strides = row_major_strides(shape_of(source));
  Shape b_shape(3);
  std::array<int64_t, 3> strides{};
  for (size_t d = 0; d < 3; ++d) {
    b_shape[d] = shape_of(source)[static_cast<size_t>(perms[d])];
    strides[d] = source_strides[static_cast<size_t>(perms[d])];
  }
  if (const std::string why = declared_mismatch(source.type, b_shape, transposed); !why.empty())
    fail("ERROR_IF: the TRANSPOSE of B: {}", why);
  return matmul(a, {source, b_shape, strides});
}

int64_t check_axis(int64_t axis, const TosaValue& x) {
  if (axis < 0 || axis >= x.tensor.rank()) fail("ERROR_IF: axis {} outside 0..{}", axis, x.tensor.rank() - 1);
  return axis;
}

TosaValue op_reduce(const Args& a) {
  expect_inputs(a, 1);
  const TosaValue& x = a[0];
  const int64_t axis = check_axis(std::get<AxisAttr>(a.op.attribute).axis, x);
  const Shape& s = shape_of(x);
  Shape out_shape = s;
  out_shape[static_cast<size_t>(axis)] = 1;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t len = s[static_cast<size_t>(axis)];
  const bool sum = a.op.op == Op::REDUCE_SUM;
  if (sum && x.type != DType::INT32 && x.type != DType::FP32)
    fail("ERROR_IF: REDUCE_SUM of {} is not supported (i32, fp32)", dtype_name(x.type));
  if (!sum && x.type != DType::INT8 && x.type != DType::INT16 && x.type != DType::INT32 && x.type != DType::FP32)
    fail("ERROR_IF: REDUCE_MAX of {} is not supported (i8, i16, i32, fp32)", dtype_name(x.type));
  if (len == 0) fail("ERROR_IF: reducing an empty axis");
  TosaValue r = a.alloc(x.type, out_shape);
  dispatch(x.type, [&]<typename T>() {
    const T* p = ptr<T>(x);
    T* o = mptr<T>(r);
    for (int64_t i = 0; i < outer; ++i)
      for (int64_t j = 0; j < inner; ++j) {
        const T* base = p + i * len * inner + j;
        T acc = sum ? T(0) : base[0];
        for (int64_t k = sum ? 0 : 1; k < len; ++k) {
          const T v = base[k * inner];
          if constexpr (std::is_same_v<T, float>) {
            if (sum) acc += v;
            else if (std::isnan(acc) || std::isnan(v)) acc = std::numeric_limits<float>::quiet_NaN();
            else acc = std::max(acc, v);
          } else if constexpr (std::is_same_v<T, int32_t>) {
            acc = sum ? q::add_i32(acc, v) : std::max(acc, v);
          } else {
            acc = std::max(acc, v);
          }
        }
        o[i * inner + j] = acc;
      }
  });
  return r;
}

TosaValue op_reshape(const Args& a) {
  expect_inputs(a, 2);
  const TosaValue& x = a[0];
  const auto dims = shape_values(a[1], "shape");
  int64_t count = 1;  // checked: the shape operand comes from the file
  for (int64_t d : dims) {
    if (d < 0) fail("ERROR_IF: new shape [{}] has a negative dimension", fmt::join(dims, ","));
    if (d != 0 && count > std::numeric_limits<int64_t>::max() / d)
      fail("ERROR_IF: new shape [{}] has too many elements", fmt::join(dims, ","));
    count *= d;
  }
  const Shape s(dims.begin(), dims.end());
  if (count != numel(x))
    fail("ERROR_IF: cannot reshape {} ({} elements) to {} ({} elements)", shape_text(shape_of(x)), numel(x), shape_text(s), count);
  return TosaValue{x.type, x.tensor.reshaped(s)};
}

TosaValue op_transpose(const Args& a) {
  expect_inputs(a, 1);
  const TosaValue& x = a[0];
  const auto& perms = std::get<TransposeAttr>(a.op.attribute).perms;
  const size_t rank = shape_of(x).size();
  if (perms.size() != rank) fail("ERROR_IF: perms has {} entries for rank {}", perms.size(), rank);
  std::vector<bool> seen(rank, false);
  for (int32_t p : perms) {
    if (p < 0 || static_cast<size_t>(p) >= rank || seen[static_cast<size_t>(p)])
      fail("ERROR_IF: perms [{}] is not a permutation of 0..{}", fmt::join(perms, ","), rank - 1);
    seen[static_cast<size_t>(p)] = true;
  }
  Shape out_shape(rank);
  for (size_t i = 0; i < rank; ++i) out_shape[i] = shape_of(x)[static_cast<size_t>(perms[i])];
  TosaValue r = a.alloc(x.type, out_shape);
  const std::vector<int64_t> in_strides = row_major_strides(shape_of(x));
  std::vector<int64_t> strides(rank);
  for (size_t d = 0; d < rank; ++d) strides[d] = in_strides[static_cast<size_t>(perms[d])];
  gather_strided(mptr<uint8_t>(r), shape_of(r), ptr<uint8_t>(x), strides, elem_size(x));
  return r;
}

TosaValue op_slice(const Args& a) {
  expect_inputs(a, 3);
  const TosaValue& x = a[0];
  const auto start = shape_values(a[1], "start"), size = shape_values(a[2], "size");
  const size_t rank = shape_of(x).size();
  if (start.size() != rank || size.size() != rank) fail("ERROR_IF: start and size need {} values", rank);
  Shape out_shape(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (start[d] < 0 || size[d] <= 0 || start[d] + size[d] > shape_of(x)[d])
      fail("ERROR_IF: slice start {} size {} does not fit dimension {} of size {}", start[d], size[d], d, shape_of(x)[d]);
    out_shape[d] = size[d];
  }
  TosaValue r = a.alloc(x.type, out_shape);
  const std::vector<int64_t> in_strides = row_major_strides(shape_of(x));
  int64_t base = 0;
  for (size_t d = 0; d < rank; ++d) base += start[d] * in_strides[d];
  gather_strided(mptr<uint8_t>(r), shape_of(r), ptr<uint8_t>(x) + base * static_cast<int64_t>(elem_size(x)), in_strides,
                 elem_size(x));
  return r;
}

TosaValue op_concat(const Args& a) {
  if (a.in.empty()) fail("ERROR_IF: CONCAT needs at least one input");
  const TosaValue& first = a[0];
  const int64_t axis = check_axis(std::get<AxisAttr>(a.op.attribute).axis, first);
  Shape out_shape = shape_of(first);
  out_shape[static_cast<size_t>(axis)] = 0;
  for (const TosaValue* v : a.in) {
    if (v->type != first.type) fail("ERROR_IF: inputs of types {} and {}", dtype_name(first.type), dtype_name(v->type));
    if (shape_of(*v).size() != out_shape.size()) fail("ERROR_IF: inputs of different ranks");
    for (size_t d = 0; d < out_shape.size(); ++d)
      if (d != static_cast<size_t>(axis) && shape_of(*v)[d] != shape_of(first)[d])
        fail("ERROR_IF: inputs {} and {} differ outside axis {}", shape_text(shape_of(first)), shape_text(shape_of(*v)), axis);
    out_shape[static_cast<size_t>(axis)] += shape_of(*v)[static_cast<size_t>(axis)];
  }
  TosaValue r = a.alloc(first.type, out_shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out_shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  const size_t es = elem_size(first);
  auto* dst = static_cast<uint8_t*>(r.tensor.mutable_raw());
  const int64_t out_row = out_shape[static_cast<size_t>(axis)] * inner;
  int64_t col = 0;
  for (const TosaValue* v : a.in) {
    const int64_t row = shape_of(*v)[static_cast<size_t>(axis)] * inner;
    const auto* src = static_cast<const uint8_t*>(v->tensor.raw());
    for (int64_t i = 0; i < outer; ++i)
      std::memcpy(dst + (i * out_row + col) * es, src + i * row * es, static_cast<size_t>(row) * es);
    col += row;
  }
  return r;
}

TosaValue op_gather(const Args& a) {
  expect_inputs(a, 2);
  const TosaValue& values = a[0];
  const TosaValue& indices = a[1];
  require_type(indices, DType::INT32, "indices");
  if (values.tensor.rank() != 3 || indices.tensor.rank() != 2 || shape_of(indices)[0] != shape_of(values)[0])
    fail("ERROR_IF: values must be [N,K,C] and indices [N,W], they are {} and {}", shape_text(shape_of(values)),
         shape_text(shape_of(indices)));
  const int64_t N = shape_of(values)[0], K = shape_of(values)[1], C = shape_of(values)[2], W = shape_of(indices)[1];
  TosaValue r = a.alloc(values.type, {N, W, C});
  const size_t row = static_cast<size_t>(C) * elem_size(values);
  const auto* src = static_cast<const uint8_t*>(values.tensor.raw());
  auto* dst = static_cast<uint8_t*>(r.tensor.mutable_raw());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t w = 0; w < W; ++w) {
      const int64_t k = ptr<int32_t>(indices)[n * W + w];
      if (k < 0 || k >= K) fail("REQUIRE: index {} outside 0..{}", k, K - 1);
      std::memcpy(dst + static_cast<size_t>(n * W + w) * row, src + static_cast<size_t>(n * K + k) * row, row);
    }
  return r;
}

TosaValue op_scatter(const Args& a) {
  expect_inputs(a, 3);
  const TosaValue& values_in = a[0];
  const TosaValue& indices = a[1];
  const TosaValue& input = a[2];
  require_type(indices, DType::INT32, "indices");
  if (input.type != values_in.type) fail("ERROR_IF: input is {} and values_in {}", dtype_name(input.type), dtype_name(values_in.type));
  if (values_in.tensor.rank() != 3 || indices.tensor.rank() != 2 || input.tensor.rank() != 3)
    fail("ERROR_IF: values_in must be [N,K,C], indices [N,W], input [N,W,C]");
  const int64_t N = shape_of(values_in)[0], K = shape_of(values_in)[1], C = shape_of(values_in)[2], W = shape_of(indices)[1];
  if (shape_of(indices)[0] != N || shape_of(input) != Shape{N, W, C})
    fail("ERROR_IF: values_in {}, indices {} and input {} do not agree", shape_text(shape_of(values_in)),
         shape_text(shape_of(indices)), shape_text(shape_of(input)));
  // Every index is checked before anything is written, so a failing REQUIRE leaves a taken
  // buffer as it was.
  std::vector<bool> written(static_cast<size_t>(N * K), false);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t w = 0; w < W; ++w) {
      const int64_t k = ptr<int32_t>(indices)[n * W + w];
      if (k < 0 || k >= K) fail("REQUIRE: index {} outside 0..{}", k, K - 1);
      if (C > 0 && written[static_cast<size_t>(n * K + k)]) fail("REQUIRE: row {} of batch {} is written twice", k, n);
      written[static_cast<size_t>(n * K + k)] = true;
    }
  // A KV-cache update writes a few rows of a large cache: in place when the cache's buffer
  // is ours alone, instead of copying all of it.
  const bool in_place = a.first_input_to_take && values_in.tensor.sole_owner();
  TosaValue r = in_place ? std::move(*a.first_input_to_take) : TosaValue{values_in.type, values_in.tensor.clone()};
  const size_t row = static_cast<size_t>(C) * elem_size(r);
  const auto* src = static_cast<const uint8_t*>(input.tensor.raw());
  auto* dst = static_cast<uint8_t*>(r.tensor.mutable_raw());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t w = 0; w < W; ++w) {
      const int64_t k = ptr<int32_t>(indices)[n * W + w];
      std::memcpy(dst + static_cast<size_t>(n * K + k) * row, src + static_cast<size_t>(n * W + w) * row, row);
    }
  return r;
}

TosaValue op_cast(const Args& a) {
  expect_inputs(a, 1);
  const TosaValue& x = a[0];
  const DType out_t = a.out_type();
  auto ok = [](DType t) { return t == DType::BOOL || is_int(t) || t == DType::FP32; };
  if (!ok(x.type) || !ok(out_t) || x.type == out_t)
    fail("ERROR_IF: CAST from {} to {} is not supported", dtype_name(x.type), dtype_name(out_t));
  TosaValue r = a.alloc(out_t, shape_of(x));
  const int64_t n = numel(x);
  dispatch(x.type, [&]<typename I>() {
    dispatch(out_t, [&]<typename O>() {
      const I* p = ptr<I>(x);
      O* o = mptr<O>(r);
      for (int64_t i = 0; i < n; ++i) {
        if (out_t == DType::BOOL) {
          o[i] = static_cast<O>(p[i] != I(0));
        } else if constexpr (std::is_same_v<O, float>) {
          o[i] = static_cast<float>(p[i]);
        } else if constexpr (std::is_same_v<I, float>) {
          // round to nearest, ties to even, saturating
          if (std::isnan(p[i])) fail("REQUIRE: CAST of NaN to an integer");
          const double v = std::nearbyint(static_cast<double>(p[i]));
          const double lo = static_cast<double>(std::numeric_limits<O>::min()), hi = static_cast<double>(std::numeric_limits<O>::max());
          o[i] = static_cast<O>(std::clamp(v, lo, hi));
        } else {
          // widening sign-extends, narrowing keeps the low bits (no saturation)
          o[i] = static_cast<O>(static_cast<int64_t>(p[i]));
        }
      }
    });
  });
  return r;
}

// NEGATE (NEGATE.tosac): integers go through int32: −(x − input1_zp) + output_zp, clipped
// to the type (the same arithmetic as the graph's integer Neg kernel); fp32 negates.
TosaValue op_negate(const Args& a) {
  expect_inputs(a, 3);
  const TosaValue& x = a[0];
  TosaValue r = a.alloc(x.type, shape_of(x));
  if (x.type == DType::FP32) {
    const float* p = ptr<float>(x);
    float* o = mptr<float>(r);
    for (int64_t i = 0, end = numel(x); i < end; ++i) o[i] = -p[i];
    return r;
  }
  if (x.type != DType::INT8 && x.type != DType::INT16 && x.type != DType::INT32)
    fail("ERROR_IF: NEGATE of {} is not supported (int8, int16, int32, fp32)", dtype_name(x.type));
  const int64_t in_zp = zero_point(a[1], x.type, "input1_zp");
  const int64_t out_zp = zero_point(a[2], x.type, "output_zp");
  if (x.type != DType::INT8 && (in_zp != 0 || out_zp != 0))
    fail("ERROR_IF: NEGATE zero points must be 0 for {}", dtype_name(x.type));
  dispatch(x.type, [&]<typename T>() {
    if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, int16_t> || std::is_same_v<T, int32_t>) {
      const T* p = ptr<T>(x);
      T* o = mptr<T>(r);
      for (int64_t i = 0, end = numel(x); i < end; ++i) {
        const int64_t v = -(static_cast<int64_t>(p[i]) - in_zp);
        if (v < INT32_MIN || v > INT32_MAX) fail("REQUIRE: NEGATE result {} does not fit int32", v);
        o[i] = static_cast<T>(std::clamp<int64_t>(v + out_zp, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
      }
    }
  });
  return r;
}

TosaValue op_identity(const Args& a) {
  expect_inputs(a, 1);
  return *a.in[0];
}

using OpFn = TosaValue (*)(const Args&);

OpFn op_function(Op op) {
  switch (op) {
    case Op::ADD: case Op::SUB: case Op::MUL: case Op::MAXIMUM: case Op::MINIMUM: case Op::ARITHMETIC_RIGHT_SHIFT:
      return op_elementwise_binary;
    case Op::EXP: case Op::RSQRT: case Op::RECIPROCAL: case Op::SIGMOID: case Op::TANH: case Op::ABS:
      return op_float_unary;
    case Op::CLAMP: return op_clamp;
    case Op::NEGATE: return op_negate;
    case Op::TABLE: return op_table;
    case Op::RESCALE: return op_rescale;
    case Op::CONV2D: return op_conv2d;
    case Op::MATMUL: return op_matmul;
    case Op::REDUCE_SUM: case Op::REDUCE_MAX: return op_reduce;
    case Op::RESHAPE: return op_reshape;
    case Op::TRANSPOSE: return op_transpose;
    case Op::SLICE: return op_slice;
    case Op::CONCAT: return op_concat;
    case Op::GATHER: return op_gather;
    case Op::SCATTER: return op_scatter;
    case Op::CAST: return op_cast;
    case Op::IDENTITY: return op_identity;
    default: return nullptr;
  }
}

std::string op_label(const TosaOperator& op, size_t index) {
  return fmt::format("TOSA operator #{} {} (output '{}')", index, op_name(op.op),
                     op.outputs.empty() ? std::string() : op.outputs[0]);
}

[[noreturn]] void rethrow_for(const TosaOperator& op, size_t index, const Error& e) {
  std::string_view msg = e.what();
  if (msg.starts_with("internal: ")) msg.remove_prefix(10);  // integer_ops' REQUIREs: here the file is at fault
  throw Error(fmt::format("{}: {}", op_label(op, index), msg), e.kind());
}

Shape declared_shape(const TosaTensor& t) { return Shape(t.shape.begin(), t.shape.end()); }

}  // namespace

// ---------------------------------------------------------------------------------------

l2n::DType value_storage(DType type) {
  switch (type) {
    case DType::BOOL: return l2n::DType::U8;
    case DType::INT4: case DType::INT8: return l2n::DType::I8;
    case DType::INT16: return l2n::DType::I16;
    case DType::INT32: return l2n::DType::I32;
    case DType::INT48: case DType::SHAPE: return l2n::DType::I64;
    case DType::FP32: return l2n::DType::F32;
    default: fail("the TOSA interpreter cannot hold {} values", dtype_name(type));
  }
}

TosaValue decode_constant(const TosaTensor& t) {
  if (!t.data) fail("TOSA tensor '{}' has no data", t.name);
  const int64_t n = element_count(t.shape);
  const DType type = t.type == DType::INT4 ? DType::INT8 : t.type;
  TosaValue v = make_value(type, declared_shape(t));
  if (type == DType::FP32) {
    const auto f = unpack_f32(*t.data, n);
    std::copy(f.begin(), f.end(), mptr<float>(v));
    return v;
  }
  if ((t.type == DType::INT8 || t.type == DType::INT16 || t.type == DType::INT32) &&
      t.data->size() >= v.tensor.nbytes()) {
    // Stored as the little-endian values themselves: a byte copy, not an int64 round trip
    // of every weight.
    if (n) std::memcpy(v.tensor.mutable_raw(), t.data->data(), v.tensor.nbytes());
    return v;
  }
  const auto ints = unpack_ints(t.type, *t.data, n);
  dispatch(type, [&]<typename T>() {
    T* o = mptr<T>(v);
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(ints[static_cast<size_t>(i)]);
  });
  return v;
}

Interpreter::Interpreter(TosaGraph graph) : graph_(std::move(graph)) {
  const TosaBasicBlock& b = block();
  // Every value (graph input or operator output) gets a slot of run()'s value table.
  std::unordered_map<std::string_view, uint32_t> slot_of;
  std::unordered_map<std::string_view, size_t> tensor_index;  // linear lookups would make this quadratic
  for (size_t k = 0; k < b.tensors.size(); ++k) tensor_index.emplace(b.tensors[k].name, k);
  auto find_tensor = [&](const std::string& name) -> const TosaTensor* {
    const auto it = tensor_index.find(name);
    return it == tensor_index.end() ? nullptr : &b.tensors[it->second];
  };
  for (const auto& name : b.inputs) {
    const TosaTensor* t = find_tensor(name);
    if (!t) fail("TOSA block '{}': input '{}' is not a declared tensor", b.name, name);
    value_storage(t->type);
    if (!slot_of.emplace(name, static_cast<uint32_t>(slot_of.size())).second)
      fail("TOSA block '{}': input '{}' is listed twice", b.name, name);
    input_slots_.push_back(static_cast<uint32_t>(slot_of.size() - 1));
  }
  operators_.resize(b.operators.size());
  for (size_t i = 0; i < b.operators.size(); ++i) {
    const TosaOperator& op = b.operators[i];
    OperatorSlots& slots = operators_[i];
    try {
      if (op.op != Op::CONST && op.op != Op::CONST_SHAPE && !op_function(op.op))
        fail("the interpreter does not support this operator");
      if (op.outputs.size() != 1) fail("ERROR_IF: {} outputs, the operator has one", op.outputs.size());
      for (const auto& in : op.inputs) {
        const auto it = slot_of.find(in);
        if (it == slot_of.end()) fail("input '{}' is not produced by an earlier operator or a graph input", in);
        slots.inputs.push_back(it->second);
      }
      const std::string& out = op.outputs[0];
      if (slot_of.count(out)) fail("output '{}' is produced twice", out);
      slots.output = static_cast<uint32_t>(slot_of.size());
      if (op.op == Op::CONST_SHAPE) {
        const TosaShape* s = b.find_shape(out);
        if (!s || !s->values) fail("output '{}' is not a TosaShape with values", out);
        TosaValue v = make_value(DType::SHAPE, {static_cast<int64_t>(s->values->size())});
        std::copy(s->values->begin(), s->values->end(), mptr<int64_t>(v));
        slots.constant = std::move(v);
      } else {
        const TosaTensor* t = find_tensor(out);
        if (!t) fail("output '{}' is not a declared tensor", out);
        slots.declared = static_cast<size_t>(t - b.tensors.data());
        slots.declared_output.type = t->type;
        slots.declared_output.unranked = t->is_unranked;
        slots.declared_output.compact = t->shape.size() <= slots.declared_output.dims.size();
        if (slots.declared_output.compact) {
          slots.declared_output.rank = static_cast<uint8_t>(t->shape.size());
          std::copy(t->shape.begin(), t->shape.end(), slots.declared_output.dims.begin());
        }
        value_storage(t->type);
        if (op.op == Op::CONST) {
          if (!op.inputs.empty()) fail("ERROR_IF: CONST takes no inputs");
          slots.constant = decode_constant(*t);
        }
      }
      slot_of.emplace(out, slots.output);
    } catch (const Error& e) {
      rethrow_for(op, i, e);
    }
  }
  for (const auto& name : b.outputs) {
    const auto it = slot_of.find(name);
    if (it == slot_of.end()) fail("TOSA block '{}': output '{}' is never produced", b.name, name);
    output_slots_.push_back(it->second);
  }
  slot_count_ = slot_of.size();
  read_transposes_in_place(find_tensor);
  // A value is released right after the last operator that reads it, an unread one right
  // after it is made (never the block's outputs): keeping every intermediate of a window
  // alive until the end made each operator write into fresh pages, and their page faults
  // cost a third of a full-scope window.
  std::vector<int64_t> last_reader(slot_count_, -1);
  for (size_t i = 0; i < operators_.size(); ++i) {
    last_reader[operators_[i].output] = static_cast<int64_t>(i);
    for (const uint32_t in : operators_[i].inputs) last_reader[in] = static_cast<int64_t>(i);
    if (operators_[i].b_transpose >= 0)
      last_reader[operators_[static_cast<size_t>(operators_[i].b_transpose)].inputs[0]] = static_cast<int64_t>(i);
  }
  for (const uint32_t out : output_slots_) last_reader[out] = -1;
  for (uint32_t slot = 0; slot < slot_count_; ++slot)
    if (last_reader[slot] >= 0) operators_[static_cast<size_t>(last_reader[slot])].release_after.push_back(slot);
  std::vector<bool> constant(slot_count_, false);
  for (size_t i = 0; i < operators_.size(); ++i)
    if (b.operators[i].op == Op::CONST || b.operators[i].op == Op::CONST_SHAPE) constant[operators_[i].output] = true;
  for (size_t i = 0; i < operators_.size(); ++i) {
    OperatorSlots& slots = operators_[i];
    if (b.operators[i].op == Op::RESCALE && slots.inputs.size() == 5 &&
        std::all_of(slots.inputs.begin() + 1, slots.inputs.end(), [&](uint32_t in) { return constant[in]; }))
      slots.rescale_cache = std::make_shared<RescaleCache>();
  }
  for (size_t i = 0; i < operators_.size(); ++i) {
    OperatorSlots& slots = operators_[i];
    if (b.operators[i].op != Op::SCATTER || slots.inputs.empty()) continue;
    const uint32_t first = slots.inputs[0];
    slots.may_take_first_input = last_reader[first] == static_cast<int64_t>(i) &&
                                 std::count(slots.inputs.begin(), slots.inputs.end(), first) == 1;
  }
}

void Interpreter::read_transposes_in_place(const std::function<const TosaTensor*(const std::string&)>& find_tensor) {
  const TosaBasicBlock& b = block();
  std::vector<int64_t> producer(slot_count_, -1);
  std::vector<int32_t> reads(slot_count_, 0);
  for (size_t i = 0; i < operators_.size(); ++i) {
    producer[operators_[i].output] = static_cast<int64_t>(i);
    for (const uint32_t in : operators_[i].inputs) ++reads[in];
  }
  for (const uint32_t out : output_slots_) ++reads[out];
  auto declared_int16 = [&](const std::string& name) {
    const TosaTensor* t = find_tensor(name);
    return t && t->type == DType::INT16;
  };
  for (size_t i = 0; i < operators_.size(); ++i) {
    OperatorSlots& matmul = operators_[i];
    if (b.operators[i].op != Op::MATMUL || matmul.inputs.size() != 4 || reads[matmul.inputs[1]] != 1) continue;
    const int64_t j = producer[matmul.inputs[1]];
    if (j < 0 || b.operators[static_cast<size_t>(j)].op != Op::TRANSPOSE || operators_[static_cast<size_t>(j)].inputs.size() != 1)
      continue;
    const auto* attr = std::get_if<TransposeAttr>(&b.operators[static_cast<size_t>(j)].attribute);
    if (!attr || attr->perms.size() != 3) continue;
    std::vector<int32_t> sorted = attr->perms;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != std::vector<int32_t>{0, 1, 2}) continue;  // the TRANSPOSE, run, reports it
    if (!declared_int16(b.operators[i].inputs[0]) || !declared_int16(b.operators[i].inputs[1])) continue;
    matmul.b_transpose = j;
    operators_[static_cast<size_t>(j)].skipped = true;
  }
}

const TosaBasicBlock& Interpreter::block() const { return graph_.main_block(); }

ValueMap Interpreter::run(ValueMap inputs) const {
  const TosaBasicBlock& b = block();
  std::vector<TosaValue> values(slot_count_);
  for (size_t k = 0; k < b.inputs.size(); ++k) {
    const std::string& name = b.inputs[k];
    const auto it = inputs.find(name);
    if (it == inputs.end()) fail("TOSA graph input '{}' was not given", name);
    const TosaTensor& t = *b.find_tensor(name);
    TosaValue& v = it->second;
    if (v.type != t.type) fail("TOSA graph input '{}' must be {}, it is {}", name, dtype_name(t.type), dtype_name(v.type));
    if (!t.is_unranked && v.tensor.shape() != declared_shape(t))
      fail("TOSA graph input '{}' must have shape {}, it has {}", name, shape_text(declared_shape(t)), shape_text(v.tensor.shape()));
    if (v.tensor.dtype() != value_storage(v.type))
      fail("TOSA graph input '{}' is held as {}, {} needs {}", name, l2n::dtype_name(v.tensor.dtype()), dtype_name(v.type),
           l2n::dtype_name(value_storage(v.type)));
    values[input_slots_[k]] = std::move(v);
  }
  for (const auto& [name, value] : inputs)
    if (!b.find_tensor(name) || std::find(b.inputs.begin(), b.inputs.end(), name) == b.inputs.end())
      fail("'{}' is not an input of the TOSA graph (inputs: {})", name, fmt::join(b.inputs, ", "));

  std::vector<const TosaValue*> operands;  // of the operator being run, reused
  for (size_t i = 0; i < b.operators.size(); ++i) {
    const TosaOperator& op = b.operators[i];
    const OperatorSlots& slots = operators_[i];
    if (op.op == Op::CONST || op.op == Op::CONST_SHAPE) {
      values[slots.output] = slots.constant;
    } else if (!slots.skipped) {
      try {
        const OpTimerScope timer(op_name(op.op));
        operands.clear();
        for (const uint32_t in : slots.inputs) operands.push_back(&values[in]);
        Args args{op, operands, &b.tensors[slots.declared], &slots.declared_output};
        if (slots.may_take_first_input) args.first_input_to_take = &values[slots.inputs[0]];
        args.rescale_cache = slots.rescale_cache.get();
        TosaValue result;
        if (slots.b_transpose >= 0) {
          const OperatorSlots& transpose = operators_[static_cast<size_t>(slots.b_transpose)];
          args.in[1] = &values[transpose.inputs[0]];
          result = op_matmul_reading_transpose(
              args, std::get<TransposeAttr>(b.operators[static_cast<size_t>(slots.b_transpose)].attribute).perms,
              b.tensors[transpose.declared]);
        } else {
          result = op_function(op.op)(args);
        }
        if (const std::string why = declared_mismatch(result.type, result.tensor.shape(), slots.declared_output, *args.out);
            !why.empty())
          fail("ERROR_IF: {}", why);
        values[slots.output] = std::move(result);
      } catch (const Error& e) {
        rethrow_for(op, i, e);
      }
    }
    for (const uint32_t dead : slots.release_after) values[dead] = TosaValue{};
  }
  ValueMap outputs;
  for (size_t k = 0; k < b.outputs.size(); ++k) outputs[b.outputs[k]] = values[output_slots_[k]];
  return outputs;
}

}  // namespace l2n::tosa
