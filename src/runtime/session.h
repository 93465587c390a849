// A Session runs a model: whole windows (for perplexity) and one token at a time through
// the KV-cache decode graph (for generation). It owns the KV-cache state.
//
// Graphs are built lazily on first use (and converted to integers when
// SessionOptions::quantization is set): the full-window graph for the window length asked
// for, the decode-step graph for `max_context` positions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/model.h"
#include "runtime/runner.h"

namespace l2n::graph { class Graph; }
namespace l2n::exec { class Executor; }
namespace l2n::quant { struct QuantRecipe; }

namespace l2n::runtime {

struct SessionOptions {
  int threads = 0;           // 0 = all cores
  int64_t max_context = 0;   // KV-cache capacity; 0 = the model's trained context
  // When set, every graph the session builds is converted to the integer graph of this
  // calibrated recipe (quant::convert) and run with the integer kernels.
  std::shared_ptr<const quant::QuantRecipe> quantization;
};

class Session final : public Runner {
 public:
  Session(const model::Model& model, SessionOptions options);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int64_t vocab_size() const override { return model_.config.vocab_size; }
  int64_t max_context() const override { return max_context_; }

  // Logits f32[tokens.size(), vocab] for tokens at positions 0..n-1, causal attention.
  Tensor forward_window(std::span<const int32_t> tokens) override;

  // Feeds one token at position position() and returns its logits (vocab floats, valid
  // until the next call). Throws when the cache is full.
  std::span<const float> decode(int32_t token) override;
  int64_t position() const override { return position_; }
  void reset() override;

 private:
  const model::Model& model_;
  SessionOptions options_;
  int64_t max_context_;
  int64_t window_length_ = 0;
  std::unique_ptr<graph::Graph> window_graph_;
  std::unique_ptr<exec::Executor> window_executor_;
  std::unique_ptr<graph::Graph> decode_graph_;
  std::unique_ptr<exec::Executor> decode_executor_;
  std::unique_ptr<graph::Graph> build(graph::Graph graph) const;
  std::unique_ptr<exec::Executor> executor(const graph::Graph& graph) const;
  // cache_k.N / cache_v.N with the dtype and shape of the decode graph's inputs (F32, or
  // integers when the graph was converted with the full quantize scope); each step's
  // cache_*.N.out replaces them.
  std::map<std::string, Tensor> decode_state_;
  Tensor last_logits_;
  int64_t position_ = 0;
};

}  // namespace l2n::runtime
