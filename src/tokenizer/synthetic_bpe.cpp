#include "tokenizer/synthetic_bpe.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <tuple>
#include <unordered_set>

#include "core/error.h"
#include "core/json_text.h"

namespace l2n::tokenizer {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2's bytes_to_unicode(): printable bytes stand for themselves, the others for
// code points from 256 up, in byte order.
std::vector<std::string> byte_pieces() {
  std::vector<std::string> pieces(256);
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    pieces[b] = utf8(printable ? b : next++);
  }
  return pieces;
}

}  // namespace

std::string synthetic_bpe_tokenizer_json(int64_t vocab_size, const std::vector<std::string>& special_tokens,
                                         uint64_t seed) {
  const int64_t fixed = static_cast<int64_t>(special_tokens.size()) + 256;
  if (vocab_size < fixed)
    fail_usage("a byte-level BPE vocabulary of {} tokens has no room for its {} special and 256 byte tokens; use a "
               "vocabulary of at least {}",
               vocab_size, special_tokens.size(), fixed);
  std::vector<std::string> pieces = special_tokens;
  const std::vector<std::string> bytes = byte_pieces();
  pieces.insert(pieces.end(), bytes.begin(), bytes.end());
  std::unordered_set<std::string> known(pieces.begin(), pieces.end());

  // Merges grow words one letter at a time, level by level (two letters, then three, ...),
  // so every merge's parts exist before it, as in a trained BPE. Within a level the
  // candidates are ranked by English letter frequency times a seeded jitter, so common
  // pieces ("Ġt", "he", "in") come first and fire on ordinary text, and another seed gives
  // other merges. A level's candidates extend only the pieces the previous level chose.
  static constexpr double kLetterFrequency[26] = {8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4,
                                                  6.7, 7.5, 1.9, 0.095, 6.0, 6.3, 9.1, 2.8, 0.98, 2.4, 0.15, 2.0, 0.074};
  const std::string space = bytes[' '];
  struct Piece {
    std::string text;
    double weight;
  };
  std::vector<Piece> frontier{{space, 18.0}};
  for (int c = 0; c < 26; ++c) {
    frontier.push_back({std::string(1, static_cast<char>('a' + c)), kLetterFrequency[c]});
    frontier.push_back({std::string(1, static_cast<char>('A' + c)), kLetterFrequency[c] / 10});
  }
  uint64_t state = seed ^ 0x5EEDB9E5EEDB9E5Eull;
  nlohmann::json merges = nlohmann::json::array();
  while (static_cast<int64_t>(pieces.size()) < vocab_size) {
    struct Candidate {
      double score;
      uint32_t left, letter;
    };
    std::vector<Candidate> candidates;
    candidates.reserve(frontier.size() * 26);
    for (uint32_t l = 0; l < frontier.size(); ++l)
      for (uint32_t c = 0; c < 26; ++c) {
        const double jitter = 0.5 + static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;  // [0.5, 1.5)
        candidates.push_back({frontier[l].weight * kLetterFrequency[c] / 100 * jitter, l, c});
      }
    // Ties broken by position: the order is fully determined by the seed.
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      return a.score != b.score ? a.score > b.score : std::tie(a.left, a.letter) < std::tie(b.left, b.letter);
    });
    std::vector<Piece> next;
    for (const Candidate& cand : candidates) {
      if (static_cast<int64_t>(pieces.size()) >= vocab_size) break;
      const std::string letter(1, static_cast<char>('a' + cand.letter));
      std::string merged = frontier[cand.left].text + letter;
      if (known.count(merged)) continue;
      merges.push_back({frontier[cand.left].text, letter});
      known.insert(merged);
      pieces.push_back(merged);
      next.push_back({std::move(merged), cand.score});
    }
    if (next.empty()) fail("cannot generate {} distinct merges; use a smaller vocabulary", vocab_size);
    frontier = std::move(next);
  }

  nlohmann::json vocab = nlohmann::json::object();
  for (size_t id = 0; id < pieces.size(); ++id) vocab[pieces[id]] = id;
  nlohmann::json added = nlohmann::json::array();
  for (size_t id = 0; id < special_tokens.size(); ++id)
    added.push_back({{"id", id},
                     {"content", special_tokens[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  nlohmann::json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = std::move(added);
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = byte_level;
  root["post_processor"] = nullptr;
  root["decoder"] = byte_level;
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"ignore_merges", false},
                   {"vocab", std::move(vocab)},
                   {"merges", std::move(merges)}};
  return json_text(root) + "\n";
}

}  // namespace l2n::tokenizer
