// A compiled PCRE2 pattern for pre-tokenizer splitting (internal to the tokenizer stage).
//
// Patterns are written for Oniguruma (what the Hugging Face tokenizers library uses); they
// are compiled in UTF + UCP mode with \s and \S rewritten to Unicode White_Space, which is
// Oniguruma's meaning (PCRE2's UCP \s differs at U+0085 and U+180E). Input need not be
// valid UTF-8: invalid bytes never match and end up in the gaps between matches.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace l2n::tokenizer {

class Regex {
 public:
  // Throws l2n::Error (quoting the pattern) if PCRE2 rejects it.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches [begin, end) from left to right; empty matches are dropped.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
  bool jit_ = false;
};

// A literal string as a pattern that matches exactly that string.
std::string regex_escape(std::string_view literal);

// Well-known pre-tokenizer patterns.
extern const char* const kGpt2Pattern;
extern const char* const kLlama3Pattern;
extern const char* const kQwen2Pattern;

}  // namespace l2n::tokenizer
