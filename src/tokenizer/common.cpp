#include <fmt/format.h>

#include "tokenizer/tokenizer_impl.h"

namespace l2n::tokenizer {

int byte_piece_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = piece[i];
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return -1;
    value = value * 16 + digit;
  }
  return value;
}

std::string byte_piece(uint8_t byte) { return fmt::format("<0x{:02X}>", byte); }

MergeMap build_merge_map(const std::vector<std::pair<std::string, std::string>>& merges, const VocabMap& vocab) {
  MergeMap map;
  map.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const auto left = find_id(vocab, a), right = find_id(vocab, b);
    joined = a;
    joined += b;
    const auto merged = find_id(vocab, joined);
    if (!left || !right || !merged) continue;
    map[merge_key(*left, *right)] = {static_cast<int32_t>(rank), *merged};
  }
  return map;
}

std::optional<std::pair<std::string, std::string>> split_merge_string(std::string_view merge, const VocabMap& vocab) {
  const size_t first = merge.find(' ');
  if (first == std::string_view::npos) return std::nullopt;
  if (merge.find(' ', first + 1) == std::string_view::npos)
    return std::pair{std::string(merge.substr(0, first)), std::string(merge.substr(first + 1))};
  for (size_t pos = first; pos != std::string_view::npos; pos = merge.find(' ', pos + 1)) {
    std::string a(merge.substr(0, pos)), b(merge.substr(pos + 1));
    if (find_id(vocab, a) && find_id(vocab, b) && find_id(vocab, a + b)) return std::pair{std::move(a), std::move(b)};
  }
  return std::nullopt;
}

std::string decode_spm_pieces(std::span<const int32_t> ids, const std::vector<std::string>& pieces,
                              const std::vector<int16_t>& byte_value, const std::vector<uint8_t>& skip,
                              bool strip_leading_space) {
  std::string out;
  const auto n = static_cast<int32_t>(pieces.size());
  for (const int32_t id : ids) {
    if (id < 0 || id >= n || skip[id]) continue;
    if (byte_value[id] >= 0) {
      out += static_cast<char>(byte_value[id]);
      continue;
    }
    const std::string& p = pieces[id];
    for (size_t i = 0; i < p.size();) {
      if (p.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
        out += ' ';
        i += kSpmSpace.size();
      } else {
        out += p[i++];
      }
    }
  }
  if (strip_leading_space && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

}  // namespace l2n::tokenizer
