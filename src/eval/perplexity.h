// Perplexity with llama.cpp's method, so figures compare 1:1 with llama.cpp's:
// the text is tokenized whole with BOS, cut into chunks of `context` tokens (a partial
// last chunk is dropped), the first token of each chunk is replaced by BOS, and the
// second half of each chunk is scored: for j in [context/2, context-1) the logits at j
// predict the token at j+1. perplexity = exp(total NLL / tokens scored).
#pragma once

#include <cstdint>
#include <span>

#include "runtime/runner.h"

namespace l2n::eval {

struct PerplexityOptions {
  int64_t context = 512;
  int32_t bos_id = 1;
  int64_t max_chunks = 0;   // 0 = every full chunk
  bool progress = true;
  int threads = 0;          // for scoring the logits; 0 = the OpenMP default
};

struct PerplexityResult {
  double perplexity = 0;
  double nll_sum = 0;
  int64_t tokens_scored = 0;
  int64_t chunks = 0;
  int64_t tokens_in_text = 0;
  double seconds = 0;
  double tokens_per_second = 0;  // tokens run through the model (chunks × context) per second
};

PerplexityResult chunked_perplexity(runtime::Runner& session, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options);

// -log softmax(logits)[target], with the sum in double as llama.cpp does.
double negative_log_likelihood(std::span<const float> logits, int32_t target);

}  // namespace l2n::eval
