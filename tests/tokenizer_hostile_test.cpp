// Bad input: invalid UTF-8, huge words, empty text, corrupt and truncated files. Nothing may
// crash; file problems are l2n::Error naming the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
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

std::filesystem::path tokenizers() { return testing::shared_data() / "tokenizers"; }

using testing::ScratchDir;

std::vector<std::pair<std::string, std::unique_ptr<Tokenizer>>> load_all() {
  std::vector<std::pair<std::string, std::unique_ptr<Tokenizer>>> list;
  list.emplace_back("tok512.bin", load_tokenizer(testing::stories260k_dir() / "tok512.bin"));
  list.emplace_back("tok512.model", load_tokenizer(testing::stories260k_dir() / "tok512.model"));
  list.emplace_back("llama2", load_tokenizer(tokenizers() / "llama2" / "tokenizer.json"));
  list.emplace_back("gpt2", load_tokenizer(tokenizers() / "gpt2" / "tokenizer.json"));
  list.emplace_back("smollm2", load_tokenizer(tokenizers() / "smollm2" / "tokenizer.json"));
  return list;
}

// Time bounds are 10x looser under ASan + UBSan (make test-sanitize).
#ifdef LLM2NPU_SANITIZED
constexpr double kTimeScale = 10.0;
#else
constexpr double kTimeScale = 1.0;
#endif

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void check_empty_text(const std::string& name, const Tokenizer& tok) {
  EXPECT_TRUE(tok.encode("", false).empty()) << name;
  EXPECT_EQ(tok.encode("", true), Ids{tok.bos_id()}) << name;
  EXPECT_EQ(tok.decode(Ids{}), "") << name;
}

void check_invalid_utf8(const std::string& name, const Tokenizer& tok) {
  const std::string text = std::string("ok \xFF\xFE x \xC3 y \xE2\x82 z \xED\xA0\x80 \xF0\x9F\xA6 \x80\x80") +
                           std::string(1, '\0') + "end \xC0\xAF";
  const Ids ids = tok.encode(text, true);
  for (const int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size()) << name;
  if (name == "tok512.model") return;  // libsentencepiece turns invalid bytes into U+FFFD
  std::string expected = text;
  if (name == "smollm2") {
    // Its vocabulary has no piece for bytes that never occur in UTF-8 (0xC0, 0xC1,
    // 0xF5-0xFF); like the HF library (no unk token), those bytes are dropped.
    std::erase_if(expected, [](char c) {
      const auto b = static_cast<uint8_t>(c);
      return b == 0xC0 || b == 0xC1 || b >= 0xF5;
    });
  }
  EXPECT_EQ(tok.decode(ids), expected) << name;
}

void check_long_words(const std::string& name, const Tokenizer& tok) {
  std::string letters(200 * 1024, 'a');
  for (size_t i = 0; i < letters.size(); ++i) letters[i] = static_cast<char>('a' + (i * 7919 % 26));
  std::string cjk;
  while (cjk.size() < 200 * 1024) cjk += "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  const std::vector<std::string> texts = {std::string(200 * 1024, 'a'), letters, std::string(200 * 1024, '<'),
                                          std::string(200 * 1024, '7'), cjk, std::string(200 * 1024, ' ')};
  for (const std::string& text : texts) {
    const auto start = std::chrono::steady_clock::now();
    const Ids ids = tok.encode(text, false);
    EXPECT_LT(seconds_since(start), 2.0 * kTimeScale) << name << " on " << text.substr(0, 8);
    if (name == "tok512.model") continue;  // SentencePiece drops a spaces-only text entirely
    EXPECT_TRUE(tok.decode(ids) == text) << name << " on " << text.substr(0, 8);
  }
}

