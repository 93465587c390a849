// SentencePiece-style BPE with byte fallback (internal to the tokenizer stage).
//
// Text becomes UTF-8 characters with spaces written as "▁"; adjacent symbols merge
// best-first; a character left without a piece becomes its byte pieces <0xXX>, else <unk>.
// Two merge orders:
//  - by score (llama2.c .bin, GGUF "llama", like llama.cpp's SPM tokenizer and
//    SentencePiece): the pair whose concatenation is a piece with the highest score merges
//    first, ties leftmost; control, unknown and byte pieces are never formed by merging;
//  - by rank (tokenizer.json "BPE" + byte_fallback, like the Hugging Face library): the pair
//    earliest in the merges list merges first, ties leftmost.
// Text front end: a tokenizer.json pipeline (HfFrontEnd), or llama.cpp's: the listed
// special tokens are cut out of the text first, and every text fragment that starts the
// input or follows a special token gets the dummy-prefix space.
#pragma once

#include <array>
#include <optional>
#include <unordered_map>

#include "tokenizer/hf_pipeline.h"
#include "tokenizer/tokenizer_impl.h"

namespace l2n::tokenizer {

struct SpmBpeConfig {
  std::vector<std::string> pieces;  // by id, spaces written as "▁"
  std::vector<uint8_t> special;     // by id: control/unknown, skipped by decode()
  std::vector<float> scores;        // by id; used unless use_ranks
  bool use_ranks = false;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  bool byte_fallback = true;
  int32_t unk_id = -1;
  bool fuse_unk = false;       // rank mode: consecutive unknown characters give one <unk>
  bool ignore_merges = false;  // rank mode: a word that is a piece as a whole is that piece
  int32_t bos_id = -1, eos_id = -1;
  bool add_bos = true;
  bool special_ids_guessed = false;
  bool strip_leading_space = true;  // decode(): drop the dummy-prefix space
  std::optional<HfFrontEnd> hf;     // set: tokenizer.json pipeline; unset: llama.cpp's
  bool add_space_prefix = true;     // llama.cpp front end
  std::vector<int32_t> split_tokens;  // llama.cpp front end: matched whole in the text
};

class SpmBpeTokenizer final : public TokenizerBase {
 public:
  explicit SpmBpeTokenizer(SpmBpeConfig config);

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool add_eos = false) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  std::string piece(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  bool is_special(int32_t id) const override;
  std::string kind() const override { return "sentencepiece-bpe"; }

 private:
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void encode_segment(std::string_view segment, std::vector<int32_t>& out) const;
  void encode_by_score(std::string_view word, std::vector<int32_t>& out) const;
  void encode_by_rank(std::string_view word, std::vector<int32_t>& out) const;

  std::vector<std::string> pieces_;
  std::vector<uint8_t> special_;
  std::vector<float> scores_;
  std::vector<uint8_t> mergeable_;  // score mode: may be produced by a merge
  std::vector<int16_t> byte_value_; // by id: the byte of a <0xXX> piece, or -1
  std::array<int32_t, 256> byte_ids_{};
  VocabMap vocab_;
  bool use_ranks_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (left,right) -> (rank,new)
  bool byte_fallback_;
  int32_t unk_id_;
  bool fuse_unk_;
  bool ignore_merges_;
  bool strip_leading_space_;
  std::optional<HfFrontEnd> hf_;
  bool add_space_prefix_;
  AddedTokenMatcher split_matcher_;
  // No piece has a "▁" after another character, so no merge crosses the start of a "▁"
  // that follows another character: words split there encode independently (and cache).
  bool split_before_spaces_ = false;
  WordCache cache_;
};

}  // namespace l2n::tokenizer
