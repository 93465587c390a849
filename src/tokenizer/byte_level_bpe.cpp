#include "tokenizer/byte_level_bpe.h"

#include "core/error.h"
#include "tokenizer/bpe_merge.h"
#include "tokenizer/utf8.h"

namespace l2n::tokenizer {

const std::array<uint32_t, 256>& byte_to_codepoint() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

namespace {

// The bytes a byte-level piece stands for; nullopt if some character is not in the map.
std::optional<std::string> unmap_piece(std::string_view piece) {
  static const std::array<int16_t, 512> inverse = [] {
    std::array<int16_t, 512> t;
    t.fill(-1);
    const auto& forward = byte_to_codepoint();
    for (int b = 0; b < 256; ++b) t[forward[b]] = static_cast<int16_t>(b);
    return t;
  }();
  std::string bytes;
  for (size_t i = 0; i < piece.size();) {
    const size_t len = utf8::char_len(piece, i);
    const uint32_t cp = utf8::decode(piece, i, len);
    if (cp >= inverse.size() || inverse[cp] < 0) return std::nullopt;
    bytes += static_cast<char>(inverse[cp]);
    i += len;
  }
  return bytes;
}

}  // namespace

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(ByteLevelConfig config)
    : pieces_(std::move(config.pieces)),
      special_(std::move(config.special)),
      front_(std::move(config.front)),
      unk_id_(config.unk_id),
      ignore_merges_(config.ignore_merges) {
  const auto n = static_cast<int32_t>(pieces_.size());
  special_.resize(pieces_.size(), 0);
  config.added.resize(pieces_.size(), 0);
  vocab_.reserve(pieces_.size());
  decoded_.resize(pieces_.size());
  for (int32_t id = 0; id < n; ++id) {
    const std::string& p = pieces_[id];
    if (p.empty()) continue;
    vocab_.emplace(p, id);
    if (config.added[id]) {
      decoded_[id] = p;
    } else {
      // As the HF ByteLevel decoder: a piece outside the byte alphabet stands for itself.
      auto bytes = unmap_piece(p);
      decoded_[id] = bytes ? std::move(*bytes) : p;
    }
  }
  const auto& cps = byte_to_codepoint();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8::append(ch, cps[b]);
    byte_ids_[b] = find_id(vocab_, ch).value_or(-1);
  }
  merges_ = build_merge_map(config.merges, vocab_);
  front_.prepare();
  auto valid = [n](int32_t id) { return id >= 0 && id < n ? id : -1; };
  unk_id_ = valid(unk_id_);
  bos_ = valid(config.bos_id);
  eos_ = valid(config.eos_id);
  add_bos_ = config.add_bos;
  special_ids_guessed_ = config.special_ids_guessed;
}

std::vector<int32_t> ByteLevelBpeTokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos && bos_ >= 0) ids.push_back(bos_);
  for (const HfFrontEnd::Piece& p : front_.run(text)) {
    if (p.added_id >= 0) ids.push_back(p.added_id);
    else encode_word(p.text, ids);
  }
  if (add_eos && eos_ >= 0) ids.push_back(eos_);
  return ids;
}

void ByteLevelBpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty() || cache_.lookup(word, out)) return;
  const size_t first = out.size();
  merge_word(word, out);
  cache_.store(word, out.data() + first, out.size() - first);
}

void ByteLevelBpeTokenizer::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > UINT32_MAX / 2) fail("text of {} bytes is too long to tokenize", word.size());
  if (ignore_merges_) {
    std::string mapped;
    for (const char c : word) utf8::append(mapped, byte_to_codepoint()[static_cast<uint8_t>(c)]);
    if (const auto id = find_id(vocab_, mapped)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    int32_t id = byte_ids_[static_cast<uint8_t>(word[i])];
    if (id < 0) id = unk_id_;  // a vocabulary without every byte; HF drops it if no unk
    if (id >= 0) symbols.push_back(Symbol{static_cast<uint32_t>(i), 1, id});
  }
  if (symbols.empty()) return;
  merge_symbols(symbols, [&](const Symbol& l, const Symbol& r) -> std::optional<MergeCandidate> {
    const auto it = merges_.find(merge_key(l.id, r.id));
    if (it == merges_.end()) return std::nullopt;
    return MergeCandidate{static_cast<double>(it->second.first), it->second.second};
  });
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

std::string ByteLevelBpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (const int32_t id : ids)
    if (id >= 0 && id < vocab_size() && !special_[id]) out += decoded_[id];
  return out;
}

std::string ByteLevelBpeTokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) fail("token id {} is outside the vocabulary of {}", id, vocab_size());
  return pieces_[id];
}

bool ByteLevelBpeTokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && special_[id]; }

}  // namespace l2n::tokenizer
