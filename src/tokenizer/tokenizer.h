// Tokenizers: SentencePiece-style BPE with byte fallback, byte-level BPE (GPT-2 style),
// and SentencePiece .model files through libsentencepiece; all behind one interface.
//
// Contract: encode() reproduces the Hugging Face tokenizers library (and llama.cpp's test
// vectors) for the same vocabulary; decode() is its inverse for ids produced by encode()
// (special tokens are skipped). Loaders throw l2n::Error naming the file and problem.
// Vocabularies without a tokenizer.json (llama2.c .bin, GGUF "llama") merge by piece score
// like SentencePiece and llama.cpp. encode() is thread-safe; any input bytes are accepted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
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
  // Ids -> text, skipping special/control tokens and ids outside the vocabulary. For
  // SentencePiece vocabularies the one leading space the encoder added is removed, as the
  // HF tokenizers library does. Byte tokens give their raw bytes, so the result is the
  // encoded bytes even where they are not valid UTF-8.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  // The raw vocabulary string of one id (e.g. "▁the", "Ġthe", "<0x0A>").
  virtual std::string piece(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t eos_id() const = 0;  // -1 if none
  // Whether the tokenizer's own configuration prepends BOS to a prompt (Llama-2, llama2.c,
  // SentencePiece models: yes; GPT-2, SmolLM2: no), for callers choosing encode()'s add_bos.
  virtual bool add_bos_by_default() const { return bos_id() >= 0; }
  virtual bool is_special(int32_t id) const = 0;
  // "sentencepiece-bpe", "byte-level-bpe" or "sentencepiece-model".
  virtual std::string kind() const = 0;
};

// Turns ids into text one at a time for streaming output: push() returns the text that is
// complete so far (it holds back partial UTF-8 sequences and applies the leading-space rule
// of decode()), flush() returns whatever is left. push(id)… + flush() == decode(all ids).
// Work per push stays bounded however long the stream: ids whose text is out are dropped.
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

// The files a tokenizer.json reader also consults in its directory (BOS/EOS, add_bos):
// file name -> content, only those that exist.
using TokenizerCompanions = std::map<std::string, std::string, std::less<>>;
inline constexpr std::string_view kTokenizerCompanionFiles[] = {"tokenizer_config.json", "special_tokens_map.json"};

// Everything a tokenizer is built from when it comes from a file: the file's bytes and its
// companions. `name` names it in messages (the file's path, or just its name when the bytes
// come from elsewhere, e.g. a program file).
struct TokenizerSource {
  std::filesystem::path name;
  std::string bytes;
  TokenizerCompanions companions;
};

// Reads a tokenizer file (a directory: its tokenizer.json or tokenizer.model) and, for a
// tokenizer.json, the companion files beside it. Throws l2n::Error if it cannot be read.
TokenizerSource read_tokenizer_source(const std::filesystem::path& path);

// A tokenizer file: tokenizer.json (HF), a llama2.c tokenizer .bin, or a SentencePiece
// .model, recognised by content (a directory: its tokenizer.json or tokenizer.model).
// Throws l2n::Error if the format is unknown or the file is malformed.
// load_tokenizer(path) == load_tokenizer(read_tokenizer_source(path)).
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);
std::unique_ptr<Tokenizer> load_tokenizer(const TokenizerSource& source);

// As load_tokenizer(path) for a file named file_name with these bytes and no companion
// files; the reader is chosen by content, file_name is used in messages.
std::unique_ptr<Tokenizer> load_tokenizer_from_bytes(std::span<const uint8_t> bytes, const std::string& file_name);

// From vocabulary data embedded in a checkpoint (GGUF). "llama": SentencePiece-style BPE by
// score; control, user-defined and unknown tokens are matched whole in the text, and text
// after them gets the dummy-prefix space, as in llama.cpp. "gpt2": byte-level BPE with the
// merges and the pre-tokenizer named by `pre` ("llama3"/"llama-bpe", "qwen2", "smollm";
// GPT-2's otherwise).
std::unique_ptr<Tokenizer> tokenizer_from_vocab(const model::EmbeddedVocab& vocab);

// The tokenizer for a model: the override path if given, else the file found with the
// model, else its embedded vocabulary; throws a clear error (suggesting --tokenizer) if none,
// or if the tokenizer has more tokens than the model's vocabulary. BOS/EOS ids that the
// tokenizer files leave unstated come from the model's config when it has them.
std::unique_ptr<Tokenizer> tokenizer_for_model(const model::Model& model,
                                               const std::optional<std::filesystem::path>& override_path);

// What tokenizer_for_model does to the tokenizer it found, for callers that found it
// elsewhere (a program file): refuses (Usage) a tokenizer with more tokens than the
// model's vocabulary, and takes BOS/EOS ids the tokenizer files leave unstated from the
// config. `model_name` names the model in messages.
std::unique_ptr<Tokenizer> fit_tokenizer_to_model(std::unique_ptr<Tokenizer> tok, const model::ModelConfig& config,
                                                  const std::string& model_name);

}  // namespace l2n::tokenizer
