// The GGUF fixture (random weights, F16 matrices, 32000-token Llama-2 vocabulary) loads,
// tokenizes with its embedded vocabulary, and runs through both graph shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/mapped_file.h"
#include "eval/generate.h"
#include "eval/perplexity.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace l2n::eval {
namespace {

TEST(GgufFixture, DecodeStepsGiveTheFullWindowLogits) {
  const model::Model model = model::load_model(l2n::testing::tiny_gguf());
  const auto tok = tokenizer::tokenizer_for_model(model, std::nullopt);
  const auto ids = tok->encode("The quick brown fox jumps over the lazy dog", true);
  ASSERT_GT(ids.size(), 8u);
  runtime::SessionOptions options;
  options.max_context = 64;
  runtime::Session session(model, options);
  const Tensor window = session.forward_window(ids);
  const int64_t vocab = model.config.vocab_size;
  float max_diff = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    const auto step = session.decode(ids[t]);
    for (int64_t v = 0; v < vocab; ++v)
      max_diff = std::max(max_diff, std::abs(step[static_cast<size_t>(v)] - window.data<float>()[t * vocab + v]));
  }
  EXPECT_LE(max_diff, 1e-4f);
}

TEST(GgufFixture, RandomWeightsGiveNearUniformPerplexity) {
  const model::Model model = model::load_model(l2n::testing::tiny_gguf());
  const auto tok = tokenizer::tokenizer_for_model(model, std::nullopt);
  const std::string text = read_text_file(l2n::testing::shared_data() / "text" / "wikitext-2" / "wiki.test.raw");
  const auto tokens = tok->encode(text.substr(0, 20000), true);
  runtime::Session session(model, {});
  PerplexityOptions options;
  options.context = 128;
  options.bos_id = tok->bos_id();
  options.max_chunks = 2;
  options.progress = false;
  const auto r = chunked_perplexity(session, tokens, options);
  // A random model knows nothing: its perplexity sits near the vocabulary size.
  EXPECT_GT(r.perplexity, 32000 / 4.0);
  EXPECT_LT(r.perplexity, 32000 * 4.0);
  EXPECT_EQ(r.tokens_scored, 2 * 63);
}

}  // namespace
}  // namespace l2n::eval
