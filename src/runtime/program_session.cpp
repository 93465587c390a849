#include "runtime/program_session.h"

#include <fmt/format.h>

#include <cstring>
#include <set>
#include <utility>

#include "core/error.h"
#include "exec/executor.h"
#include "quant/integer_kernels.h"
#include "tosa/interpreter.h"
#include "tosa/serialize.h"

namespace l2n::runtime {

namespace {

tosa::DType tosa_type_for(DType t) {
  switch (t) {
    case DType::I8: return tosa::DType::INT8;
    case DType::I16: return tosa::DType::INT16;
    case DType::I32: return tosa::DType::INT32;
    case DType::I64: return tosa::DType::INT48;
    case DType::F32: return tosa::DType::FP32;
    default: fail("a delegate cannot take a {} value", dtype_name(t));
  }
}

}  // namespace

struct ProgramSession::PreparedMethod {
  const program::Method* method = nullptr;
  std::vector<std::unique_ptr<exec::Executor>> executors;            // per CPU graph
  std::vector<std::unique_ptr<tosa::Interpreter>> interpreters;      // per delegate step
  std::vector<const tosa::Interpreter*> delegate_of_step;
  // Per step, the values it reads that no later step reads and the method does not return:
  // the step gets them handed over (moved), so a delegate may update a buffer in place.
  std::vector<std::set<std::string>> read_last;
};

ProgramSession::ProgramSession(std::shared_ptr<const program::Program> program, ProgramSessionOptions options)
    : program_(std::move(program)), options_(options) {
  for (const program::Method& m : program_->methods) {
    auto p = std::make_unique<PreparedMethod>();
    p->method = &m;
    for (const graph::Graph& g : m.cpu_graphs)
      p->executors.push_back(std::make_unique<exec::Executor>(g, quant::integer_exec_options(options_.threads)));
    for (const program::Step& s : m.steps) {
      if (s.kind == program::Step::Kind::Cpu) {
        if (s.index >= m.cpu_graphs.size())
          fail("program method '{}' has a CPU step {} but only {} CPU graphs", m.name, s.index, m.cpu_graphs.size());
        p->delegate_of_step.push_back(nullptr);
        continue;
      }
      if (s.index >= program_->delegates.size())
        fail("program method '{}' refers to delegate {} but the program has {}", m.name, s.index,
             program_->delegates.size());
      const program::Delegate& d = program_->delegates[s.index];
      p->interpreters.push_back(
          std::make_unique<tosa::Interpreter>(tosa::read_tosa(d.tosa, fmt::format("delegate '{}'", d.name))));
      p->delegate_of_step.push_back(p->interpreters.back().get());
    }
    std::set<std::string> read_later;
    for (const program::ValueSpec& out : m.outputs) read_later.insert(out.name);
    p->read_last.resize(m.steps.size());
    for (size_t k = m.steps.size(); k-- > 0;) {
      std::vector<std::string> reads;
      if (const tosa::Interpreter* interp = p->delegate_of_step[k]) {
        reads = interp->block().inputs;
      } else {
        const graph::Graph& g = m.cpu_graphs[m.steps[k].index];
        for (graph::ValueId v : g.inputs()) reads.push_back(g.node(v).name);
      }
      for (const std::string& name : reads)
        if (!read_later.count(name)) p->read_last[k].insert(name);
      read_later.insert(reads.begin(), reads.end());
    }
    methods_[m.name] = std::move(p);
  }
}

ProgramSession::~ProgramSession() = default;

const ProgramSession::PreparedMethod& ProgramSession::prepared(const std::string& name) const {
  auto it = methods_.find(name);
  if (it == methods_.end()) {
    if (name == "decode")
      fail("this program has no KV-cache decode step: re-export it with model.use_kv_cache=true (-kv)");
    fail("this program has no '{}' method", name);
  }
  return *it->second;
}

std::map<std::string, Tensor> ProgramSession::run_method(const std::string& name,
                                                         std::map<std::string, Tensor> values) const {
  const PreparedMethod& p = prepared(name);
  const program::Method& m = *p.method;
  for (const program::ValueSpec& in : m.inputs) {
    auto it = values.find(in.name);
    if (it == values.end()) fail("program method '{}' needs input '{}'", name, in.name);
    if (it->second.dtype() != in.dtype || it->second.shape() != in.shape)
      fail("program method '{}' input '{}' must be {}{}, got {}{}", name, in.name, dtype_name(in.dtype),
           shape_str(in.shape), dtype_name(it->second.dtype()), shape_str(it->second.shape()));
  }
  for (size_t k = 0; k < m.steps.size(); ++k) {
    const program::Step& s = m.steps[k];
    if (s.kind == program::Step::Kind::Cpu) {
      const graph::Graph& g = m.cpu_graphs[s.index];
      std::map<std::string, Tensor> inputs;
      for (graph::ValueId v : g.inputs()) {
        const std::string& in = g.node(v).name;
        Tensor& value = values.at(in);
        inputs[in] = p.read_last[k].count(in) ? std::move(value) : value;
      }
      for (auto& [out, t] : p.executors[s.index]->run(std::move(inputs))) values[out] = std::move(t);
      continue;
    }
    const tosa::Interpreter& interp = *p.delegate_of_step[k];
    tosa::ValueMap inputs;
    for (const std::string& in : interp.block().inputs) {
      auto it = values.find(in);
      if (it == values.end()) fail("delegate step {} of method '{}' reads '{}', which nothing produced", k, name, in);
      Tensor t = p.read_last[k].count(in) ? std::move(it->second) : it->second;
      inputs[in] = {tosa_type_for(t.dtype()), std::move(t)};
    }
    for (auto& [out, v] : interp.run(std::move(inputs))) values[out] = std::move(v.tensor);
  }
  std::map<std::string, Tensor> outputs;
  for (const program::ValueSpec& out : m.outputs) {
    auto it = values.find(out.name);
    if (it == values.end()) fail("internal: program method '{}' did not produce '{}'", name, out.name);
    outputs[out.name] = std::move(it->second);
  }
  return outputs;
}

int64_t ProgramSession::vocab_size() const { return program_->model_config.vocab_size; }

int64_t ProgramSession::window_length() const {
  const program::Method* m = program_->find_method("forward");
  if (!m) return 0;
  for (const program::ValueSpec& in : m->inputs)
    if (in.name == "tokens") return in.shape.empty() ? 0 : in.shape[0];
  return 0;
}

int64_t ProgramSession::max_context() const {
  const program::Method* m = program_->find_method("decode");
  if (!m) return window_length();
  for (const program::ValueSpec& in : m->inputs)
    if (in.name.rfind("cache_", 0) == 0 && !in.shape.empty()) return in.shape[0];
  return 0;
}

Tensor ProgramSession::forward_window(std::span<const int32_t> tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t t = window_length();
  if (t == 0) fail("this program has no full-window method");
  if (n != t)
    fail("this program's window takes exactly {} tokens (export.max_seq_length) but {} were given: use --ctx {} "
         "or re-export with export.max_seq_length={}",
         t, n, t, n);
  Tensor ids(DType::I32, {n});
  std::copy(tokens.begin(), tokens.end(), ids.mutable_data<int32_t>());
  auto out = run_method("forward", {{"tokens", ids}});
  return out.at("logits");
}

void ProgramSession::reset() {
  position_ = 0;
  decode_state_.clear();
}

std::span<const float> ProgramSession::decode(int32_t token) {
  const PreparedMethod& p = prepared("decode");
  if (position_ >= max_context())
    fail("the context is full: {} tokens fill the KV cache of {} positions (export.max_context_length)", position_,
         max_context());
  if (decode_state_.empty()) {
    for (const program::ValueSpec& in : p.method->inputs) {
      if (in.name == "tokens" || in.name == "input_pos") continue;
      Tensor state(in.dtype, in.shape);
      std::memset(state.mutable_raw(), 0, state.nbytes());
      decode_state_[in.name] = std::move(state);
    }
  }
  // The state is handed over, not shared, so that the delegate can write the new cache rows
  // into it in place; a failed step therefore resets the session.
  std::vector<std::string> state_names;
  for (const auto& [name, state] : decode_state_) state_names.push_back(name);
  std::map<std::string, Tensor> inputs = std::exchange(decode_state_, {});
  inputs["tokens"] = Tensor::from_vector<int32_t>({1}, {token});
  inputs["input_pos"] = Tensor::from_vector<int32_t>({1}, {static_cast<int32_t>(position_)});
  std::map<std::string, Tensor> outputs;
  try {
    outputs = run_method("decode", std::move(inputs));
  } catch (...) {
    reset();
    throw;
  }
  for (const std::string& name : state_names) decode_state_[name] = std::move(outputs.at(name + ".out"));
  last_logits_ = std::move(outputs.at("logits"));
  ++position_;
  return {last_logits_.data<float>(), static_cast<size_t>(vocab_size())};
}

}  // namespace l2n::runtime
