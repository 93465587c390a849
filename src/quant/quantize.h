// Post-training quantization of a Llama graph: annotate → calibrate → convert (+ report).
//
// Contract:
//  * annotate(graph, scope) decides, per node, whether its output is computed in integers
//    and which value's parameters it uses. It depends only on the scope, never on the mode
//    or backend. Linear: the Linear nodes, plus data-movement ops fed by a quantized value
//    (they share its parameters). Full: every op the integer lowering supports (Linear,
//    MatMul, Add/Sub/Mul/Neg, Rsqrt/Silu/Exp/Reciprocal, ReduceSum/Mean/Max, Softmax,
//    Gather, data movement, CacheUpdate) except static values (constants and rows gathered
//    from constant tables by "input_pos": their consumers quantize them as constants); data
//    movement and CacheUpdate share their input's parameters, a decode step's cache inputs
//    those of the rows written into them. Only values that some integer op needs as
//    int8/int16 (CONV2D/MATMUL/TABLE/SCATTER operands, TABLE outputs, gathered embeddings,
//    float values read by integer ops) are observed; the softmax output gets the fixed
//    range [0, 1]; everything else is an int32 intermediate with a scale of its own.
//  * calibrate() runs the FP32 full-window graph over calibration samples and feeds the
//    mode's observers: the activation observer for every value an integer op reads or
//    writes, the per-channel weight observer for Linear weights, and with a static KV cache
//    the per-head-dim-channel max|x| of every layer's K/V rows (a channel never seen non-zero
//    gets the smallest normal float, as upstream, with a warning on stderr). Parameters are keyed by
//    node name (weights: "<weight>#w"), so a recipe calibrated on the full-window graph
//    applies to any graph built from the same model. Deterministic: observers see the
//    samples in order, and the FP32 forward passes run on one thread (the FP32 kernels'
//    rounding depends on the OpenMP thread count), so options.threads does not matter.
//  * convert(graph, recipe) returns the integer graph: Quantize at island inputs,
//    Dequantize at island outputs, each quantized op lowered to the TOSA INT sequence of
//    executorch-arm-llm.md §5 (Linear → IntLinear + per-channel Rescale; the full-scope
//    lowerings are listed in convert.cpp). The integer value standing for float node X
//    keeps the name X (its scale/zero point in ConvertInfo), helpers are named "X.<step>".
//    Nodes outside the scope are copied unchanged (FP32). Full scope on a Llama graph:
//    token ids → GATHER of an integer table → … → logits, whose Dequantize is the only float
//    op; the decode step's cache_k/v.N inputs and cache_*.N.out outputs are int8/int16 with
//    the K/V rows' parameters. With the same recipe, the decode step of a cache of S
//    positions computes each row exactly as the full window of S tokens does (bit-identical
//    logits); other S change static bounds and the softmax's fixed ranges, so the integer
//    rounding differs (not the float semantics).
//  * Static int8 KV cache (recipe.kv_cache_scales), decode step only: the cache inputs and
//    outputs are int8; the new rows are quantized per channel into the cache, and attention
//    reads the whole cache back at the rows' form with the new rows themselves written over
//    it, so the current token is exact and the history int8-rounded (upstream's update
//    path). Linear scope: as FP32 ops on the CPU (Mul by 1/scale, Quantize, SCATTER,
//    Dequantize, Mul by scale); full scope: per-channel RESCALEs around the SCATTER, all
//    integer (the rows' step bounds how fine a channel's scale can be: 2^-16 of it).
//  * report(): per quantized value, its parameters and the SQNR of the dequantized integer
//    values against the FP32 values on the calibration samples.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "model/model.h"
#include "quant/modes.h"
#include "quant/qparams.h"

