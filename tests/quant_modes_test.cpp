#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "quant/modes.h"
#include "quant/observers.h"

namespace l2n::quant {
namespace {

void expect_spec(const QuantSpec& s, QDType dtype, int64_t qmin, int64_t qmax, QScheme scheme, float eps, int axis,
                 ObserverKind observer) {
  EXPECT_EQ(s.dtype, dtype);
  EXPECT_EQ(s.qmin, qmin);
  EXPECT_EQ(s.qmax, qmax);
  EXPECT_EQ(s.qscheme, scheme);
  EXPECT_EQ(s.eps, eps);
  EXPECT_EQ(s.ch_axis, axis);
  EXPECT_EQ(s.observer, observer);
}

TEST(QuantModes, TableMatchesTheArmQuantizerConfigs) {
  const auto modes = quant_modes();
  ASSERT_EQ(modes.size(), 5u);
  const char* names[] = {"tosa_8a8w", "ethosu_8a8w", "ethosu_16a8w", "vgf_8a8w", "vgf_16a8w"};
  const Family families[] = {Family::Tosa, Family::EthosU, Family::EthosU, Family::Vgf, Family::Vgf};
  for (size_t i = 0; i < modes.size(); ++i) {
    const ModeConfig& m = modes[i];
    SCOPED_TRACE(names[i]);
    EXPECT_EQ(m.name, names[i]);
    EXPECT_EQ(m.family, families[i]);
    const bool a16 = std::string(names[i]).find("16a8w") != std::string::npos;
    EXPECT_EQ(m.int16_activations(), a16);
    if (a16) {
      // get_symmetric_a16w8_quantization_config: int16 restricted to ±32767, zp 0, eps 2^-12.
      expect_spec(m.activation, QDType::I16, -32767, 32767, QScheme::PerTensorSymmetric, 0.000244140625f, -1,
                  ObserverKind::Histogram);
      EXPECT_EQ(m.bias.dtype, QDType::I48);
    } else {
      // get_symmetric_quantization_config: int8 affine, eps 2^-16.
      expect_spec(m.activation, QDType::I8, -128, 127, QScheme::PerTensorAffine, 1.52587890625e-05f, -1,
                  ObserverKind::Histogram);
      EXPECT_EQ(m.bias.dtype, QDType::I32);
    }
    // Weights are the a8w8 base config's in every mode, eps 2^-16 included.
    expect_spec(m.weight, QDType::I8, -127, 127, QScheme::PerChannelSymmetric, 1.52587890625e-05f, 0,
                ObserverKind::PerChannelMinMax);
    EXPECT_EQ(m.bias.qmin, -2147483647);
    EXPECT_EQ(m.bias.qmax, 2147483647);
    EXPECT_NO_THROW(validate_spec(m.activation));
    EXPECT_NO_THROW(validate_spec(m.weight));
  }
}

TEST(QuantModes, LookupByNameAndUsageErrorListingValidNames) {
  EXPECT_EQ(&find_quant_mode("ethosu_16a8w"), &quant_modes()[2]);
  EXPECT_EQ(quant_mode_names(), "tosa_8a8w, ethosu_8a8w, ethosu_16a8w, vgf_8a8w, vgf_16a8w");
  try {
    find_quant_mode("tosa_16a8w", "--quantize");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--quantize"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tosa_16a8w"), std::string::npos) << msg;
    EXPECT_NE(msg.find(quant_mode_names()), std::string::npos) << msg;
  }
}

TEST(QuantModes, ScopeParsing) {
  EXPECT_EQ(parse_quant_scope("full"), QuantScope::Full);
  EXPECT_EQ(parse_quant_scope("linear"), QuantScope::Linear);
  EXPECT_EQ(quant_scope_name(QuantScope::Full), "full");
  EXPECT_EQ(quant_scope_name(QuantScope::Linear), "linear");
  try {
    parse_quant_scope("Linear", "--scope");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--scope"), std::string::npos) << msg;
    EXPECT_NE(msg.find("full, linear"), std::string::npos) << msg;
  }
}

TEST(QuantModes, ObserversFollowTheSpecs) {
  for (const ModeConfig& m : quant_modes()) {
    auto act = make_observer(m.activation);
    auto weight = make_observer(m.weight);
    EXPECT_NE(dynamic_cast<HistogramObserver*>(act.get()), nullptr);
    EXPECT_NE(dynamic_cast<PerChannelMinMaxObserver*>(weight.get()), nullptr);
    EXPECT_EQ(dynamic_cast<HistogramObserver&>(*act).dst_bins(), m.int16_activations() ? 65536 : 256);
  }
  EXPECT_EQ(family_name(Family::EthosU), "ethosu");
}

}  // namespace
}  // namespace l2n::quant
