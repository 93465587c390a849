#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "quant/modes.h"
#include "quant/qparams.h"

namespace l2n::quant {
namespace {

const QuantSpec& act8() { return find_quant_mode("tosa_8a8w").activation; }
const QuantSpec& act16() { return find_quant_mode("ethosu_16a8w").activation; }
const QuantSpec& weight8() { return find_quant_mode("tosa_8a8w").weight; }

QuantSpec per_tensor_weight() {
  QuantSpec s = weight8();
  s.qscheme = QScheme::PerTensorSymmetric;
  s.ch_axis = -1;
  s.observer = ObserverKind::MinMax;
  return s;
}

TEST(QuantParams, SymmetricInt8RestrictedRangeDividesBy127) {
  const QuantParams qp = calculate_qparams(-0.5f, 2.54f, per_tensor_weight());
  EXPECT_EQ(qp.scale(), 2.54f / 127.0f);
  EXPECT_EQ(qp.zero_point(), 0);
  EXPECT_EQ(qp.qmin, -127);
  EXPECT_FALSE(qp.per_channel());
  // The negative side can be the larger one.
  EXPECT_EQ(calculate_qparams(-3.0f, 1.0f, per_tensor_weight()).scale(), 3.0f / 127.0f);
  // Unrestricted int8 −128..127 divides by 127.5.
  QuantSpec full = per_tensor_weight();
  full.qmin = -128;
  EXPECT_EQ(calculate_qparams(-1.0f, 2.55f, full).scale(), 2.55f / 127.5f);
}

TEST(QuantParams, SymmetricInt16DividesBy32767AndFloorsAtEps) {
  EXPECT_EQ(calculate_qparams(-100.0f, 20.0f, act16()).scale(), 100.0f / 32767.0f);
  EXPECT_EQ(calculate_qparams(-100.0f, 20.0f, act16()).zero_point(), 0);
  // amax < 32767·2^-12 ≈ 8: the eps floor wins, so every such tensor gets scale 2^-12.
  EXPECT_EQ(calculate_qparams(-1.0f, 1.0f, act16()).scale(), 0x1p-12f);
  EXPECT_EQ(calculate_qparams(0.0f, 7.99f, act16()).scale(), 0x1p-12f);
  EXPECT_EQ(calculate_qparams(0.0f, 8.01f, act16()).scale(), 8.01f / 32767.0f);
}

TEST(QuantParams, AffineInt8ZeroPoint) {
  // scale = 4/255, −min/scale = 63.75 → 64, zp = −128 + 64.
  const QuantParams qp = calculate_qparams(-1.0f, 3.0f, act8());
  EXPECT_EQ(qp.scale(), 4.0f / 255.0f);
  EXPECT_EQ(qp.zero_point(), -64);
  // An exact tie rounds half to even: scale 63.75/255 = 0.25, −min/scale = 2.5 → 2.
  const QuantParams tie = calculate_qparams(-0.625f, 63.125f, act8());
  EXPECT_EQ(tie.scale(), 0.25f);
  EXPECT_EQ(tie.zero_point(), -126);
  // min > 0: the range is widened to include 0, so zp sits at qmin.
  const QuantParams pos = calculate_qparams(2.0f, 5.0f, act8());
  EXPECT_EQ(pos.scale(), 5.0f / 255.0f);
  EXPECT_EQ(pos.zero_point(), -128);
  // max < 0: zp at qmax.
  const QuantParams neg = calculate_qparams(-4.0f, -1.0f, act8());
  EXPECT_EQ(neg.scale(), 4.0f / 255.0f);
  EXPECT_EQ(neg.zero_point(), 127);
}

TEST(QuantParams, EpsClampAndAllZeroInput) {
  const QuantParams tiny = calculate_qparams(0.0f, 1e-4f, act8());
  EXPECT_EQ(tiny.scale(), 0x1p-16f);
  EXPECT_EQ(tiny.zero_point(), -128);
  const QuantParams zero = calculate_qparams(0.0f, 0.0f, act8());
  EXPECT_EQ(zero.scale(), 0x1p-16f);
  EXPECT_EQ(zero.zero_point(), -128);
  EXPECT_EQ(calculate_qparams(0.0f, 0.0f, act16()).scale(), 0x1p-12f);
  EXPECT_EQ(calculate_qparams(0.0f, 0.0f, per_tensor_weight()).scale(), 0x1p-16f);
  // Weights: the floor applies below amax = 127·2^-16.
  EXPECT_EQ(calculate_qparams(-0.001f, 0.0f, per_tensor_weight()).scale(), 0x1p-16f);
}

TEST(QuantParams, UnobservedAndInvalidRanges) {
  const float inf = std::numeric_limits<float>::infinity();
  const QuantParams unobserved = calculate_qparams(inf, -inf, act8());
  EXPECT_EQ(unobserved.scale(), 1.0f);
  EXPECT_EQ(unobserved.zero_point(), 0);
  EXPECT_THROW(calculate_qparams(1.0f, 0.0f, act8()), Error);
  EXPECT_THROW(calculate_qparams(std::nanf(""), 0.0f, act8()), Error);
  EXPECT_THROW(calculate_qparams(0.0f, 1.0f, weight8()), Error);  // per-channel spec, per-tensor call
  const QuantParams empty = calculate_qparams(std::vector<float>{}, std::vector<float>{}, weight8());
  EXPECT_EQ(empty.scales, std::vector<float>{1.0f});
}

TEST(QuantParams, PerChannel) {
  const std::vector<float> lo = {-1.0f, 0.0f, -0.5f, 0.0f};
  const std::vector<float> hi = {0.5f, 2.0f, 0.25f, 0.0f};
  const QuantParams qp = calculate_qparams(lo, hi, weight8());
  EXPECT_TRUE(qp.per_channel());
  EXPECT_EQ(qp.axis, 0);
  ASSERT_EQ(qp.channels(), 4);
  EXPECT_EQ(qp.scale(0), 1.0f / 127.0f);
  EXPECT_EQ(qp.scale(1), 2.0f / 127.0f);
  EXPECT_EQ(qp.scale(2), 0.5f / 127.0f);
  EXPECT_EQ(qp.scale(3), 0x1p-16f);
  EXPECT_EQ(qp.zero_points, std::vector<int32_t>(4, 0));
}

TEST(QuantParams, QuantizeRoundsHalfToEvenThenAddsZeroPointAndClamps) {
  const QuantParams qp = QuantParams::per_tensor(0.5f, 3, QDType::I8, -128, 127);
  const Tensor x = Tensor::from_vector<float>({8}, {1.25f, 1.75f, -1.25f, -1.75f, 0.0f, 1000.0f, -1000.0f, 0.24f});
  const Tensor q = quantize(x, qp);
  ASSERT_EQ(q.dtype(), DType::I8);
  const int8_t* v = q.data<int8_t>();
  // 2.5 → 2, 3.5 → 4, −2.5 → −2, −3.5 → −4 (ties to even), + zp 3.
  EXPECT_EQ(v[0], 5);
  EXPECT_EQ(v[1], 7);
  EXPECT_EQ(v[2], 1);
  EXPECT_EQ(v[3], -1);
  EXPECT_EQ(v[4], 3);
  EXPECT_EQ(v[5], 127);
  EXPECT_EQ(v[6], -128);
  EXPECT_EQ(v[7], 3);
  const Tensor d = dequantize(q, qp);
  EXPECT_EQ(d.data<float>()[0], 1.0f);
  EXPECT_EQ(d.data<float>()[5], 62.0f);
  EXPECT_EQ(fake_quantize(x, qp).data<float>()[1], 2.0f);
}

TEST(QuantParams, QuantizeMatchesFloatWithinHalfAStep) {
  const QuantParams qp = calculate_qparams(-3.1f, 7.3f, act8());
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(-3.1f + 10.4f * static_cast<float>(i) / 999.0f);
  const Tensor x = Tensor::from_vector<float>({1000}, values);
  const Tensor d = fake_quantize(x, qp);
  for (int i = 0; i < 1000; ++i) EXPECT_LE(std::fabs(d.data<float>()[i] - values[static_cast<size_t>(i)]), 0.5001f * qp.scale());
}

TEST(QuantParams, PerChannelTensorQuantizeAlongAnyAxis) {
  QuantParams qp;
  qp.dtype = QDType::I8;
  qp.qmin = -127;
  qp.qmax = 127;
  qp.axis = 1;
  qp.scales = {1.0f, 0.5f, 0.25f};
  qp.zero_points = {0, 0, 0};
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 1, 1, -100, -100, -2.5f});
  const Tensor q = quantize(x, qp);
  const int8_t* v = q.data<int8_t>();
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[1], 2);
  EXPECT_EQ(v[2], 4);
  EXPECT_EQ(v[3], -100);
  EXPECT_EQ(v[4], -127);
  EXPECT_EQ(v[5], -10);
  const Tensor d = dequantize(q, qp);
  EXPECT_EQ(d.data<float>()[4], -63.5f);
  qp.scales.pop_back();
  qp.zero_points.pop_back();
  EXPECT_THROW(quantize(x, qp), Error);
}

