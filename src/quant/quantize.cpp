#include "quant/quantize.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <cstring>
#include <memory>
#include <set>

#include "core/error.h"
#include "core/progress.h"
#include "exec/executor.h"
#include "graph/llama_builder.h"
#include "quant/integer_kernels.h"
#include "quant/integer_ops.h"
#include "quant/observers.h"
#include "core/json_text.h"

namespace l2n::quant {
namespace {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::ValueId;

bool is_data_movement(OpKind op) {
  return op == OpKind::Reshape || op == OpKind::Transpose || op == OpKind::Slice;
}

exec::ExecOptions fp32_options(int threads) {
  exec::ExecOptions o;
  o.threads = threads;
  return o;
}

}  // namespace

std::string weight_key(const std::string& weight_name) { return weight_name + "#w"; }

// ---- annotate -----------------------------------------------------------------------------

namespace {

// Ops the full scope lowers to integers (convert.cpp has one lowering per kind).
bool full_scope_supports(OpKind op) {
  switch (op) {
    case OpKind::Linear: case OpKind::MatMul: case OpKind::Add: case OpKind::Sub: case OpKind::Mul:
    case OpKind::Neg: case OpKind::Rsqrt: case OpKind::Silu: case OpKind::Exp: case OpKind::Reciprocal:
    case OpKind::ReduceSum: case OpKind::ReduceMean: case OpKind::ReduceMax: case OpKind::Softmax:
    case OpKind::Gather: case OpKind::Reshape: case OpKind::Transpose: case OpKind::Slice: case OpKind::Concat:
    case OpKind::CacheUpdate: return true;
    default: return false;
  }
}

bool is_table_op(OpKind op) {
  return op == OpKind::Rsqrt || op == OpKind::Silu || op == OpKind::Exp || op == OpKind::Reciprocal;
}

// Operand k of a quantized op that must arrive as int8/int16 with its own parameters
// (TOSA CONV2D/MATMUL/TABLE/SCATTER inputs); the other operands take any integer form.
bool needs_quantized_operand(const Node& n, size_t k) {
  switch (n.op) {
    case OpKind::Linear: return k == 0;
    case OpKind::MatMul: return true;
    case OpKind::CacheUpdate: return k < 2;
    default: return is_table_op(n.op);
  }
}

}  // namespace

bool is_full_scope_data_movement(OpKind op) { return is_data_movement(op) || op == OpKind::Concat; }

Annotation annotate(const Graph& graph, QuantScope scope) {
  const auto& nodes = graph.nodes();
  Annotation a;
  a.quantized.assign(nodes.size(), false);
  a.shares.assign(nodes.size(), -1);
  a.is_static.assign(nodes.size(), false);
  a.wants_quantized.assign(nodes.size(), false);
  a.wants_any.assign(nodes.size(), false);
  std::vector<bool> observed(nodes.size(), false);
  if (scope == QuantScope::Linear) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      if (n.op == OpKind::Linear) {
        a.quantized[i] = true;
        observed[i] = true;
        observed[n.inputs[0].index] = true;
        a.weights.push_back(graph.node(n.inputs[1]).name);
      } else if (is_data_movement(n.op) && a.quantized[n.inputs[0].index]) {
        // Pure data movement after a quantized value: stays in integers with its params.
        a.quantized[i] = true;
        const int32_t src = n.inputs[0].index;
        a.shares[i] = a.shares[src] >= 0 ? a.shares[src] : src;
      }
    }
    for (size_t i = 0; i < nodes.size(); ++i)
      if (observed[i]) a.observed.push_back(nodes[i].name);
    return a;
  }

  // Full scope. Static values (constants, and rows gathered from constant tables by
  // input_pos, e.g. the decode step's RoPE and mask rows) are not activations: their
  // consumers quantize them as constants, so they need no observer.
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.op == OpKind::Constant) {
      a.is_static[i] = true;
    } else if (n.op == OpKind::Gather || is_full_scope_data_movement(n.op)) {
      bool all = true;
      for (ValueId v : n.inputs) {
        const Node& in = graph.node(v);
        all = all && (a.is_static[v.index] || (in.op == OpKind::Input && in.name == "input_pos"));
      }
      a.is_static[i] = all && a.is_static[n.inputs[0].index];
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (a.is_static[i] || n.op == OpKind::Input || !full_scope_supports(n.op)) continue;
    a.quantized[i] = true;
    if (n.op == OpKind::Linear) a.weights.push_back(graph.node(n.inputs[1]).name);
    // Data movement and the cache update keep the parameters of the value they move.
    int32_t src = -1;
    if (is_full_scope_data_movement(n.op)) src = n.inputs[0].index;
    if (n.op == OpKind::CacheUpdate) src = n.inputs[1].index;
    if (src >= 0 && a.quantized[src]) a.shares[i] = a.shares[src] >= 0 ? a.shares[src] : src;
  }
  // The decode step's cache inputs hold the rows their CacheUpdate writes: integers with
  // the parameters of those rows.
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.op != OpKind::CacheUpdate || !a.quantized[i]) continue;
    const int32_t cache = n.inputs[0].index;
    if (nodes[cache].op == OpKind::Input && nodes[cache].dtype == DType::F32) {
      a.quantized[cache] = true;
      a.shares[cache] = a.shares[i];
    }
  }
  // Which form each value's consumers need (propagated backwards through data movement).
  for (const auto& [name, v] : graph.outputs()) {
    if (a.quantized[v.index] && nodes[v.index].op == OpKind::CacheUpdate) a.wants_quantized[v.index] = true;
    else a.wants_any[v.index] = true;
  }
  for (size_t i = nodes.size(); i-- > 0;) {
    const Node& n = nodes[i];
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int32_t src = n.inputs[k].index;
      if (a.is_static[src]) continue;
      if (!a.quantized[i]) {
        a.wants_any[src] = true;
      } else if (is_full_scope_data_movement(n.op) || (n.op == OpKind::CacheUpdate && k < 2)) {
        if (n.op == OpKind::CacheUpdate) a.wants_quantized[src] = true;
        if (a.wants_quantized[i]) a.wants_quantized[src] = true;
        if (a.wants_any[i]) a.wants_any[src] = true;
      } else if (needs_quantized_operand(n, k)) {
        a.wants_quantized[src] = true;
      } else {
        a.wants_any[src] = true;
      }
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (a.is_static[i]) continue;
    if (!a.quantized[i]) {
      // A float value read by an integer op is quantized at the island border.
      bool feeds_integer = false;
      for (const Node& c : nodes)
        for (ValueId v : c.inputs) feeds_integer = feeds_integer || (v.index == static_cast<int32_t>(i) && a.quantized[c.output.index]);
      observed[i] = feeds_integer && n.dtype == DType::F32;  // not the i32 token ids or positions
      continue;
    }
    if (a.shares[i] >= 0 || n.op == OpKind::Softmax || n.op == OpKind::Input) continue;  // softmax: fixed [0, 1]
    observed[i] = a.wants_quantized[i] || n.op == OpKind::Linear || n.op == OpKind::Gather || is_table_op(n.op);
  }
  for (size_t i = 0; i < nodes.size(); ++i)
    if (observed[i]) a.observed.push_back(nodes[i].name);
  return a;
}

