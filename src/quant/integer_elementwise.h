// Whole-tensor forms of the per-element integer ops of quant/integer_ops.h: RESCALE, TABLE,
// int32 ADD/SUB/MUL, and the float boundary (quantize_value / dequantize_value of qparams.h).
//
// Contract:
//  * Each element equals, bit for bit, the per-element function it stands for (the oracle).
//    Parameter checks (validate_rescale, table slopes, MUL shift) run once per call; the
//    per-element REQUIREs are evaluated in a branch-free pass that only records whether one
//    fails, and in that case the per-element reference recomputes the tensor in element
//    order, so the FIRST failing element throws exactly what the reference throws.
//  * Large tensors are split among OpenMP threads by element; results do not depend on the
//    thread count. Nothing throws inside a parallel region. Outputs must not alias inputs.
//  * Template parameters are storage types: In/Out of RESCALE one of int8_t, int16_t,
//    int32_t, int64_t (int48) / int8_t, int16_t, int32_t; other instantiations do not link.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "quant/integer_ops.h"

namespace l2n::quant {

// out[i] = rescale(x[i], m[i % m.size()], a) for i in [0, n) (per-channel multipliers run
// along the innermost axis). Calls validate_rescale first. `a.in_dtype`/`a.out_dtype` must match In/Out (int48 is held in int64_t).
template <typename In, typename Out>
void rescale_tensor(const In* x, Out* out, int64_t n, std::span<const ScaleMultiplier> m, const RescaleAttrs& a);

// rescale_tensor split in two for a caller that applies the same multipliers and attributes
// to many tensors (a decode step per token): the constructor runs validate_rescale (throwing
// what it throws) and lays out the per-channel constants once; run() then equals
// rescale_tensor(x, out, n, m, a) bit for bit. Immutable: run() may be called concurrently.
class RescalePlan {
 public:
  RescalePlan(std::span<const ScaleMultiplier> m, const RescaleAttrs& a);
  ~RescalePlan();
  RescalePlan(const RescalePlan&) = delete;
  RescalePlan& operator=(const RescalePlan&) = delete;

  template <typename In, typename Out>
  void run(const In* x, Out* out, int64_t n) const;

 private:
  struct Channels;
  std::vector<ScaleMultiplier> multipliers_;
  RescaleAttrs attrs_;
  std::unique_ptr<const Channels> channels_;  // null for one channel
};

// out[i] = lookup_i8(x[i], table) / lookup_i16(x[i], table).
void table_i8_tensor(const int8_t* x, int8_t* out, int64_t n, const TableI8& table);
void table_i16_tensor(const int16_t* x, int32_t* out, int64_t n, const TableI16& table);

// Elementwise int32 arithmetic over a run: o[i] = op(a[i·sa], b[i·sb]) for i in [0, n), with
// sa, sb in {0, 1} (a broadcast scalar or a dense run).
void add_i32_run(const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n);
void sub_i32_run(const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n);
void mul_i32_run(const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n, int shift);

// out[i] = quantize_value(x[i], inv_scale, zero_point, qmin, qmax) (Out: int8_t, int16_t,
// int32_t or int64_t; qmin/qmax within Out).
template <typename Out>
void quantize_tensor(const float* x, Out* out, int64_t n, float inv_scale, int32_t zero_point, int64_t qmin, int64_t qmax);

// out[i] = dequantize_value(q[i], scale, zero_point) (In: int8_t, int16_t, int32_t, int64_t).
template <typename In>
void dequantize_tensor(const In* q, float* out, int64_t n, float scale, int32_t zero_point);

}  // namespace l2n::quant
