#include "quant/integer_ops.h"

#include <algorithm>
#include <cmath>

namespace l2n::quant {

void detail::require_failed(const char* op, const char* condition, int64_t a, int64_t b, int64_t c) {
  fail("internal: {}: TOSA REQUIRE '{}' does not hold (operands {}, {}, {}); the quantized parameters are wrong",
       op, condition, a, b, c);
}

double ScaleMultiplier::value() const { return std::ldexp(static_cast<double>(multiplier), -shift); }

ScaleMultiplier compute_multiplier(double scale, bool scale32) {
  if (!std::isfinite(scale) || scale < 0.0)
    fail("internal: scale {} cannot be a RESCALE multiplier (it must be finite and >= 0)", scale);
  if (scale == 0.0) return {0, 62};
  const int bits = scale32 ? 31 : 15;  // the multiplier is below 2^bits
  int exponent = 0;
  const double mantissa = std::frexp(scale, &exponent);  // scale = mantissa·2^exponent, mantissa in [0.5, 1)
  double multiplier = std::nearbyint(std::ldexp(mantissa, bits));
  int shift = bits - exponent;
  if (multiplier == std::ldexp(1.0, bits)) {
    multiplier /= 2.0;
    --shift;
  }
  if (shift > 62) {
    multiplier = std::nearbyint(std::ldexp(scale, 62));
    shift = 62;
  }
  if (shift < 2)
    fail("internal: scale {} is too large for a {}-bit RESCALE multiplier (it must stay below 2^{})", scale,
         scale32 ? 32 : 16, bits - 2);
  return {static_cast<int32_t>(multiplier), static_cast<int8_t>(shift)};
}

void validate_rescale(const RescaleAttrs& a, std::span<const ScaleMultiplier> multipliers) {
  if (a.out_dtype == QDType::I48) fail("internal: RESCALE cannot produce int48");
  if (a.scale32 && a.in_dtype == QDType::I48)
    fail("internal: RESCALE of an int48 input must use 16-bit multipliers (scale32 = false)");
  if (a.rounding == RoundingMode::Double && !a.scale32)
    fail("internal: RESCALE DOUBLE_ROUND needs 32-bit multipliers (scale32 = true)");
  if (a.rounding == RoundingMode::Inexact) fail("internal: RESCALE INEXACT_ROUND is not bit-exact and is never emitted");
  if (a.input_zp != 0 && a.in_dtype != QDType::I8)
    fail("internal: RESCALE input zero point {} on {} (only int8 may have one)", a.input_zp, qdtype_name(a.in_dtype));
  if (a.output_zp != 0 && a.out_dtype != QDType::I8)
    fail("internal: RESCALE output zero point {} on {} (only int8 may have one)", a.output_zp,
         qdtype_name(a.out_dtype));
  if (a.input_zp < -128 || a.input_zp > 127 || a.output_zp < -128 || a.output_zp > 127)
    fail("internal: RESCALE zero points {}, {} outside int8", a.input_zp, a.output_zp);
  if (multipliers.empty()) fail("internal: RESCALE without multipliers");
  const int32_t max_multiplier = a.scale32 ? INT32_MAX : 32767;
  for (const ScaleMultiplier& m : multipliers) {
    if (m.multiplier < 0 || m.multiplier > max_multiplier)
      fail("internal: RESCALE multiplier {} outside [0, {}]", m.multiplier, max_multiplier);
    if (m.shift < 2 || m.shift > 62) fail("internal: RESCALE shift {} outside [2, 62]", m.shift);
  }
}

// ---------------------------------------------------------------------------------------
// TABLE

TableI8 build_table_i8(const RealFunction& f, const QuantParams& in, const QuantParams& out) {
  for (const QuantParams* qp : {&in, &out})
    if (qp->dtype != QDType::I8 || qp->per_channel() || qp->scales.size() != 1 || qp->zero_points.size() != 1)
      fail("internal: an int8 TABLE needs per-tensor int8 parameters, got {}", to_string(*qp));
  const double in_scale = in.scale(), out_scale = out.scale();
  TableI8 table{};
  for (int64_t x = -128; x <= 127; ++x) {
    const int64_t code = std::clamp<int64_t>(x, in.qmin, in.qmax);
    const double y = f(static_cast<double>(code - in.zero_point()) * in_scale);
    // NaN: f is undefined there (e.g. rsqrt of a negative code the calibrated data never
    // reaches); the entry must be something, the output zero point is the neutral choice.
    const double q = std::isnan(y) ? out.zero_point() : std::nearbyint(y / out_scale) + out.zero_point();
    table[static_cast<size_t>(x + 128)] = static_cast<int8_t>(
        std::clamp(q, static_cast<double>(out.qmin), static_cast<double>(out.qmax)));
  }
  return table;
}

TableI16 build_table_i16(const RealFunction& f, double in_scale, double out_scale) {
  if (!(in_scale > 0.0) || !(out_scale > 0.0) || !std::isfinite(in_scale) || !std::isfinite(out_scale))
    fail("internal: int16 TABLE scales {} and {} must be positive", in_scale, out_scale);
  TableI16 table{};
  for (int64_t i = -256; i <= 256; ++i) {
    const double y = f(static_cast<double>(i * 128) * in_scale);
    const double q = std::isnan(y) ? 0.0 : std::nearbyint(y / out_scale);  // NaN: as in build_table_i8
    table[static_cast<size_t>(i + 256)] = static_cast<int16_t>(std::clamp(q, -32768.0, 32767.0));
  }
  for (size_t k = 0; k + 1 < table.size(); ++k) {
    const int32_t slope = static_cast<int32_t>(table[k + 1]) - table[k];
    if (slope < -32768 || slope > 32767)
      fail("internal: int16 TABLE entries {} and {} differ by {}, more than an int16 slope can hold; the "
           "function is too steep for input scale {} and output scale {}",
           k, k + 1, slope, in_scale, out_scale);
  }
  return table;
}

// ---------------------------------------------------------------------------------------
// Accumulation

int32_t dot_i8(const int8_t* a, const int8_t* b, int64_t n, int32_t a_zp, int32_t b_zp) {
  // |(a − a_zp)(b − b_zp)| <= 255² = 65025, and 2^15·65025 < 2^31: no partial sum of up to
  // 2^15 terms can leave int32, so the fast loop needs no checks.
  if (n <= (int64_t{1} << 15)) {
    int32_t acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += (static_cast<int32_t>(a[i]) - a_zp) * (static_cast<int32_t>(b[i]) - b_zp);
    return acc;
  }
  int64_t acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc += static_cast<int64_t>(static_cast<int32_t>(a[i]) - a_zp) * (static_cast<int32_t>(b[i]) - b_zp);
    if (acc < INT32_MIN || acc > INT32_MAX) detail::require_failed("CONV2D/MATMUL int32 accumulator", "acc fits int32", acc, i, n);
  }
  return static_cast<int32_t>(acc);
}