// ---- calibrate ----------------------------------------------------------------------------

std::vector<std::vector<int32_t>> calibration_samples_from_tokens(const std::vector<int32_t>& tokens,
                                                                   int64_t seq_length, int64_t limit,
                                                                   int32_t bos_id) {
  if (seq_length < 2) fail("the calibration sequence length must be at least 2, got {}", seq_length);
  std::vector<std::vector<int32_t>> samples;
  const size_t body = static_cast<size_t>(seq_length - 1);
  for (size_t start = 0; start + body <= tokens.size() && static_cast<int64_t>(samples.size()) < limit;
       start += body) {
    std::vector<int32_t> s{bos_id};
    s.insert(s.end(), tokens.begin() + static_cast<std::ptrdiff_t>(start),
             tokens.begin() + static_cast<std::ptrdiff_t>(start + body));
    samples.push_back(std::move(s));
  }
  if (samples.empty())
    fail("the calibration text has {} tokens, fewer than one sample of {}", tokens.size(), seq_length);
  return samples;
}

std::vector<int32_t> greedy_continuation(const model::Model& model, std::vector<int32_t> prompt,
                                         int64_t seq_length, int threads) {
  if (prompt.empty()) fail("the calibration prompt is empty");
  const Graph g = graph::build_decode_step(model, seq_length);
  exec::Executor ex(g, fp32_options(threads));
  std::map<std::string, Tensor> state;
  const auto& c = model.config;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    state[fmt::format("cache_k.{}", l)] = Tensor(DType::F32, {seq_length, c.n_kv_heads, c.head_dim});
    state[fmt::format("cache_v.{}", l)] = Tensor(DType::F32, {seq_length, c.n_kv_heads, c.head_dim});
  }
  std::vector<int32_t> out;
  for (int64_t pos = 0; pos < seq_length; ++pos) {
    const int32_t token = pos < static_cast<int64_t>(prompt.size()) ? prompt[static_cast<size_t>(pos)] : out.back();
    if (pos < static_cast<int64_t>(prompt.size())) out.push_back(token);
    std::map<std::string, Tensor> inputs = state;
    inputs["tokens"] = Tensor::from_vector<int32_t>({1}, {token});
    inputs["input_pos"] = Tensor::from_vector<int32_t>({1}, {static_cast<int32_t>(pos)});
    auto outputs = ex.run(inputs);
    for (auto& [name, cache] : state) cache = outputs.at(name + ".out");
    if (pos + 1 >= static_cast<int64_t>(prompt.size()) && static_cast<int64_t>(out.size()) < seq_length) {
      const float* logits = outputs.at("logits").data<float>();
      int32_t best = 0;
      for (int32_t v = 1; v < c.vocab_size; ++v)
        if (logits[v] > logits[best]) best = v;
      out.push_back(best);
    }
    if (static_cast<int64_t>(out.size()) >= seq_length) break;
  }
  out.resize(static_cast<size_t>(std::min<int64_t>(seq_length, static_cast<int64_t>(out.size()))));
  return out;
}

