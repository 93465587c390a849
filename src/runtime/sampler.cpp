#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

namespace l2n::runtime {

Sampler::Sampler(SamplerOptions options) : options_(options), rng_(options.seed) {}

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history, float penalty) {
  if (penalty == 1.0f) return;
  std::unordered_set<int32_t> seen;
  for (int32_t id : history) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size() || !seen.insert(id).second) continue;
    float& l = logits[static_cast<size_t>(id)];
    l = l > 0 ? l / penalty : l * penalty;
  }
}

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  apply_repetition_penalty(logits, history, options_.repetition_penalty);
  if (options_.temperature <= 0.0f) return argmax(logits);

  const size_t n = logits.size();
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0);
  // Stable ordering by logit (ties by id) keeps runs reproducible across platforms.
  auto by_logit = [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la != lb ? la > lb : a < b;
  };
  size_t keep = n;
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < n) {
    keep = static_cast<size_t>(options_.top_k);
    std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(keep), order_.end(), by_logit);
  } else {
    std::sort(order_.begin(), order_.end(), by_logit);
  }

  probs_.resize(keep);
  const double max_logit = logits[static_cast<size_t>(order_[0])];
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) {
    const double p = std::exp((logits[static_cast<size_t>(order_[i])] - max_logit) / options_.temperature);
    probs_[i] = static_cast<float>(p);
    sum += p;
  }
  if (options_.top_p < 1.0f) {
    double cumulative = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs_[i] / sum;
      if (cumulative >= options_.top_p) {
        cut = i + 1;  // at least one token survives
        break;
      }
    }
    keep = cut;
    sum = 0;
    for (size_t i = 0; i < keep; ++i) sum += probs_[i];
  }
  std::uniform_real_distribution<double> uniform(0.0, sum);
  double r = uniform(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= probs_[i];
    if (r <= 0) return order_[i];
  }
  return order_[keep - 1];
}

}  // namespace l2n::runtime