int64_t dot_i16_i8(const int16_t* a, const int8_t* b, int64_t n, int32_t b_zp) {
  // |a·(b − b_zp)| <= 32768·255 < 2^23: a block of 256 terms fits int32 (and vectorises), and
  // no partial sum of up to 2^24 terms can leave int48.
  constexpr int64_t kBlock = 256;
  const bool checked = n > (int64_t{1} << 24);
  int64_t acc = 0;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    if (checked) {
      for (int64_t i = start; i < end; ++i)
        require_i48(acc += static_cast<int64_t>(a[i]) * (static_cast<int32_t>(b[i]) - b_zp), "CONV2D int48 accumulator");
      continue;
    }
    int32_t block = 0;
    for (int64_t i = start; i < end; ++i) block += static_cast<int32_t>(a[i]) * (static_cast<int32_t>(b[i]) - b_zp);
    acc += block;
  }
  return acc;
}

int64_t dot_i16_i16(const int16_t* a, const int16_t* b, int64_t n) {
  // |a·b| <= 2^30: no partial sum of up to 2^17 terms can leave int48.
  int64_t acc = 0;
  if (n <= (int64_t{1} << 17)) {
    for (int64_t i = 0; i < n; ++i) acc += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
    return acc;
  }
  for (int64_t i = 0; i < n; ++i)
    require_i48(acc += static_cast<int64_t>(a[i]) * b[i], "MATMUL int48 accumulator");
  return acc;
}

}  // namespace l2n::quant
