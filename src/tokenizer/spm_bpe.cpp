#include "tokenizer/spm_bpe.h"

#include "core/error.h"
#include "tokenizer/bpe_merge.h"
#include "tokenizer/utf8.h"

namespace l2n::tokenizer {

namespace {

std::string escape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (const char c : text) {
    if (c == ' ') out += kSpmSpace;
    else out += c;
  }
  return out;
}

}  // namespace

SpmBpeTokenizer::SpmBpeTokenizer(SpmBpeConfig config)
    : pieces_(std::move(config.pieces)),
      special_(std::move(config.special)),
      scores_(std::move(config.scores)),
      use_ranks_(config.use_ranks),
      byte_fallback_(config.byte_fallback),
      unk_id_(config.unk_id),
      fuse_unk_(config.fuse_unk),
      ignore_merges_(config.ignore_merges),
      strip_leading_space_(config.strip_leading_space),
      hf_(std::move(config.hf)),
      add_space_prefix_(config.add_space_prefix) {
  const auto n = static_cast<int32_t>(pieces_.size());
  special_.resize(pieces_.size(), 0);
  if (!use_ranks_ && scores_.size() != pieces_.size())
    fail("SentencePiece vocabulary has {} pieces but {} scores", pieces_.size(), scores_.size());
  byte_ids_.fill(-1);
  byte_value_.assign(pieces_.size(), -1);
  mergeable_.assign(pieces_.size(), 1);
  vocab_.reserve(pieces_.size());
  for (int32_t id = 0; id < n; ++id) {
    const std::string& p = pieces_[id];
    vocab_.emplace(p, id);
    const int b = byte_piece_value(p);
    if (b >= 0) {
      byte_value_[id] = static_cast<int16_t>(b);
      if (byte_ids_[b] < 0) byte_ids_[b] = id;
    }
    if (special_[id] || b >= 0) mergeable_[id] = 0;
  }
  if (use_ranks_) merges_ = build_merge_map(config.merges, vocab_);
  split_before_spaces_ = true;
  for (const std::string& p : pieces_) {
    // Skip the leading run of "▁"; any "▁" after that rules splitting out.
    size_t i = 0;
    while (p.compare(i, kSpmSpace.size(), kSpmSpace) == 0) i += kSpmSpace.size();
    if (p.find(kSpmSpace, i) != std::string::npos) {
      split_before_spaces_ = false;
      break;
    }
  }
  if (hf_) hf_->prepare();
  for (const int32_t id : config.split_tokens)
    if (id >= 0 && id < n && !pieces_[id].empty())
      split_matcher_.add(pieces_[id], AddedToken{pieces_[id], id, special_[id] != 0});
  auto valid = [n](int32_t id) { return id >= 0 && id < n ? id : -1; };
  unk_id_ = valid(unk_id_);
  bos_ = valid(config.bos_id);
  eos_ = valid(config.eos_id);
  add_bos_ = config.add_bos;
  special_ids_guessed_ = config.special_ids_guessed;
}

std::vector<int32_t> SpmBpeTokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos && bos_ >= 0) ids.push_back(bos_);
  if (hf_) {
    for (const HfFrontEnd::Piece& p : hf_->run(text)) {
      if (p.added_id >= 0) ids.push_back(p.added_id);
      else encode_word(p.text, ids);
    }
  } else {
    // llama.cpp: the dummy prefix goes before the first fragment and after each special.
    bool prev_special = true;
    auto add_fragment = [&](std::string_view fragment) {
      std::string word = (add_space_prefix_ && prev_special) ? std::string(kSpmSpace) : std::string();
      word += escape_spaces(fragment);
      encode_word(word, ids);
      prev_special = false;
    };
    if (split_matcher_.empty()) {
      if (!text.empty()) add_fragment(text);
    } else {
      for (const auto& sp : split_matcher_.split(text)) {
        if (sp.id >= 0) {
          ids.push_back(sp.id);
          prev_special = true;
        } else {
          add_fragment(text.substr(sp.begin, sp.end - sp.begin));
        }
      }
    }
  }
  if (add_eos && eos_ >= 0) ids.push_back(eos_);
  return ids;
}

void SpmBpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > UINT32_MAX / 2) fail("text of {} bytes is too long to tokenize", word.size());
  if (!split_before_spaces_) {
    encode_segment(word, out);
    return;
  }
  size_t begin = 0;
  for (size_t i = kSpmSpace.size(); i + kSpmSpace.size() <= word.size(); ++i) {
    if (word.compare(i, kSpmSpace.size(), kSpmSpace) == 0 &&
        word.compare(i - kSpmSpace.size(), kSpmSpace.size(), kSpmSpace) != 0 && i > begin) {
      encode_segment(word.substr(begin, i - begin), out);
      begin = i;
    }
  }
  encode_segment(word.substr(begin), out);
}

void SpmBpeTokenizer::encode_segment(std::string_view segment, std::vector<int32_t>& out) const {
  if (segment.empty() || cache_.lookup(segment, out)) return;
  const size_t first = out.size();
  if (use_ranks_) encode_by_rank(segment, out);
  else encode_by_score(segment, out);
  cache_.store(segment, out.data() + first, out.size() - first);
}

void SpmBpeTokenizer::encode_by_score(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size();) {
    const size_t len = utf8::char_len(word, i);
    const auto id = find_id(vocab_, word.substr(i, len));
    symbols.push_back(Symbol{static_cast<uint32_t>(i), static_cast<uint32_t>(len), id && mergeable_[*id] ? *id : -1});
    i += len;
  }
  merge_symbols(symbols, [&](const Symbol& l, const Symbol& r) -> std::optional<MergeCandidate> {
    const auto id = find_id(vocab_, word.substr(l.begin, l.len + r.len));
    if (!id || !mergeable_[*id]) return std::nullopt;
    return MergeCandidate{-static_cast<double>(scores_[*id]), *id};
  });
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    bool all_bytes = byte_fallback_;
    for (uint32_t k = 0; all_bytes && k < s.len; ++k)
      all_bytes = byte_ids_[static_cast<uint8_t>(word[s.begin + k])] >= 0;
    if (all_bytes) {
      for (uint32_t k = 0; k < s.len; ++k) out.push_back(byte_ids_[static_cast<uint8_t>(word[s.begin + k])]);
    } else if (unk_id_ >= 0) {
      out.push_back(unk_id_);
    }
  }
}

void SpmBpeTokenizer::encode_by_rank(std::string_view word, std::vector<int32_t>& out) const {
  // Initial symbols as the HF BPE model builds them: a character's piece, else its byte
  // pieces, else <unk> (consecutive ones fused when fuse_unk); no unk token: dropped.
  if (ignore_merges_) {
    if (const auto id = find_id(vocab_, word)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  std::optional<Symbol> pending_unk;
  for (size_t i = 0; i < word.size();) {
    const size_t len = utf8::char_len(word, i);
    const auto begin = static_cast<uint32_t>(i);
    if (const auto id = find_id(vocab_, word.substr(i, len))) {
      if (pending_unk) {
        symbols.push_back(*pending_unk);
        pending_unk.reset();
      }
      symbols.push_back(Symbol{begin, static_cast<uint32_t>(len), *id});
    } else {
      bool all_bytes = byte_fallback_;
      for (size_t k = 0; all_bytes && k < len; ++k) all_bytes = byte_ids_[static_cast<uint8_t>(word[i + k])] >= 0;
      if (all_bytes) {
        for (size_t k = 0; k < len; ++k)
          symbols.push_back(Symbol{static_cast<uint32_t>(i + k), 1, byte_ids_[static_cast<uint8_t>(word[i + k])]});
      } else if (unk_id_ >= 0) {
        if (pending_unk && fuse_unk_) {
          pending_unk->len += static_cast<uint32_t>(len);
        } else {
          if (pending_unk) symbols.push_back(*pending_unk);
          pending_unk = Symbol{begin, static_cast<uint32_t>(len), unk_id_};
        }
      }
    }
    i += len;
  }
  if (pending_unk) symbols.push_back(*pending_unk);
  if (symbols.empty()) return;
  merge_symbols(symbols, [&](const Symbol& l, const Symbol& r) -> std::optional<MergeCandidate> {
    const auto it = merges_.find(merge_key(l.id, r.id));
    if (it == merges_.end()) return std::nullopt;
    return MergeCandidate{static_cast<double>(it->second.first), it->second.second};
  });
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

std::string SpmBpeTokenizer::decode(std::span<const int32_t> ids) const {
  return decode_spm_pieces(ids, pieces_, byte_value_, special_, strip_leading_space_);
}

std::string SpmBpeTokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) fail("token id {} is outside the vocabulary of {}", id, vocab_size());
  return pieces_[id];
}

bool SpmBpeTokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && special_[id]; }

}  // namespace l2n::tokenizer
