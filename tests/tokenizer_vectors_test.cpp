// llama.cpp's tokenizer test vectors (expected ids from the HF tokenizers library) against
// the GPT-2 and Llama-2 tokenizer.json files, and against a GGUF-style embedded vocabulary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace l2n::tokenizer {
namespace {

using testing::shared_data;

std::filesystem::path tokenizers_dir() { return shared_data() / "tokenizers"; }

struct Vectors {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> expected;
};

// .inp: each input followed by "\n__ggml_vocab_test__\n"; .out: one line of ids per input.
Vectors read_vectors(const std::string& name) {
  Vectors v;
  const std::string inp = read_text_file(tokenizers_dir() / "testvectors" / (name + ".gguf.inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  for (size_t hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
    v.inputs.push_back(inp.substr(pos, hit - pos));
  EXPECT_EQ(pos, inp.size()) << "trailing text after the last separator";
  std::istringstream out(read_text_file(tokenizers_dir() / "testvectors" / (name + ".gguf.out")));
  for (std::string line; std::getline(out, line);) {
    std::istringstream ids(line);
    std::vector<int32_t> row;
    for (int32_t id; ids >> id;) row.push_back(id);
    v.expected.push_back(std::move(row));
  }
  return v;
}

int check_vectors(const Tokenizer& tok, const Vectors& v, bool check_round_trip) {
  EXPECT_EQ(v.inputs.size(), v.expected.size());
  int matched = 0;
  for (size_t i = 0; i < v.inputs.size() && i < v.expected.size(); ++i) {
    const auto ids = tok.encode(v.inputs[i], false);
    if (ids == v.expected[i]) {
      ++matched;
    } else {
      ADD_FAILURE() << "vector " << i << " \"" << v.inputs[i] << "\": got " << ::testing::PrintToString(ids)
                    << ", expected " << ::testing::PrintToString(v.expected[i]);
    }
    if (check_round_trip) {
      EXPECT_EQ(tok.decode(ids), v.inputs[i]) << "vector " << i;
    }
  }
  return matched;
}

TEST(TokenizerVectors, Gpt2TokenizerJsonMatchesAll) {
  const auto tok = load_tokenizer(tokenizers_dir() / "gpt2" / "tokenizer.json");
  EXPECT_EQ(tok->kind(), "byte-level-bpe");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->bos_id(), 50256);
  EXPECT_EQ(tok->eos_id(), 50256);
  EXPECT_FALSE(tok->add_bos_by_default());
  const Vectors v = read_vectors("ggml-vocab-gpt-2");
  EXPECT_EQ(v.inputs.size(), 46u);
  EXPECT_EQ(check_vectors(*tok, v, true), 46);
}

TEST(TokenizerVectors, Llama2TokenizerJsonMatchesAll) {
  const auto tok = load_tokenizer(tokenizers_dir() / "llama2" / "tokenizer.json");
  EXPECT_EQ(tok->kind(), "sentencepiece-bpe");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos_by_default());
  const Vectors v = read_vectors("ggml-vocab-llama-spm");
  EXPECT_EQ(v.inputs.size(), 46u);
  EXPECT_EQ(check_vectors(*tok, v, true), 46);
}

// Llama-2's vocabulary as a GGUF carries it, built from tokenizer.json: tokenizer.model
// scores every piece after the byte pieces -(id - 259) except the all-"▁" pieces, which
// get -1e9 (checked against the scores in llama-2-tiny-random.gguf); byte pieces and the
// three control tokens typed as llama.cpp does.
model::EmbeddedVocab llama2_vocab_from_json() {
  const auto root = nlohmann::json::parse(read_text_file(tokenizers_dir() / "llama2" / "tokenizer.json"));
  model::EmbeddedVocab v;
  v.model = "llama";
  const auto& vocab = root["model"]["vocab"];
  v.tokens.resize(vocab.size());
  for (const auto& [piece, id] : vocab.items()) v.tokens[id.get<size_t>()] = piece;
  v.scores.resize(v.tokens.size());
  v.token_types.assign(v.tokens.size(), 1);
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const std::string& t = v.tokens[id];
    bool all_spaces = !t.empty() && t.size() % 3 == 0;
    for (size_t k = 0; all_spaces && k < t.size(); k += 3) all_spaces = t.compare(k, 3, "\xE2\x96\x81") == 0;
    v.scores[id] = id < 259 ? 0.0f : all_spaces ? -1e9f : -static_cast<float>(id - 259);
    if (v.tokens[id].size() == 6 && v.tokens[id].rfind("<0x", 0) == 0) v.token_types[id] = 6;
  }
  v.token_types[0] = 2;
  v.token_types[1] = v.token_types[2] = 3;
  v.bos_id = 1;
  v.eos_id = 2;
  v.unk_id = 0;
  return v;
}

