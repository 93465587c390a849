// --quantize MODE --scope SCOPE [--calibration-text FILE --calibration-limit N
// --calibration-seq-length L | --calibration-data PROMPT]: the quantization options shared by
// `eval` and `generate`, and the calibration they ask for.
//
// Contract: add_to() registers the options on a subcommand; calibrate() returns nullptr when
// --quantize was not given, else the recipe calibrated as the options say (samples of
// --calibration-seq-length tokens, default `default_length`, from the start of the text
// file; or the greedy continuation of the prompt, "Once upon a time" when neither is given)
// with a one-line description of the calibration in recipe->calibration.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "quant/quantize.h"
#include "tokenizer/tokenizer.h"

namespace l2n::cli {

struct QuantArgs {
  std::string quantize;          // empty: FP32
  std::string scope = "full";    // full | linear
  std::string calibration_text;
  std::string calibration_data;  // a prompt: greedy self-continuation (upstream method)
  int64_t calibration_limit = 4;
  int64_t calibration_seq_length = 0;  // 0 = the caller's default

  void add_to(CLI::App& cmd);
  bool enabled() const { return !quantize.empty(); }
  std::shared_ptr<const quant::QuantRecipe> calibrate(const model::Model& model, const tokenizer::Tokenizer& tok,
                                                      int64_t default_length, int threads, bool progress,
                                                      std::vector<std::vector<int32_t>>& samples) const;
};

}  // namespace l2n::cli
