// Internal to the JSON readers (model and tokenizer stages): a bound on nesting depth.
//
// nlohmann::json parses any depth without recursion, but copying, comparing, printing and
// our own walkers recurse, so a hostile file of 100k nested brackets would overflow the
// stack. Every reader checks the text with check_json_depth() before parsing it. Real
// files nest a handful of levels (tokenizer.json: 6, config.json: 3).
#pragma once

#include <cstddef>
#include <string_view>

#include "core/error.h"

namespace l2n::model::detail {

inline constexpr size_t kMaxJsonDepth = 64;

// The deepest nesting of [ and { outside JSON strings (stops counting past `limit`).
inline size_t json_nesting_depth(std::string_view text, size_t limit = kMaxJsonDepth) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char ch : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > deepest && (deepest = depth) > limit) break;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Throws l2n::Error naming `source` when the text nests deeper than kMaxJsonDepth.
inline void check_json_depth(std::string_view text, std::string_view source) {
  if (json_nesting_depth(text) > kMaxJsonDepth)
    fail("{}: the JSON nests arrays/objects more than {} levels deep, which no valid file does; the file is "
         "corrupt or hostile",
         source, kMaxJsonDepth);
}

}  // namespace l2n::model::detail