TEST(QuantParams, Int32AndInt48StorageClampWithoutOverflow) {
  const QuantParams qp = QuantParams::per_tensor(1.0f, 0, QDType::I48, -2147483647, 2147483647);
  const Tensor x = Tensor::from_vector<float>({3}, {3e9f, -3e9f, 12345.0f});
  const Tensor q = quantize(x, qp);
  ASSERT_EQ(q.dtype(), DType::I64);
  EXPECT_EQ(q.data<int64_t>()[0], 2147483647);
  EXPECT_EQ(q.data<int64_t>()[1], -2147483647);
  EXPECT_EQ(q.data<int64_t>()[2], 12345);
  const QuantParams q32 = QuantParams::per_tensor(1.0f, 0, QDType::I32, -2147483647, 2147483647);
  EXPECT_EQ(quantize(x, q32).data<int32_t>()[0], 2147483647);
}

TEST(QuantParams, BiasScaleIsActivationTimesWeightScale) {
  const QuantParams act = QuantParams::per_tensor(0.1f, -3, QDType::I8, -128, 127);
  const QuantParams w = calculate_qparams(std::vector<float>{-1.0f, -2.0f}, std::vector<float>{1.0f, 0.5f}, weight8());
  const BiasSpec bias = find_quant_mode("ethosu_16a8w").bias;
  const QuantParams b = derive_bias_qparams(act, w, bias.dtype, bias.qmin, bias.qmax);
  EXPECT_EQ(b.dtype, QDType::I48);
  EXPECT_EQ(b.axis, 0);
  ASSERT_EQ(b.channels(), 2);
  EXPECT_EQ(b.scale(0), 0.1f * w.scale(0));
  EXPECT_EQ(b.scale(1), 0.1f * w.scale(1));
  EXPECT_EQ(b.zero_points, (std::vector<int32_t>{0, 0}));
}

}  // namespace
}  // namespace l2n::quant
