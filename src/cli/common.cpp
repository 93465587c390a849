#include "cli/common.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/json_text.h"

namespace l2n::cli {

void ModelArgs::add_to(CLI::App& command, bool model_required) {
  auto* model = command.add_option("--model,-m", model_path,
                                   "Checkpoint: a Hugging Face directory (config.json + safetensors), "
                                   "a llama2.c .bin, or a .gguf file");
  if (model_required) model->required();
  command.add_option("--tokenizer", tokenizer_path,
                     "Tokenizer overriding the one found with the model: tokenizer.json, "
                     "a llama2.c tokenizer .bin, or a SentencePiece .model");
  command.add_option("--threads,-t", threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
}

model::Model ModelArgs::load(int64_t context_length) const {
  model::LoadOptions options;
  options.context_length = context_length;
  return model::load_model(model_path, options);
}

std::unique_ptr<tokenizer::Tokenizer> ModelArgs::load_tokenizer(const model::Model& model) const {
  std::optional<std::filesystem::path> override_path;
  if (!tokenizer_path.empty()) override_path = tokenizer_path;
  auto tok = tokenizer::tokenizer_for_model(model, override_path);
  if (tok->vocab_size() > model.config.vocab_size)
    fail("the tokenizer has {} tokens but the model's vocabulary has {}; pass the model's own tokenizer "
         "with --tokenizer", tok->vocab_size(), model.config.vocab_size);
  return tok;
}

void print_json(const nlohmann::json& document) { fmt::print("{}\n", json_text(document)); }

}  // namespace l2n::cli
