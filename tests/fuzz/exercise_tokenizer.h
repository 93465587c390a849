// Runs a tokenizer that a fuzz target managed to load over a few texts (ASCII, digits,
// multi-byte UTF-8, invalid UTF-8, control bytes), decodes the ids back, streams them
// and asks for every piece of a small id range, so a vocabulary the loader accepted but
// the encoder or decoder cannot handle is found too.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace l2n::fuzz {

inline void exercise(const l2n::tokenizer::Tokenizer& tok) {
  static constexpr std::string_view kTexts[] = {
      "Hello world", " 12345 x", "caf\xc3\xa9 \xe2\x96\x81 \xf0\x9f\x98\x80", "\xff\xfe\xc3", "a\nb\tc\x01 <s></s>", ""};
  for (std::string_view text : kTexts) {
    const std::vector<int32_t> ids = tok.encode(text, true, true);
    (void)tok.decode(ids);
    l2n::tokenizer::StreamingDecoder stream(tok);
    for (int32_t id : ids) (void)stream.push(id);
    (void)stream.flush();
  }
  const int32_t n = tok.vocab_size();
  for (int32_t id = 0; id < n && id < 64; ++id) {
    (void)tok.piece(id);
    (void)tok.is_special(id);
  }
  const int32_t odd[] = {-1, n, n + 1, tok.bos_id(), tok.eos_id(), 0};
  (void)tok.decode(odd);
}

}  // namespace l2n::fuzz
