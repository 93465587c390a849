#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/integer_ops.h"

namespace l2n::quant {
namespace {

// Runs f and expects an l2n::Error whose message starts with "internal:".
template <typename F>
void expect_internal(F&& f) {
  try {
    f();
    ADD_FAILURE() << "expected an internal error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("internal:", 0), 0u) << e.what();
  }
}

// ---------------------------------------------------------------------------------------
// apply_scale_32 / apply_scale_16

TEST(ApplyScale32, RoundsHalfUpTowardsPlusInfinity) {
  // multiplier 2^30, shift 31: ×0.5.
  EXPECT_EQ(apply_scale_32(5, 1 << 30, 31, false), 3);    // 2.5 → 3
  EXPECT_EQ(apply_scale_32(-5, 1 << 30, 31, false), -2);  // −2.5 → −2
  EXPECT_EQ(apply_scale_32(-3, 1 << 30, 31, false), -1);  // −1.5 → −1
  EXPECT_EQ(apply_scale_32(-4, 1 << 30, 31, false), -2);
  EXPECT_EQ(apply_scale_32(7, 1 << 30, 30, false), 7);    // ×1.0
  EXPECT_EQ(apply_scale_32(INT32_MAX, INT32_MAX, 62, false), 1);  // ≈ 2^62/2^62
  // double_round only matters with shift > 31.
  EXPECT_EQ(apply_scale_32(-5, 1 << 30, 31, true), -2);
}

TEST(ApplyScale32, DoubleRoundIsTwoStageRounding) {
  // ×2^-10 (multiplier 2^30, shift 40): single round is (v + 512) >> 10, double round moves
  // the constant by ±2^30/2^30 = ±1 LSB before the shift, like gemmlowp's
  // SaturatingRoundingDoublingHighMul + RoundingDivideByPOT (both away from zero at ties).
  EXPECT_EQ(apply_scale_32(511, 1 << 30, 40, false), 0);
  EXPECT_EQ(apply_scale_32(511, 1 << 30, 40, true), 1);     // 255.5 → 256, 256/512 = 0.5 → 1
  EXPECT_EQ(apply_scale_32(-512, 1 << 30, 40, false), 0);   // −0.5 → 0 (half up)
  EXPECT_EQ(apply_scale_32(-512, 1 << 30, 40, true), -1);   // −256/512 = −0.5 → −1 (away)
  EXPECT_EQ(apply_scale_32(512, 1 << 30, 40, true), 1);
  EXPECT_EQ(apply_scale_32(1536, 1 << 30, 40, true), 2);
}

TEST(ApplyScale32, Requires) {
  expect_internal([] { apply_scale_32(1, -1, 30, false); });
  expect_internal([] { apply_scale_32(1, 1 << 30, 1, false); });
  expect_internal([] { apply_scale_32(1, 1 << 30, 63, false); });
  // shift 20 bounds the value to [−2^19, 2^19).
  EXPECT_EQ(apply_scale_32(-(1 << 19), 1 << 30, 20, false), -(1 << 29));
  expect_internal([] { apply_scale_32(1 << 19, 1 << 30, 20, false); });
}

TEST(ApplyScale16, Int48InputRoundsHalfUp) {
  EXPECT_EQ(apply_scale_16(3, 1 << 14, 15), 2);    // 1.5 → 2
  EXPECT_EQ(apply_scale_16(-3, 1 << 14, 15), -1);  // −1.5 → −1
  const int64_t big = (int64_t{1} << 46) + 12345;  // an int48 accumulator
  EXPECT_EQ(apply_scale_16(big, 1 << 14, 14 + 20), static_cast<int32_t>(((big << 14) + (int64_t{1} << 33)) >> 34));
  EXPECT_EQ(apply_scale_16(-5, 1 << 14, 15), -2);  // −2.5 → −2
  expect_internal([] { apply_scale_16(int64_t{1} << 46, 32767, 2); });  // result leaves int32
  expect_internal([] { apply_scale_16(int64_t{1} << 47, 1, 30); });     // not an int48
  expect_internal([] { apply_scale_16(1, 32768, 30); });                // not an int16 multiplier
}

// ---------------------------------------------------------------------------------------
// compute_multiplier

TEST(ComputeMultiplier, NormalisedForms) {
  EXPECT_EQ(compute_multiplier(1.0, true), (ScaleMultiplier{1 << 30, 30}));
  EXPECT_EQ(compute_multiplier(1.0, false), (ScaleMultiplier{1 << 14, 14}));
  EXPECT_EQ(compute_multiplier(0.5, true), (ScaleMultiplier{1 << 30, 31}));
  EXPECT_EQ(compute_multiplier(0.75, false), (ScaleMultiplier{3 << 13, 15}));
  EXPECT_EQ(compute_multiplier(0x1p-7, false), (ScaleMultiplier{1 << 14, 21}));
  // A mantissa that rounds up to 2.0 becomes 1.0 with one less shift.
  EXPECT_EQ(compute_multiplier(2.0 - 0x1p-40, true), (ScaleMultiplier{1 << 30, 29}));
  EXPECT_EQ(compute_multiplier(1.0 - 0x1p-20, false), (ScaleMultiplier{1 << 14, 14}));
  // Too small for shift 62: denormalised multiplier, fewer significant bits.
  EXPECT_EQ(compute_multiplier(0x1p-40, true), (ScaleMultiplier{1 << 22, 62}));
  EXPECT_EQ(compute_multiplier(0x1p-70, true), (ScaleMultiplier{0, 62}));
  EXPECT_EQ(compute_multiplier(0.0, true), (ScaleMultiplier{0, 62}));
  // Too large for shift 2.
  EXPECT_NO_THROW(compute_multiplier(0x1.8p+28, true));
  expect_internal([] { compute_multiplier(0x1p+29, true); });
  expect_internal([] { compute_multiplier(0x1p+13, false); });
  expect_internal([] { compute_multiplier(-1.0, true); });
  expect_internal([] { compute_multiplier(std::nan(""), true); });
}

TEST(ComputeMultiplier, RoundTripsWithinHalfAnUlpOfTheMultiplier) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-47, 12);
  for (int i = 0; i < 20000; ++i) {
    const double scale = std::ldexp(mant(rng), expo(rng));
    for (bool scale32 : {true, false}) {
      if (!scale32 && scale >= 0x1p+13) continue;
      const ScaleMultiplier m = compute_multiplier(scale, scale32);
      ASSERT_GE(m.shift, 2);
      ASSERT_LE(m.shift, 62);
      EXPECT_LE(std::fabs(m.value() - scale), std::ldexp(0.5, -m.shift)) << scale;
      if (m.shift < 62) {
        EXPECT_GE(m.multiplier, scale32 ? (1 << 30) : (1 << 14)) << scale;
        EXPECT_LE(m.multiplier, scale32 ? INT32_MAX : (1 << 15) - 1) << scale;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// RESCALE

TEST(Rescale, ZeroPointsClipAndValidation) {
  RescaleAttrs a;
  a.in_dtype = QDType::I32;
  a.out_dtype = QDType::I8;
  a.output_zp = -5;
  const ScaleMultiplier half = compute_multiplier(0.5, true);
  EXPECT_NO_THROW(validate_rescale(a, std::span(&half, 1)));
  EXPECT_EQ(rescale(7, half, a), -1);      // 3.5 → 4, − 5
  EXPECT_EQ(rescale(-7, half, a), -8);     // −3.5 → −3, − 5
  EXPECT_EQ(rescale(1000, half, a), 127);  // saturates
  EXPECT_EQ(rescale(-1000, half, a), -128);
  RescaleAttrs in8;
  in8.in_dtype = QDType::I8;
  in8.out_dtype = QDType::I16;
  in8.input_zp = -128;
  const ScaleMultiplier x100 = compute_multiplier(100.0, true);
  EXPECT_EQ(rescale(127, x100, in8), 25500);
  EXPECT_EQ(rescale(-128, x100, in8), 0);

  RescaleAttrs bad = a;
  bad.in_dtype = QDType::I48;
  expect_internal([&] { validate_rescale(bad, std::span(&half, 1)); });  // int48 needs scale32 = false
  bad = a;
  bad.scale32 = false;
  bad.rounding = RoundingMode::Double;
  const ScaleMultiplier half16 = compute_multiplier(0.5, false);
  expect_internal([&] { validate_rescale(bad, std::span(&half16, 1)); });
  bad = a;
  bad.rounding = RoundingMode::Inexact;
  expect_internal([&] { validate_rescale(bad, std::span(&half, 1)); });
  bad = a;
  bad.out_dtype = QDType::I16;  // zero point on int16
  expect_internal([&] { validate_rescale(bad, std::span(&half, 1)); });
  bad = a;
  bad.scale32 = false;  // a 32-bit multiplier with 16-bit scaling
  expect_internal([&] { validate_rescale(bad, std::span(&half, 1)); });
  expect_internal([&] { validate_rescale(a, {}); });
}

// The error is the rounding (half a step) plus |value|·(the multiplier's half ulp): below one
// step for 32-bit multipliers, and up to 2^-15 relative with 16-bit ones (1.5 steps at full
// int16 scale), which is what the int48 → int16 path of TOSA can do.
TEST(Rescale, MatchesFloatWithinOneStepOnRandomInputs) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int32_t> acc32(-(1 << 24), 1 << 24);
  std::uniform_int_distribution<int64_t> acc48(-(int64_t{1} << 40), int64_t{1} << 40);
  std::uniform_real_distribution<double> lg(-24.0, -6.0);
  for (int i = 0; i < 20000; ++i) {
    const double scale = std::exp2(lg(rng));
    // int32 accumulator → int8 with a zero point (the 8a8w linear output).
    RescaleAttrs a{QDType::I32, QDType::I8, true, RoundingMode::Single, 0, 17};
    const int32_t v = acc32(rng);
    const double want = std::clamp(static_cast<double>(v) * scale + 17, -128.0, 127.0);
    const ScaleMultiplier m = compute_multiplier(scale, true);
    EXPECT_LE(std::fabs(rescale(v, m, a) - want), 0.5 + std::fabs(v) * std::ldexp(0.5, -m.shift)) << v << " " << scale;
    EXPECT_LE(std::fabs(rescale(v, m, a) - want), 1.0) << v << " " << scale;
    // int48 accumulator → int16 with a 16-bit multiplier (the 16a8w linear output).
    RescaleAttrs b{QDType::I48, QDType::I16, false, RoundingMode::Single, 0, 0};
    const int64_t w = acc48(rng);
    const double scale48 = scale * 0x1p-16;
    const double want48 = std::clamp(static_cast<double>(w) * scale48, -32768.0, 32767.0);
    const ScaleMultiplier m16 = compute_multiplier(scale48, false);
    EXPECT_LE(std::fabs(rescale(w, m16, b) - want48), 0.5 + std::fabs(static_cast<double>(w)) * std::ldexp(0.5, -m16.shift))
        << w << " " << scale48;
  }
}

// ---------------------------------------------------------------------------------------
// TABLE

double silu(double x) { return x / (1.0 + std::exp(-x)); }

TEST(TableI8, IsQuantizeOfFOfDequantize) {
  const QuantParams in = QuantParams::per_tensor(0.05f, -10, QDType::I8, -128, 127);
  const QuantParams out = QuantParams::per_tensor(0.03f, -90, QDType::I8, -128, 127);
  const TableI8 t = build_table_i8(silu, in, out);
  for (int x = -128; x <= 127; ++x) {
    const double y = silu((x + 10) * static_cast<double>(in.scale()));
    const double want = std::clamp(std::nearbyint(y / out.scale()) - 90, -128.0, 127.0);
    EXPECT_EQ(lookup_i8(static_cast<int8_t>(x), t), want) << x;
    const double back = (lookup_i8(static_cast<int8_t>(x), t) + 90) * static_cast<double>(out.scale());
    if (want > -128 && want < 127) {
      EXPECT_LE(std::fabs(back - y), 0.5 * out.scale() + 1e-9) << x;
    }
  }
  expect_internal([&] { build_table_i8(silu, QuantParams::per_tensor(1, 0, QDType::I16, -32767, 32767), out); });
}

TEST(TableI16, InterpolationIsBaseTimes128PlusSlopeTimesFraction) {
  const double in_scale = 8.0 / 32767, out_scale = 8.0 / 32767;
  const TableI16 t = build_table_i16(silu, in_scale, out_scale);
  for (int i = -256; i <= 256; ++i)
    EXPECT_EQ(t[static_cast<size_t>(i + 256)], std::nearbyint(silu(i * 128 * in_scale) / out_scale)) << i;
  EXPECT_EQ(lookup_i16(-32768, t), t[0] * 128);
  EXPECT_EQ(lookup_i16(32767, t), t[511] * 128 + (t[512] - t[511]) * 127);
  EXPECT_EQ(lookup_i16(0, t), t[256] * 128);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> code(-32768, 32767);
  for (int i = 0; i < 10000; ++i) {
    const int x = code(rng);
    const int index = (x + 32768) / 128;  // x + 32768 >= 0, so / is >>
    const int frac = (x + 32768) % 128;   // == x & 0x7f
    const int base = t[static_cast<size_t>(index)], next = t[static_cast<size_t>(index) + 1];
    EXPECT_EQ(lookup_i16(static_cast<int16_t>(x), t), base * 128 + (next - base) * frac) << x;
  }
}

// The 7-fractional-bit output, read in output units, stays within one output step of f for
// functions smooth enough at these scales (the linear interpolation error over 128 codes is
// below half a step here, the entry rounding adds at most half a step).
void expect_table_close(const char* name, const RealFunction& f, double in_scale, double out_scale, int lo, int hi) {
  SCOPED_TRACE(name);
  const TableI16 t = build_table_i16(f, in_scale, out_scale);
  double worst = 0;
  for (int x = lo; x <= hi; ++x) {
    const double got = lookup_i16(static_cast<int16_t>(x), t) / 128.0;
    const double want = std::clamp(f(x * in_scale) / out_scale, -32768.0, 32767.0);
    worst = std::max(worst, std::fabs(got - want));
  }
  EXPECT_LE(worst, 1.0);
}

TEST(TableI16, ApproximatesExpRsqrtSiluWithinOneOutputStep) {
  expect_table_close("silu", silu, 8.0 / 32767, 8.0 / 32767, -32768, 32767);
  expect_table_close("exp", [](double x) { return std::exp(x); }, 2.0 / 32767, 1.0 / 32767, -32768, 0);
  // rsqrt over one octave of inputs, [8, 16]: a 128-code segment bends by ~3·10^-5 of the
  // value; over a wider input range the top of the output range is lost to interpolation
  // error (about 12 steps for [1, 16]), which is what the quantizer's TABLE ranges must avoid.
  expect_table_close("rsqrt", [](double x) { return x > 0 ? 1.0 / std::sqrt(x) : 1e9; }, 16.0 / 32767,
                     (1.0 / std::sqrt(8.0)) / 32767, 16384, 32767);
  expect_table_close("tanh", [](double x) { return std::tanh(x); }, 2.0 / 32767, 1.0 / 32767, -32768, 32767);
}

TEST(TableI16, RejectsSlopesBeyondInt16) {
  expect_internal([] { build_table_i16([](double x) { return x < 0 ? -1.0 : 1.0; }, 1.0 / 32767, 1.0 / 32767); });
  TableI16 t{};
  t[1] = 32767;
  t[0] = -32768;
  expect_internal([&] { lookup_i16(-32768 + 5, t); });
}

// ---------------------------------------------------------------------------------------
// MUL, ADD, SUB, clips

TEST(MulI32, ShiftRoundsHalfUpAndRequiresInt32) {
  EXPECT_EQ(mul_i32(3, 5, 1), 8);    // 7.5 → 8
  EXPECT_EQ(mul_i32(-3, 5, 1), -7);  // −7.5 → −7
  EXPECT_EQ(mul_i32(1 << 20, 1 << 20, 20), 1 << 20);
  EXPECT_EQ(mul_i32(65536, 65536, 0), 0);  // shift 0 keeps the low 32 bits
  EXPECT_EQ(mul_i32(-7, 6, 0), -42);
  expect_internal([] { mul_i32(INT32_MAX, 4, 1); });
  expect_internal([] { mul_i32(1, 1, 64); });
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int32_t> v(-(1 << 20), 1 << 20);
  std::uniform_int_distribution<int> s(1, 30);
  for (int i = 0; i < 10000; ++i) {
    const int32_t a = v(rng), b = v(rng);
    const int shift = s(rng);
    const double real = static_cast<double>(a) * b / std::ldexp(1.0, shift);
    if (std::fabs(real) >= 2147483647.0) continue;
    EXPECT_LE(std::fabs(mul_i32(a, b, shift) - real), 0.5) << a << " " << b << " " << shift;
  }
}

TEST(AddSubClip, Int32RequiresAndSaturatingClips) {
  EXPECT_EQ(add_i32(INT32_MAX - 1, 1), INT32_MAX);
  expect_internal([] { add_i32(INT32_MAX, 1); });
  EXPECT_EQ(sub_i32(INT32_MIN + 1, 1), INT32_MIN);
  expect_internal([] { sub_i32(INT32_MIN, 1); });
  EXPECT_EQ(clip_i8(300), 127);
  EXPECT_EQ(clip_i8(-300), -128);
  EXPECT_EQ(clip_i16(-40000), -32768);
  EXPECT_EQ(clip_i16(123), 123);
  EXPECT_EQ(clip_i32(int64_t{1} << 40), INT32_MAX);
  EXPECT_EQ(clip_to(int64_t{1} << 50, QDType::I48), kInt48Max);
  EXPECT_EQ(require_i48(kInt48Min, "test"), kInt48Min);
  expect_internal([] { require_i48(kInt48Max + 1, "test"); });
}

// ---------------------------------------------------------------------------------------
// Accumulation

TEST(Dot, MatchesWideReferenceAndChecksOverflow) {
  std::mt19937_64 rng(13);
  std::uniform_int_distribution<int> i8(-128, 127), i16(-32768, 32767);
  for (int64_t n : {0, 1, 7, 255, 256, 257, 4099}) {
    std::vector<int8_t> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    std::vector<int16_t> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      a[static_cast<size_t>(i)] = static_cast<int8_t>(i8(rng));
      b[static_cast<size_t>(i)] = static_cast<int8_t>(i8(rng));
      x[static_cast<size_t>(i)] = static_cast<int16_t>(i16(rng));
      y[static_cast<size_t>(i)] = static_cast<int16_t>(i16(rng));
    }
    int64_t r8 = 0, r168 = 0, r1616 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      r8 += (a[k] - 3) * (b[k] + 7);
      r168 += static_cast<int64_t>(x[k]) * (b[k] - 2);
      r1616 += static_cast<int64_t>(x[k]) * y[k];
    }
    EXPECT_EQ(dot_i8(a.data(), b.data(), n, 3, -7), r8) << n;
    EXPECT_EQ(dot_i16_i8(x.data(), b.data(), n, 2), r168) << n;
    EXPECT_EQ(dot_i16_i16(x.data(), y.data(), n), r1616) << n;
  }
  // 40000 products of −255·255 leave int32: a TOSA REQUIRE.
  const std::vector<int8_t> lo(40000, -128), hi(40000, 127);
  expect_internal([&] { dot_i8(lo.data(), hi.data(), 40000, 127, -128); });
  EXPECT_EQ(add_bias_i48(kInt48Max - 5, 5), kInt48Max);
  expect_internal([] { add_bias_i48(kInt48Max, 1); });
}

}  // namespace
}  // namespace l2n::quant
