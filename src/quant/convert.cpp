// convert(): the integer graph of a calibrated recipe (contract in quantize.h).
//
// Every converted value is an integer tensor with a real scale and a zero point (a Repr:
// real = (q − zp)·scale):
//  * int8/int16 with the recipe's parameters wherever a TOSA operator needs such an operand
//    (CONV2D, MATMUL, TABLE and SCATTER inputs, the KV caches) — "Q form";
//  * otherwise int32 with a scale of its own ("wide form"), which is what TOSA's elementwise
//    ops compute in anyway (ADD/SUB/MUL/REDUCE_SUM/NEGATE take int32). The full scope keeps
//    residual adds, the RoPE products, x·x, RMSNorm statistics and the softmax internals in
//    int32 and requantizes only where an int8/int16 operand is needed, so the tensors the
//    float simulation found weakest never pass through 8 or 16 bits.
// Every wide value carries a static bound on |q|, and each step keeps it below 2^30, which
// is what keeps every TOSA REQUIRE (no int32 overflow, RESCALE input range) satisfied; a
// lowering that could break one fails here with "internal: ..." instead.
//
// Per op (full scope): Linear → CONV2D + per-channel RESCALE (as in the linear scope);
// MatMul → MATMUL (int32/int48 accumulator); Add/Sub → RESCALE both operands to a common
// int32 scale, ADD/SUB; Mul → MUL of int32 operands with the shift that keeps the product
// in range; Neg → NEGATE; ReduceMean → REDUCE_SUM with 1/N folded into the scale;
// ReduceMax → REDUCE_MAX; a requantization whose int32 input could leave RESCALE's input
// range → MINIMUM/MAXIMUM first (values that saturate anyway); Rsqrt/Silu/Exp/Reciprocal → TABLE (int8: 256 entries → int8;
// int16: 513 entries → int32 with 7 fraction bits); Softmax → REDUCE_MAX, SUB, RESCALE,
// exp TABLE, REDUCE_SUM, reciprocal (two TABLEs + two Newton steps in int32 MUL/SUB), MUL;
// Gather → GATHER of the quantized table; CacheUpdate → SCATTER on the integer cache.
// Constant operands of Add/Mul (norm weights, eps, RoPE tables, the mask) become int32
// constants: a positive scalar factor is folded into the scale, the additive mask's −1e30
// saturates to −2^28, which the softmax turns into an exact 0.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "core/error.h"
#include "quant/integer_ops.h"
#include "quant/quantize.h"

namespace l2n::quant {
namespace {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::ValueId;

constexpr double k2p26 = 67108864.0;
constexpr double k2p27 = 134217728.0;
constexpr double k2p28 = 268435456.0;
constexpr double k2p29 = 536870912.0;
constexpr double k2p30 = 1073741824.0;

struct Repr {
  ValueId v;
  DType dtype = DType::I32;
  double scale = 1.0;
  int32_t zp = 0;
  double bound = 0;  // |q − zp| <= bound
};

double dtype_bound(DType d, int32_t zp) {
  switch (d) {
    case DType::I8: return static_cast<double>(std::max(127 - zp, zp + 128));
    case DType::I16: return 32768.0;
    case DType::I32: return 2147483648.0;
    default: return 140737488355328.0;  // int48
  }
}

// Per-tensor parameters of the mode's activation type for a fixed real range (internal
// fixed-point choices of the softmax decomposition, not observed tensors).
QuantParams fixed_range(double lo, double hi, bool int16) {
  if (int16) {
    const double s = std::max(std::abs(lo), std::abs(hi)) / 32767.0;
    return QuantParams::per_tensor(static_cast<float>(s), 0, QDType::I16, -32767, 32767);
  }
  const double s = (hi - lo) / 255.0;
  const auto zp = static_cast<int32_t>(std::clamp(std::nearbyint(-128.0 - lo / s), -128.0, 127.0));
  return QuantParams::per_tensor(static_cast<float>(s), zp, QDType::I8, -128, 127);
}

class Converter {
 public:
  Converter(const Graph& src, const QuantRecipe& recipe, ConvertInfo* info)
      : src_(src), recipe_(recipe), mode_(recipe.mode_config()), ann_(annotate(src, recipe.scope)),
        full_(recipe.scope == QuantScope::Full), info_(info) {
    float_of_.assign(src.nodes().size(), ValueId{});
    int_of_.assign(src.nodes().size(), Repr{});
    for (const Node& n : src.nodes()) {
      if (n.op != OpKind::CacheUpdate) continue;
      auto it = recipe.kv_cache_scales.find(src.node(n.inputs[1]).name);
      if (it == recipe.kv_cache_scales.end()) continue;
      if (src.node(n.inputs[0]).op != OpKind::Input || static_cast<int64_t>(it->second.size()) != n.shape.back())
        fail("internal: the static KV cache scales of '{}' do not fit cache update '{}'", it->first, n.name);
      kv_scales_of_[n.output.index] = &it->second;
      int8_cache_inputs_.insert(n.inputs[0].index);
    }
  }

