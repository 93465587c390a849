// The Llama-2 vocabulary embedded in a GGUF (tokens, real scores, token types) through the
// model loader, tokenizer_from_vocab and tokenizer_for_model.
#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/model.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace l2n::tokenizer {
namespace {

std::vector<std::string> vector_inputs() {
  const std::string inp =
      read_text_file(testing::shared_data() / "tokenizers" / "testvectors" / "ggml-vocab-llama-spm.gguf.inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  for (size_t hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
    inputs.push_back(inp.substr(pos, hit - pos));
  return inputs;
}

std::vector<std::vector<int32_t>> vector_outputs() {
  std::istringstream out(
      read_text_file(testing::shared_data() / "tokenizers" / "testvectors" / "ggml-vocab-llama-spm.gguf.out"));
  std::vector<std::vector<int32_t>> rows;
  for (std::string line; std::getline(out, line);) {
    std::istringstream ids(line);
    rows.emplace_back();
    for (int32_t id; ids >> id;) rows.back().push_back(id);
  }
  return rows;
}

class GgufVocab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new model::Model(model::load_model(testing::tiny_gguf())); }
  static void TearDownTestSuite() { delete model_; }
  static model::Model* model_;
};
model::Model* GgufVocab::model_ = nullptr;

TEST_F(GgufVocab, MatchesTheLlamaSpmVectorsByScore) {
  ASSERT_TRUE(model_->embedded_vocab.has_value());
  const auto tok = tokenizer_from_vocab(*model_->embedded_vocab);
  EXPECT_EQ(tok->kind(), "sentencepiece-bpe");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos_by_default());
  const auto inputs = vector_inputs();
  const auto expected = vector_outputs();
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(expected.size(), 46u);
  int matched = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = tok->encode(inputs[i], false);
    if (ids == expected[i]) ++matched;
    EXPECT_EQ(ids, expected[i]) << "vector " << i << " \"" << inputs[i] << "\"";
    EXPECT_EQ(tok->decode(ids), inputs[i]) << "vector " << i;
  }
  EXPECT_EQ(matched, 46);
}

TEST_F(GgufVocab, AgreesWithTokenizerJsonOnText) {
  const auto embedded = tokenizer_from_vocab(*model_->embedded_vocab);
  const auto json = load_tokenizer(testing::shared_data() / "tokenizers" / "llama2" / "tokenizer.json");
  std::string text = read_text_file(testing::tinystories_text()).substr(0, 20000);
  EXPECT_EQ(embedded->encode(text, true), json->encode(text, true));
}

TEST_F(GgufVocab, TokenizerForModelUsesTheEmbeddedVocabOrTheOverride) {
  const auto tok = tokenizer_for_model(*model_, std::nullopt);
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->encode("Hello world", true), (std::vector<int32_t>{1, 15043, 3186}));
  const auto json = tokenizer_for_model(*model_, testing::shared_data() / "tokenizers" / "llama2" / "tokenizer.json");
  EXPECT_EQ(json->kind(), "sentencepiece-bpe");
  // A tokenizer with more tokens than the model has embeddings is refused.
  EXPECT_THROW(tokenizer_for_model(*model_, testing::shared_data() / "tokenizers" / "gpt2" / "tokenizer.json"), Error);
}

TEST(TokenizerForModel, FailsClearlyWithoutAnyTokenizer) {
  model::Model bare;
  bare.path = "/models/none.bin";
  try {
    tokenizer_for_model(bare, std::nullopt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--tokenizer"), std::string::npos) << e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
}

TEST(TokenizerForModel, ConfigIdsReplaceGuessedOnes) {
  // SmolLM2's bare tokenizer.json names no BOS/EOS: <|endoftext|> (0) is guessed for both;
  // an instruct model's config saying eos 2 (<|im_end|>) wins.
  model::Model m;
  m.path = "/models/smollm2";
  m.config.vocab_size = 49152;
  m.config.bos_id = 1;
  m.config.eos_id = 2;
  m.tokenizer_path = testing::shared_data() / "tokenizers" / "smollm2" / "tokenizer.json";
  const auto tok = tokenizer_for_model(m, std::nullopt);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  // GPT-2's tokenizer_config.json does name them; the model config does not override.
  m.config.vocab_size = 50257;
  m.tokenizer_path = testing::shared_data() / "tokenizers" / "gpt2" / "tokenizer.json";
  const auto gpt2 = tokenizer_for_model(m, std::nullopt);
  EXPECT_EQ(gpt2->bos_id(), 50256);
  EXPECT_EQ(gpt2->eos_id(), 50256);
}

}  // namespace
}  // namespace l2n::tokenizer