namespace l2n::quant {

// Per node of a graph (indexed by ValueId).
struct Annotation {
  std::vector<bool> quantized;            // computed in integers
  std::vector<int32_t> shares;            // data movement, cache update, cache input: the value
                                          // whose parameters it uses; else -1
  std::vector<std::string> observed;      // names of the values whose activation params are needed
  std::vector<std::string> weights;       // names of the Linear weight constants
  // Full scope only (all false for Linear):
  std::vector<bool> is_static;            // constants and rows gathered from constant tables by
                                          // "input_pos": quantized as constants by their consumer
  std::vector<bool> wants_quantized;      // a consumer needs it as int8/int16 with its own params
  std::vector<bool> wants_any;            // a consumer takes any integer form (an int32 value
                                          // with its own scale), or it is read as float
};

Annotation annotate(const graph::Graph& graph, QuantScope scope);

struct QuantRecipe {
  std::string mode;                                // ModeConfig name
  QuantScope scope = QuantScope::Linear;
  std::map<std::string, QuantParams> params;       // by node name; weights under "<name>#w"
  std::string calibration;                         // how it was calibrated (for reports)
  // Static int8 KV cache (model.static_quantize_kv_cache), upstream's StaticQuantizedKVCache:
  // for the K/V rows node of each layer (graph::kv_rows_name), one scale per head-dim channel,
  // shared across heads and positions; q = clamp(round(x / scale), −128, 127). Empty: the
  // caches keep the scope's own form (FP32 for linear, the rows' int8/int16 for full).
  std::map<std::string, std::vector<float>> kv_cache_scales;
  std::string kv_cache_calibration;                // how the KV scales were chosen (for reports)

  const ModeConfig& mode_config() const { return find_quant_mode(mode); }
};

std::string weight_key(const std::string& weight_name);  // "<name>#w"

enum class KvCacheCalibration {
  None,      // no static int8 KV cache
  Observed,  // max|x| / 127 per head-dim channel over the calibration samples
  Fixed,     // fixed_kv_scale for every channel (no calibration data)
};

struct CalibrationOptions {
  int64_t seq_length = 512;
  KvCacheCalibration kv_cache = KvCacheCalibration::None;
  float fixed_kv_scale = 1.0f / 127.0f;
  int threads = 0;  // unused by the forward passes (see above); kept for the report runs
  bool progress = true;
};

// Samples of seq_length tokens each: BOS followed by consecutive text tokens, taken from
// the start of `tokens` (which should not contain the leading BOS), at most `limit`.
std::vector<std::vector<int32_t>> calibration_samples_from_tokens(const std::vector<int32_t>& tokens,
                                                                   int64_t seq_length, int64_t limit,
                                                                   int32_t bos_id);

// The upstream prompt method: greedy self-continuation of `prompt` (BOS first) by the FP32
// model up to seq_length tokens; one sample.
std::vector<int32_t> greedy_continuation(const model::Model& model, std::vector<int32_t> prompt,
                                         int64_t seq_length, int threads);

QuantRecipe calibrate(const model::Model& model, const ModeConfig& mode, QuantScope scope,
                      const std::vector<std::vector<int32_t>>& samples, const CalibrationOptions& options);

// The real scale and zero point of the integer value named X that stands for float node X
// (value = (q - zero_point) * scale). Linear/Gather/TABLE(int8)/data movement outputs carry
// the recipe's parameters; full-scope intermediates kept in int32 carry their own scale.
struct ValueScale {
  double scale = 1.0;
  int32_t zero_point = 0;
};
using ConvertInfo = std::map<std::string, ValueScale>;

graph::Graph convert(const graph::Graph& graph, const QuantRecipe& recipe, ConvertInfo* info = nullptr);

// Data movement for the full scope (Reshape, Transpose, Slice, Concat).
bool is_full_scope_data_movement(graph::OpKind op);

struct TensorReport {
  std::string name;
  std::string kind;  // "activation" or "weight"
  QuantParams params;
  double sqnr_db = 0;  // +inf when exact
};

struct QuantReport {
  std::string mode, scope, calibration;
  std::vector<TensorReport> tensors;

  std::string to_json() const;
  std::string to_table() const;
};

// Runs the FP32 and the converted full-window graph on the samples and compares every
// quantized value (activations) and every quantized weight.
QuantReport report(const model::Model& model, const QuantRecipe& recipe,
                   const std::vector<std::vector<int32_t>>& samples, int threads);

}  // namespace l2n::quant