  Graph run() {
    const auto& nodes = src_.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      if (n.op == OpKind::Input) {
        if (int8_cache_inputs_.count(static_cast<int32_t>(i))) {  // a static int8 KV cache
          const ValueId v = out_.add_input(n.name, DType::I8, n.shape);
          float_of_[i] = v;
          int_of_[i] = {v, DType::I8, 1.0, 0, 128.0};
        } else if (ann_.quantized[i]) {  // a decode-step cache: an integer graph input
          const QuantParams& qp = params(static_cast<int32_t>(i));
          set_int(i, q_repr(out_.add_input(n.name, storage_dtype(qp.dtype), n.shape), qp));
        } else {
          float_of_[i] = out_.add_input(n.name, n.dtype, n.shape);
        }
      } else if (n.op == OpKind::Constant || (full_ && ann_.is_static[i])) {
        // emitted on first use (as float, or quantized by the consumer)
      } else if (ann_.quantized[i]) {
        set_int(i, lower(n));
        // Consumers only want the int8/int16 form: make it once, here, so that the data
        // movement after it moves the narrow type.
        if (full_ && ann_.wants_quantized[i] && !ann_.wants_any[i]) int_of_[i] = q_form(static_cast<int32_t>(i));
      } else if (kv_scales_of_.count(static_cast<int32_t>(i))) {
        float_of_[i] = float_static_kv_update(n);
      } else {
        std::vector<ValueId> inputs;
        for (ValueId v : n.inputs) inputs.push_back(float_value(v));
        float_of_[i] = out_.add_node(n.op, n.name, inputs, n.attrs);
      }
    }
    for (const auto& [name, v] : src_.outputs()) {
      if (auto it = int8_cache_of_.find(v.index); it != int8_cache_of_.end())
        out_.add_output(name, it->second);  // the int8 cache goes back to the caller
      else if (full_ && ann_.quantized[v.index] && src_.node(v).op == OpKind::CacheUpdate)
        out_.add_output(name, int_of_[v.index].v);  // the integer cache goes back to the caller
      else
        out_.add_output(name, float_value(v));
    }
    return std::move(out_);
  }

 private:
  // ---- bookkeeping ------------------------------------------------------------------------

  void set_int(size_t i, const Repr& r) {
    int_of_[i] = r;
    const std::string& name = src_.nodes()[i].name;
    if (info_ && out_.node(r.v).name == name) (*info_)[name] = {r.scale, r.zp};
  }

  std::string fresh(const std::string& name) const {
    if (!out_.find(name)) return name;
    for (int k = 1;; ++k) {
      std::string candidate = fmt::format("{}.{}", name, k);
      if (!out_.find(candidate)) return candidate;
    }
  }

  const QuantParams& params(int32_t index) const {
    const int32_t src = ann_.shares[index] >= 0 ? ann_.shares[index] : index;
    const std::string& name = src_.nodes()[src].name;
    auto it = recipe_.params.find(name);
    if (it == recipe_.params.end()) fail("the quantization recipe has no parameters for '{}'", name);
    return it->second;
  }

  static Repr q_repr(ValueId v, const QuantParams& qp) {
    const DType d = storage_dtype(qp.dtype);
    return {v, d, static_cast<double>(qp.scale()), qp.zero_point(), dtype_bound(d, qp.zero_point())};
  }

  static bool has_params(const Repr& r, const QuantParams& qp) {
    return r.dtype == storage_dtype(qp.dtype) && static_cast<float>(r.scale) == qp.scale() &&
           r.zp == qp.zero_point();
  }

  ValueId const_int(const std::string& name, DType dtype, std::vector<int64_t> values, Shape shape = {}) {
    if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
    Tensor t(dtype, shape);
    for (size_t k = 0; k < values.size(); ++k) {
      switch (dtype) {
        case DType::I8: t.mutable_data<int8_t>()[k] = static_cast<int8_t>(values[k]); break;
        case DType::I16: t.mutable_data<int16_t>()[k] = static_cast<int16_t>(values[k]); break;
        case DType::I32: t.mutable_data<int32_t>()[k] = static_cast<int32_t>(values[k]); break;
        case DType::I64: t.mutable_data<int64_t>()[k] = values[k]; break;
        default: fail("internal: const_int of {}", dtype_name(dtype));
      }
    }
    return out_.add_constant(fresh(name), std::move(t));
  }

  ValueId float_value(ValueId v) {
    const int32_t i = v.index;
    if (float_of_[i].valid()) return float_of_[i];
    const Node& n = src_.nodes()[i];
    if (n.op == OpKind::Constant) return float_of_[i] = out_.add_constant(n.name, n.value);
    if (!int_of_[i].v.valid()) {
      if (full_ && ann_.is_static[i]) {  // a static value read by a float op: copy it
        std::vector<ValueId> inputs;
        for (ValueId in : n.inputs) inputs.push_back(float_value(in));
        return float_of_[i] = out_.add_node(n.op, fresh(n.name), inputs, n.attrs);
      }
      fail("internal: value '{}' has no converted form", n.name);
    }
    const Repr& r = int_of_[i];
    graph::Attrs attrs;
    attrs.scale = static_cast<float>(r.scale);
    attrs.zero_point = r.zp;
    return float_of_[i] = out_.add_node(OpKind::Dequantize, fresh(n.name + ".dequantize"), {r.v}, attrs);
  }

  // Node i as int8/int16 with its own parameters (a Quantize if it is a float value).
  Repr q_form(int32_t i) {
    const QuantParams& qp = params(i);
    if (int_of_[i].v.valid() && has_params(int_of_[i], qp)) return int_of_[i];
    if (auto it = q_cache_.find(i); it != q_cache_.end()) return it->second;
    const Node& n = src_.nodes()[i];
    Repr r;
    if (int_of_[i].v.valid()) {
      r = to_q(int_of_[i], qp, n.name + ".q");
    } else if (n.op == OpKind::Constant) {
      r = q_repr(out_.add_constant(fresh(n.name + ".q"), quantize(n.value, qp)), qp);
    } else {
      graph::Attrs attrs;
      attrs.dtype = storage_dtype(qp.dtype);
      attrs.scale = qp.scale();
      attrs.zero_point = qp.zero_point();
      attrs.qmin = qp.qmin;
      attrs.qmax = qp.qmax;
      r = q_repr(out_.add_node(OpKind::Quantize, fresh(n.name + ".quantize"), {float_value(n.output)}, attrs), qp);
    }
    return q_cache_[i] = r;
  }

