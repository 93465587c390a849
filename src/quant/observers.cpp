#include "quant/observers.h"

#include <algorithm>
#include <cmath>
#include <limits>

// The float32 steps below reproduce PyTorch tensor ops one rounding at a time; a fused
// multiply-add (GCC contracts a·b + c whenever the target has FMA, e.g. with -march=native)
// would skip a rounding and change results.
#pragma GCC optimize("fp-contract=off")

namespace l2n::quant {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Extrema {
  float lo = kInf;
  float hi = -kInf;
  bool nan = false;
};

Extrema extrema(const float* x, int64_t n) {
  // Independent lanes so that the compiler can keep them in vector registers; min/max of
  // non-NaN floats do not depend on the order (NaN is reported, not folded in).
  constexpr int kLanes = 16;
  float lo[kLanes], hi[kLanes];
  int nan[kLanes] = {};
  for (int k = 0; k < kLanes; ++k) lo[k] = kInf, hi[k] = -kInf;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) {
      const float t = x[i + k];
      lo[k] = t < lo[k] ? t : lo[k];
      hi[k] = t > hi[k] ? t : hi[k];
      nan[k] |= t != t;
    }
  Extrema r;
  for (; i < n; ++i) {
    const float t = x[i];
    r.lo = t < r.lo ? t : r.lo;
    r.hi = t > r.hi ? t : r.hi;
    r.nan |= t != t;
  }
  for (int k = 0; k < kLanes; ++k) {
    r.lo = lo[k] < r.lo ? lo[k] : r.lo;
    r.hi = hi[k] > r.hi ? hi[k] : r.hi;
    r.nan |= nan[k] != 0;
  }
  return r;
}

[[noreturn]] void fail_nan(std::string_view observer) {
  fail("{}: the observed tensor contains NaN; the float model produced NaN during calibration", observer);
}

const float* f32_data(const Tensor& x, std::string_view observer) {
  if (x.dtype() != DType::F32) fail("internal: {} observes f32 tensors, got {}", observer, dtype_name(x.dtype()));
  return x.data<float>();
}

// torch.linspace(start, end, steps) element idx in float32, with the scalar kernel's formula
// (see the header about the vectorised kernel).
struct Linspace {
  float start, end, step;
  int64_t steps;
  Linspace(float a, float b, int64_t n) : start(a), end(b), step((b - a) / static_cast<float>(n - 1)), steps(n) {}
  float operator[](int64_t idx) const {
    return idx < steps / 2 ? start + step * static_cast<float>(idx)
                           : end - step * static_cast<float>(steps - idx - 1);
  }
};

// torch.div(a, b, rounding_mode="floor") for float32 (c10::div_floor_floating): the
// quotient is rebuilt from the exact fmod remainder, so it is the true floor even where
// a / b itself rounds up to an integer.
float div_floor(float a, float b) {
  if (b == 0.0f) return a / b;
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && ((b < 0.0f) != (mod < 0.0f))) div -= 1.0f;
  if (div == 0.0f) return std::copysign(0.0f, a / b);
  float floordiv = std::floor(div);
  if (div - floordiv > 0.5f) floordiv += 1.0f;
  return floordiv;
}

// Sum of float32 values as one float32 result (see the header: accumulated in double).
float sum_f32(const std::vector<float>& v) {
  double acc = 0.0;
  for (float x : v) acc += x;
  return static_cast<float>(acc);
}

}  // namespace