void check_ids_outside_the_vocabulary(const std::string& name, const Tokenizer& tok) {
  const Ids ids = {-5, tok.vocab_size(), tok.vocab_size() + 1000, 1 << 30};
  EXPECT_EQ(tok.decode(ids), "") << name;
  EXPECT_THROW(tok.piece(-1), Error) << name;
  EXPECT_THROW(tok.piece(tok.vocab_size()), Error) << name;
  EXPECT_FALSE(tok.is_special(-1)) << name;
  StreamingDecoder stream(tok);
  EXPECT_EQ(stream.push(-1) + stream.push(tok.vocab_size()) + stream.flush(), "") << name;
}

void check_streaming(const std::string& name, const Tokenizer& tok) {
  // Long enough for the decoder to drop old ids many times; wikitext has non-ASCII text.
  std::string text = read_text_file(testing::shared_data() / "text" / "wikitext-2" / "wiki.test.raw").substr(0, 12000);
  text += "\xF0\x9F\xA6\x99 \xE6\x97\xA5\xE6\x9C\xAC  end";
  Ids ids = tok.encode(text, true, true);
  ids.insert(ids.begin() + static_cast<ptrdiff_t>(ids.size() / 2), -1);  // an id outside the vocabulary
  StreamingDecoder stream(tok);
  std::string streamed;
  for (const int32_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  EXPECT_TRUE(streamed == tok.decode(ids)) << name;
}

// One test for all five tokenizers, so they are loaded once.
TEST(Hostile, EveryTokenizerSurvivesBadText) {
  for (const auto& [name, tok] : load_all()) {
    SCOPED_TRACE(name);
    check_empty_text(name, *tok);
    check_invalid_utf8(name, *tok);
    check_long_words(name, *tok);
    check_ids_outside_the_vocabulary(name, *tok);
    check_streaming(name, *tok);
  }
}

TEST(Hostile, StreamingDecoderEmitsInvalidBytesOnceKnownInvalid) {
  const auto bin = load_tokenizer(testing::stories260k_dir() / "tok512.bin");
  const Tokenizer& tok = *bin;
  const Ids ids = tok.encode("a\xE2z", false);
  StreamingDecoder stream(tok);
  std::string out;
  for (const int32_t id : ids) out += stream.push(id);
  out += stream.flush();
  EXPECT_EQ(out, "a\xE2z");
}

void expect_error(const std::filesystem::path& path, const std::string& fragment) {
  try {
    load_tokenizer(path);
    ADD_FAILURE() << path << " loaded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.filename().string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(Hostile, TruncatedLlama2cBinNeverCrashes) {
  const std::string bytes = read_text_file(testing::stories260k_dir() / "tok512.bin");
  const ScratchDir dir("l2n_tok_hostile");
  // Every cut in the header and the first entries, the last entries, and a sample between
  // (writing all 6227 files takes seconds on some file systems).
  std::vector<size_t> sizes;
  for (size_t size = 0; size < bytes.size(); ++size)
    if (size < 64 || size + 64 > bytes.size() || size % 23 == 0) sizes.push_back(size);
  int loaded = 0, refused = 0;
  for (const size_t size : sizes) {
    const auto path = dir.write("tok.bin", bytes.substr(0, size));
    try {
      const auto tok = load_tokenizer(path);
      ++loaded;  // cut exactly between two entries: a smaller, valid vocabulary
      EXPECT_LT(tok->vocab_size(), 512);
      tok->encode("Once upon a time \xFF", true);
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("tok.bin"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(refused, 300);
  EXPECT_LT(loaded, 40);
}

TEST(Hostile, CorruptLlama2cBinIsRefused) {
  const std::string good = read_text_file(testing::stories260k_dir() / "tok512.bin");
  const ScratchDir dir("l2n_tok_hostile");
  auto patched = [&](size_t offset, const void* data, size_t size) {
    std::string copy = good;
    std::memcpy(copy.data() + offset, data, size);
    return dir.write("tok512.bin", copy);
  };
  const int32_t huge = 1 << 30, negative = -4, too_long = 100;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  expect_error(patched(0, &huge, 4), "max_token_length");
  expect_error(patched(0, &negative, 4), "max_token_length");
  expect_error(patched(8, &negative, 4), "length -4");          // token 0's length
  expect_error(patched(8, &too_long, 4), "max_token_length");   // longer than the maximum
  expect_error(patched(4, &nan, 4), "score");
  expect_error(dir.write("tok512.bin", good + "xyz"), "truncated");
  expect_error(dir.write("tok512.bin", ""), "empty");
  expect_error(dir.write("tok512.bin", "\x07"), "too short");
}

TEST(Hostile, CorruptSentencePieceModelIsRefused) {
  const std::string good = read_text_file(testing::stories260k_dir() / "tok512.model");
  const ScratchDir dir("l2n_tok_hostile");
  for (const size_t size : {size_t{1}, size_t{2}, size_t{100}, good.size() / 2, good.size() - 1}) {
    const auto path = dir.write("tok512.model", good.substr(0, size));
    try {
      load_tokenizer(path);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tok512.model"), std::string::npos) << e.what();
    }
  }
}

// A minimal ModelProto: repeated field 1 holds SentencePiece messages {1: piece, 3: type}.
std::string sentencepiece_proto(const std::vector<std::pair<std::string, int>>& pieces) {
  std::string proto;
  for (const auto& [text, type] : pieces) {
    std::string message = "\x0a";
    message += static_cast<char>(text.size());
    message += text;
    message += "\x18";
    message += static_cast<char>(type);
    proto += "\x0a";
    proto += static_cast<char>(message.size());
    proto += message;
  }
  return proto;
}

TEST(Hostile, SentencePiecePieceWithANulByteIsRefused) {
  constexpr int kNormal = 1, kUnknown = 2, kControl = 3;
  auto model = [&](const std::string& piece) {
    return sentencepiece_proto({{"<unk>", kUnknown}, {"<s>", kControl}, {"</s>", kControl}, {piece, kNormal}});
  };
  const ScratchDir dir("l2n_tok_hostile");
  // The same model with a plain piece loads, so the refusals below are about the NUL.
  EXPECT_EQ(load_tokenizer(dir.write("plain.model", model("ab")))->vocab_size(), 4);
  // libsentencepiece's trie builder throws on a leading NUL ("zero-length key"), and cuts
  // a piece short at an inner one.
  expect_error(dir.write("leading.model", model(std::string("\0ab", 3))), "zero-length key");
  expect_error(dir.write("inner.model", model(std::string("a\0b", 3))), "NUL byte");
}

TEST(Hostile, BadTokenizerJsonIsRefused) {
  const ScratchDir dir("l2n_tok_hostile");
  expect_error(dir.write("tokenizer.json", "{\"version\": \"1.0\"}"), "\"model\"");
  expect_error(dir.write("tokenizer.json", "{\"model\": 3}"), "\"model\"");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}"), "\"vocab\"");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}"), "Unigram");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": -1}}}"), "out of range");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 1e12}}}"), "integer id");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [7]}}"), "merge");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": "
                                           "\"BertPreTokenizer\"}}"),
               "BertPreTokenizer");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": "
                                           "\"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}}"),
               "regex");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {"), "JSON");
  expect_error(dir.write("tokenizer.json", "GGUF\x03\0\0\0"), "GGUF");
  expect_error(std::filesystem::temp_directory_path() / "l2n_no_such_tokenizer.json", "cannot open");
}