  // The converted operand v: its integer form, or the quantized float value.
  Repr operand(ValueId v) {
    if (int_of_[v.index].v.valid()) return int_of_[v.index];
    if (full_ && ann_.is_static[v.index]) fail("internal: static value '{}' read as an activation", src_.node(v).name);
    return q_form(v.index);
  }

  // ---- integer steps ---------------------------------------------------------------------

  // RESCALE with one real scale per channel (the last axis) or one for the tensor.
  ValueId rescale_node(const Repr& x, const std::vector<double>& ratios, bool per_channel, DType out, int32_t out_zp,
                       const std::string& name) {
    const bool scale32 = x.dtype != DType::I64;
    std::vector<int64_t> mult, shift;
    for (double s : ratios) {
      if (!(s < (scale32 ? 0x1p29 : 0x1p13)))
        fail("internal: RESCALE '{}' would multiply by {}, more than a multiplier can hold", name, s);
      const ScaleMultiplier m = compute_multiplier(s, scale32);
      // apply_scale_32 REQUIREs |value| < 2^(shift−1).
      if (scale32 && x.bound >= std::ldexp(1.0, m.shift - 1))
        fail("internal: RESCALE '{}' by {} of a value bounded by {} could break the TOSA input range", name, s, x.bound);
      mult.push_back(m.multiplier);
      shift.push_back(m.shift);
    }
    graph::Attrs attrs;
    attrs.dtype = out;
    attrs.scale32 = scale32;
    attrs.per_channel = per_channel;
    const std::string node_name = fresh(name);
    const ValueId m = const_int(node_name + ".multiplier", scale32 ? DType::I32 : DType::I16, mult);
    const ValueId sh = const_int(node_name + ".shift", DType::I8, shift);
    const ValueId izp = const_int(node_name + ".input_zp", x.dtype, {x.zp});
    const ValueId ozp = const_int(node_name + ".output_zp", out, {out_zp});
    return out_.add_node(OpKind::Rescale, node_name, {x.v, m, sh, izp, ozp}, attrs);
  }

  Repr rescale_to(const Repr& x, DType out, double scale, int32_t out_zp, const std::string& name) {
    const double ratio = x.scale / scale;
    if (!(ratio < 0x1p29)) fail("internal: RESCALE '{}' would multiply by {} ({} / {}, {})", name, ratio, x.scale, scale, dtype_name(x.dtype));
    if (x.dtype == DType::I32 && x.zp == 0 &&
        x.bound >= std::ldexp(1.0, compute_multiplier(ratio, true).shift - 1)) {
      if (out != DType::I32) {
        // A saturating requantization: inputs beyond `limit` saturate the output anyway, so
        // clamping them first (MINIMUM, MAXIMUM) changes no result and keeps the scaled
        // value within apply_scale_32's range whatever the static bound (deep models).
        const double limit = std::ceil((dtype_bound(out, out_zp) + 1.0) / ratio);
        if (limit < x.bound) return rescale_to(clamp_wide(x, limit, name + ".clamp"), out, scale, out_zp, name);
      }
      // Too large for apply_scale_32's input range at this ratio: first drop two bits
      // (a RESCALE by 1/4 accepts any int32), then rescale the rest of the way.
      Repr quarter = rescale_to(x, DType::I32, x.scale * 4.0, 0, name + ".pre");
      return rescale_to(quarter, out, scale, out_zp, name);
    }
    const ValueId v = rescale_node(x, {ratio}, false, out, out_zp, name);
    const double bound = out == DType::I32 ? x.bound * ratio + 1.0 : dtype_bound(out, out_zp);
    if (out == DType::I32 && bound > k2p30 * 1.5)
      fail("internal: RESCALE '{}' to int32 could reach {}", name, bound);
    return {v, out, scale, out_zp, bound};
  }

  // x (int32, zero point 0) clamped to [−limit, limit].
  Repr clamp_wide(const Repr& x, double limit, const std::string& name) {
    const Shape ones(rank_of(x), 1);
    const auto l = static_cast<int64_t>(limit);
    const ValueId hi = const_int(name + ".max", DType::I32, {l}, ones);
    const ValueId lo = const_int(name + ".min", DType::I32, {-l}, ones);
    const ValueId upper = out_.add_node(OpKind::Minimum, fresh(name + ".upper"), {x.v, hi});
    return {out_.add_node(OpKind::Maximum, fresh(name), {upper, lo}), DType::I32, x.scale, 0, limit};
  }

  Repr to_q(const Repr& x, const QuantParams& qp, const std::string& name) {
    if (has_params(x, qp)) return x;
    return rescale_to(x, storage_dtype(qp.dtype), qp.scale(), qp.zero_point(), name);
  }

  Repr to_wide_at(const Repr& x, double scale, const std::string& name) {
    if (x.dtype == DType::I32 && x.scale == scale) return x;
    return rescale_to(x, DType::I32, scale, 0, name);
  }

  // int32 without a zero point, at the value's own scale (int48: coarsened to fit).
  Repr widen(const Repr& x, const std::string& name) {
    if (x.dtype == DType::I32) return x;
    if (x.dtype == DType::I64) {
      int k = 0;
      while (x.bound / std::ldexp(1.0, k) > k2p29) ++k;
      return rescale_to(x, DType::I32, x.scale * std::ldexp(1.0, k), 0, name);
    }
    return rescale_to(x, DType::I32, x.scale, 0, name);
  }

