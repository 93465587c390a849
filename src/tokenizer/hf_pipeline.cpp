#include "tokenizer/hf_pipeline.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace l2n::tokenizer {

namespace {

// Start of the character that ends just before byte i (i > 0): back over up to three
// continuation bytes to a lead byte whose sequence ends exactly at i, else the last byte.
size_t prev_char_start(std::string_view s, size_t i) {
  size_t j = i - 1;
  for (int k = 0; k < 3 && j > 0 && (static_cast<uint8_t>(s[j]) & 0xC0) == 0x80; ++k) --j;
  if (j + 1 < i && utf8::char_len(s, j) == i - j) return j;
  return i - 1;
}

bool is_space_at(std::string_view s, size_t i, size_t len) { return utf8::is_white_space(utf8::decode(s, i, len)); }

bool is_word_char(std::string_view ch) {
  static const Regex word(R"(^\w$)");
  return !word.find_all(ch).empty();
}

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  const size_t start = prev_char_start(s, s.size());
  return is_word_char(s.substr(start));
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  return is_word_char(s.substr(0, utf8::char_len(s, 0)));
}

// Start of the run of white space that ends s.
size_t trailing_space_start(std::string_view s) {
  size_t i = s.size();
  while (i > 0) {
    const size_t start = prev_char_start(s, i);
    if (!is_space_at(s, start, i - start)) break;
    i = start;
  }
  return i;
}

size_t leading_space_len(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = utf8::char_len(s, i);
    if (!is_space_at(s, i, len)) break;
    i += len;
  }
  return i;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

struct Work {
  std::string text;
  int32_t added_id;
  bool at_start;  // begins at byte 0 of the original input (Metaspace "first")
};

// Splits one word by regex matches with a Hugging Face SplitDelimiterBehavior.
void split_word(const Work& word, const Regex& regex, PreTokenizerOp::Behavior behavior, bool invert,
                std::vector<Work>& out) {
  struct Part {
    size_t begin, end;
    bool match;
  };
  const std::string_view s = word.text;
  std::vector<Part> parts;
  size_t prev = 0;
  for (const auto& [b, e] : regex.find_all(s)) {
    if (prev < b) parts.push_back({prev, b, false});
    parts.push_back({b, e, true});
    prev = e;
  }
  if (prev < s.size()) parts.push_back({prev, s.size(), false});
  if (invert)
    for (Part& p : parts) p.match = !p.match;

  using B = PreTokenizerOp::Behavior;
  std::vector<std::pair<size_t, size_t>> pieces;
  switch (behavior) {
    case B::Removed:
      for (const Part& p : parts)
        if (!p.match) pieces.emplace_back(p.begin, p.end);
      break;
    case B::Isolated:
      for (const Part& p : parts) pieces.emplace_back(p.begin, p.end);
      break;
    case B::Contiguous: {
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.match == previous_match && !pieces.empty()) pieces.back().second = p.end;
        else pieces.emplace_back(p.begin, p.end);
        previous_match = p.match;
      }
      break;
    }
    case B::MergedWithPrevious: {
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.match && !previous_match && !pieces.empty()) pieces.back().second = p.end;
        else pieces.emplace_back(p.begin, p.end);
        previous_match = p.match;
      }
      break;
    }
    case B::MergedWithNext: {
      bool next_match = false;
      for (size_t k = parts.size(); k-- > 0;) {
        const Part& p = parts[k];
        if (p.match && !next_match && !pieces.empty()) pieces.back().first = p.begin;
        else pieces.emplace_back(p.begin, p.end);
        next_match = p.match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  for (const auto& [b, e] : pieces)
    if (e > b) out.push_back(Work{std::string(s.substr(b, e - b)), -1, word.at_start && b == 0});
}

const Regex& gpt2_regex() {
  static const Regex regex(kGpt2Pattern);
  return regex;
}

}  // namespace

void AddedTokenMatcher::add(const std::string& pattern, const AddedToken& token) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (const char c : pattern) {
    const auto byte = static_cast<uint8_t>(c);
    auto& children = nodes_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1}));
    if (it != children.end() && it->first == byte) {
      node = it->second;
    } else {
      const auto child = static_cast<int32_t>(nodes_.size());
      children.insert(it, {byte, child});
      nodes_.emplace_back();
      node = child;
    }
  }
  // A later token with the same pattern replaces the earlier one (as a map would).
  if (nodes_[node].token >= 0) {
    tokens_[nodes_[node].token] = token;
  } else {
    nodes_[node].token = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(token);
  }
}

