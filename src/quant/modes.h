// The quantization modes (quantization.pt2e_quantize) and the quantize scope.
//
// Contract (facts: ../shared/docs/reference/executorch-arm-llm.md §1.3, §2.1–2.3;
// observers.md "What the Arm quantizer configures"):
//  * One row per mode, with exactly the dtypes, ranges, schemes, eps and observers of the
//    upstream Arm quantizer configs:
//      8a8w  (tosa_8a8w, ethosu_8a8w, vgf_8a8w) = get_symmetric_quantization_config():
//            activations int8 −128..127 per-tensor affine, eps 2^-16, HistogramObserver;
//      16a8w (ethosu_16a8w, vgf_16a8w) = get_symmetric_a16w8_quantization_config():
//            activations int16 −32767..32767 per-tensor symmetric (zp 0), eps 2^-12,
//            HistogramObserver;
//      weights of every mode: int8 −127..127 per-channel symmetric, ch_axis 0, eps 2^-16,
//            PerChannelMinMaxObserver;
//      bias: derived (scale = act scale × weight scale, zp 0), quantized to the int32 range
//            [−2^31+1, 2^31−1]; stored as int32, or int48 with int16 activations (the
//            backend re-tags the a16w8 bias INT48; upstream keeps the int32 value range).
//  * The table is the single source of these numbers; nothing else hard-codes them.
//  * Unknown names are usage errors (exit 2) that list the valid names.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "quant/qparams.h"

namespace l2n::quant {

enum class Family : uint8_t { Tosa, EthosU, Vgf };

std::string_view family_name(Family f);  // "tosa", "ethosu", "vgf"

// The derived bias of linear/conv layers: only its storage type and value range are fixed
// per mode; the scale comes from derive_bias_qparams().
struct BiasSpec {
  QDType dtype = QDType::I32;
  int64_t qmin = -2147483647;
  int64_t qmax = 2147483647;
};

struct ModeConfig {
  std::string_view name;  // "ethosu_16a8w"
  Family family;
  QuantSpec activation;
  QuantSpec weight;
  BiasSpec bias;

  bool int16_activations() const { return activation.dtype == QDType::I16; }
};

// All modes, in the order of the upstream Pt2eQuantize enum.
std::span<const ModeConfig> quant_modes();
// "tosa_8a8w, ethosu_8a8w, ethosu_16a8w, vgf_8a8w, vgf_16a8w"
std::string quant_mode_names();
// Throws a usage error naming `option` (e.g. "--quantize") and listing the valid modes.
const ModeConfig& find_quant_mode(std::string_view name, std::string_view option = "quantization mode");

// Which nodes a mode quantizes; shared by every mode (executorch-arm-llm.md §1.3 item 4):
// Full quantizes every op the integer lowering supports, Linear only the linear layers and
// the pure data-movement ops that share their parameters.
enum class QuantScope : uint8_t { Full, Linear };

std::string_view quant_scope_name(QuantScope s);  // "full", "linear"
QuantScope parse_quant_scope(std::string_view name, std::string_view option = "quantize scope");

}  // namespace l2n::quant