  // A wide value with |q| <= max_bound (a RESCALE by 2^-k when needed).
  Repr narrow(const Repr& x, double max_bound, const std::string& name) {
    if (x.bound <= max_bound) return x;
    int k = 0;
    while (x.bound / std::ldexp(1.0, k) + 1.0 > max_bound) ++k;
    return rescale_to(x, DType::I32, x.scale * std::ldexp(1.0, k), 0, name);
  }

  // Reshape to `rank` dimensions (leading 1s): TOSA elementwise ops need equal ranks.
  Repr with_rank(const Repr& x, size_t rank, const std::string& name) {
    const Shape& s = out_.node(x.v).shape;
    if (s.size() >= rank) return x;
    Shape shape(rank - s.size(), 1);
    shape.insert(shape.end(), s.begin(), s.end());
    graph::Attrs attrs;
    attrs.shape = shape;
    Repr r = x;
    r.v = out_.add_node(OpKind::Reshape, fresh(name), {x.v}, attrs);
    return r;
  }

  size_t rank_of(const Repr& x) const { return out_.node(x.v).shape.size(); }

  // MUL of two int32 values with the smallest shift that keeps the product below max_bound.
  Repr mul_wide(Repr a, Repr b, const std::string& name, double max_bound = k2p30) {
    const size_t rank = std::max(rank_of(a), rank_of(b));
    a = with_rank(a, rank, name + ".lhs_rank");
    b = with_rank(b, rank, name + ".rhs_rank");
    int sh = 0;
    while (a.bound * b.bound / std::ldexp(1.0, sh) + 1.0 > max_bound) ++sh;
    const ValueId shift = const_int(name + ".shift", DType::I8, {sh});
    const ValueId v = out_.add_node(OpKind::Mul, fresh(name), {a.v, b.v, shift});
    return {v, DType::I32, a.scale * b.scale * std::ldexp(1.0, sh), 0, a.bound * b.bound / std::ldexp(1.0, sh) + 1.0};
  }

  Repr binary(OpKind op, Repr a, Repr b, const std::string& name) {
    const size_t rank = std::max(rank_of(a), rank_of(b));
    a = with_rank(a, rank, name + ".lhs_rank");
    b = with_rank(b, rank, name + ".rhs_rank");
    const ValueId v = out_.add_node(op, fresh(name), {a.v, b.v});
    return {v, DType::I32, a.scale, 0, a.bound + b.bound};
  }

  // ---- static operands (constants, rows gathered from constant tables) -------------------

  const Node& static_root(int32_t i) const {
    const Node* n = &src_.nodes()[i];
    while (n->op != OpKind::Constant) n = &src_.node(n->inputs[0]);
    return *n;
  }

  static double max_abs(const Tensor& t) {
    const float* d = t.data<float>();
    double m = 0;
    for (int64_t k = 0; k < t.numel(); ++k) m = std::max(m, std::abs(static_cast<double>(d[k])));
    return m;
  }

  // An additive mask: every value 0 or at most −1e29 (the builder's masked score).
  static bool is_mask(const Tensor& t) {
    const float* d = t.data<float>();
    bool any = false;
    for (int64_t k = 0; k < t.numel(); ++k) {
      if (d[k] != 0.0f && d[k] > -1e29f) return false;
      any = any || d[k] != 0.0f;
    }
    return any;
  }

  // The static value i as int32 round(value/scale), saturated at ±2^28 (which is where an
  // additive mask's −1e30 lands, whatever the scale). Gathers/reshapes are replayed.
  Repr static_int(int32_t i, double scale) {
    const Node& n = src_.nodes()[i];
    const bool mask = is_mask(static_root(i).value);
    const auto key = std::make_pair(i, mask ? 0.0 : scale);
    if (auto it = static_cache_.find(key); it != static_cache_.end()) return it->second;
    Repr r;
    if (n.op == OpKind::Constant) {
      Tensor t(DType::I32, n.shape);
      const float* d = n.value.data<float>();
      int32_t* o = t.mutable_data<int32_t>();
      double bound = 0;
      for (int64_t k = 0; k < t.numel(); ++k) {
        const double q = std::clamp(std::nearbyint(static_cast<double>(d[k]) / scale), -k2p28, k2p28);
        o[k] = static_cast<int32_t>(q);
        bound = std::max(bound, std::abs(q));
      }
      r = {out_.add_constant(fresh(n.name), std::move(t)), DType::I32, scale, 0, bound};
    } else {
      r = static_int(n.inputs[0].index, scale);
      std::vector<ValueId> inputs{r.v};
      for (size_t k = 1; k < n.inputs.size(); ++k) {
        if (n.op == OpKind::Concat) inputs.push_back(static_int(n.inputs[k].index, scale).v);
        else inputs.push_back(float_value(n.inputs[k]));
      }
      r.v = out_.add_node(n.op, fresh(n.name), inputs, n.attrs);
    }
    return static_cache_[key] = r;
  }

  // ---- lowerings ---------------------------------------------------------------------------