TEST(Hostile, DirectoryLoadsItsTokenizerJson) {
  const auto tok = load_tokenizer(tokenizers() / "gpt2");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_THROW(load_tokenizer(tokenizers()), Error);
}

TEST(Hostile, BadEmbeddedVocabIsRefused) {
  model::EmbeddedVocab v;
  v.model = "llama";
  EXPECT_THROW(tokenizer_from_vocab(v), Error);  // no tokens
  v.tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a"};
  v.scores = {0, 0};
  EXPECT_THROW(tokenizer_from_vocab(v), Error);  // scores do not match
  v.scores.clear();
  v.token_types = {2, 3, 3, 1};
  const auto tok = tokenizer_from_vocab(v);      // scores missing: usable, order by id
  EXPECT_EQ(tok->encode("a", true), (Ids{1, 3}));
  EXPECT_EQ(tok->encode("b", false), (Ids{0, 0}));  // no byte pieces: <unk> per character
  v.model = "bert";
  EXPECT_THROW(tokenizer_from_vocab(v), Error);
}

TEST(Hostile, SmallByteLevelVocabFromGgufStyleData) {
  // A GGUF "gpt2" vocabulary: every byte, a few merges, one control token.
  model::EmbeddedVocab v;
  v.model = "gpt2";
  v.pre = "smollm";
  const std::string space = "\xC4\xA0";  // "Ġ"
  // GPT-2's byte alphabet: printable bytes stand for themselves, the others for 256 + n.
  auto utf8 = [](uint32_t cp) {
    return cp < 0x80 ? std::string(1, static_cast<char>(cp))
                     : std::string{static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
  };
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    v.tokens.push_back(utf8(printable ? b : next++));
  }
  v.tokens.push_back("he");             // 256
  v.tokens.push_back(space + "he");     // 257
  v.tokens.push_back("<|end|>");        // 258
  v.merges = {"h e", space + " he"};
  v.token_types.assign(v.tokens.size(), 1);
  v.token_types[258] = 3;
  v.eos_id = 258;
  v.add_bos = false;
  const auto tok = tokenizer_from_vocab(v);
  EXPECT_EQ(tok->kind(), "byte-level-bpe");
  const Ids ids = tok->encode("he he<|end|>12", false);
  EXPECT_EQ(ids, (Ids{256, 257, 258, '1', '2'}));
  EXPECT_EQ(tok->decode(ids), "he he12");
  EXPECT_TRUE(tok->is_special(258));
  EXPECT_FALSE(tok->add_bos_by_default());
}

