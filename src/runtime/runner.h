// Runner: what evaluation and generation need from something that computes logits — a
// model session (runtime/session.h) or an exported program (runtime/program_session.h) —
// so perplexity and generation run the same code on both.
//
// Contract: forward_window() returns f32 logits [tokens, vocab] for tokens at positions
// 0..n-1 with causal attention; decode() feeds one token at position() through the KV cache
// and returns its vocab logits (valid until the next call), throwing when the cache is full;
// reset() empties the cache.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace l2n::runtime {

class Runner {
 public:
  virtual ~Runner() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_context() const = 0;
  virtual Tensor forward_window(std::span<const int32_t> tokens) = 0;
  virtual std::span<const float> decode(int32_t token) = 0;
  virtual int64_t position() const = 0;
  virtual void reset() = 0;
};

}  // namespace l2n::runtime
