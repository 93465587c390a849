// Byte-level BPE, GPT-2 style (internal to the tokenizer stage).
//
// The HfFrontEnd cuts added tokens out and splits the text into words (pre-tokenizer
// regexes); each word's bytes start as one symbol per byte, named by GPT-2's byte ->
// printable-character map ("Ġ" = space), and merge by rank. Any byte sequence is
// encodable, invalid UTF-8 included, and decode() returns exactly the bytes encoded.
// Results per word are cached, so common words cost one hash lookup.
#pragma once

#include <array>

#include "tokenizer/hf_pipeline.h"
#include "tokenizer/tokenizer_impl.h"

namespace l2n::tokenizer {

struct ByteLevelConfig {
  std::vector<std::string> pieces;  // by id: byte-level form ("Ġthe"); added tokens: content
  std::vector<uint8_t> special;     // by id: skipped by decode()
  std::vector<uint8_t> added;       // by id: an added token, decoded as its content
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order, byte-level form
  HfFrontEnd front;
  int32_t unk_id = -1;
  bool ignore_merges = false;  // a word that is a piece as a whole is that piece (Llama-3)
  int32_t bos_id = -1, eos_id = -1;
  bool add_bos = false;
  bool special_ids_guessed = false;
};

// GPT-2's bytes_to_unicode(): the code point standing for each byte.
const std::array<uint32_t, 256>& byte_to_codepoint();

class ByteLevelBpeTokenizer final : public TokenizerBase {
 public:
  explicit ByteLevelBpeTokenizer(ByteLevelConfig config);

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool add_eos = false) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  std::string piece(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  bool is_special(int32_t id) const override;
  std::string kind() const override { return "byte-level-bpe"; }

 private:
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  std::vector<std::string> pieces_;
  std::vector<std::string> decoded_;  // by id: the bytes decode() emits
  std::vector<uint8_t> special_;
  VocabMap vocab_;
  MergeMap merges_;
  std::array<int32_t, 256> byte_ids_{};
  HfFrontEnd front_;
  int32_t unk_id_;
  bool ignore_merges_;

  WordCache cache_;
};

}  // namespace l2n::tokenizer