// Reliability matrix (docs/reliability.md): JSON attacks on tokenizer.json and its
// sidecar, and the regressions of what tokenizer_json_fuzz found.
TEST(Hostile, TokenizerJsonNestingAndEncodingAttacks) {
  const ScratchDir dir("l2n_tok_hostile");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}, \"pre_tokenizer\": " +
                                               std::string(200000, '[') + std::string(200000, ']') + "}"),
               "levels deep");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\xff\xfe\": 0}}}"), "not valid JSON");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 16777215}}}"), "out of range");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": "
                                           "9000000, \"content\": \"<x>\"}]}"),
               "out of range");
  expect_error(dir.write("tokenizer.json", "{\"model\": {\"type\": 5, \"vocab\": {\"a\": 0}}}"), "\"type\"");
}

TEST(Hostile, TokenizerJsonWrongTypedOptionalFieldsAreIgnored) {
  // Found by tokenizer_json_fuzz: json::value() threw nlohmann's type_error for these.
  const ScratchDir dir("l2n_tok_hostile");
  const auto tok = load_tokenizer(dir.write(
      "tokenizer.json",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}}, \"post_processor\": {\"type\": 7, "
      "\"single\": [{\"SpecialToken\": 3}]}, \"decoder\": {\"type\": \"Strip\", \"start\": \"x\"}}"));
  EXPECT_EQ(tok->encode("ab", false), (Ids{0, 1}));
  const auto seq = load_tokenizer(dir.write(
      "tokenizer.json",
      "{\"model\": {\"vocab\": {\"a\": 0}}, \"post_processor\": {\"type\": \"TemplateProcessing\", "
      "\"single\": [{\"SpecialToken\": [1]}]}, \"decoder\": {\"type\": \"Metaspace\", \"prepend_scheme\": 1}}"));
  EXPECT_EQ(seq->vocab_size(), 1);
}

TEST(Hostile, BadSidecarJsonIsRefused) {
  const ScratchDir dir("l2n_tok_hostile");
  dir.write("tokenizer_config.json", "{\"bos_token\": ");
  try {
    load_tokenizer(dir.write("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}}"));
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
  std::filesystem::remove(dir.write("tokenizer_config.json", ""));
}

}  // namespace
}  // namespace l2n::tokenizer
