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

namespace l2n::quant {
namespace {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::ValueId;

bool is_data_movement(OpKind op) {
  return op == OpKind::Reshape || op == OpKind::Transpose || op == OpKind::Slice;
}

DType dtype_of(QDType t) { return storage_dtype(t); }

exec::ExecOptions fp32_options(int threads) {
  exec::ExecOptions o;
  o.threads = threads;
  return o;
}

}  // namespace

std::string weight_key(const std::string& weight_name) { return weight_name + "#w"; }

// ---- annotate -----------------------------------------------------------------------------

Annotation annotate(const Graph& graph, QuantScope scope) {
  if (scope == QuantScope::Full)
    fail("quantize scope 'full' is not implemented yet (use --scope linear)");
  const auto& nodes = graph.nodes();
  Annotation a;
  a.quantized.assign(nodes.size(), false);
  a.shares.assign(nodes.size(), -1);
  std::vector<bool> observed(nodes.size(), false);
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
    });
    bar.update(++done);
  }
  bar.finish();
  for (auto& [name, obs] : observers) recipe.params[name] = obs->calculate_qparams();
  for (auto& [name, obs] : weight_observers) recipe.params[weight_key(name)] = obs->calculate_qparams();
  return recipe;
}

// ---- convert ------------------------------------------------------------------------------

namespace {

class Converter {
 public:
  Converter(const Graph& src, const QuantRecipe& recipe)
      : src_(src), recipe_(recipe), mode_(recipe.mode_config()), ann_(annotate(src, recipe.scope)) {
    float_of_.assign(src.nodes().size(), ValueId{});
    q_of_.assign(src.nodes().size(), ValueId{});
  }

  Graph run() {
    const auto& nodes = src_.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      if (n.op == OpKind::Input) {
        float_of_[i] = out_.add_input(n.name, n.dtype, n.shape);
      } else if (n.op == OpKind::Constant) {
        // emitted on first float use
      } else if (ann_.quantized[i]) {
        q_of_[i] = lower(n);
      } else {
        std::vector<ValueId> inputs;
        for (ValueId v : n.inputs) inputs.push_back(float_value(v));
        float_of_[i] = out_.add_node(n.op, n.name, inputs, n.attrs);
      }
    }
    for (const auto& [name, v] : src_.outputs()) out_.add_output(name, float_value(v));
    return std::move(out_);
  }

 private:
  const QuantParams& params(int32_t index) const {
    const int32_t src = ann_.shares[index] >= 0 ? ann_.shares[index] : index;
    const std::string& name = src_.nodes()[src].name;
    auto it = recipe_.params.find(name);
    if (it == recipe_.params.end()) fail("the quantization recipe has no parameters for '{}'", name);
    return it->second;
  }

  ValueId const_int(const std::string& name, DType dtype, std::vector<int64_t> values) {
    Tensor t(dtype, {static_cast<int64_t>(values.size())});
    for (size_t k = 0; k < values.size(); ++k) {
      switch (dtype) {
        case DType::I8: t.mutable_data<int8_t>()[k] = static_cast<int8_t>(values[k]); break;
        case DType::I16: t.mutable_data<int16_t>()[k] = static_cast<int16_t>(values[k]); break;
        case DType::I32: t.mutable_data<int32_t>()[k] = static_cast<int32_t>(values[k]); break;
        case DType::I64: t.mutable_data<int64_t>()[k] = values[k]; break;
        default: fail("internal: const_int of {}", dtype_name(dtype));
      }
    }
    return out_.add_constant(name, std::move(t));
  }

  ValueId float_value(ValueId v) {
    const int32_t i = v.index;
    if (float_of_[i].valid()) return float_of_[i];
    const Node& n = src_.nodes()[i];
    if (n.op == OpKind::Constant) return float_of_[i] = out_.add_constant(n.name, n.value);
    if (!q_of_[i].valid()) fail("internal: value '{}' has no converted form", n.name);
    const QuantParams& qp = params(i);
    graph::Attrs attrs;
    attrs.scale = qp.scale();
    attrs.zero_point = qp.zero_point();
    return float_of_[i] = out_.add_node(OpKind::Dequantize, n.name + ".dequantize", {q_of_[i]}, attrs);
  }

  // The integer form of value v with parameters qp.
  ValueId quantized_value(ValueId v, const QuantParams& qp) {
    const int32_t i = v.index;
    if (q_of_[i].valid()) {
      if (params(i) != qp) fail("internal: '{}' is needed with other parameters", src_.nodes()[i].name);
      return q_of_[i];
    }
    const Node& n = src_.nodes()[i];
    if (n.op == OpKind::Constant) return q_of_[i] = out_.add_constant(n.name + ".q", quantize(n.value, qp));
    graph::Attrs attrs;
    attrs.dtype = dtype_of(qp.dtype);
    attrs.scale = qp.scale();
    attrs.zero_point = qp.zero_point();
    attrs.qmin = qp.qmin;
    attrs.qmax = qp.qmax;
    return q_of_[i] = out_.add_node(OpKind::Quantize, n.name + ".quantize", {float_value(v)}, attrs);
  }

