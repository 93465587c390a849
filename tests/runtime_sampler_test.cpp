#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "runtime/sampler.h"

namespace l2n::runtime {
namespace {

TEST(RepetitionPenalty, DividesPositiveAndMultipliesNegativeOncePerDistinctToken) {
  std::vector<float> logits = {2.0f, -1.0f, 4.0f, 0.5f};
  const std::vector<int32_t> history = {0, 1, 0, 0, 1};  // repeats count once
  apply_repetition_penalty(logits, history, 2.0f);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], -2.0f);
  EXPECT_FLOAT_EQ(logits[2], 4.0f);
  EXPECT_FLOAT_EQ(logits[3], 0.5f);
}

TEST(Sampler, GreedyAppliesThePenaltyToo) {
  SamplerOptions options;
  options.temperature = 0.0f;
  options.repetition_penalty = 3.0f;
  Sampler sampler(options);
  std::vector<float> logits = {3.0f, 2.0f, 0.1f};
  const std::vector<int32_t> history = {0};
  EXPECT_EQ(sampler.sample(logits, history), 1);  // 3/3 = 1 < 2
  std::vector<float> fresh = {3.0f, 2.0f, 0.1f};
  EXPECT_EQ(sampler.sample(fresh, {}), 0);
}

TEST(Sampler, TopKOneIsArgmaxAndTinyTopPKeepsOneToken) {
  for (int variant = 0; variant < 2; ++variant) {
    SamplerOptions options;
    options.temperature = 1.5f;
    options.top_k = variant == 0 ? 1 : 0;
    options.top_p = variant == 0 ? 1.0f : 1e-6f;
    options.seed = 11;
    Sampler sampler(options);
    for (int i = 0; i < 50; ++i) {
      std::vector<float> logits = {0.1f, 0.3f, 0.2f, -1.0f};
      EXPECT_EQ(sampler.sample(logits, {}), 1);
    }
  }
}

TEST(Sampler, SameSeedSameSequenceAndFrequenciesFollowTheDistribution) {
  SamplerOptions options;
  options.temperature = 1.0f;
  options.top_k = 0;
  options.top_p = 1.0f;
  options.seed = 1234;
  Sampler a(options), b(options);
  std::map<int32_t, int> counts;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> la = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
    std::vector<float> lb = la;
    const int32_t x = a.sample(la, {});
    EXPECT_EQ(x, b.sample(lb, {}));
    counts[x]++;
  }
  EXPECT_NEAR(counts[1] / static_cast<double>(draws), 0.75, 0.015);
}

TEST(Sampler, TopPDropsTheTail) {
  SamplerOptions options;
  options.temperature = 1.0f;
  options.top_k = 0;
  options.top_p = 0.7f;  // {0.6, 0.3, 0.1}: keeps the first two
  options.seed = 5;
  Sampler sampler(options);
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
    EXPECT_NE(sampler.sample(logits, {}), 2);
  }
}

}  // namespace
}  // namespace l2n::runtime