std::vector<float> histc(const float* x, int64_t n, int bins, double lo, double hi) {
  if (bins <= 0) fail("internal: histc with {} bins", bins);
  if (lo == hi && n > 0) {
    const Extrema e = extrema(x, n);
    lo = e.lo;
    hi = e.hi;
  }
  if (lo == hi) {
    lo -= 1;
    hi += 1;
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) fail("internal: histc range [{}, {}] is not finite", lo, hi);
  if (!(lo < hi)) fail("internal: histc range [{}, {}] is empty", lo, hi);
  // Only the outer edges of linspace(lo, hi, bins + 1) are used, and they are exactly
  // float(lo) and float(hi).
  const float left = static_cast<float>(lo);
  const float right = static_cast<float>(hi);
  const float width = right - left;
  const float fbins = static_cast<float>(bins);
  // Where the float32 edges collapse or (t − left)·bins overflows, PyTorch computes an
  // out-of-range index; here those values go to bin 0.
  const bool degenerate = !(width > 0.0f) || !(width < std::numeric_limits<float>::max() / fbins);
  // Indices are computed a chunk at a time in a branch-free loop (it vectorises; every
  // float32 step is the same IEEE operation as the scalar formula), then counted into
  // four interleaved tables so that runs of one bin do not serialise on one counter.
  constexpr int64_t kChunk = 4096;
  int32_t index[kChunk];
  std::vector<uint32_t> counts(static_cast<size_t>(4 * (bins + 1)), 0);
  const int32_t skip = bins;  // the extra bin of dropped values
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const float* xs = x + start;
    for (int64_t k = 0; k < m; ++k) {
      const float t = xs[k];
      const bool inside = t >= left && t <= right;
      const float clamped = inside ? t : left;
      const float p = degenerate ? 0.0f : (clamped - left) * fbins / width;
      const int32_t pos = static_cast<int32_t>(p);
      index[k] = inside ? (pos < bins ? pos : bins - 1) : skip;
    }
    for (int64_t k = 0; k < m; ++k) ++counts[static_cast<size_t>((k & 3) * (bins + 1) + index[k])];
  }
  std::vector<float> hist(static_cast<size_t>(bins));
  for (int b = 0; b < bins; ++b) {
    uint64_t c = 0;
    for (int t = 0; t < 4; ++t) c += counts[static_cast<size_t>(t * (bins + 1) + b)];
    hist[static_cast<size_t>(b)] = static_cast<float>(c);
  }
  return hist;
}

Observer::Observer(QuantSpec spec) : spec_(spec) { validate_spec(spec_); }

std::unique_ptr<Observer> make_observer(const QuantSpec& spec) {
  switch (spec.observer) {
    case ObserverKind::MinMax: return std::make_unique<MinMaxObserver>(spec);
    case ObserverKind::PerChannelMinMax: return std::make_unique<PerChannelMinMaxObserver>(spec);
    case ObserverKind::Histogram: return std::make_unique<HistogramObserver>(spec);
  }
  fail("internal: unknown observer kind");
}

// ---------------------------------------------------------------------------------------
// MinMaxObserver

MinMaxObserver::MinMaxObserver(QuantSpec spec) : Observer(spec), min_val_(kInf), max_val_(-kInf) {
  if (is_per_channel(spec_.qscheme))
    fail("internal: MinMaxObserver supports per-tensor schemes only, got {}", qscheme_name(spec_.qscheme));
}

void MinMaxObserver::observe(const float* x, int64_t n) {
  if (n <= 0) return;
  const Extrema e = extrema(x, n);
  if (e.nan) fail_nan("MinMaxObserver");
  min_val_ = std::min(e.lo, min_val_);
  max_val_ = std::max(e.hi, max_val_);
}

void MinMaxObserver::observe(const Tensor& x) { observe(f32_data(x, "MinMaxObserver"), x.numel()); }

QuantParams MinMaxObserver::calculate_qparams() const { return quant::calculate_qparams(min_val_, max_val_, spec_); }

// ---------------------------------------------------------------------------------------
// PerChannelMinMaxObserver

PerChannelMinMaxObserver::PerChannelMinMaxObserver(QuantSpec spec) : Observer(spec) {
  if (!is_per_channel(spec_.qscheme))
    fail("internal: PerChannelMinMaxObserver needs a per-channel scheme, got {}", qscheme_name(spec_.qscheme));
}

void PerChannelMinMaxObserver::observe(const float* x, const Shape& shape) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  const int axis = spec_.ch_axis;
  if (axis >= static_cast<int>(shape.size()))
    fail("internal: PerChannelMinMaxObserver axis {} out of range for shape {}", axis, shape_str(shape));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[static_cast<size_t>(i)];
  const int64_t channels = shape[static_cast<size_t>(axis)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) inner *= shape[i];
  if (!min_vals_.empty() && static_cast<int64_t>(min_vals_.size()) != channels)
    fail("internal: PerChannelMinMaxObserver saw {} channels, then {} (shape {})", min_vals_.size(), channels,
         shape_str(shape));
  std::vector<float> lo(static_cast<size_t>(channels), kInf), hi(static_cast<size_t>(channels), -kInf);
  bool nan = false;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const Extrema e = extrema(x + (o * channels + c) * inner, inner);
      lo[static_cast<size_t>(c)] = std::min(lo[static_cast<size_t>(c)], e.lo);
      hi[static_cast<size_t>(c)] = std::max(hi[static_cast<size_t>(c)], e.hi);
      nan |= e.nan;
    }
  if (nan) fail_nan("PerChannelMinMaxObserver");
  if (min_vals_.empty()) {
    min_vals_ = std::move(lo);
    max_vals_ = std::move(hi);
    return;
  }
  for (size_t c = 0; c < lo.size(); ++c) {
    min_vals_[c] = std::min(lo[c], min_vals_[c]);
    max_vals_[c] = std::max(hi[c], max_vals_[c]);
  }
}

