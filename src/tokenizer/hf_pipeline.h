// The text side of a Hugging Face tokenizer.json (internal to the tokenizer stage): added
// tokens, normalizer and pre-tokenizer, turning text into the words the BPE model sees.
//
// Order, as in the tokenizers library: (1) added tokens with normalized=false are cut out
// of the raw text; (2) each remaining piece is normalized on its own; (3) added tokens with
// normalized=true are cut out of the normalized pieces, matching their own normalized form
// (so with Llama-2's Prepend("▁") normalizer "<s>" matches "▁<s>"); (4) the pre-tokenizer
// splits what is left into words. Matching is leftmost-longest.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace l2n::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;     // skipped by decode()
  bool normalized = false;  // matched after normalization (see above)
  bool lstrip = false, rstrip = false, single_word = false;
};

// Finds added tokens in text, leftmost-longest, with the lstrip/rstrip/single_word rules.
class AddedTokenMatcher {
 public:
  struct Split {
    size_t begin, end;
    int32_t id;  // -1: ordinary text
  };
  void add(const std::string& pattern, const AddedToken& token);
  bool empty() const { return tokens_.empty(); }
  // Covers text completely with ordinary and added-token splits; never an empty split.
  std::vector<Split> split(std::string_view text) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                 // index into tokens_
  };
  std::vector<Node> nodes_{Node{}};
  std::vector<AddedToken> tokens_;
};

struct NormalizerOp {
  enum class Kind { Prepend, Replace, Strip, Identity };
  Kind kind = Kind::Identity;
  std::string text;                    // Prepend: prefix; Replace: content
  std::string literal;                 // Replace with a String pattern
  std::shared_ptr<const Regex> regex;  // Replace with a Regex pattern
  bool strip_left = false, strip_right = false;
};

struct PreTokenizerOp {
  enum class Kind { Split, ByteLevel, Digits, Metaspace };
  Kind kind = Kind::Split;
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  std::shared_ptr<const Regex> regex;  // Split (literal patterns escaped), Digits, Metaspace
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel
  bool use_regex = true;          // ByteLevel
  std::string replacement = "\xE2\x96\x81";  // Metaspace
  enum class Prepend { Always, First, Never } prepend = Prepend::Always;
  bool split = true;  // Metaspace
};

class HfFrontEnd {
 public:
  struct Piece {
    std::string text;      // a word for the model (normalized, pre-tokenized)
    int32_t added_id = -1; // or an added token
  };
  std::vector<AddedToken> added_tokens;
  std::vector<NormalizerOp> normalizer;
  std::vector<PreTokenizerOp> pre_tokenizer;

  // Call after filling the three lists above.
  void prepare();
  std::vector<Piece> run(std::string_view text) const;
  std::string normalize(std::string_view text) const;

 private:
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
};

PreTokenizerOp byte_level_op(bool add_prefix_space, bool use_regex);
PreTokenizerOp split_op(const std::string& pattern, PreTokenizerOp::Behavior behavior, bool invert);
PreTokenizerOp digits_op(bool individual_digits);
PreTokenizerOp metaspace_op(const std::string& replacement, PreTokenizerOp::Prepend prepend, bool split);

}  // namespace l2n::tokenizer
