// End to end on the real stories260K checkpoint: greedy generation and perplexity against
// the reference figures in ../shared/data/SOURCES.md and DESIGN.md (llama.cpp, F32).
#include <gtest/gtest.h>

#include <iterator>

#include "core/mapped_file.h"
#include "eval/generate.h"
#include "eval/perplexity.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace l2n::eval {
namespace {

using l2n::testing::kStories260kGreedy;

void expect_documented_greedy_story(const std::filesystem::path& model_path) {
  const model::Model model = model::load_model(model_path);
  const auto tok = tokenizer::load_tokenizer(l2n::testing::stories260k_dir() / "tok512.bin");
  runtime::Session session(model, {});
  GenerateOptions options;
  options.max_new_tokens = std::size(kStories260kGreedy) - 1;
  options.sampler.temperature = 0.0f;
  const auto result = generate(session, *tok, {tok->bos_id()}, options);
  std::vector<int32_t> ids = result.prompt_ids;
  ids.insert(ids.end(), result.generated_ids.begin(), result.generated_ids.end());
  EXPECT_EQ(ids, std::vector<int32_t>(std::begin(kStories260kGreedy), std::end(kStories260kGreedy)));
  EXPECT_EQ(result.text.rfind("Once upon a time, there was a little girl named Lily.", 0), 0u) << result.text;
}

TEST(Stories260k, GreedyGenerationFromLlama2cCheckpoint) {
  expect_documented_greedy_story(l2n::testing::stories260k_bin());
}

TEST(Stories260k, GreedyGenerationFromHuggingFaceCheckpoint) {
  expect_documented_greedy_story(l2n::testing::stories260k_hf_dir());
}

TEST(Stories260k, PerplexityMatchesLlamaCppF32) {
  const model::Model model = model::load_model(l2n::testing::stories260k_bin());
  const auto tok = tokenizer::load_tokenizer(l2n::testing::stories260k_dir() / "tok512.bin");
  const std::string text = read_text_file(l2n::testing::tinystories_text());
  const auto tokens = tok->encode(text, true);
  runtime::Session session(model, {});
  PerplexityOptions options;
  options.context = 512;
  options.bos_id = tok->bos_id();
  options.progress = false;
  const auto r = chunked_perplexity(session, tokens, options);
  // llama.cpp build 4748, F32, same text and method: 4.4539.
  EXPECT_NEAR(r.perplexity, 4.4539, 0.002);
  EXPECT_EQ(r.tokens_scored, r.chunks * 255);
  EXPECT_EQ(r.chunks, static_cast<int64_t>(tokens.size()) / 512);
}

}  // namespace
}  // namespace l2n::eval