void PerChannelMinMaxObserver::observe(const Tensor& x) {
  observe(f32_data(x, "PerChannelMinMaxObserver"), x.shape());
}

QuantParams PerChannelMinMaxObserver::calculate_qparams() const {
  return quant::calculate_qparams(min_vals_, max_vals_, spec_);
}

// ---------------------------------------------------------------------------------------
// HistogramObserver

HistogramObserver::HistogramObserver(QuantSpec spec, int bins)
    : Observer(spec),
      bins_(bins),
      dst_nbins_(int64_t{1} << qdtype_bits(spec.dtype)),
      histogram_(static_cast<size_t>(bins), 0.0f),
      min_val_(kInf),
      max_val_(-kInf) {
  if (is_per_channel(spec_.qscheme))
    fail("internal: HistogramObserver supports per-tensor schemes only, got {}", qscheme_name(spec_.qscheme));
  if (bins_ <= 0) fail("internal: HistogramObserver with {} bins", bins_);
}

void HistogramObserver::observe(const Tensor& x) { observe(f32_data(x, "HistogramObserver"), x.numel()); }

void HistogramObserver::observe(const float* x, int64_t n) {
  if (n <= 0) return;
  Extrema e = extrema(x, n);
  if (e.nan) fail_nan("HistogramObserver");
  std::vector<float> finite;
  if (e.lo == -kInf || e.hi == kInf) {
    // Upstream drops infinities (they would make the range infinite) and warns.
    finite.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      if (std::fabs(x[i]) != kInf) finite.push_back(x[i]);
    if (finite.empty()) return;
    x = finite.data();
    n = static_cast<int64_t>(finite.size());
    e = extrema(x, n);
  }
  if (!initialized()) {
    min_val_ = e.lo;
    max_val_ = e.hi;
    histogram_ = histc(x, n, bins_, e.lo, e.hi);
    return;
  }
  const float new_min = std::min(min_val_, e.lo);
  const float new_max = std::max(max_val_, e.hi);
  // The batch is binned on the combined range directly; only the stored histogram is
  // re-binned.
  const std::vector<float> update = histc(x, n, bins_, new_min, new_max);
  if (new_min == min_val_ && new_max == max_val_) {
    for (size_t i = 0; i < histogram_.size(); ++i) histogram_[i] += update[i];
    return;
  }
  combine(update, new_min, new_max);
  min_val_ = new_min;
  max_val_ = new_max;
}

// _combine_histograms(histogram_, min_val_, max_val_, update, new_min, new_max), with the
// fixed single-value case (the old mass is sum(orig), not sum(update)).
void HistogramObserver::combine(const std::vector<float>& update, float new_min, float new_max) {
  const size_t bins = static_cast<size_t>(bins_);
  std::vector<float> moved(bins, 0.0f);
  if (min_val_ == max_val_) {
    const float mass = sum_f32(histogram_);
    const std::vector<float> one = histc(&min_val_, 1, bins_, new_min, new_max);
    for (size_t i = 0; i < bins; ++i) moved[i] = one[i] * mass;
  } else {
    // _upscale_histogram: split each old bin into 16 sub-bins of equal mass, assign each
    // sub-bin whole to the new bin containing its midpoint (bucketize right=True, minus 1).
    constexpr int kUpsample = 16;
    const int64_t sub_bins = static_cast<int64_t>(bins_) * kUpsample;
    const float sub_width = (max_val_ - min_val_) / static_cast<float>(sub_bins);
    const float half_sub = 0.5f * sub_width;
    const Linspace old_edges(min_val_, max_val_, sub_bins + 1);
    const Linspace new_edges_at(new_min, new_max, bins_ + 1);
    std::vector<float> new_edges(bins + 1);
    for (size_t k = 0; k <= bins; ++k) new_edges[k] = new_edges_at[static_cast<int64_t>(k)];
    for (int64_t k = 0; k < sub_bins; ++k) {
      const float mid = old_edges[k] + half_sub;
      int64_t b = std::upper_bound(new_edges.begin(), new_edges.end(), mid) - new_edges.begin() - 1;
      b = std::clamp<int64_t>(b, 0, bins_ - 1);
      // bincount(weights) accumulates in float32, in sub-bin order.
      moved[static_cast<size_t>(b)] += histogram_[static_cast<size_t>(k / kUpsample)] / static_cast<float>(kUpsample);
    }
  }
  for (size_t i = 0; i < bins; ++i) histogram_[i] = update[i] + moved[i];
}

