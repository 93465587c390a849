// Next-token selection with the generation options of the upstream Arm LLM runner:
// repetition penalty first (over the unique tokens seen so far, also when greedy), then
// temperature (<= 0 means argmax), top-k, top-p (always keeping at least one token).
// Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace l2n::runtime {

struct SamplerOptions {
  float temperature = 0.8f;
  int top_k = 40;              // 0 = off
  float top_p = 0.95f;         // 1 = off
  float repetition_penalty = 1.0f;  // 1 = off
  uint64_t seed = 42;
};

class Sampler {
 public:
  explicit Sampler(SamplerOptions options);
  // Chooses the next id. `logits` is modified in place (penalty, temperature);
  // `history` holds the ids so far (prompt included) for the repetition penalty.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);
  const SamplerOptions& options() const { return options_; }

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<int32_t> order_;
  std::vector<float> probs_;
};

// Divides positive and multiplies negative logits of every distinct id in `history`.
void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history, float penalty);
int32_t argmax(std::span<const float> logits);

}  // namespace l2n::runtime
