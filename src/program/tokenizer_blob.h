// The tokenizer a program carries: made at export from the file (or the GGUF vocabulary)
// the model's tokenizer came from, and rebuilt by the runtime from the program alone.
//
// Contract: load_tokenizer(make_tokenizer_blob(x)) encodes and decodes exactly like the
// tokenizer loaded from x (tokenizer::load_tokenizer(path) / tokenizer_from_vocab); and
// load_tokenizer(program) exactly like tokenizer::tokenizer_for_model() on the model the
// program was exported from (same choice of file, same BOS/EOS rules). Errors are
// l2n::Error naming the file or the program.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "model/model.h"
#include "program/program.h"
#include "tokenizer/tokenizer.h"

namespace l2n::program {

// A tokenizer file (a directory: its tokenizer.json or tokenizer.model, as in
// tokenizer::load_tokenizer), with the companion files a tokenizer.json reads beside it.
TokenizerBlob make_tokenizer_blob(const std::filesystem::path& file);
TokenizerBlob make_tokenizer_blob(const model::EmbeddedVocab& vocab);
// The blob of the tokenizer tokenizer::tokenizer_for_model() would use: the override
// path if given, else the file found with the model, else its embedded vocabulary.
// Throws (Usage, suggesting --tokenizer) if the model has none.
TokenizerBlob make_tokenizer_blob(const model::Model& model, const std::optional<std::filesystem::path>& override_path);

// The tokenizer in the blob, as its file (or vocabulary) alone gives it.
std::unique_ptr<tokenizer::Tokenizer> load_tokenizer(const TokenizerBlob& blob);
// The program's tokenizer fitted to its model config (BOS/EOS the tokenizer files leave
// unstated, vocabulary size check), as tokenizer_for_model() did at export.
std::unique_ptr<tokenizer::Tokenizer> load_tokenizer(const Program& program);

}  // namespace l2n::program
