// Byte-level BPE (SmolLM2, GPT-2, a Llama-3-style Split pre-tokenizer) and the Metaspace
// variant of SentencePiece-style tokenizer.json files. Expected ids were checked against the
// Hugging Face tokenizers library (0.22.2) once; they are written out here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "scratch_dir.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace l2n::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

std::filesystem::path tokenizer_json(const char* name) {
  return testing::shared_data() / "tokenizers" / name / "tokenizer.json";
}

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

using testing::ScratchDir;

class SmolLM2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = load_tokenizer(tokenizer_json("smollm2")).release(); }
  static void TearDownTestSuite() { delete tok_; }
  static Tokenizer* tok_;
};
Tokenizer* SmolLM2::tok_ = nullptr;

TEST_F(SmolLM2, Vocabulary) {
  EXPECT_EQ(tok_->kind(), "byte-level-bpe");
  EXPECT_EQ(tok_->vocab_size(), 49152);
  // No tokenizer_config.json beside it: <|endoftext|> (0) for both, BOS not added.
  EXPECT_EQ(tok_->bos_id(), 0);
  EXPECT_EQ(tok_->eos_id(), 0);
  EXPECT_FALSE(tok_->add_bos_by_default());
  for (int32_t id = 0; id <= 16; ++id) EXPECT_TRUE(tok_->is_special(id)) << id;
  EXPECT_FALSE(tok_->is_special(17));
  EXPECT_EQ(tok_->piece(1), "<|im_start|>");
  EXPECT_EQ(tok_->piece(216), "\xC4\xA0");  // "Ġ"
}

TEST_F(SmolLM2, ChatMarkupAndDigits) {
  // Added tokens are cut out first; digits are single tokens, never joined to a space.
  EXPECT_EQ(tok_->encode("<|im_start|>user\nHello 12345 world!<|im_end|>", false),
            (Ids{1, 4093, 198, 19556, 216, 33, 34, 35, 36, 37, 905, 17, 2}));
  EXPECT_EQ(tok_->encode("I have 3 apples and 42 pears.", false),
            (Ids{57, 457, 216, 35, 13855, 284, 216, 36, 34, 41684, 30}));
  EXPECT_EQ(tok_->encode("<|endoftext|>Once upon a time", false), (Ids{0, 6403, 1980, 253, 655}));
  EXPECT_EQ(tok_->encode("x<|im_start|>y", false), (Ids{104, 1, 105}));
  // Arabic-Indic digits and "½" are \p{N} too; as bytes they have no merges.
  EXPECT_EQ(tok_->encode("\xD9\xA3\xD9\xA4\xD9\xA5 and \xC2\xBD", false),
            (Ids{164, 113, 164, 114, 164, 115, 284, 216, 16738}));
  EXPECT_EQ(tok_->encode("  two spaces\tand tab\n\nnewlines", false),
            (Ids{216, 827, 5600, 197, 397, 10147, 198, 198, 2241, 5110}));
  EXPECT_EQ(tok_->encode("caf\xC3\xA9 \xF0\x9F\xA6\x99", false), (Ids{83, 1939, 2756, 15107, 116, 243}));
  EXPECT_EQ(tok_->decode(Ids{1, 4093, 198, 19556, 216, 33, 34, 35, 36, 37, 905, 17, 2}), "user\nHello 12345 world!");
}

TEST_F(SmolLM2, RoundTripsText) {
  for (const auto& path : {testing::tinystories_text(), testing::shared_data() / "text" / "wikitext-2" / "wiki.test.raw"}) {
    const std::string text = text_prefix(path, 20 * 1024);
    EXPECT_TRUE(tok_->decode(tok_->encode(text, false)) == text) << path;
  }
}

TEST_F(SmolLM2, StreamingDecodeHoldsBackPartialCharacters) {
  // "🦙" is split over three tokens; nothing of it may come out before it is complete.
  const Ids ids = tok_->encode("caf\xC3\xA9 \xF0\x9F\xA6\x99!", false);
  StreamingDecoder stream(*tok_);
  std::vector<std::string> parts;
  for (const int32_t id : ids) parts.push_back(stream.push(id));
  parts.push_back(stream.flush());
  std::string all;
  for (const auto& p : parts) {
    all += p;
    EXPECT_TRUE(valid_utf8(p)) << "a chunk ends inside a character";
  }
  EXPECT_EQ(all, "caf\xC3\xA9 \xF0\x9F\xA6\x99!");
}

TEST_F(SmolLM2, RoundTripsTheWholeTinyStoriesText) {
  const std::string text = read_text_file(testing::tinystories_text());
  const Ids ids = tok_->encode(text, false);
  EXPECT_TRUE(tok_->decode(ids) == text);
}

TEST(Gpt2, RoundTripsText) {
  const auto tok = load_tokenizer(tokenizer_json("gpt2"));
  for (const auto& path : {testing::tinystories_text(), testing::shared_data() / "text" / "wikitext-2" / "wiki.test.raw"}) {
    const std::string text = text_prefix(path, 20 * 1024);
    EXPECT_TRUE(tok->decode(tok->encode(text, false)) == text) << path;
  }
}

TEST(Llama3Style, SplitRegexThenByteLevel) {
  // GPT-2's vocabulary with Llama-3's pre-tokenizer (Split regex, ByteLevel without regex)
  // and ignore_merges, as Llama-3's tokenizer.json has them.
  auto root = nlohmann::json::parse(read_text_file(tokenizer_json("gpt2")));
  root["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  root["model"]["ignore_merges"] = true;
  const ScratchDir dir("l2n_tok_test");
  const auto tok = load_tokenizer(dir.write("tokenizer.json", root.dump()));
  const std::string text = "I'M 1234567 don't   stop\r\n\nnow";
  EXPECT_EQ(tok->encode(text, false), (Ids{40, 6, 44, 220, 10163, 29228, 22, 836, 470, 220, 220, 2245, 201, 628, 2197}));
  EXPECT_EQ(tok->decode(tok->encode(text, false)), text);
}

TEST(MetaspaceStyle, PrependFirstWithoutSplit) {
  // Llama-2's vocabulary with the newer Metaspace pre-tokenizer instead of the normalizer.
  auto root = nlohmann::json::parse(read_text_file(tokenizer_json("llama2")));
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}, {"split", false}};
  root["decoder"] = {{"type", "Sequence"},
                     {"decoders",
                      {{{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}, {"split", false}},
                       {{"type", "ByteFallback"}},
                       {{"type", "Fuse"}}}}};
  const ScratchDir dir("l2n_tok_test");
  const auto tok = load_tokenizer(dir.write("tokenizer.json", root.dump()));
  EXPECT_EQ(tok->kind(), "sentencepiece-bpe");
  EXPECT_EQ(tok->encode("Hello world", false), (Ids{15043, 3186}));
  EXPECT_EQ(tok->encode("a  b", false), (Ids{263, 29871, 289}));
  // <s> is normalized=true but there is no normalizer: it matches as is, and only the
  // first piece of the input gets the prefix.
  EXPECT_EQ(tok->encode("<s>x", false), (Ids{1, 29916}));
  EXPECT_EQ(tok->encode("x <s> y", false), (Ids{921, 29871, 1, 343}));
  EXPECT_EQ(tok->decode(Ids{921, 29871, 1, 343}), "x  y");
}

}  // namespace
}  // namespace l2n::tokenizer