TEST(TokenizerVectors, EmbeddedLlamaVocabByScoreMatchesAll) {
  const auto tok = tokenizer_from_vocab(llama2_vocab_from_json());
  EXPECT_EQ(tok->kind(), "sentencepiece-bpe");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(check_vectors(*tok, read_vectors("ggml-vocab-llama-spm"), true), 46);
  // llama.cpp splits control tokens out of the text and gives the following text the
  // dummy-prefix space.
  const auto ids = tok->encode("<s>Hello</s>", false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(tok->piece(ids[1]), "\xE2\x96\x81Hello");
  EXPECT_EQ(ids[2], 2);
  EXPECT_EQ(tok->decode(ids), "Hello");
}

TEST(TokenizerVectors, Llama2AddedTokensFollowHfNormalization) {
  // Added tokens with normalized=true match their normalized form ("▁<s>"), as in the HF
  // library: ids checked against tokenizers 0.22.2.
  const auto tok = load_tokenizer(tokenizers_dir() / "llama2" / "tokenizer.json");
  EXPECT_EQ(tok->encode("Hello <s> world", false), (std::vector<int32_t>{15043, 1, 3186}));
  EXPECT_EQ(tok->encode("<s>Hello", false), (std::vector<int32_t>{1, 10994}));
  EXPECT_EQ(tok->encode("a<s>b </s>", false), (std::vector<int32_t>{263, 29966, 29879, 29958, 29890, 2}));
  EXPECT_EQ(tok->encode("Hello world", true, true), (std::vector<int32_t>{1, 15043, 3186, 2}));
  EXPECT_EQ(tok->decode(std::vector<int32_t>{1, 15043, 3186, 2}), "Hello world");
}

TEST(TokenizerVectors, Llama2RoundTripsText) {
  const auto tok = load_tokenizer(tokenizers_dir() / "llama2" / "tokenizer.json");
  for (const auto& path : {testing::tinystories_text(), shared_data() / "text" / "wikitext-2" / "wiki.test.raw"}) {
    std::string text = read_text_file(path).substr(0, 20 * 1024);
    while (!text.empty() && (static_cast<uint8_t>(text.back()) & 0xC0) == 0x80) text.pop_back();
    if (!text.empty() && static_cast<uint8_t>(text.back()) >= 0xC0) text.pop_back();
    const auto ids = tok->encode(text, true);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_TRUE(tok->decode(ids) == text) << path;
  }
}

TEST(TokenizerVectors, Gpt2SpecialTokenIsSplitOut) {
  const auto tok = load_tokenizer(tokenizers_dir() / "gpt2" / "tokenizer.json");
  EXPECT_EQ(tok->encode("Hello<|endoftext|> world", false), (std::vector<int32_t>{15496, 50256, 995}));
  EXPECT_TRUE(tok->is_special(50256));
  EXPECT_EQ(tok->decode(std::vector<int32_t>{15496, 50256, 995}), "Hello world");
  EXPECT_EQ(tok->piece(995), "\xC4\xA0world");  // "Ġworld"
}

}  // namespace
}  // namespace l2n::tokenizer