  // RESCALE of x (accumulator or activation) to `out` with real scales[c] per channel.
  ValueId rescale(ValueId x, const std::vector<double>& scales, bool per_channel, const QuantParams& out,
                  int32_t x_zp, const std::string& name) {
    const DType in = out_.node(x).dtype;
    const bool scale32 = in != DType::I64;
    std::vector<int64_t> mult, shift;
    for (double s : scales) {
      const ScaleMultiplier m = compute_multiplier(s, scale32);
      mult.push_back(m.multiplier);
      shift.push_back(m.shift);
    }
    graph::Attrs attrs;
    attrs.dtype = dtype_of(out.dtype);
    attrs.scale32 = scale32;
    attrs.per_channel = per_channel;
    const ValueId m = const_int(name + ".multiplier", scale32 ? DType::I32 : DType::I16, mult);
    const ValueId sh = const_int(name + ".shift", DType::I8, shift);
    const ValueId izp = const_int(name + ".input_zp", in, {x_zp});
    const ValueId ozp = const_int(name + ".output_zp", attrs.dtype, {out.zero_point()});
    return out_.add_node(OpKind::Rescale, name, {x, m, sh, izp, ozp}, attrs);
  }

  ValueId lower(const Node& n) {
    const int32_t self = n.output.index;
    if (is_data_movement(n.op)) {
      const ValueId x = quantized_value(n.inputs[0], params(self));
      return out_.add_node(n.op, n.name, {x}, n.attrs);
    }
    if (n.op == OpKind::Linear) return lower_linear(n);
    fail("internal: no integer lowering for '{}' ({})", n.name, graph::op_name(n.op));
  }

  ValueId lower_linear(const Node& n) {
    const QuantParams& in_qp = params(n.inputs[0].index);
    const QuantParams& out_qp = params(n.output.index);
    const Node& w = src_.node(n.inputs[1]);
    auto wit = recipe_.params.find(weight_key(w.name));
    if (wit == recipe_.params.end()) fail("the quantization recipe has no parameters for weight '{}'", w.name);
    const QuantParams& w_qp = wit->second;
    const ValueId x = quantized_value(n.inputs[0], in_qp);
    std::string wname = w.name + ".qweight";
    auto cached = weights_.find(wname);
    if (cached == weights_.end())
      cached = weights_.emplace(wname, out_.add_constant(wname, quantize(w.value, w_qp))).first;
    const int64_t channels = w.shape[0];
    const BiasSpec& bias_spec = mode_.bias;
    const bool wide = mode_.int16_activations();
    const QDType bias_type = wide ? QDType::I48 : QDType::I32;
    const QuantParams b_qp = derive_bias_qparams(in_qp, w_qp, bias_type, bias_spec.qmin, bias_spec.qmax);
    Tensor bias;
    if (n.inputs.size() > 2) {
      bias = quantize(src_.node(n.inputs[2]).value, b_qp);
    } else {
      bias = Tensor(storage_dtype(bias_type), {channels});
      std::memset(bias.mutable_raw(), 0, bias.nbytes());
    }
    const ValueId b = out_.add_constant(n.name + ".conv.bias", std::move(bias));
    const ValueId xzp = const_int(n.name + ".conv.input_zp", dtype_of(in_qp.dtype), {in_qp.zero_point()});
    const ValueId wzp = const_int(n.name + ".conv.weight_zp", DType::I8, {0});
    const ValueId acc = out_.add_node(OpKind::IntLinear, n.name + ".conv", {x, cached->second, b, xzp, wzp});
    std::vector<double> scales;
    for (int64_t c = 0; c < channels; ++c)
      scales.push_back(static_cast<double>(in_qp.scale()) * static_cast<double>(w_qp.scale(w_qp.channels() == 1 ? 0 : c)) /
                       static_cast<double>(out_qp.scale()));
    return rescale(acc, scales, true, out_qp, 0, n.name);
  }

  const Graph& src_;
  const QuantRecipe& recipe_;
  const ModeConfig& mode_;
  Annotation ann_;
  Graph out_;
  std::vector<ValueId> float_of_, q_of_;
  std::map<std::string, ValueId> weights_;
};

}  // namespace

Graph convert(const Graph& graph, const QuantRecipe& recipe) { return Converter(graph, recipe).run(); }

// ---- report -------------------------------------------------------------------------------

namespace {

struct Energy {
  double signal = 0, noise = 0;
  void add(const Tensor& ref, const Tensor& approx) {
    const float* r = ref.data<float>();
    const float* a = approx.data<float>();
    for (int64_t i = 0; i < ref.numel(); ++i) {
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
    const Graph q = convert(g, recipe);
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
      if (it == reference.end() || node.dtype == DType::F32) return;
      const QuantParams& qp = recipe.params.at(node.name);
      act_params[node.name] = qp;
      energy[node.name].add(it->second, dequantize(v, qp));
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
  return nlohmann::json{{"mode", mode}, {"scope", scope}, {"calibration", calibration}, {"tensors", tensors}}.dump(1);
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