std::vector<AddedTokenMatcher::Split> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<Split> out;
  if (text.empty()) return out;
  size_t start_offset = 0;
  size_t i = 0;
  while (i < text.size()) {
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      const auto& children = nodes_[node].children;
      const auto byte = static_cast<uint8_t>(text[j]);
      auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1}));
      if (it == children.end() || it->first != byte) break;
      node = it->second;
      if (nodes_[node].token >= 0) {
        best = nodes_[node].token;
        best_end = j + 1;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const AddedToken& token = tokens_[best];
    size_t start = i, stop = best_end;
    i = best_end;
    if (token.single_word) {
      const bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
      const bool stop_space = stop == text.size() || !starts_with_word(text.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
    if (token.rstrip) {
      stop += leading_space_len(text.substr(stop));
      i = stop;
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, token.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
  return out;
}

PreTokenizerOp byte_level_op(bool add_prefix_space, bool use_regex) {
  PreTokenizerOp op;
  op.kind = PreTokenizerOp::Kind::ByteLevel;
  op.add_prefix_space = add_prefix_space;
  op.use_regex = use_regex;
  return op;
}

PreTokenizerOp split_op(const std::string& pattern, PreTokenizerOp::Behavior behavior, bool invert) {
  PreTokenizerOp op;
  op.kind = PreTokenizerOp::Kind::Split;
  op.regex = std::make_shared<const Regex>(pattern);
  op.behavior = behavior;
  op.invert = invert;
  return op;
}

PreTokenizerOp metaspace_op(const std::string& replacement, PreTokenizerOp::Prepend prepend, bool split) {
  PreTokenizerOp op;
  op.kind = PreTokenizerOp::Kind::Metaspace;
  op.replacement = replacement;
  op.prepend = prepend;
  op.split = split;
  op.regex = std::make_shared<const Regex>(regex_escape(replacement));
  return op;
}

PreTokenizerOp digits_op(bool individual_digits) {
  PreTokenizerOp op;
  op.kind = PreTokenizerOp::Kind::Digits;
  op.regex = std::make_shared<const Regex>(individual_digits ? R"(\p{N})" : R"(\p{N}+)");
  return op;
}

void HfFrontEnd::prepare() {
  raw_matcher_ = AddedTokenMatcher{};
  normalized_matcher_ = AddedTokenMatcher{};
  for (const AddedToken& token : added_tokens) {
    if (token.normalized) normalized_matcher_.add(normalize(token.content), token);
    else raw_matcher_.add(token.content, token);
  }
}

std::string HfFrontEnd::normalize(std::string_view text) const {
  std::string s(text);
  for (const NormalizerOp& op : normalizer) {
    switch (op.kind) {
      case NormalizerOp::Kind::Prepend:
        if (!s.empty()) s.insert(0, op.text);
        break;
      case NormalizerOp::Kind::Replace:
        if (op.regex) {
          std::string out;
          size_t prev = 0;
          for (const auto& [b, e] : op.regex->find_all(s)) {
            out.append(s, prev, b - prev);
            out += op.text;
            prev = e;
          }
          out.append(s, prev, std::string::npos);
          s = std::move(out);
        } else {
          s = replace_all(s, op.literal, op.text);
        }
        break;
      case NormalizerOp::Kind::Strip: {
        const size_t left = op.strip_left ? leading_space_len(s) : 0;
        const size_t right = op.strip_right ? trailing_space_start(s) : s.size();
        s = right > left ? s.substr(left, right - left) : std::string();
        break;
      }
      case NormalizerOp::Kind::Identity:
        break;
    }
  }
  return s;
}

std::vector<HfFrontEnd::Piece> HfFrontEnd::run(std::string_view text) const {
  std::vector<Piece> result;
  if (text.empty()) return result;

  std::vector<Work> normalized;
  auto add_text = [&](std::string_view raw, bool at_start) {
    std::string norm = normalize(raw);
    if (normalized_matcher_.empty()) {
      if (!norm.empty()) normalized.push_back(Work{std::move(norm), -1, at_start});
      return;
    }
    for (const auto& sp : normalized_matcher_.split(norm))
      normalized.push_back(Work{sp.id >= 0 ? std::string() : norm.substr(sp.begin, sp.end - sp.begin), sp.id,
                                at_start && sp.begin == 0});
  };
  if (raw_matcher_.empty()) {
    add_text(text, true);
  } else {
    for (const auto& sp : raw_matcher_.split(text)) {
      if (sp.id >= 0) normalized.push_back(Work{std::string(), sp.id, false});
      else add_text(text.substr(sp.begin, sp.end - sp.begin), sp.begin == 0);
    }
  }

  std::vector<Work> words = std::move(normalized);
  std::vector<Work> next;
  for (const PreTokenizerOp& op : pre_tokenizer) {
    next.clear();
    next.reserve(words.size());
    for (Work& w : words) {
      if (w.added_id >= 0) {
        next.push_back(std::move(w));
        continue;
      }
      switch (op.kind) {
        case PreTokenizerOp::Kind::Split:
          split_word(w, *op.regex, op.behavior, op.invert, next);
          break;
        case PreTokenizerOp::Kind::Digits:
          split_word(w, *op.regex, PreTokenizerOp::Behavior::Isolated, false, next);
          break;
        case PreTokenizerOp::Kind::ByteLevel:
          if (op.add_prefix_space && (w.text.empty() || w.text[0] != ' ')) w.text.insert(w.text.begin(), ' ');
          if (op.use_regex) split_word(w, gpt2_regex(), PreTokenizerOp::Behavior::Isolated, false, next);
          else next.push_back(std::move(w));
          break;
        case PreTokenizerOp::Kind::Metaspace: {
          w.text = replace_all(w.text, " ", op.replacement);
          const bool starts = w.text.compare(0, op.replacement.size(), op.replacement) == 0;
          if (!starts && (op.prepend == PreTokenizerOp::Prepend::Always ||
                          (op.prepend == PreTokenizerOp::Prepend::First && w.at_start)))
            w.text.insert(0, op.replacement);
          if (op.split) {
            split_word(w, *op.regex, PreTokenizerOp::Behavior::MergedWithNext, false, next);
          } else {
            next.push_back(std::move(w));
          }
          break;
        }
      }
    }
    words.swap(next);
  }

  result.reserve(words.size());
  for (Work& w : words) {
    if (w.added_id >= 0) result.push_back(Piece{std::string(), w.added_id});
    else if (!w.text.empty()) result.push_back(Piece{std::move(w.text), -1});
  }
  return result;
}

}  // namespace l2n::tokenizer
