#include <gtest/gtest.h>

#include <cmath>
#include <vector>

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

}  // namespace
}  // namespace l2n::eval