namespace {

// Scales of the static int8 KV cache from the observed per-channel maxima (or the fixed scale).
void set_kv_cache_scales(QuantRecipe& recipe, std::map<std::string, std::vector<float>> kv_max,
                         const CalibrationOptions& options) {
  if (options.kv_cache == KvCacheCalibration::None) return;
  if (options.kv_cache == KvCacheCalibration::Fixed) {
    for (auto& [name, m] : kv_max) std::fill(m.begin(), m.end(), options.fixed_kv_scale);
    recipe.kv_cache_scales = std::move(kv_max);
    recipe.kv_cache_calibration = fmt::format("fixed scale {} for every channel (no calibration data)", options.fixed_kv_scale);
    return;
  }
  float lo = INFINITY, hi = 0;
  int64_t zero_channels = 0;
  bool any = false;
  for (auto& [name, m] : kv_max) {
    for (float& s : m) {
      any = any || s > 0;
      if (s == 0) ++zero_channels;
      s = std::max(s / 127.0f, std::numeric_limits<float>::min());
      lo = std::min(lo, s), hi = std::max(hi, s);
    }
  }
  if (!any) fail("static KV cache calibration observed no non-zero K/V value; check the calibration data");
  if (zero_channels > 0)
    fmt::print(stderr, "warning: {} KV-cache channel(s) were zero on every calibration token; they get the smallest "
               "scale and hold only zeros\n", zero_channels);
  recipe.kv_cache_scales = std::move(kv_max);
  recipe.kv_cache_calibration = fmt::format("max|x|/127 per head-dim channel over the calibration samples: scales "
                                            "{:.3g} .. {:.3g}", lo, hi);
}

}  // namespace