double HistogramObserver::quantization_error(int start_bin, int end_bin) const {
  // Python doubles first, then float32 tensors, as in _compute_quantization_error.
  const double bin_width = (static_cast<double>(max_val_) - static_cast<double>(min_val_)) / bins_;
  const double dst_width = bin_width * (end_bin - start_bin + 1) / static_cast<double>(dst_nbins_);
  if (dst_width == 0.0) return 0.0;
  const float bw = static_cast<float>(bin_width);
  const float dw = static_cast<float>(dst_width);
  const float half = static_cast<float>(dst_width / 2);
  const float neg_half = static_cast<float>(-dst_width / 2);
  const float last_level = static_cast<float>(dst_nbins_ - 1);
  const float neg_half_cubed = neg_half * neg_half * neg_half;
  // _get_norm(tensor(-d/2), tensor(d/2), ·) before the density factor.
  const float whole_level = (half * half * half - neg_half_cubed) / 3.0f;
  double total = 0.0;
  for (int i = 0; i < bins_; ++i) {
    const float begin = static_cast<float>(i - start_bin) * bw;
    const float end = begin + bw;
    const float level_begin = std::clamp(div_floor(begin, dw), 0.0f, last_level);
    const float center_begin = (level_begin + 0.5f) * dw;
    const float level_end = std::clamp(div_floor(end, dw), 0.0f, last_level);
    const float density = histogram_[static_cast<size_t>(i)] / bw;
    const float delta_begin = begin - center_begin;
    float norm = 0.0f + density * ((half * half * half - delta_begin * delta_begin * delta_begin) / 3.0f);
    norm += (level_end - level_begin - 1.0f) * (density * whole_level);
    const float center_end = level_end * dw + half;
    const float delta_end = end - center_end;
    norm += density * ((delta_end * delta_end * delta_end - neg_half_cubed) / 3.0f);
    total += norm;
  }
  return static_cast<float>(total);  // norm.sum().item(): a float32 value
}

std::pair<float, float> HistogramObserver::search_range() const {
  if (!initialized()) fail("internal: HistogramObserver search before any value was observed");
  const float bin_width = (max_val_ - min_val_) / static_cast<float>(bins_);
  const double total = sum_f32(histogram_);
  std::vector<float> csum(histogram_.size());
  double running = 0.0;
  for (size_t i = 0; i < histogram_.size(); ++i) {
    running += histogram_[i];
    csum[i] = static_cast<float>(running);
  }
  // csum is non-decreasing, so upstream's linear walks from the current edges are binary
  // searches: l = first index in [s, e) with csum >= alpha·total (else e), r = last index
  // in (s, e] with csum <= beta·total (else s). The thresholds compare as float32.
  double alpha = 0.0, beta = 1.0;
  const double step = 1e-5;
  int s = 0, e = bins_ - 1;
  double best = std::numeric_limits<double>::infinity();
  const auto first = csum.begin();
  while (alpha < beta) {
    const double next_alpha = alpha + step;
    const double next_beta = beta - step;
    const float lo_mass = static_cast<float>(next_alpha * total);
    const float hi_mass = static_cast<float>(next_beta * total);
    const int l = static_cast<int>(std::lower_bound(first + s, first + e, lo_mass) - first);
    const int r = static_cast<int>(std::upper_bound(first + s + 1, first + e + 1, hi_mass) - first) - 1;
    int next_s = s, next_e = e;
    if (l - s > e - r) {
      next_s = l;
      alpha = next_alpha;
    } else {
      next_e = r;
      beta = next_beta;
    }
    if (next_s == s && next_e == e) continue;
    const double err = quantization_error(next_s, next_e);
    if (err > best) break;
    best = err;
    s = next_s;
    e = next_e;
  }
  return {min_val_ + bin_width * static_cast<float>(s), min_val_ + bin_width * static_cast<float>(e + 1)};
}

QuantParams HistogramObserver::calculate_qparams() const {
  if (!initialized()) return QuantParams::per_tensor(1.0f, 0, spec_.dtype, spec_.qmin, spec_.qmax);
  const auto [lo, hi] = search_range();
  return quant::calculate_qparams(lo, hi, spec_);
}

}  // namespace l2n::quant
