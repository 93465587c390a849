// Tokenizer blobs: the bytes of the tokenizer file (plus companions) or the embedded vocab.
#include "program/tokenizer_blob.h"

#include "core/error.h"

namespace l2n::program {

TokenizerBlob make_tokenizer_blob(const std::filesystem::path& file) {
  // Read through the tokenizer stage so that the blob holds exactly what load_tokenizer(path)
  // reads (the directory's choice of file, the companions of a tokenizer.json).
  tokenizer::TokenizerSource source = tokenizer::read_tokenizer_source(file);
  TokenizerBlob blob;
  blob.file_name = source.name.filename().string();
  if (blob.file_name.empty()) blob.file_name = "tokenizer";  // never empty: empty means embedded vocab
  blob.bytes.assign(source.bytes.begin(), source.bytes.end());
  for (auto& [name, content] : source.companions) blob.companion_files.emplace(name, std::move(content));
  return blob;
}

TokenizerBlob make_tokenizer_blob(const model::EmbeddedVocab& vocab) {
  TokenizerBlob blob;
  blob.embedded_vocab = vocab;
  return blob;
}

TokenizerBlob make_tokenizer_blob(const model::Model& model,
                                  const std::optional<std::filesystem::path>& override_path) {
  if (override_path) return make_tokenizer_blob(*override_path);
  if (model.tokenizer_path) return make_tokenizer_blob(*model.tokenizer_path);
  if (model.embedded_vocab) return make_tokenizer_blob(*model.embedded_vocab);
  fail_usage(
      "no tokenizer for {}: none was found beside it (tokenizer.json, tokenizer.model, tok*.bin) and the "
      "checkpoint embeds none; pass --tokenizer PATH",
      model.path.string());
}

std::unique_ptr<tokenizer::Tokenizer> load_tokenizer(const TokenizerBlob& blob) {
  if (blob.file_name.empty()) {
    if (blob.embedded_vocab.tokens.empty())
      fail(
          "the program carries no tokenizer (neither a tokenizer file nor an embedded vocabulary): re-export it "
          "with a tokenizer (--tokenizer PATH)");
    return tokenizer::tokenizer_from_vocab(blob.embedded_vocab);
  }
  tokenizer::TokenizerSource source;
  source.name = blob.file_name;
  source.bytes.assign(blob.bytes.begin(), blob.bytes.end());
  for (const auto& [name, content] : blob.companion_files) source.companions.emplace(name, content);
  return tokenizer::load_tokenizer(source);
}

std::unique_ptr<tokenizer::Tokenizer> load_tokenizer(const Program& program) {
  return tokenizer::fit_tokenizer_to_model(load_tokenizer(program.tokenizer), program.model_config,
                                           "the program's model");
}

}  // namespace l2n::program
