#include "quant/qparams.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

// Float32 steps reproduce PyTorch ops one rounding at a time: no fused multiply-add.
#pragma GCC optimize("fp-contract=off")

namespace l2n::quant {

int qdtype_bits(QDType t) {
  switch (t) {
    case QDType::I8: return 8;
    case QDType::I16: return 16;
    case QDType::I32: return 32;
    case QDType::I48: return 48;
  }
  return 0;
}

std::string_view qdtype_name(QDType t) {
  switch (t) {
    case QDType::I8: return "int8";
    case QDType::I16: return "int16";
    case QDType::I32: return "int32";
    case QDType::I48: return "int48";
  }
  return "?";
}

DType storage_dtype(QDType t) {
  switch (t) {
    case QDType::I8: return DType::I8;
    case QDType::I16: return DType::I16;
    case QDType::I32: return DType::I32;
    case QDType::I48: return DType::I64;
  }
  return DType::I64;
}

int64_t qdtype_min(QDType t) { return -(int64_t{1} << (qdtype_bits(t) - 1)); }
int64_t qdtype_max(QDType t) { return (int64_t{1} << (qdtype_bits(t) - 1)) - 1; }

bool is_per_channel(QScheme s) { return s == QScheme::PerChannelAffine || s == QScheme::PerChannelSymmetric; }
bool is_symmetric(QScheme s) { return s == QScheme::PerTensorSymmetric || s == QScheme::PerChannelSymmetric; }

std::string_view qscheme_name(QScheme s) {
  switch (s) {
    case QScheme::PerTensorAffine: return "per_tensor_affine";
    case QScheme::PerTensorSymmetric: return "per_tensor_symmetric";
    case QScheme::PerChannelAffine: return "per_channel_affine";
    case QScheme::PerChannelSymmetric: return "per_channel_symmetric";
  }
  return "?";
}

std::string_view observer_kind_name(ObserverKind k) {
  switch (k) {
    case ObserverKind::MinMax: return "MinMaxObserver";
    case ObserverKind::PerChannelMinMax: return "PerChannelMinMaxObserver";
    case ObserverKind::Histogram: return "HistogramObserver";
  }
  return "?";
}

void validate_spec(const QuantSpec& spec) {
  // validate_qmin_qmax: the range must contain 0 so that 0.0 is exactly representable.
  if (!(spec.qmin <= 0 && 0 <= spec.qmax && spec.qmin < spec.qmax))
    fail("internal: quantization range [{}, {}] must contain 0 and be non-empty", spec.qmin, spec.qmax);
  if (spec.qmin < qdtype_min(spec.dtype) || spec.qmax > qdtype_max(spec.dtype))
    fail("internal: quantization range [{}, {}] does not fit {}", spec.qmin, spec.qmax, qdtype_name(spec.dtype));
  if (!(spec.eps > 0.0f) || !std::isfinite(spec.eps)) fail("internal: quantization eps {} must be positive", spec.eps);
  if (is_per_channel(spec.qscheme) != (spec.ch_axis >= 0))
    fail("internal: {} with ch_axis {}", qscheme_name(spec.qscheme), spec.ch_axis);
}

QuantParams QuantParams::per_tensor(float scale, int32_t zero_point, QDType dtype, int64_t qmin, int64_t qmax) {
  QuantParams qp;
  qp.dtype = dtype;
  qp.qmin = qmin;
  qp.qmax = qmax;
  qp.scales = {scale};
  qp.zero_points = {zero_point};
  return qp;
}

std::string to_string(const QuantParams& qp) {
  if (!qp.per_channel() && qp.scales.size() == 1)
    return fmt::format("{} [{}, {}] scale={:.9g} zp={}", qdtype_name(qp.dtype), qp.qmin, qp.qmax, qp.scales[0],
                       qp.zero_points[0]);
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (float s : qp.scales) lo = std::min(lo, s), hi = std::max(hi, s);
  const bool zp0 = std::all_of(qp.zero_points.begin(), qp.zero_points.end(), [](int32_t z) { return z == 0; });
  return fmt::format("{} [{}, {}] per-channel(axis {}, {} ch) scale={:.9g}..{:.9g}{}", qdtype_name(qp.dtype), qp.qmin,
                     qp.qmax, qp.axis, qp.scales.size(), lo, hi, zp0 ? " zp=0" : " zp=mixed");
}

namespace {

// One channel of _calculate_qparams, after check_min_max_valid. Each line is one tensor op
// of the Python code, so each intermediate is rounded to float32 where PyTorch rounds it.
void qparams_of_range(float min_val, float max_val, const QuantSpec& spec, float& scale, int32_t& zero_point) {
  if (!(min_val <= max_val)) fail("internal: observed min {} is larger than max {}", min_val, max_val);
  const float min_neg = std::min(min_val, 0.0f);
  const float max_pos = std::max(max_val, 0.0f);
  if (is_symmetric(spec.qscheme)) {
    const float amax = std::max(-min_neg, max_pos);
    // float(quant_max - quant_min) / 2 is a Python double; dividing a float32 tensor by it
    // uses it as float32 (127.5, 127, 32767.5, 32767 are all exact).
    const float divisor = static_cast<float>(static_cast<double>(spec.qmax - spec.qmin) / 2.0);
    scale = std::max(amax / divisor, spec.eps);
    zero_point = 0;  // the uint8/uint16 midpoints of upstream do not apply to signed types
  } else {
    scale = std::max((max_pos - min_neg) / static_cast<float>(spec.qmax - spec.qmin), spec.eps);
    const int64_t zp = spec.qmin - static_cast<int64_t>(std::nearbyint(min_neg / scale));
    zero_point = static_cast<int32_t>(std::clamp(zp, spec.qmin, spec.qmax));
  }
}

}  // namespace

QuantParams calculate_qparams(float min_val, float max_val, const QuantSpec& spec) {
  validate_spec(spec);
  if (is_per_channel(spec.qscheme))
    fail("internal: per-tensor calculate_qparams called with {}", qscheme_name(spec.qscheme));
  QuantParams qp = QuantParams::per_tensor(1.0f, 0, spec.dtype, spec.qmin, spec.qmax);
  if (min_val == std::numeric_limits<float>::infinity() && max_val == -std::numeric_limits<float>::infinity())
    return qp;
  qparams_of_range(min_val, max_val, spec, qp.scales[0], qp.zero_points[0]);
  return qp;
}

QuantParams calculate_qparams(std::span<const float> min_vals, std::span<const float> max_vals,
                              const QuantSpec& spec) {
  validate_spec(spec);
  if (!is_per_channel(spec.qscheme))
    fail("internal: per-channel calculate_qparams called with {}", qscheme_name(spec.qscheme));
  if (min_vals.size() != max_vals.size())
    fail("internal: {} channel minima but {} maxima", min_vals.size(), max_vals.size());
  if (min_vals.empty()) return QuantParams::per_tensor(1.0f, 0, spec.dtype, spec.qmin, spec.qmax);
  QuantParams qp;
  qp.dtype = spec.dtype;
  qp.qmin = spec.qmin;
  qp.qmax = spec.qmax;
  qp.axis = spec.ch_axis;
  qp.scales.resize(min_vals.size());
  qp.zero_points.resize(min_vals.size());
  for (size_t c = 0; c < min_vals.size(); ++c)
    qparams_of_range(min_vals[c], max_vals[c], spec, qp.scales[c], qp.zero_points[c]);
  return qp;
}

float per_tensor_inv_scale(float scale) { return static_cast<float>(1.0 / static_cast<double>(scale)); }
float per_channel_inv_scale(float scale) { return 1.0f / scale; }

int64_t quantize_value(float x, float inv_scale, int32_t zero_point, int64_t qmin, int64_t qmax) {
  const float r = std::nearbyint(x * inv_scale);  // torch.round: ties to even (default FP mode)
  if (std::isnan(r)) return std::clamp<int64_t>(zero_point, qmin, qmax);
  // PyTorch adds the zero point and clamps in float32; zp != 0 only for int8 ranges, where
  // that add is exact, and clamping in double avoids float(2^31-1) rounding up to 2^31.
  const double v = std::clamp(static_cast<double>(r) + zero_point, static_cast<double>(qmin), static_cast<double>(qmax));
  return static_cast<int64_t>(v);
}

namespace {

// Splits a tensor of `shape` around `axis` into outer x channels x inner (row-major).
struct AxisSplit {
  int64_t outer = 1, channels = 1, inner = 1;
};

AxisSplit split_axis(const Shape& shape, const QuantParams& qp) {
  AxisSplit s;
  if (qp.scales.empty() || qp.scales.size() != qp.zero_points.size())
    fail("internal: quantization parameters with {} scales and {} zero points", qp.scales.size(),
         qp.zero_points.size());
  if (!qp.per_channel()) {
    if (qp.scales.size() != 1) fail("internal: per-tensor quantization parameters with {} scales", qp.scales.size());
    s.inner = shape_numel(shape);
    return s;
  }
  if (qp.axis >= static_cast<int>(shape.size()))
    fail("internal: quantization axis {} out of range for shape {}", qp.axis, shape_str(shape));
  for (int i = 0; i < qp.axis; ++i) s.outer *= shape[static_cast<size_t>(i)];
  s.channels = shape[static_cast<size_t>(qp.axis)];
  for (size_t i = static_cast<size_t>(qp.axis) + 1; i < shape.size(); ++i) s.inner *= shape[i];
  if (s.channels != qp.channels())
    fail("internal: {} per-channel scales for axis {} of shape {}", qp.channels(), qp.axis, shape_str(shape));
  return s;
}

template <typename Q>
void quantize_into(const float* x, Q* out, const AxisSplit& s, const QuantParams& qp) {
  for (int64_t c = 0; c < s.channels; ++c) {
    const float inv = qp.per_channel() ? per_channel_inv_scale(qp.scale(c)) : per_tensor_inv_scale(qp.scale(c));
    const int32_t zp = qp.zero_point(c);
    for (int64_t o = 0; o < s.outer; ++o) {
      const int64_t base = (o * s.channels + c) * s.inner;
      for (int64_t i = 0; i < s.inner; ++i)
        out[base + i] = static_cast<Q>(quantize_value(x[base + i], inv, zp, qp.qmin, qp.qmax));
    }
  }
}

template <typename Q>
void dequantize_into(const Q* q, float* out, const AxisSplit& s, const QuantParams& qp) {
  for (int64_t c = 0; c < s.channels; ++c) {
    const float scale = qp.scale(c);
    const int32_t zp = qp.zero_point(c);
    for (int64_t o = 0; o < s.outer; ++o) {
      const int64_t base = (o * s.channels + c) * s.inner;
      for (int64_t i = 0; i < s.inner; ++i) out[base + i] = dequantize_value(q[base + i], scale, zp);
    }
  }
}

}  // namespace

Tensor quantize(const Tensor& x, const QuantParams& qp) {
  if (x.dtype() != DType::F32) fail("internal: quantize expects an f32 tensor, got {}", dtype_name(x.dtype()));
  const AxisSplit s = split_axis(x.shape(), qp);
  Tensor out(storage_dtype(qp.dtype), x.shape());
  const float* src = x.data<float>();
  switch (qp.dtype) {
    case QDType::I8: quantize_into(src, out.mutable_data<int8_t>(), s, qp); break;
    case QDType::I16: quantize_into(src, out.mutable_data<int16_t>(), s, qp); break;
    case QDType::I32: quantize_into(src, out.mutable_data<int32_t>(), s, qp); break;
    case QDType::I48: quantize_into(src, out.mutable_data<int64_t>(), s, qp); break;
  }
  return out;
}

Tensor dequantize(const Tensor& q, const QuantParams& qp) {
  if (q.dtype() != storage_dtype(qp.dtype))
    fail("internal: dequantize of a {} tensor with {} parameters", dtype_name(q.dtype()), qdtype_name(qp.dtype));
  const AxisSplit s = split_axis(q.shape(), qp);
  Tensor out(DType::F32, q.shape());
  float* dst = out.mutable_data<float>();
  switch (qp.dtype) {
    case QDType::I8: dequantize_into(q.data<int8_t>(), dst, s, qp); break;
    case QDType::I16: dequantize_into(q.data<int16_t>(), dst, s, qp); break;
    case QDType::I32: dequantize_into(q.data<int32_t>(), dst, s, qp); break;
    case QDType::I48: dequantize_into(q.data<int64_t>(), dst, s, qp); break;
  }
  return out;
}

Tensor fake_quantize(const Tensor& x, const QuantParams& qp) { return dequantize(quantize(x, qp), qp); }

QuantParams derive_bias_qparams(const QuantParams& activation, const QuantParams& weight, QDType dtype,
                                int64_t qmin, int64_t qmax) {
  if (activation.per_channel() || activation.scales.size() != 1)
    fail("internal: bias derivation needs a per-tensor activation scale");
  if (weight.scales.empty()) fail("internal: bias derivation needs weight scales");
  QuantParams qp;
  qp.dtype = dtype;
  qp.qmin = qmin;
  qp.qmax = qmax;
  qp.axis = weight.per_channel() ? 0 : -1;  // a bias is 1-D: its channels are its only axis
  qp.scales.resize(weight.scales.size());
  for (size_t c = 0; c < weight.scales.size(); ++c) qp.scales[c] = activation.scales[0] * weight.scales[c];
  qp.zero_points.assign(weight.scales.size(), 0);
  return qp;
}

}  // namespace l2n::quant
