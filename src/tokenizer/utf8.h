// UTF-8 helpers shared by the tokenizers (internal to the tokenizer stage).
//
// Every function accepts arbitrary bytes: an invalid or truncated sequence counts as one
// byte on its own, so callers can walk any input without special cases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace l2n::tokenizer::utf8 {

// Length of the well-formed UTF-8 sequence starting at s[i], or 1 if s[i] does not start
// one (stray continuation byte, overlong form, surrogate, > U+10FFFF, truncated).
inline size_t char_len(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return 1;
  size_t n;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  if (i + n > s.size()) return 1;
  const auto b1 = static_cast<uint8_t>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 1;
  for (size_t k = 2; k < n; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 1;
  }
  return n;
}

// The code point of the sequence at s[i] of length len (from char_len); an invalid byte
// decodes to 0xFFFFFFFF, which no Unicode property matches.
inline uint32_t decode(std::string_view s, size_t i, size_t len) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (len == 1) return b0 < 0x80 ? b0 : 0xFFFFFFFFu;
  uint32_t cp = b0 & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  return cp;
}

inline void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s accept).
inline bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// Number of bytes at the end of s that form the start of a well-formed sequence still
// missing its last byte(s); 0 if s ends on a character boundary or with invalid bytes.
inline size_t incomplete_tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = static_cast<uint8_t>(s[n - back]);
    if (b >= 0x80 && b <= 0xBF) continue;  // continuation byte: keep looking for the lead
    size_t need;
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    else if (b >= 0xE0 && b <= 0xEF) need = 3;
    else if (b >= 0xF0 && b <= 0xF4) need = 4;
    else return 0;
    if (need <= back) return 0;
    // The bytes present must be a valid prefix: complete them with the smallest allowed
    // continuation bytes and check the result.
    std::string probe(s.substr(n - back));
    const auto b1_lo = static_cast<char>(b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80);
    while (probe.size() < need) probe += probe.size() == 1 ? b1_lo : static_cast<char>(0x80);
    if (char_len(probe, 0) != need) return 0;
    return back;
  }
  return 0;
}

}  // namespace l2n::tokenizer::utf8