  Repr lower(const Node& n) {
    const std::string& name = n.name;
    const int32_t self = n.output.index;
    switch (n.op) {
      case OpKind::Linear: return lower_linear(n);
      case OpKind::Reshape:
      case OpKind::Transpose:
      case OpKind::Slice: {
        Repr x = full_ ? operand(n.inputs[0]) : q_form(n.inputs[0].index);
        if (!full_ && !has_params(x, params(self))) x = to_q(x, params(self), name + ".requantize");
        x.v = out_.add_node(n.op, name, {x.v}, n.attrs);
        return x;
      }
      case OpKind::Concat: return lower_concat(n);
      case OpKind::CacheUpdate: {
        if (kv_scales_of_.count(self)) return int_static_kv_update(n);
        const Repr cache = q_form(n.inputs[0].index);
        const Repr rows = q_form(n.inputs[1].index);
        Repr r = cache;
        r.v = out_.add_node(OpKind::CacheUpdate, name, {cache.v, rows.v, float_value(n.inputs[2])});
        return r;
      }
      case OpKind::Gather: {
        const Node& table = src_.node(n.inputs[0]);
        if (table.op != OpKind::Constant) fail("internal: gather '{}' from a computed table is not lowered", name);
        const QuantParams& qp = params(self);
        const ValueId t = out_.add_constant(fresh(table.name + ".table"), quantize(table.value, qp));
        return q_repr(out_.add_node(OpKind::Gather, name, {t, float_value(n.inputs[1])}), qp);
      }
      case OpKind::Rsqrt:
      case OpKind::Silu:
      case OpKind::Exp:
      case OpKind::Reciprocal: return lower_table(n);
      case OpKind::Add:
      case OpKind::Sub: return lower_add(n);
      case OpKind::Mul: return lower_mul(n);
      case OpKind::Neg: {
        Repr x = widen(operand(n.inputs[0]), name + ".i32");
        const ValueId zp = const_int(name + ".input_zp", DType::I32, {0});
        const ValueId ozp = const_int(name + ".output_zp", DType::I32, {0});
        x.v = out_.add_node(OpKind::Neg, name, {x.v, zp, ozp});
        return x;
      }
      case OpKind::ReduceSum:
      case OpKind::ReduceMean: {
        const int64_t extent = src_.node(n.inputs[0]).shape[static_cast<size_t>(n.attrs.axis)];
        Repr x = narrow(widen(operand(n.inputs[0]), name + ".i32"), k2p30 / static_cast<double>(extent),
                        name + ".narrow");
        x.v = out_.add_node(OpKind::ReduceSum, name, {x.v}, n.attrs);
        x.bound *= static_cast<double>(extent);
        if (n.op == OpKind::ReduceMean) x.scale /= static_cast<double>(extent);
        return x;
      }
      case OpKind::ReduceMax: {
        Repr x = operand(n.inputs[0]);
        if (x.dtype == DType::I64) x = widen(x, name + ".i32");
        x.v = out_.add_node(OpKind::ReduceMax, name, {x.v}, n.attrs);
        return x;
      }
      case OpKind::MatMul: {
        const Repr a = q_form(n.inputs[0].index);
        const Repr b = q_form(n.inputs[1].index);
        const DType d = a.dtype;
        const ValueId azp = const_int(name + ".a_zp", d, {a.zp});
        const ValueId bzp = const_int(name + ".b_zp", d, {b.zp});
        const int64_t k = out_.node(a.v).shape.back();
        const ValueId v = out_.add_node(OpKind::IntMatMul, name, {a.v, b.v, azp, bzp});
        return {v, out_.node(v).dtype, a.scale * b.scale, 0, static_cast<double>(k) * a.bound * b.bound};
      }
      case OpKind::Softmax: return lower_softmax(n);
      default: break;
    }
    fail("internal: no integer lowering for '{}' ({})", name, graph::op_name(n.op));
  }

  // ---- static int8 KV cache (contract in quantize.h) -----------------------------------------

  // Linear scope: FP32 ops around the int8 SCATTER; returns the value attention reads.
  ValueId float_static_kv_update(const Node& n) {
    const std::vector<float>& scales = *kv_scales_of_.at(n.output.index);
    const auto channels = static_cast<int64_t>(scales.size());
    Tensor scale(DType::F32, {channels}), inverse(DType::F32, {channels});
    for (int64_t c = 0; c < channels; ++c) {
      scale.mutable_data<float>()[c] = scales[static_cast<size_t>(c)];
      inverse.mutable_data<float>()[c] = 1.0f / scales[static_cast<size_t>(c)];
    }
    const ValueId rows = float_value(n.inputs[1]);
    const ValueId pos = float_value(n.inputs[2]);
    const ValueId scaled = out_.add_node(OpKind::Mul, fresh(n.name + ".kv_divide"),
                                         {rows, out_.add_constant(fresh(n.name + ".kv_inverse_scale"), std::move(inverse))});
    graph::Attrs q;
    q.dtype = DType::I8;
    q.scale = 1.0f;
    q.zero_point = 0;
    q.qmin = -128;
    q.qmax = 127;
    const ValueId rows_i8 = out_.add_node(OpKind::Quantize, fresh(n.name + ".kv_quantize"), {scaled}, q);
    const ValueId cache = out_.add_node(OpKind::CacheUpdate, fresh(n.name + ".int8"), {float_of_[n.inputs[0].index], rows_i8, pos});
    int8_cache_of_[n.output.index] = cache;
    graph::Attrs dq;
    dq.scale = 1.0f;
    dq.zero_point = 0;
    const ValueId history = out_.add_node(
        OpKind::Mul, fresh(n.name + ".kv_history"),
        {out_.add_node(OpKind::Dequantize, fresh(n.name + ".kv_dequantize"), {cache}, dq),
         out_.add_constant(fresh(n.name + ".kv_scale"), std::move(scale))});
    return out_.add_node(OpKind::CacheUpdate, n.name, {history, rows, pos});
  }

