// Pieces shared by the tokenizer implementations (internal to the tokenizer stage).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace l2n::tokenizer {

// Holds the BOS/EOS ids and whether they were read from the tokenizer's own files or
// guessed from well-known token names (then a model config may replace them).
class TokenizerBase : public Tokenizer {
 public:
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  bool add_bos_by_default() const override { return add_bos_ && bos_ >= 0; }
  bool special_ids_guessed() const { return special_ids_guessed_; }
  void set_special_ids(int32_t bos, int32_t eos) {
    bos_ = bos;
    eos_ = eos;
    special_ids_guessed_ = false;
  }

 protected:
  int32_t bos_ = -1, eos_ = -1;
  bool add_bos_ = false;
  bool special_ids_guessed_ = false;
};

// string -> id with lookups by string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using VocabMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

inline std::optional<int32_t> find_id(const VocabMap& vocab, std::string_view piece) {
  const auto it = vocab.find(piece);
  if (it == vocab.end()) return std::nullopt;
  return it->second;
}

// Token ids of recently seen words, shared by all threads (encode() is const and may run
// concurrently). Long words are not kept; a full cache starts over.
class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;
  static constexpr size_t kMaxEntries = 1 << 17;
  // Appends the cached ids of word to out; false if it is not cached.
  bool lookup(std::string_view word, std::vector<int32_t>& out) const {
    if (word.size() > kMaxWordBytes) return false;
    std::lock_guard lock(mutex_);
    const auto it = map_.find(word);
    if (it == map_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void store(std::string_view word, const int32_t* ids, size_t count) const {
    if (word.size() > kMaxWordBytes) return;
    std::lock_guard lock(mutex_);
    if (map_.size() >= kMaxEntries) map_.clear();
    map_.emplace(std::string(word), std::vector<int32_t>(ids, ids + count));
  }

 private:
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map_;
};

// "<0x41>" -> 0x41 for SentencePiece byte-fallback pieces; -1 for anything else.
int byte_piece_value(std::string_view piece);
std::string byte_piece(uint8_t byte);

// (left id, right id) -> (rank, merged id). Merges naming a piece that is not in the
// vocabulary are skipped; a pair listed twice keeps its later rank (as in the HF library).
using MergeMap = std::unordered_map<uint64_t, std::pair<int32_t, int32_t>>;
inline uint64_t merge_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
MergeMap build_merge_map(const std::vector<std::pair<std::string, std::string>>& merges, const VocabMap& vocab);

// "a b" -> {"a", "b"}. Pieces containing spaces make this ambiguous; then the split whose
// two halves and concatenation are all in the vocabulary wins. nullopt if none fits.
std::optional<std::pair<std::string, std::string>> split_merge_string(std::string_view merge, const VocabMap& vocab);

inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 "▁"

// Text of SentencePiece pieces: <0xXX> pieces (byte_value >= 0) become raw bytes, "▁"
// becomes a space, ids marked in `skip` (control, unknown) and ids outside the vocabulary
// are left out, and the one leading space a dummy prefix added is removed when asked.
std::string decode_spm_pieces(std::span<const int32_t> ids, const std::vector<std::string>& pieces,
                              const std::vector<int16_t>& byte_value, const std::vector<uint8_t>& skip,
                              bool strip_leading_space);

// `path` names the file in messages; the companions (tokenizer_config.json,
// special_tokens_map.json) come with the text rather than from path's directory.
std::unique_ptr<Tokenizer> load_hf_json(const std::filesystem::path& path, const std::string& text,
                                        const TokenizerCompanions& companions);
std::unique_ptr<Tokenizer> load_llama2c_bin(const std::filesystem::path& path, std::string_view bytes);
std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::filesystem::path& path, const std::string& bytes);

}  // namespace l2n::tokenizer
