#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/tensor.h"

#include "eval/perplexity.h"

namespace l2n::eval {
namespace {

TEST(NegativeLogLikelihood, MatchesTheClosedForm) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(negative_log_likelihood(logits, 0), -std::log(std::exp(1.0) / z), 1e-12);
  EXPECT_NEAR(negative_log_likelihood(logits, 2), -std::log(std::exp(3.0) / z), 1e-12);
  // Large logits must not overflow.
  const std::vector<float> big = {1000.0f, 1000.0f};
  EXPECT_NEAR(negative_log_likelihood(big, 1), std::log(2.0), 1e-12);
}

// Logits that depend only on the position and the token id there, so the perplexity is a
// fixed function of the text.
class FixedLogits : public runtime::Runner {
 public:
  int64_t vocab_size() const override { return kVocab; }
  int64_t max_context() const override { return 64; }
  Tensor forward_window(std::span<const int32_t> tokens) override {
    const int64_t t = static_cast<int64_t>(tokens.size());
    Tensor logits(DType::F32, {t, kVocab});
    for (int64_t j = 0; j < t; ++j)
      for (int64_t v = 0; v < kVocab; ++v)
        logits.mutable_data<float>()[j * kVocab + v] = 3.0f * std::sin(0.37f * float(j * kVocab + v + tokens[size_t(j)]));
    return logits;
  }
  std::span<const float> decode(int32_t) override { return {}; }
  int64_t position() const override { return 0; }
  void reset() override {}

 private:
  static constexpr int64_t kVocab = 1000;
};

TEST(ChunkedPerplexity, ScoresRowsInParallelWithTheSameSumAsOneThreadAndByHand) {
  std::vector<int32_t> tokens(200);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7919) % 1000);
  FixedLogits runner;
  PerplexityOptions options;
  options.context = 64;
  options.bos_id = 1;
  options.progress = false;
  options.threads = 1;
  const PerplexityResult one = chunked_perplexity(runner, tokens, options);
  options.threads = 2;
  const PerplexityResult two = chunked_perplexity(runner, tokens, options);
  EXPECT_EQ(one.chunks, 3);
  EXPECT_EQ(one.tokens_scored, 3 * 31);
  EXPECT_EQ(two.tokens_scored, one.tokens_scored);
  EXPECT_EQ(two.nll_sum, one.nll_sum) << "the row sums are added in order whatever the thread count";
  // The same sum, row by row in order.
  double by_hand = 0;
  for (int64_t c = 0; c < 3; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * 64, tokens.begin() + (c + 1) * 64);
    const std::vector<int32_t> next = chunk;
    chunk[0] = 1;
    const Tensor logits = runner.forward_window(chunk);
    for (int64_t j = 32; j < 63; ++j)
      by_hand += negative_log_likelihood({logits.data<float>() + j * 1000, 1000}, next[size_t(j + 1)]);
  }
  EXPECT_EQ(one.nll_sum, by_hand);
}

}  // namespace
}  // namespace l2n::eval
