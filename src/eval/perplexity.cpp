#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include <omp.h>

#include "core/error.h"
#include "core/progress.h"

namespace l2n::eval {

double negative_log_likelihood(std::span<const float> logits, int32_t target) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max_logit));
  return -(static_cast<double>(logits[static_cast<size_t>(target)] - max_logit) - std::log(sum));
}

PerplexityResult chunked_perplexity(runtime::Runner& session, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options) {
  const int64_t ctx = options.context;
  if (ctx < 4) fail_usage("the evaluation context must be at least 4 tokens (got {})", ctx);
  const int64_t available = static_cast<int64_t>(tokens.size()) / ctx;
  if (available == 0)
    fail_usage("the text has {} tokens, fewer than one chunk of {}; use a longer text or a smaller --ctx",
               tokens.size(), ctx);
  const int64_t chunks = options.max_chunks > 0 ? std::min(available, options.max_chunks) : available;
  const int64_t first = ctx / 2;
  const int64_t vocab = session.vocab_size();

  PerplexityResult result;
  result.tokens_in_text = static_cast<int64_t>(tokens.size());
  const auto start = std::chrono::steady_clock::now();
  ProgressBar progress("perplexity", chunks, options.progress);
  std::vector<int32_t> batch(static_cast<size_t>(ctx));
  std::vector<double> row_nll;
  for (int64_t c = 0; c < chunks; ++c) {
    const auto chunk = tokens.subspan(static_cast<size_t>(c * ctx), static_cast<size_t>(ctx));
    std::copy(chunk.begin(), chunk.end(), batch.begin());
    batch[0] = options.bos_id;
    const Tensor logits = session.forward_window(batch);
    const float* rows = logits.data<float>();
    // A row's NLL is one exp() per vocabulary entry (49152 for SmolLM2: a few % of a window
    // if done on one thread); rows are scored in parallel and summed in order, so the total
    // does not depend on the thread count.
    const int64_t scored = ctx - 1 - first;
    row_nll.resize(static_cast<size_t>(std::max<int64_t>(scored, 0)));
    const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (scored > 1)
    for (int64_t j = first; j < ctx - 1; ++j) {
      const std::span<const float> row(rows + j * vocab, static_cast<size_t>(vocab));
      row_nll[static_cast<size_t>(j - first)] = negative_log_likelihood(row, chunk[static_cast<size_t>(j + 1)]);
    }
    for (const double nll : row_nll) result.nll_sum += nll;
    result.tokens_scored += static_cast<int64_t>(row_nll.size());
    result.chunks = c + 1;
    progress.update(c + 1, fmt::format("ppl {:.4f}", std::exp(result.nll_sum / static_cast<double>(result.tokens_scored))));
  }
  progress.finish();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.perplexity = std::exp(result.nll_sum / static_cast<double>(result.tokens_scored));
  result.tokens_per_second = result.seconds > 0 ? static_cast<double>(chunks * ctx) / result.seconds : 0;
  return result;
}

}  // namespace l2n::eval
