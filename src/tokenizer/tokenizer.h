// Tokenizers: SentencePiece-style BPE with byte fallback, byte-level BPE (GPT-2 style),
// and SentencePiece .model files through libsentencepiece; all behind one interface.
//
// Contract: encode() reproduces the Hugging Face tokenizers library (and llama.cpp's test
// vectors) for the same vocabulary; decode() is its inverse for ids produced by encode()
// (special tokens are skipped). Loaders throw l2n::Error naming the file and problem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"

namespace l2n::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Text -> ids. add_bos/add_eos prepend/append the BOS/EOS id when the vocabulary has one.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool add_eos = false) const = 0;
  // Ids -> text, skipping special/control tokens. For SentencePiece vocabularies the one
  // leading space the encoder added is removed, as the HF tokenizers library does.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  // The raw vocabulary string of one id (e.g. "▁the", "Ġthe", "<0x0A>").
  virtual std::string piece(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t eos_id() const = 0;  // -1 if none
  virtual bool is_special(int32_t id) const = 0;
  // "sentencepiece-bpe", "byte-level-bpe" or "sentencepiece-model".
  virtual std::string kind() const = 0;
};

// Turns ids into text one at a time for streaming output: push() returns the text that is
// complete so far (it holds back partial UTF-8 sequences and applies the leading-space rule
// of decode()), flush() returns whatever is left. push(id)… + flush() == decode(all ids).
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  std::vector<int32_t> ids_;
  size_t emitted_bytes_ = 0;
};

// A tokenizer file: tokenizer.json (HF), a llama2.c tokenizer .bin, or a SentencePiece
// .model. Throws l2n::Error if the format is unknown or the file is malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);

// From vocabulary data embedded in a checkpoint (GGUF).
std::unique_ptr<Tokenizer> tokenizer_from_vocab(const model::EmbeddedVocab& vocab);

// The tokenizer for a model: the override path if given, else the file found with the
// model, else its embedded vocabulary; throws a clear error (suggesting --tokenizer) if none.
std::unique_ptr<Tokenizer> tokenizer_for_model(const model::Model& model,
                                               const std::optional<std::filesystem::path>& override_path);

}  // namespace l2n::tokenizer