QuantRecipe calibrate(const model::Model& model, const ModeConfig& mode, QuantScope scope,
                      const std::vector<std::vector<int32_t>>& samples, const CalibrationOptions& options) {
  if (samples.empty()) fail("no calibration samples");
  QuantRecipe recipe;
  recipe.mode = std::string(mode.name);
  recipe.scope = scope;
  std::map<std::string, std::unique_ptr<Observer>> observers;
  std::map<std::string, std::unique_ptr<Observer>> weight_observers;
  std::unique_ptr<Graph> g;
  std::unique_ptr<exec::Executor> ex;
  int64_t length = -1;
  ProgressBar bar(fmt::format("calibrating {} ({})", mode.name, quant_scope_name(scope)),
                  static_cast<int64_t>(samples.size()), options.progress);
  int64_t done = 0;
  // Static KV cache: per-channel max|x| of each layer's K/V rows (last axis = head dim).
  std::map<std::string, std::vector<float>> kv_max;
  if (options.kv_cache != KvCacheCalibration::None)
    for (int64_t layer = 0; layer < model.config.n_layers; ++layer)
      for (bool value : {false, true})
        kv_max[graph::kv_rows_name(layer, value)].assign(static_cast<size_t>(model.config.head_dim), 0.0f);
  for (const auto& sample : samples) {
    const int64_t n = static_cast<int64_t>(sample.size());
    if (n != length) {
      ex.reset();
      g = std::make_unique<Graph>(graph::build_full_window(model, n));
      // The FP32 kernels round differently for different OpenMP thread counts (an ulp in
      // some layer-1 values), which would leak into the parameters: calibration runs its
      // forward passes on one thread so the recipe is the same whatever --threads says.
      ex = std::make_unique<exec::Executor>(*g, fp32_options(1));
      length = n;
      const Annotation a = annotate(*g, scope);
      for (const std::string& name : a.observed)
        if (!observers.count(name)) observers.emplace(name, make_observer(mode.activation));
      for (const std::string& name : a.weights)
        if (!weight_observers.count(name)) weight_observers.emplace(name, make_observer(mode.weight));
    }
    Tensor ids(DType::I32, {n});
    std::copy(sample.begin(), sample.end(), ids.mutable_data<int32_t>());
    ex->run({{"tokens", ids}}, [&](const Node& node, const Tensor& value) {
      if (auto it = observers.find(node.name); it != observers.end()) it->second->observe(value);
      if (auto it = weight_observers.find(node.name); it != weight_observers.end() && !it->second->initialized())
        it->second->observe(value);
      if (options.kv_cache != KvCacheCalibration::Observed) return;
      if (auto it = kv_max.find(node.name); it != kv_max.end()) {
        std::vector<float>& m = it->second;
        const float* d = value.data<float>();
        const size_t channels = m.size();
        for (int64_t i = 0; i < value.numel(); ++i) {
          float& slot = m[static_cast<size_t>(i) % channels];
          slot = std::max(slot, std::abs(d[i]));
        }
      }
    });
    bar.update(++done);
  }
  bar.finish();
  for (auto& [name, obs] : observers) recipe.params[name] = obs->calculate_qparams();
  // A softmax output lies in [0, 1] by definition: fixed parameters, no observer (its
  // observed range would only be narrower where no row was ever confident).
  if (scope == QuantScope::Full)
    for (const Node& n : g->nodes())
      if (n.op == OpKind::Softmax) recipe.params[n.name] = calculate_qparams(0.0f, 1.0f, mode.activation);
  for (auto& [name, obs] : weight_observers) recipe.params[weight_key(name)] = obs->calculate_qparams();
  set_kv_cache_scales(recipe, std::move(kv_max), options);
  return recipe;
}

// ---- report -------------------------------------------------------------------------------