  // Full scope: per-channel RESCALE of the rows into the int8 cache, SCATTER, per-channel
  // RESCALE of the whole cache back to the rows' parameters, SCATTER of the exact rows.
  Repr int_static_kv_update(const Node& n) {
    const std::vector<float>& scales = *kv_scales_of_.at(n.output.index);
    const Repr rows = q_form(n.inputs[1].index);
    const ValueId pos = float_value(n.inputs[2]);
    std::vector<double> into, back;
    for (float s : scales) {
      // RESCALE cannot multiply by 2^16 or more after an int16 input; a channel that fine
      // only ever held values below a step of the rows.
      const double channel = std::max(static_cast<double>(s), rows.scale * 0x1p-16);
      into.push_back(rows.scale / channel);
      back.push_back(channel / rows.scale);
    }
    const ValueId rows_i8 = rescale_node(rows, into, true, DType::I8, 0, n.name + ".kv_quantize");
    const ValueId cache = out_.add_node(OpKind::CacheUpdate, fresh(n.name + ".int8"),
                                        {int_of_[n.inputs[0].index].v, rows_i8, pos});
    int8_cache_of_[n.output.index] = cache;
    const Repr cache_repr{cache, DType::I8, 1.0, 0, 128.0};
    const ValueId history = rescale_node(cache_repr, back, true, rows.dtype, rows.zp, n.name + ".kv_history");
    Repr r = rows;
    r.v = out_.add_node(OpKind::CacheUpdate, n.name, {history, rows.v, pos});
    return r;
  }

  Repr lower_linear(const Node& n) {
    const QuantParams& in_qp = params(n.inputs[0].index);
    const QuantParams& out_qp = params(n.output.index);
    const Node& w = src_.node(n.inputs[1]);
    auto wit = recipe_.params.find(weight_key(w.name));
    if (wit == recipe_.params.end()) fail("the quantization recipe has no parameters for weight '{}'", w.name);
    const QuantParams& w_qp = wit->second;
    const Repr x = q_form(n.inputs[0].index);
    std::string wname = w.name + ".qweight";
    auto cached = weights_.find(wname);
    if (cached == weights_.end())
      cached = weights_.emplace(wname, out_.add_constant(wname, quantize(w.value, w_qp))).first;
    const int64_t channels = w.shape[0];
    const BiasSpec& bias_spec = mode_.bias;
    const bool wide = mode_.int16_activations();
    const QDType bias_type = wide ? QDType::I48 : QDType::I32;
    const QuantParams b_qp = derive_bias_qparams(in_qp, w_qp, bias_type, bias_spec.qmin, bias_spec.qmax);
    Tensor bias;
    if (n.inputs.size() > 2) {
      bias = quantize(src_.node(n.inputs[2]).value, b_qp);
    } else {
      bias = Tensor(storage_dtype(bias_type), {channels});
      std::memset(bias.mutable_raw(), 0, bias.nbytes());
    }
    const ValueId b = out_.add_constant(n.name + ".conv.bias", std::move(bias));
    const ValueId xzp = const_int(n.name + ".conv.input_zp", storage_dtype(in_qp.dtype), {in_qp.zero_point()});
    const ValueId wzp = const_int(n.name + ".conv.weight_zp", DType::I8, {0});
    const ValueId acc = out_.add_node(OpKind::IntLinear, n.name + ".conv", {x.v, cached->second, b, xzp, wzp});
    std::vector<double> scales;
    for (int64_t c = 0; c < channels; ++c)
      scales.push_back(static_cast<double>(in_qp.scale()) *
                       static_cast<double>(w_qp.scale(w_qp.channels() == 1 ? 0 : c)) /
                       static_cast<double>(out_qp.scale()));
    // The accumulator's static bound is not needed: RESCALE from int48 has no input-range
    // REQUIRE, and the int32 one after int8 inputs stays far below 2^(shift-1).
    Repr acc_repr{acc, out_.node(acc).dtype, 1.0, 0, 0};
    return q_repr(rescale_node(acc_repr, scales, true, storage_dtype(out_qp.dtype), out_qp.zero_point(), n.name),
                  out_qp);
  }

  Repr lower_concat(const Node& n) {
    std::vector<Repr> parts;
    for (ValueId v : n.inputs) parts.push_back(operand(v));
    bool same = true;
    for (const Repr& p : parts)
      same = same && p.dtype == parts[0].dtype && p.scale == parts[0].scale && p.zp == parts[0].zp;
    if (!same) {
      double scale = INFINITY, real = 0;
      for (Repr& p : parts) {
        p = widen(p, n.name + ".part_i32");
        scale = std::min(scale, p.scale);
        real = std::max(real, p.bound * p.scale);
      }
      scale = std::max(scale, real / k2p30);
      for (Repr& p : parts) p = to_wide_at(p, scale, n.name + ".part");
    }
    std::vector<ValueId> ids;
    double bound = 0;
    for (const Repr& p : parts) {
      ids.push_back(p.v);
      bound = std::max(bound, p.bound);
    }
    Repr r = parts[0];
    r.bound = bound;
    r.v = out_.add_node(OpKind::Concat, n.name, ids, n.attrs);
    return r;
  }

  static std::function<double(double)> real_function(OpKind op) {
    switch (op) {
      case OpKind::Rsqrt: return [](double x) { return 1.0 / std::sqrt(x); };
      case OpKind::Silu: return [](double x) { return x / (1.0 + std::exp(-x)); };
      case OpKind::Exp: return [](double x) { return std::exp(x); };
      default: return [](double x) { return 1.0 / x; };
    }
  }

  // TABLE with the input's and the node's own parameters. int16: the int32 result has 7
  // fraction bits and stays wide (scale s_out/128); the consumer requantizes if it must.
  Repr lower_table(const Node& n) {
    const Repr x = q_form(n.inputs[0].index);
    const QuantParams& in_qp = params(n.inputs[0].index);
    const QuantParams& out_qp = params(n.output.index);
    return table(x, in_qp, out_qp, real_function(n.op), n.name);
  }

