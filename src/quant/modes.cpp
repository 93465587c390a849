#include "quant/modes.h"

#include <array>

namespace l2n::quant {

std::string_view family_name(Family f) {
  switch (f) {
    case Family::Tosa: return "tosa";
    case Family::EthosU: return "ethosu";
    case Family::Vgf: return "vgf";
  }
  return "?";
}

namespace {

// get_symmetric_quantization_config(): HistogramObserver(eps=2**-16) on int8 activations.
constexpr QuantSpec kAct8{QDType::I8, -128, 127, QScheme::PerTensorAffine, 0x1p-16f, -1, ObserverKind::Histogram};
// get_symmetric_a16w8_quantization_config(): qmin is iinfo(int16).min + 1 so that the range is
// symmetric around zero point 0; its `epsilon` argument is 2**-12.
constexpr QuantSpec kAct16{QDType::I16, -32767, 32767, QScheme::PerTensorSymmetric, 0x1p-12f, -1,
                           ObserverKind::Histogram};
// Both configs take their weight spec from the a8w8 base config, eps included.
constexpr QuantSpec kWeight{QDType::I8, -127, 127, QScheme::PerChannelSymmetric, 0x1p-16f, 0,
                            ObserverKind::PerChannelMinMax};
// The derived bias spec's range is [iinfo(int32).min + 1, iinfo(int32).max] in both configs.
constexpr BiasSpec kBias32{QDType::I32, -2147483647, 2147483647};
constexpr BiasSpec kBias48{QDType::I48, -2147483647, 2147483647};

constexpr std::array<ModeConfig, 5> kModes{{
    {"tosa_8a8w", Family::Tosa, kAct8, kWeight, kBias32},
    {"ethosu_8a8w", Family::EthosU, kAct8, kWeight, kBias32},
    {"ethosu_16a8w", Family::EthosU, kAct16, kWeight, kBias48},
    {"vgf_8a8w", Family::Vgf, kAct8, kWeight, kBias32},
    {"vgf_16a8w", Family::Vgf, kAct16, kWeight, kBias48},
}};

}  // namespace

std::span<const ModeConfig> quant_modes() { return kModes; }

std::string quant_mode_names() {
  std::string names;
  for (const ModeConfig& m : kModes) {
    if (!names.empty()) names += ", ";
    names += m.name;
  }
  return names;
}

const ModeConfig& find_quant_mode(std::string_view name, std::string_view option) {
  for (const ModeConfig& m : kModes)
    if (m.name == name) return m;
  fail_usage("unknown {} '{}'; valid modes are: {}", option, name, quant_mode_names());
}

std::string_view quant_scope_name(QuantScope s) { return s == QuantScope::Full ? "full" : "linear"; }

QuantScope parse_quant_scope(std::string_view name, std::string_view option) {
  if (name == "full") return QuantScope::Full;
  if (name == "linear") return QuantScope::Linear;
  fail_usage("unknown {} '{}'; valid scopes are: full, linear", option, name);
}

}  // namespace l2n::quant
