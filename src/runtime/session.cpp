#include "runtime/session.h"

#include <cstring>

#include "exec/executor.h"
#include "graph/graph.h"
#include "graph/llama_builder.h"
#include "quant/integer_kernels.h"
#include "quant/quantize.h"

namespace l2n::runtime {

Session::Session(const model::Model& model, SessionOptions options)
    : model_(model), options_(options),
      max_context_(options.max_context > 0 ? options.max_context : model.config.max_seq_len) {
  if (max_context_ <= 0) fail("the KV-cache capacity must be positive (got {})", max_context_);
}

Session::~Session() = default;

std::unique_ptr<graph::Graph> Session::build(graph::Graph graph) const {
  if (options_.quantization) graph = quant::convert(graph, *options_.quantization);
  return std::make_unique<graph::Graph>(std::move(graph));
}

std::unique_ptr<exec::Executor> Session::executor(const graph::Graph& graph) const {
  exec::ExecOptions options = quant::integer_exec_options(options_.threads);
  return std::make_unique<exec::Executor>(graph, std::move(options));
}

Tensor Session::forward_window(std::span<const int32_t> tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n <= 0) fail("forward_window needs at least one token");
  if (!window_graph_ || window_length_ != n) {
    window_executor_.reset();
    window_graph_ = build(graph::build_full_window(model_, n));
    window_executor_ = executor(*window_graph_);
    window_length_ = n;
  }
  Tensor ids(DType::I32, {n});
  std::copy(tokens.begin(), tokens.end(), ids.mutable_data<int32_t>());
  auto outputs = window_executor_->run({{"tokens", ids}});
  return outputs.at("logits");
}

void Session::reset() {
  position_ = 0;
  decode_state_.clear();
}

std::span<const float> Session::decode(int32_t token) {
  if (position_ >= max_context_)
    fail("the context is full: {} tokens fill the KV cache of {} positions", position_, max_context_);
  if (!decode_graph_) {
    decode_graph_ = build(graph::build_decode_step(model_, max_context_));
    decode_executor_ = executor(*decode_graph_);
  }
  const auto& cfg = model_.config;
  if (decode_state_.empty()) {
    // The caches are whatever the (possibly converted) graph declares: F32, or int8/int16
    // holding the K/V values with the recipe's parameters (full quantize scope), whose
    // zero-filled rows are never read unmasked. Every other input is fed below.
    for (graph::ValueId id : decode_graph_->inputs()) {
      const graph::Node& input = decode_graph_->node(id);
      if (input.name == "tokens" || input.name == "input_pos") continue;
      Tensor cache(input.dtype, input.shape);
      std::memset(cache.mutable_raw(), 0, cache.nbytes());
      decode_state_[input.name] = std::move(cache);
    }
  }
  std::map<std::string, Tensor> inputs = decode_state_;
  inputs["tokens"] = Tensor::from_vector<int32_t>({1}, {token});
  inputs["input_pos"] = Tensor::from_vector<int32_t>({1}, {static_cast<int32_t>(position_)});
  auto outputs = decode_executor_->run(inputs);
  for (auto& [name, cache] : decode_state_) cache = outputs.at(name + ".out");
  last_logits_ = outputs.at("logits");
  ++position_;
  return {last_logits_.data<float>(), static_cast<size_t>(cfg.vocab_size)};
}

}  // namespace l2n::runtime
