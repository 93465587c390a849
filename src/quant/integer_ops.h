// The integer semantics of every quantized op, in exactly one place: the TOSA integer
// interpreter executes with these functions and the quantizer computes its parameters
// (multipliers, tables) with them, so the two cannot drift apart.
//
// Contract (facts: ../shared/docs/reference/tosa-1.0-facts.md §2–§4; TOSA 1.0 pseudocode
// scale_helpers / RESCALE / TABLE / MUL / arithmetic_helpers):
//  * Each function computes bit for bit what the TOSA 1.0 pseudocode computes. int48 values
//    are held in int64_t and checked to fit 48 bits wherever TOSA stores an int48.
//  * A TOSA REQUIRE that fails (the result is unpredictable on hardware) and an ERROR_IF
//    (the graph is invalid) both throw l2n::Error "internal: ...": the quantizer must never
//    produce such values, so reaching one is a bug in this program, not a user error.
//  * The per-element functions are inline and cheap; their failure paths are out of line.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>

#include "quant/qparams.h"

namespace l2n::quant {

constexpr int64_t kInt48Min = -(int64_t{1} << 47);
constexpr int64_t kInt48Max = (int64_t{1} << 47) - 1;

namespace detail {
[[noreturn]] void require_failed(const char* op, const char* condition, int64_t a, int64_t b, int64_t c);
}  // namespace detail

// Saturating clips (apply_clip_s to the range of the type).
inline int8_t clip_i8(int64_t v) { return static_cast<int8_t>(v < -128 ? -128 : v > 127 ? 127 : v); }
inline int16_t clip_i16(int64_t v) { return static_cast<int16_t>(v < -32768 ? -32768 : v > 32767 ? 32767 : v); }
inline int32_t clip_i32(int64_t v) {
  return static_cast<int32_t>(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
}
inline int64_t clip_to(int64_t v, QDType t) {
  const int64_t lo = qdtype_min(t), hi = qdtype_max(t);
  return v < lo ? lo : v > hi ? hi : v;
}

// REQUIRE(kInt48Min <= v <= kInt48Max): what TOSA demands of every int48 accumulator and
// bias value.
inline int64_t require_i48(int64_t v, const char* op) {
  if (v < kInt48Min || v > kInt48Max) detail::require_failed(op, "value fits int48", v, kInt48Min, kInt48Max);
  return v;
}

// ---------------------------------------------------------------------------------------
// Scaling (scale_helpers.tosac)

// apply_scale_32: (value·multiplier + 2^(shift−1)) >> shift, i.e. round half up (towards
// +inf). With double_round and shift > 31 the rounding constant is moved by ±2^30 (by the
// sign of value), which reproduces gemmlowp's two-stage rounding. REQUIREs multiplier >= 0,
// 2 <= shift <= 62 and −2^(shift−1) <= value < 2^(shift−1) (which keeps the result in int32).
inline int32_t apply_scale_32(int32_t value, int32_t multiplier, int shift, bool double_round) {
  if (multiplier < 0) detail::require_failed("apply_scale_32", "multiplier >= 0", multiplier, 0, 0);
  if (shift < 2 || shift > 62) detail::require_failed("apply_scale_32", "2 <= shift <= 62", shift, 2, 62);
  const int64_t half = int64_t{1} << (shift - 1);
  if (value < -half || value >= half)
    detail::require_failed("apply_scale_32", "-2^(shift-1) <= value < 2^(shift-1)", value, shift, 0);
  int64_t round = half;
  if (double_round && shift > 31) round += value >= 0 ? (int64_t{1} << 30) : -(int64_t{1} << 30);
  return static_cast<int32_t>((static_cast<int64_t>(value) * multiplier + round) >> shift);
}

// apply_scale_16: value is an int48 (e.g. a 16x8 accumulator), multiplier an int16 >= 0;
// single round half up. REQUIREs 2 <= shift <= 62 and a result that fits int32.
inline int32_t apply_scale_16(int64_t value, int32_t multiplier, int shift) {
  if (multiplier < 0 || multiplier > 32767)
    detail::require_failed("apply_scale_16", "0 <= multiplier <= 32767", multiplier, 0, 32767);
  if (shift < 2 || shift > 62) detail::require_failed("apply_scale_16", "2 <= shift <= 62", shift, 2, 62);
  require_i48(value, "apply_scale_16");
  const int64_t result = (value * multiplier + (int64_t{1} << (shift - 1))) >> shift;
  if (result < INT32_MIN || result > INT32_MAX)
    detail::require_failed("apply_scale_16", "result fits int32", result, value, multiplier);
  return static_cast<int32_t>(result);
}

// A real scale as multiplier·2^-shift.
struct ScaleMultiplier {
  int32_t multiplier = 1 << 30;
  int8_t shift = 30;

  double value() const;  // multiplier·2^-shift
  bool operator==(const ScaleMultiplier&) const = default;
};

// Normalised as the RESCALE of the Arm backend does it: with scale = m·2^-n, 1 <= m < 2,
//   scale32:  multiplier = round(m·2^30) in [2^30, 2^31), shift = 30 + n;
//   16-bit:   multiplier = round(m·2^14) in [2^14, 2^15), shift = 14 + n;
// round is half to even (Python round() upstream); a mantissa that rounds up to 2.0 becomes
// 1.0 with shift − 1. So |multiplier·2^-shift − scale| <= 2^-(shift+1).
// Scales too small for shift <= 62 (below ~2^-32 resp. 2^-48) keep shift 62 and a
// denormalised multiplier round(scale·2^62) (fewer significant bits, possibly 0; the Arm
// backend truncates there instead). Scale 0 gives multiplier 0. Scales too large for
// shift >= 2 (>= 2^29 resp. 2^13), negative or non-finite scales throw "internal: ...".
ScaleMultiplier compute_multiplier(double scale, bool scale32);

// ---------------------------------------------------------------------------------------
// RESCALE (RESCALE.tosac). Signed types only (input_unsigned/output_unsigned = false).

enum class RoundingMode : uint8_t { Single = 1, Inexact = 2, Double = 3 };  // the TOSA enum values

struct RescaleAttrs {
  QDType in_dtype = QDType::I32;  // I8, I16, I32 or I48
  QDType out_dtype = QDType::I8;  // I8, I16 or I32
  bool scale32 = true;            // int32 multipliers / apply_scale_32; false: int16 / apply_scale_16
  RoundingMode rounding = RoundingMode::Single;
  int32_t input_zp = 0;   // non-zero only for int8
  int32_t output_zp = 0;  // non-zero only for int8
};

// The ERROR_IF rules of one RESCALE: scale32 with an int48 input, DOUBLE_ROUND without
// scale32, INEXACT_ROUND (never emitted: not bit-exact), zero points on non-int8 types or
// outside their type, multipliers/shifts outside the ranges of apply_scale_*.
void validate_rescale(const RescaleAttrs& attrs, std::span<const ScaleMultiplier> multipliers);

// One element: value − input_zp (48-bit), apply_scale_32/16, + output_zp (REQUIRE: fits
// int32, no saturation), then clip to out_dtype. `value` must be a value of in_dtype.
inline int32_t rescale(int64_t value, ScaleMultiplier m, const RescaleAttrs& a) {
  const int64_t v = value - a.input_zp;
  const int32_t scaled = a.scale32 ? apply_scale_32(static_cast<int32_t>(v), m.multiplier, m.shift,
                                                    a.rounding == RoundingMode::Double)
                                   : apply_scale_16(v, m.multiplier, m.shift);
  const int64_t with_zp = static_cast<int64_t>(scaled) + a.output_zp;
  if (with_zp < INT32_MIN || with_zp > INT32_MAX)
    detail::require_failed("RESCALE", "result + output_zp fits int32", with_zp, scaled, a.output_zp);
  return static_cast<int32_t>(clip_to(with_zp, a.out_dtype));
}

// ---------------------------------------------------------------------------------------
// TABLE (TABLE.tosac, apply_lookup_s)

using TableI8 = std::array<int8_t, 256>;
using TableI16 = std::array<int16_t, 513>;
using RealFunction = std::function<double(double)>;

// out[x + 128] = quantize_out(f(dequantize_in(clamp(x, in.qmin, in.qmax)))) for x in
// −128..127, evaluated in double: clamp(round_half_even(f((x − zp_in)·s_in) / s_out) + zp_out,
// out.qmin, out.qmax). Both parameter sets must be per-tensor int8.
TableI8 build_table_i8(const RealFunction& f, const QuantParams& in, const QuantParams& out);

// table[i + 256] = clip_s16(round_half_even(f(i·128·in_scale) / out_scale)) for i in
// −256..256 (entry k samples input code (k − 256)·128; the last one, code 32768, is what the
// interpolation of the top segment needs). Throws "internal: ..." if two neighbouring
// entries differ by more than int16 (the slope REQUIRE of apply_lookup_s) or f is not finite.
TableI16 build_table_i16(const RealFunction& f, double in_scale, double out_scale);

inline int8_t lookup_i8(int8_t x, const TableI8& table) { return table[static_cast<size_t>(x + 128)]; }

// apply_lookup_s: index = (x + 32768) >> 7, fraction = x & 0x7f,
// result = base·2^7 + (next − base)·fraction: the interpolated table value with 7
// fractional bits (a 23-bit int32). REQUIREs |next − base| to fit int16.
inline int32_t lookup_i16(int16_t x, const TableI16& table) {
  const int32_t index = (static_cast<int32_t>(x) + 32768) >> 7;
  const int32_t fraction = static_cast<int32_t>(x) & 0x7f;
  const int32_t base = table[static_cast<size_t>(index)];
  const int32_t next = table[static_cast<size_t>(index) + 1];
  const int32_t slope = next - base;
  if (slope < -32768 || slope > 32767) detail::require_failed("TABLE", "slope fits int16", slope, index, 0);
  return base * 128 + slope * fraction;
}

// ---------------------------------------------------------------------------------------
// Elementwise int32 arithmetic (MUL.tosac, apply_add_s / apply_sub_s)

// MUL of int32 operands. shift > 0: the 64-bit product rounded half up at bit shift−1,
// REQUIRE: fits int32. shift == 0: the low 32 bits of the product (TOSA wraps there).
// int8/int16 operands are exact (shift must be 0): widen them and call this with shift 0.
inline int32_t mul_i32(int32_t a, int32_t b, int shift) {
  if (shift < 0 || shift > 63) detail::require_failed("MUL", "0 <= shift <= 63", shift, 0, 63);
  const int64_t product = static_cast<int64_t>(a) * b;
  if (shift == 0) return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(product)));
  const int64_t rounded = (product + (int64_t{1} << (shift - 1))) >> shift;
  if (rounded < INT32_MIN || rounded > INT32_MAX)
    detail::require_failed("MUL", "rounded product fits int32", rounded, a, b);
  return static_cast<int32_t>(rounded);
}