  Repr table(const Repr& x, const QuantParams& in_qp, const QuantParams& out_qp, const RealFunction& f,
             const std::string& name) {
    if (x.dtype == DType::I8) {
      const TableI8 t = build_table_i8(f, in_qp, out_qp);
      std::vector<int64_t> entries(t.begin(), t.end());
      const ValueId tv = const_int(name + ".table", DType::I8, entries);
      return q_repr(out_.add_node(OpKind::Table, fresh(name), {x.v, tv}), out_qp);
    }
    const TableI16 t = build_table_i16(f, in_qp.scale(), out_qp.scale());
    std::vector<int64_t> entries(t.begin(), t.end());
    const ValueId tv = const_int(name + ".table", DType::I16, entries);
    const ValueId v = out_.add_node(OpKind::Table, fresh(name), {x.v, tv});
    return {v, DType::I32, static_cast<double>(out_qp.scale()) / 128.0, 0, 32768.0 * 128.0};
  }

  // The finest int32 scale an operand offers without losing bits (TOSA's int32 scale for
  // elementwise ops: 2^-20 of an int8 scale, 2^-12 of an int16 one).
  static double fine_scale(const Repr& r) {
    switch (r.dtype) {
      case DType::I8: return r.scale * 0x1p-20;
      case DType::I16: return r.scale * 0x1p-12;
      default: return r.scale;
    }
  }

  Repr lower_add(const Node& n) {
    const OpKind op = n.op;
    const bool a_static = full_ && ann_.is_static[n.inputs[0].index];
    const bool b_static = full_ && ann_.is_static[n.inputs[1].index];
    if (a_static && b_static) fail("internal: '{}' adds two constants", n.name);
    if (a_static || b_static) {
      const ValueId other = a_static ? n.inputs[1] : n.inputs[0];
      const int32_t c = (a_static ? n.inputs[0] : n.inputs[1]).index;
      // The activation is brought to |q| <= 2^26 by a power of two (up or down: the finest
      // scale with that headroom); the constant saturates at 2^28, so a masked score stays
      // at least 2^27 below any unmasked one and x − max(x) stays below 2^30.
      Repr x = widen(operand(other), n.name + ".i32");
      int k2 = 0;
      while (x.bound * std::ldexp(1.0, k2 + 1) + 2.0 <= k2p26) ++k2;
      while (x.bound * std::ldexp(1.0, k2) + 2.0 > k2p26) --k2;
      if (k2 != 0) x = rescale_to(x, DType::I32, x.scale * std::ldexp(1.0, -k2), 0, n.name + ".align");
      const Repr k = static_int(c, x.scale);
      if (is_mask(static_root(c).value) && k2p27 * x.scale < 16.0)
        fail("internal: the additive mask of '{}' would not saturate the softmax (scale {})", n.name, x.scale);
      return a_static ? binary(op, k, x, n.name) : binary(op, x, k, n.name);
    }
    const Repr a = operand(n.inputs[0]);
    const Repr b = operand(n.inputs[1]);
    const Repr aw = a.dtype == DType::I64 ? widen(a, n.name + ".lhs_i32") : a;
    const Repr bw = b.dtype == DType::I64 ? widen(b, n.name + ".rhs_i32") : b;
    const double real = std::max(aw.bound * aw.scale, bw.bound * bw.scale);
    const double scale = std::max(std::min(fine_scale(aw), fine_scale(bw)), real / k2p29);
    return binary(op, to_wide_at(aw, scale, n.name + ".lhs"), to_wide_at(bw, scale, n.name + ".rhs"), n.name);
  }

