// Pieces shared by the subcommands: model/tokenizer options, output helpers.
// Each subcommand lives in its own cmd_*.cpp and registers itself with register_*().
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace l2n::cli {

// --model PATH and --tokenizer PATH, shared by every command that loads a checkpoint.
struct ModelArgs {
  std::string model_path;
  std::string tokenizer_path;
  int threads = 0;

  void add_to(CLI::App& command, bool model_required = true);
  model::Model load(int64_t context_length = 0) const;
  std::unique_ptr<tokenizer::Tokenizer> load_tokenizer(const model::Model& model) const;
};

// Prints a JSON document on stdout, one line per document.
void print_json(const nlohmann::json& document);

void register_generate(CLI::App& app);
void register_eval(CLI::App& app);
void register_inspect(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_config(CLI::App& app);
void register_tosa(CLI::App& app);
void register_export(CLI::App& app);
void register_make_model(CLI::App& app);

}  // namespace l2n::cli