inline int32_t add_i32(int32_t a, int32_t b) {
  const int64_t c = static_cast<int64_t>(a) + b;
  if (c < INT32_MIN || c > INT32_MAX) detail::require_failed("ADD", "sum fits int32", c, a, b);
  return static_cast<int32_t>(c);
}

inline int32_t sub_i32(int32_t a, int32_t b) {
  const int64_t c = static_cast<int64_t>(a) - b;
  if (c < INT32_MIN || c > INT32_MAX) detail::require_failed("SUB", "difference fits int32", c, a, b);
  return static_cast<int32_t>(c);
}

// ---------------------------------------------------------------------------------------
// Accumulation (CONV2D / MATMUL inner products: acc = apply_add_s<acc_t>(acc, a·b))

// Σ (a[i] − a_zp)(b[i] − b_zp) in int32 (the 8x8 accumulator). REQUIRE: every partial sum
// fits int32 (checked exactly; for n <= 2^15 no partial sum can overflow).
int32_t dot_i8(const int8_t* a, const int8_t* b, int64_t n, int32_t a_zp = 0, int32_t b_zp = 0);
// Σ a[i]·(b[i] − b_zp) in int48 (the 16x8 accumulator; int16 activations have zp 0).
int64_t dot_i16_i8(const int16_t* a, const int8_t* b, int64_t n, int32_t b_zp = 0);
// Σ a[i]·b[i] in int48 (the 16x16 MATMUL accumulator).
int64_t dot_i16_i16(const int16_t* a, const int16_t* b, int64_t n);

// acc + bias in the accumulator type (REQUIRE: no overflow).
inline int32_t add_bias_i32(int32_t acc, int32_t bias) { return add_i32(acc, bias); }
inline int64_t add_bias_i48(int64_t acc, int64_t bias) {
  return require_i48(require_i48(acc, "bias add") + require_i48(bias, "bias add"), "bias add");
}

}  // namespace l2n::quant