  Repr lower_mul(const Node& n) {
    const bool a_static = full_ && ann_.is_static[n.inputs[0].index];
    const bool b_static = full_ && ann_.is_static[n.inputs[1].index];
    if (a_static && b_static) fail("internal: '{}' multiplies two constants", n.name);
    if (a_static || b_static) {
      const ValueId other = a_static ? n.inputs[1] : n.inputs[0];
      const int32_t c = (a_static ? n.inputs[0] : n.inputs[1]).index;
      const Node& cn = src_.nodes()[c];
      Repr x = operand(other);
      if (cn.op == OpKind::Constant && cn.value.numel() == 1 && cn.value.data<float>()[0] > 0) {
        // A positive scalar factor (the attention scale) only changes the real scale.
        x.scale *= static_cast<double>(cn.value.data<float>()[0]);
        return x;
      }
      x = widen(x, n.name + ".i32");
      const double m = max_abs(static_root(c).value);
      // A power-of-two scale with 14 bits for the largest entry: exact RoPE cos/sin of 0
      // and pi/2, and products of int16 operands stay within int32.
      const double scale = m > 0 ? std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(m))) - 14) : 1.0;
      return mul_wide(x, static_int(c, scale), n.name);
    }
    const Repr a = widen(operand(n.inputs[0]), n.name + ".lhs_i32");
    const Repr b = n.inputs[1] == n.inputs[0] ? a : widen(operand(n.inputs[1]), n.name + ".rhs_i32");
    return mul_wide(a, b, n.name);
  }

  // softmax(x) = e / sum(e) with e = exp(x − max(x)):
  //   REDUCE_MAX, SUB in int32; RESCALE to the exp TABLE's input, a fixed range [−R, 0]
  //   with R chosen so that exp(−R) quantizes to 0 (masked scores saturate there: exact 0);
  //   exp TABLE with output range [0, 1]; REDUCE_SUM; reciprocal of the sum (in [1, S]);
  //   MUL; RESCALE to the node's parameters (fixed [0, 1]).
  Repr lower_softmax(const Node& n) {
    const std::string& name = n.name;
    const bool int16 = mode_.int16_activations();
    Repr x = operand(n.inputs[0]);
    x = narrow(widen(x, name + ".i32"), k2p28 + k2p27, name + ".narrow");
    const int64_t s = src_.node(n.inputs[0]).shape.back();
    graph::Attrs axis;
    axis.axis = n.attrs.axis;
    Repr mx = x;
    mx.v = out_.add_node(OpKind::ReduceMax, fresh(name + ".max"), {x.v}, axis);
    const Repr d = binary(OpKind::Sub, x, mx, name + ".sub");
    const double out_step = int16 ? 1.0 / 32767.0 : 1.0 / 255.0;
    const double r = std::log(2.0 / out_step) + 0.25;
    const QuantParams exp_in = fixed_range(-r, 0.0, int16);
    const QuantParams exp_out = int16 ? QuantParams::per_tensor(static_cast<float>(out_step), 0, QDType::I16, -32767, 32767)
                                      : fixed_range(0.0, 1.0, false);
    const Repr e_in = to_q(d, exp_in, name + ".exp_in");
    const Repr e = widen(table(e_in, exp_in, exp_out, [](double v) { return std::exp(v); }, name + ".exp"),
                         name + ".exp_i32");
    Repr sum = narrow(e, k2p30 / static_cast<double>(s), name + ".exp_narrow");
    sum.v = out_.add_node(OpKind::ReduceSum, fresh(name + ".sum"), {sum.v}, axis);
    sum.bound *= static_cast<double>(s);
    const Repr inv = reciprocal(sum, static_cast<double>(s), name);
    const Repr p = mul_wide(e, inv, name + ".normalize");
    return to_q(p, params(n.output.index), name);
  }

  // 1/x for x in [1, limit] (a row sum of exp values, >= 1 because the row maximum
  // contributes exp(0) = 1), as int32 with scale 2^-28.
  // Seed: TABLE A covers [0, T] (T = 16) with 1/max(x,1) − 1/T, TABLE B covers [0, limit]
  // with 1/max(x, T); their sum is 1/x everywhere (A saturates to 0 above T), within ~10 %
  // for int8 tables. Two Newton steps r ← r·(2 − x·r) in int32 MUL/SUB bring the relative
  // error to ~1e-4 (int8) / below the int32 resolution (int16).
  Repr reciprocal(const Repr& x, double limit, const std::string& name) {
    const bool int16 = mode_.int16_activations();
    const double t = std::min(16.0, limit);
    const QuantParams a_in = fixed_range(0.0, t, int16);
    const QuantParams a_out = fixed_range(0.0, 1.0 - 1.0 / t + 1e-9, int16);
    const QuantParams b_in = fixed_range(0.0, limit, int16);
    const QuantParams b_out = fixed_range(0.0, 1.0 / t, int16);
    const Repr a = table(to_q(x, a_in, name + ".recip_a_in"), a_in, a_out,
                         [t](double v) { return 1.0 / std::max(v, 1.0) - 1.0 / t; }, name + ".recip_a");
    const Repr b = table(to_q(x, b_in, name + ".recip_b_in"), b_in, b_out,
                         [t](double v) { return 1.0 / std::max(v, t); }, name + ".recip_b");
    const double r_scale = 0x1p-28;
    Repr r = binary(OpKind::Add, to_wide_at(a, r_scale, name + ".recip_a_i32"),
                    to_wide_at(b, r_scale, name + ".recip_b_i32"), name + ".recip_seed");
    int fs = 0;
    while (limit * std::ldexp(1.0, fs + 1) <= k2p28) ++fs;
    const Repr xs = to_wide_at(x, std::ldexp(1.0, -fs), name + ".recip_x");
    const size_t rank = rank_of(x);
    const ValueId two = const_int(name + ".recip_two", DType::I32, {1 << 29}, Shape(rank, 1));
    const ValueId shift_x = const_int(name + ".recip_shift_x", DType::I8, {fs});
    const ValueId shift_r = const_int(name + ".recip_shift_r", DType::I8, {28});
    for (int step = 1; step <= 2; ++step) {
      const ValueId xr = out_.add_node(OpKind::Mul, fresh(fmt::format("{}.recip_newton{}_xr", name, step)), {xs.v, r.v, shift_x});
      const ValueId u = out_.add_node(OpKind::Sub, fresh(fmt::format("{}.recip_newton{}_2_minus", name, step)), {two, xr});
      r.v = out_.add_node(OpKind::Mul, fresh(fmt::format("{}.recip_newton{}", name, step)), {r.v, u, shift_r});
    }
    r.bound = k2p28 * 1.1;  // r <= 1 (+ rounding): x >= 1
    return r;
  }

  const Graph& src_;
  const QuantRecipe& recipe_;
  const ModeConfig& mode_;
  Annotation ann_;
  bool full_;
  ConvertInfo* info_;
  Graph out_;
  std::vector<ValueId> float_of_;
  std::vector<Repr> int_of_;
  std::map<int32_t, Repr> q_cache_;
  std::map<std::pair<int32_t, double>, Repr> static_cache_;
  std::map<std::string, ValueId> weights_;
  std::map<int32_t, const std::vector<float>*> kv_scales_of_;  // static-KV cache updates → scales
  std::set<int32_t> int8_cache_inputs_;                        // their cache inputs
  std::map<int32_t, ValueId> int8_cache_of_;                   // their int8 cache results
};

}  // namespace

Graph convert(const Graph& graph, const QuantRecipe& recipe, ConvertInfo* info) {
  return Converter(graph, recipe, info).run();
}

}  // namespace l2n::quant
