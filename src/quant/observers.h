// Observers: they watch the float values a tensor takes during calibration and turn them
// into quantization parameters, reproducing torchao.quantization.pt2e.observer (the module the
// ExecuTorch Arm quantizer imports; facts: ../shared/docs/reference/observers.md §3, §4).
//
// Contract:
//  * observe() accepts any number of calls; empty inputs are ignored. NaN in an input throws
//    l2n::Error (PyTorch would produce NaN parameters or fail inside histc).
//  * Everything is deterministic and single-threaded: the same sequence of observe() calls
//    gives the same parameters bit for bit. Observers of different tensors are independent
//    and may run on different threads.
//  * calculate_qparams() does not change the observer; more observe() calls may follow.
//  * MinMaxObserver / PerChannelMinMaxObserver: running min/max (§3.1, §3.2), then
//    calculate_qparams() of qparams.h.
//  * HistogramObserver (§4): 2048 bins over the running [min, max]; each batch is binned with
//    torch.histc semantics directly on the combined range, the stored histogram is re-binned
//    by the torchao "upscale" method (16 sub-bins per bin, mass at sub-bin midpoints) when the
//    range grows; calculate_qparams() runs _non_linear_param_search (the greedy L2 walk that
//    trims whichever tail loses more bins, stopping at the first error increase) and §2 on
//    the range it returns. Infinite values are dropped, as upstream does.
//    Float32 arithmetic follows the PyTorch tensor ops one by one. Where PyTorch's own result
//    depends on the CPU or thread count, this code picks one fixed order:
//      - torch.linspace's vectorised kernel forms some points as base + j·step instead of
//        start + idx·step; here every point uses the scalar formula (start + step·idx below
//        the midpoint, end − step·(steps−1−idx) above), which can move a sub-bin midpoint by
//        an ulp and so, rarely, 1/16 of a bin's mass into the neighbouring bin;
//      - sums (torch.sum, the error sum) are accumulated in double and rounded to float32,
//        cumsum in double and rounded per element (as PyTorch's CPU cumsum does);
//      - bin counts are accumulated as integers (exact; PyTorch adds 1.0f per element,
//        which is the same below 2^24 elements per bin and batch).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "quant/qparams.h"

namespace l2n::quant {

class Observer {
 public:
  explicit Observer(QuantSpec spec);
  virtual ~Observer() = default;
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // x must be F32.
  virtual void observe(const Tensor& x) = 0;
  virtual QuantParams calculate_qparams() const = 0;
  virtual bool initialized() const = 0;

  const QuantSpec& spec() const { return spec_; }

 protected:
  QuantSpec spec_;
};

// The observer spec.observer names (PerChannelMinMax requires a per-channel spec, the others
// a per-tensor one).
std::unique_ptr<Observer> make_observer(const QuantSpec& spec);

class MinMaxObserver final : public Observer {
 public:
  explicit MinMaxObserver(QuantSpec spec);
  void observe(const float* x, int64_t n);
  void observe(const Tensor& x) override;
  QuantParams calculate_qparams() const override;
  bool initialized() const override { return min_val_ <= max_val_; }
  float min_val() const { return min_val_; }  // +inf before the first value
  float max_val() const { return max_val_; }  // -inf before the first value

 private:
  float min_val_;
  float max_val_;
};

class PerChannelMinMaxObserver final : public Observer {
 public:
  explicit PerChannelMinMaxObserver(QuantSpec spec);  // channels along spec.ch_axis
  // The channel count is fixed by the first call; later calls must have the same one.
  void observe(const float* x, const Shape& shape);
  void observe(const Tensor& x) override;
  QuantParams calculate_qparams() const override;
  bool initialized() const override { return !min_vals_.empty(); }
  const std::vector<float>& min_vals() const { return min_vals_; }
  const std::vector<float>& max_vals() const { return max_vals_; }

 private:
  std::vector<float> min_vals_;
  std::vector<float> max_vals_;
};

class HistogramObserver final : public Observer {
 public:
  explicit HistogramObserver(QuantSpec spec, int bins = 2048);
  void observe(const float* x, int64_t n);
  void observe(const Tensor& x) override;
  QuantParams calculate_qparams() const override;
  bool initialized() const override { return min_val_ <= max_val_; }

  // _non_linear_param_search(): the clipped [min, max] that calculate_qparams() quantizes.
  // Requires initialized().
  std::pair<float, float> search_range() const;
  // _compute_quantization_error(start_bin, end_bin), as the search evaluates it.
  double quantization_error(int start_bin, int end_bin) const;

  int bins() const { return bins_; }
  int64_t dst_bins() const { return dst_nbins_; }  // 2^bits of the dtype: 256 or 65536
  const std::vector<float>& histogram() const { return histogram_; }
  float min_val() const { return min_val_; }
  float max_val() const { return max_val_; }

 private:
  void combine(const std::vector<float>& update, float new_min, float new_max);

  int bins_;
  int64_t dst_nbins_;
  std::vector<float> histogram_;
  float min_val_;
  float max_val_;
};

// torch.histc(x, bins, min=lo, max=hi) on float32 input (observers.md §4.1): lo == hi widens
// to the data's range and then to [lo−1, hi+1]; values outside [lo, hi] are dropped; the bin
// is int((t − lo)·bins / (hi − lo)) in float32, with t == hi in the last bin.
std::vector<float> histc(const float* x, int64_t n, int bins, double lo, double hi);

}  // namespace l2n::quant
