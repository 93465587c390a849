// The stories260K tokenizer in its two forms: llama2.c's tok512.bin (our SentencePiece-style
// BPE by score) and the SentencePiece tok512.model it was exported from (libsentencepiece).
#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.h"
#include "core/mapped_file.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace l2n::tokenizer {
namespace {

using testing::stories260k_dir;

// True if every multi-byte sequence in s is complete (lead and continuation bytes in place).
bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    const size_t n = b < 0x80 ? 1 : (b >> 5) == 6 && b >= 0xC2 ? 2 : (b >> 4) == 14 ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// The first `bytes` bytes of a file, shortened to end on a UTF-8 character boundary.
std::string text_prefix(const std::filesystem::path& path, size_t bytes) {
  std::string s = read_text_file(path);
  if (s.size() > bytes) {
    s.resize(bytes);
    while (!s.empty() && (static_cast<uint8_t>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && static_cast<uint8_t>(s.back()) >= 0xC0) s.pop_back();
  }
  return s;
}

std::filesystem::path wikitext() { return testing::shared_data() / "text" / "wikitext-2" / "wiki.test.raw"; }

class Llama2cTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bin_ = load_tokenizer(stories260k_dir() / "tok512.bin").release();
    model_ = load_tokenizer(stories260k_dir() / "tok512.model").release();
  }
  static void TearDownTestSuite() {
    delete bin_;
    delete model_;
  }
  static Tokenizer* bin_;
  static Tokenizer* model_;
};
Tokenizer* Llama2cTokenizer::bin_ = nullptr;
Tokenizer* Llama2cTokenizer::model_ = nullptr;

TEST_F(Llama2cTokenizer, BinHasTheExpectedVocabulary) {
  EXPECT_EQ(bin_->kind(), "sentencepiece-bpe");
  EXPECT_EQ(bin_->vocab_size(), 512);
  EXPECT_EQ(bin_->bos_id(), 1);
  EXPECT_EQ(bin_->eos_id(), 2);
  EXPECT_TRUE(bin_->add_bos_by_default());
  EXPECT_TRUE(bin_->is_special(0) && bin_->is_special(1) && bin_->is_special(2));
  EXPECT_FALSE(bin_->is_special(3));
  EXPECT_EQ(bin_->piece(1), "\n<s>\n");
  EXPECT_EQ(bin_->piece(13), "<0x0A>");
  EXPECT_EQ(bin_->piece(403), "\xE2\x96\x81Once");
  EXPECT_THROW(bin_->piece(512), Error);
}

TEST_F(Llama2cTokenizer, ModelHasTheSameVocabulary) {
  EXPECT_EQ(model_->kind(), "sentencepiece-model");
  ASSERT_EQ(model_->vocab_size(), 512);
  EXPECT_EQ(model_->bos_id(), 1);
  EXPECT_EQ(model_->eos_id(), 2);
  for (int32_t id = 3; id < 512; ++id) EXPECT_EQ(model_->piece(id), bin_->piece(id)) << id;
}

TEST_F(Llama2cTokenizer, EncodesOnceUponATimeLikeTheGreedyRun) {
  // stories260K's greedy output from BOS starts BOS " Once" " upon" " a" " time" ",".
  const auto& greedy = testing::kStories260kGreedy;
  EXPECT_EQ(bin_->encode("Once upon a time,", true), (std::vector<int32_t>{1, 403, 407, 261, 378, 432}));
  EXPECT_EQ(model_->encode("Once upon a time,", true), (std::vector<int32_t>{1, 403, 407, 261, 378, 432}));
  EXPECT_EQ(std::vector<int32_t>(greedy, greedy + 6), (std::vector<int32_t>{1, 403, 407, 261, 378, 432}));
  EXPECT_EQ(bin_->encode("Once upon a time", false, true), (std::vector<int32_t>{403, 407, 261, 378, 2}));
}

