// Quantization specs and parameters, and the PyTorch formulas that turn an observed range
// into a scale/zero point and a float tensor into integers.
//
// Contract (facts: ../shared/docs/reference/observers.md §1, §2, §5):
//  * calculate_qparams() reproduces torchao's UniformQuantizationObserverBase._calculate_qparams
//    bit for bit: every step is evaluated in float32 in the order the Python code evaluates
//    it (the symmetric divisor (qmax−qmin)/2 is formed in double and then used as a float32,
//    the eps floor is max(scale, eps), the affine zero point uses round-half-to-even).
//  * quantize()/dequantize() are the quantized_decomposed ops that convert_pt2e inserts:
//    per tensor  q = clamp(round_half_even(x · float(1.0/double(scale))) + zp, qmin, qmax),
//    per channel q = clamp(round_half_even(x · (1.0f/scale[c])) + zp[c], qmin, qmax)
//    (the per-tensor reciprocal is a Python double, the per-channel one a float32 tensor op);
//    dequantize is (float(q) − zp) · scale in float32.
//  * Scales are float32 (what convert_pt2e writes); zero points are integers.
//  * A spec or parameter set that cannot come out of this code (qmin > qmax, empty scales, a
//    channel count that does not match the tensor) throws l2n::Error "internal: ...".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace l2n::quant {

// Integer types of quantized tensors. I48 exists only as an accumulator/bias type (TOSA
// 16x8 convolutions); it is stored in int64 (storage_dtype).
enum class QDType : uint8_t { I8, I16, I32, I48 };

int qdtype_bits(QDType t);
std::string_view qdtype_name(QDType t);  // "int8", "int16", "int32", "int48"
DType storage_dtype(QDType t);           // I8, I16, I32, I64
int64_t qdtype_min(QDType t);
int64_t qdtype_max(QDType t);

enum class QScheme : uint8_t { PerTensorAffine, PerTensorSymmetric, PerChannelAffine, PerChannelSymmetric };

bool is_per_channel(QScheme s);
bool is_symmetric(QScheme s);
std::string_view qscheme_name(QScheme s);  // PyTorch's names: "per_tensor_affine", ...

enum class ObserverKind : uint8_t { MinMax, PerChannelMinMax, Histogram };

std::string_view observer_kind_name(ObserverKind k);  // "MinMaxObserver", ...

// What one observed tensor is quantized to (one QuantizationSpec of the Arm quantizer).
struct QuantSpec {
  QDType dtype = QDType::I8;
  int64_t qmin = -128;
  int64_t qmax = 127;
  QScheme qscheme = QScheme::PerTensorAffine;
  float eps = 0x1p-16f;  // lower bound on every scale
  int ch_axis = -1;      // the channel axis for per-channel schemes, -1 otherwise
  ObserverKind observer = ObserverKind::MinMax;
};

// Checks qmin <= 0 <= qmax, qmin < qmax, the range fits the dtype, eps > 0, and that
// ch_axis is set exactly for per-channel schemes; throws "internal: ..." otherwise.
void validate_spec(const QuantSpec& spec);

// Quantization parameters of one tensor: one scale/zero point, or one per channel along
// `axis` of the tensor.
struct QuantParams {
  QDType dtype = QDType::I8;
  int64_t qmin = -128;
  int64_t qmax = 127;
  int axis = -1;  // -1: per tensor
  std::vector<float> scales;
  std::vector<int32_t> zero_points;

  static QuantParams per_tensor(float scale, int32_t zero_point, QDType dtype, int64_t qmin, int64_t qmax);
  bool per_channel() const { return axis >= 0; }
  int64_t channels() const { return static_cast<int64_t>(scales.size()); }
  float scale(int64_t channel = 0) const { return scales[static_cast<size_t>(channel)]; }
  int32_t zero_point(int64_t channel = 0) const { return zero_points[static_cast<size_t>(channel)]; }
  bool operator==(const QuantParams&) const = default;
};

std::string to_string(const QuantParams& qp);  // "int8 scale=0.0123 zp=-5" / "int8 per-channel(axis 0, 64 ch) ..."

// torchao _calculate_qparams for a per-tensor scheme. An unobserved range (min = +inf and
// max = −inf) gives scale 1.0 / zero point 0, like check_min_max_valid; min > max throws.
QuantParams calculate_qparams(float min_val, float max_val, const QuantSpec& spec);

// The same element-wise for a per-channel scheme (spec.ch_axis is copied into the result).
// Empty ranges (a per-channel observer that saw nothing) give a single scale 1.0 / zp 0,
// as upstream does.
QuantParams calculate_qparams(std::span<const float> min_vals, std::span<const float> max_vals,
                              const QuantSpec& spec);

// The reciprocal each formula multiplies by (see the header comment).
float per_tensor_inv_scale(float scale);
float per_channel_inv_scale(float scale);

// One value through quantize_per_tensor with a precomputed inv_scale; NaN maps to the zero
// point (PyTorch leaves it undefined).
int64_t quantize_value(float x, float inv_scale, int32_t zero_point, int64_t qmin, int64_t qmax);
inline float dequantize_value(int64_t q, float scale, int32_t zero_point) {
  return (static_cast<float>(q) - static_cast<float>(zero_point)) * scale;
}

// F32 tensor -> storage_dtype(qp.dtype) tensor of the same shape, and back to F32.
Tensor quantize(const Tensor& x, const QuantParams& qp);
Tensor dequantize(const Tensor& q, const QuantParams& qp);
// dequantize(quantize(x)): what a Q→DQ pair computes in the float simulation.
Tensor fake_quantize(const Tensor& x, const QuantParams& qp);

// The Arm bias rule (executorch-arm-llm.md §2.3): scale[c] = float32(act_scale · w_scale[c]),
// zero point 0, per channel along the weight's axis; dtype/qmin/qmax from the mode's bias spec.
QuantParams derive_bias_qparams(const QuantParams& activation, const QuantParams& weight, QDType dtype,
                                int64_t qmin, int64_t qmax);

}  // namespace l2n::quant
