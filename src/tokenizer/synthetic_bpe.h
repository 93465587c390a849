// A synthetic byte-level BPE tokenizer.json for random-weight benchmark models
// (llm2npu make-model).
//
// Contract: synthetic_bpe_tokenizer_json() returns a Hugging Face tokenizer.json (GPT-2
// style: ByteLevel pre-tokenizer and decoder, BPE model) with exactly `vocab_size` tokens:
// the special tokens at ids 0..n-1 (added tokens, special), the 256 byte tokens in GPT-2's
// byte-to-unicode order, then vocab_size - n - 256 merges generated from `seed`. Merges
// extend word pieces (an optional leading "Ġ", i.e. a space, then letters) by one
// lowercase letter, shorter pieces first and common English letters ranked higher, so they
// fire on ordinary text; any byte string still encodes through the byte tokens and
// decodes back unchanged. Deterministic: the same arguments give the same bytes (own
// splitmix64, no standard-library engines). Throws a Usage error when vocab_size has no
// room for the byte tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace l2n::tokenizer {

std::string synthetic_bpe_tokenizer_json(int64_t vocab_size, const std::vector<std::string>& special_tokens,
                                         uint64_t seed);

}  // namespace l2n::tokenizer
