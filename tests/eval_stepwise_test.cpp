// Step-wise perplexity (the upstream Ethos-U example's method) on stories260K: prompts built
// from WikiText the upstream way, and the KV-cache scoring checked against full-window logits.
#include <gtest/gtest.h>

#include <cmath>

#include "core/mapped_file.h"
#include "eval/perplexity.h"
#include "eval/stepwise.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace l2n;

std::filesystem::path wikitext() { return l2n::testing::shared_data() / "text" / "wikitext-2" / "wiki.test.raw"; }

TEST(Stepwise, PromptsAreBuiltFromTextLinesSkippingHeadings) {
  const model::Model model = model::load_model(l2n::testing::stories260k_bin());
  const auto tok = tokenizer::tokenizer_for_model(model, std::nullopt);
  eval::PromptOptions o;
  o.num_prompts = 5;
  o.min_prompt_tokens = o.max_prompt_tokens = 16;
  const auto prompts = eval::build_prompts(read_text_file(wikitext()), *tok, o);
  ASSERT_EQ(prompts.size(), 5u);
  for (const auto& p : prompts) {
    EXPECT_NE(p.front(), '=');
    // Decoding and re-encoding may merge a token or two at the cut; never more than the cap.
    const auto ids = tok->encode(p, false);
    EXPECT_GE(ids.size(), 12u) << p;
    EXPECT_LE(ids.size(), 17u) << p;
  }
  o.num_prompts = 1000000;
  EXPECT_THROW(eval::build_prompts("= Heading =\n\nshort line\n", *tok, o), Error);
}

TEST(Stepwise, KvCacheScoringMatchesFullWindowLogits) {
  const model::Model model = model::load_model(l2n::testing::stories260k_bin());
  const auto tok = tokenizer::tokenizer_for_model(model, std::nullopt);
  const std::vector<std::string> prompts{"Once upon a time, there was a little girl named Lily.",
                                         "The cat sat on the mat and looked at the big red ball."};
  runtime::Session session(model, {0, 64, nullptr});
  eval::StepwiseOptions so;
  so.max_tokens = 64;
  so.progress = false;
  const auto r = eval::stepwise_perplexity(session, *tok, prompts, so);
  double nll = 0;
  int64_t scored = 0;
  for (const auto& p : prompts) {
    const auto ids = tok->encode(p, true);
    const Tensor logits = session.forward_window(ids);
    const int64_t vocab = session.vocab_size();
    for (size_t pos = 0; pos + 1 < ids.size(); ++pos, ++scored)
      nll += eval::negative_log_likelihood({logits.data<float>() + pos * vocab, static_cast<size_t>(vocab)},
                                           ids[pos + 1]);
  }
  EXPECT_EQ(r.tokens_scored, scored);
  EXPECT_EQ(r.prompts_scored, 2);
  EXPECT_NEAR(r.nll_sum, nll, 1e-3);
  EXPECT_NEAR(r.perplexity, std::exp(nll / static_cast<double>(scored)), 1e-4);
}

}  // namespace