TEST_F(Llama2cTokenizer, DecodesTheGreedyStory) {
  const std::vector<int32_t> ids(std::begin(testing::kStories260kGreedy), std::end(testing::kStories260kGreedy));
  const std::string expected = "Once upon a time, there was a little girl named Lily. She loved to";
  EXPECT_EQ(bin_->decode(ids), expected);
  EXPECT_EQ(model_->decode(ids), expected);
  EXPECT_EQ(bin_->encode(expected, true), ids);
}

TEST_F(Llama2cTokenizer, BinAndModelAgreeOnTinyStories) {
  const std::string text = text_prefix(testing::tinystories_text(), 50 * 1024);
  const auto a = bin_->encode(text, true);
  const auto b = model_->encode(text, true);
  EXPECT_GT(a.size(), 20000u);
  ASSERT_EQ(a.size(), b.size());
  size_t first_difference = a.size();
  for (size_t i = 0; i < a.size() && first_difference == a.size(); ++i)
    if (a[i] != b[i]) first_difference = i;
  EXPECT_EQ(first_difference, a.size());
}

TEST_F(Llama2cTokenizer, BinAndModelAgreeOnSymbolsAndBytes) {
  for (const std::string text : {"tab\there", "\n\nx\n", "caf\xC3\xA9 \xE2\x82\xAC 10", "\xF0\x9F\xA6\x99 llama", "x",
                                 "Lily's mom said, \"Lily, let's go!\""}) {
    EXPECT_EQ(bin_->encode(text, false), model_->encode(text, false)) << text;
  }
}

TEST_F(Llama2cTokenizer, ModelCollapsesSpacesAsItsNormalizerSays) {
  // tok512.model keeps SentencePiece's remove_extra_whitespaces; llama2.c's run.c (and the
  // .bin here) does not normalize.
  EXPECT_EQ(model_->encode("a  b ", false), model_->encode("a b", false));
  EXPECT_EQ(bin_->encode("a  b", false), (std::vector<int32_t>{261, 410, 268}));
  EXPECT_EQ(bin_->decode(bin_->encode("  a  b  ", false)), "  a  b  ");
}

// Where two long texts first differ, for readable failures.
std::string first_difference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  if (i == a.size() && i == b.size()) return "identical";
  return "differ at byte " + std::to_string(i) + ": \"" + a.substr(i, 40) + "\" vs \"" + b.substr(i, 40) + "\"";
}

// What remove_extra_whitespaces leaves of a text: no leading, trailing or repeated spaces.
std::string collapse_spaces(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

TEST_F(Llama2cTokenizer, RoundTripsText) {
  for (const auto& path : {testing::tinystories_text(), wikitext()}) {
    const std::string text = text_prefix(path, 20 * 1024);
    EXPECT_EQ(first_difference(bin_->decode(bin_->encode(text, true)), text), "identical") << path;
    EXPECT_EQ(first_difference(model_->decode(model_->encode(text, true)), collapse_spaces(text)), "identical")
        << path;
  }
}

TEST_F(Llama2cTokenizer, StreamingDecodeEqualsDecode) {
  const std::string text = "Lily said \"caf\xC3\xA9 \xE2\x82\xAC\" \xF0\x9F\xA6\x99!\nThe end.";
  for (const Tokenizer* tok : {bin_, model_}) {
    const auto ids = tok->encode(text, true, true);
    StreamingDecoder stream(*tok);
    std::string streamed;
    for (const int32_t id : ids) {
      const std::string part = stream.push(id);
      EXPECT_TRUE(valid_utf8(part)) << "a chunk ends inside a character";
      streamed += part;
    }
    streamed += stream.flush();
    EXPECT_EQ(streamed, text);
    EXPECT_EQ(streamed, tok->decode(ids));
  }
}

TEST_F(Llama2cTokenizer, RoundTripsTheWholeTinyStoriesText) {
  const std::string text = read_text_file(testing::tinystories_text());
  const auto ids = bin_->encode(text, true);
  EXPECT_EQ(ids.size(), 214288u);  // the count the eval reproduces llama.cpp's perplexity with
  EXPECT_EQ(bin_->decode(ids), text);
}

}  // namespace
}  // namespace l2n::tokenizer