namespace {

struct Energy {
  double signal = 0, noise = 0;
  void add(const Tensor& ref, const Tensor& approx) {
    const float* r = ref.data<float>();
    const float* a = approx.data<float>();
    for (int64_t i = 0; i < ref.numel(); ++i) {
      if (std::abs(r[i]) >= 1e29f) continue;  // a masked score: saturated on purpose, not signal
      signal += static_cast<double>(r[i]) * r[i];
      const double d = static_cast<double>(r[i]) - a[i];
      noise += d * d;
    }
  }
  double sqnr_db() const {
    if (noise == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
  }
};

}  // namespace

QuantReport report(const model::Model& model, const QuantRecipe& recipe,
                   const std::vector<std::vector<int32_t>>& samples, int threads) {
  QuantReport r;
  r.mode = recipe.mode;
  r.scope = std::string(quant_scope_name(recipe.scope));
  r.calibration = recipe.calibration;
  std::map<std::string, Energy> energy;
  std::map<std::string, QuantParams> act_params;
  for (const auto& sample : samples) {
    const int64_t n = static_cast<int64_t>(sample.size());
    const Graph g = graph::build_full_window(model, n);
    const Annotation a = annotate(g, recipe.scope);
    ConvertInfo scales;
    const Graph q = convert(g, recipe, &scales);
    Tensor ids(DType::I32, {n});
    std::copy(sample.begin(), sample.end(), ids.mutable_data<int32_t>());
    std::map<std::string, Tensor> reference;
    std::map<std::string, std::string> wanted;  // quantized node -> its params' name
    for (size_t i = 0; i < g.nodes().size(); ++i)
      if (a.quantized[i] && a.shares[i] < 0) wanted[g.nodes()[i].name] = g.nodes()[i].name;
    exec::Executor(g, fp32_options(threads)).run({{"tokens", ids}}, [&](const Node& node, const Tensor& v) {
      if (wanted.count(node.name)) reference[node.name] = v.clone();
    });
    exec::Executor(q, integer_exec_options(threads)).run({{"tokens", ids}}, [&](const Node& node, const Tensor& v) {
      auto it = reference.find(node.name);
      auto sit = scales.find(node.name);
      if (it == reference.end() || node.dtype == DType::F32 || sit == scales.end()) return;
      // The value's own scale: the recipe's parameters, or an int32 intermediate's scale.
      auto pit = recipe.params.find(node.name);
      QuantParams qp = pit != recipe.params.end() && static_cast<float>(sit->second.scale) == pit->second.scale()
                           ? pit->second
                           : QuantParams::per_tensor(static_cast<float>(sit->second.scale), sit->second.zero_point,
                                                     node.dtype == DType::I8    ? QDType::I8
                                                     : node.dtype == DType::I16 ? QDType::I16
                                                                                : QDType::I32,
                                                     0, 0);
      act_params[node.name] = qp;
      Tensor deq(DType::F32, v.shape());
      float* d = deq.mutable_data<float>();
      for (int64_t k = 0; k < v.numel(); ++k) {
        int64_t q = 0;
        switch (v.dtype()) {
          case DType::I8: q = v.data<int8_t>()[k]; break;
          case DType::I16: q = v.data<int16_t>()[k]; break;
          case DType::I32: q = v.data<int32_t>()[k]; break;
          default: q = v.data<int64_t>()[k]; break;
        }
        d[k] = static_cast<float>(static_cast<double>(q - sit->second.zero_point) * sit->second.scale);
      }
      energy[node.name].add(it->second, deq);
    });
  }
  for (const auto& [name, e] : energy) r.tensors.push_back({name, "activation", act_params.at(name), e.sqnr_db()});
  // Weights: their own quantization error.
  const Graph g = graph::build_full_window(model, 2);
  const Annotation a = annotate(g, recipe.scope);
  std::set<std::string> seen;
  for (const std::string& w : a.weights) {
    if (!seen.insert(w).second) continue;
    const Node* node = g.find(w);
    const QuantParams& qp = recipe.params.at(weight_key(w));
    Energy e;
    e.add(node->value, dequantize(quantize(node->value, qp), qp));
    r.tensors.push_back({w, "weight", qp, e.sqnr_db()});
  }
  return r;
}

std::string QuantReport::to_json() const {
  nlohmann::json tensors = nlohmann::json::array();
  for (const TensorReport& t : this->tensors) {
    nlohmann::json j{{"name", t.name}, {"kind", t.kind}, {"dtype", qdtype_name(t.params.dtype)},
                     {"scales", t.params.scales}, {"zero_points", t.params.zero_points},
                     {"per_channel", t.params.per_channel()}};
    j["sqnr_db"] = std::isfinite(t.sqnr_db) ? nlohmann::json(t.sqnr_db) : nlohmann::json("inf");
    tensors.push_back(std::move(j));
  }
  return json_text(nlohmann::json{{"mode", mode}, {"scope", scope}, {"calibration", calibration}, {"tensors", tensors}}, 1);
}

std::string QuantReport::to_table() const {
  std::string s = fmt::format("quantization {} scope {} ({})\n{:<40} {:<10} {:<6} {:>14} {:>6} {:>9}\n", mode, scope,
                              calibration, "tensor", "kind", "dtype", "scale", "zp", "SQNR dB");
  for (const TensorReport& t : tensors) {
    const std::string scale = t.params.per_channel() ? fmt::format("{} ch", t.params.channels())
                                                     : fmt::format("{:.6g}", t.params.scale());
    const std::string zp = t.params.per_channel() ? "0" : fmt::format("{}", t.params.zero_point());
    s += fmt::format("{:<40} {:<10} {:<6} {:>14} {:>6} {:>9.2f}\n", t.name, t.kind, qdtype_name(t.params.dtype), scale,
                     zp, t.sqnr_db);
  }
  return s;
}

}  // namespace l2n::quant
