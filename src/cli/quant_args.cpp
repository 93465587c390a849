#include "cli/quant_args.h"

#include <fmt/format.h>

#include "cli/common.h"
#include "core/mapped_file.h"

namespace l2n::cli {

void QuantArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--quantize", quantize, "Run the quantized model: " + quant::quant_mode_names());
  cmd.add_option("--scope", scope, "Quantize scope: full (every op in integers) | linear (linear layers only)")
      ->capture_default_str();
  cmd.add_option("--calibration-text", calibration_text, "Calibrate on samples of this text file")
      ->check(CLI::ExistingFile);
  cmd.add_option("--calibration-data", calibration_data,
                 "Calibrate on the greedy continuation of this prompt (default when no text: \"Once upon a time\")");
  cmd.add_option("--calibration-limit", calibration_limit, "Calibration samples from the text")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--calibration-seq-length", calibration_seq_length,
                 "Tokens per calibration sample (default: the evaluated context)")->check(CLI::NonNegativeNumber);
}

std::shared_ptr<const quant::QuantRecipe> QuantArgs::calibrate(const model::Model& model,
                                                                const tokenizer::Tokenizer& tok,
                                                                int64_t default_length, int threads, bool progress,
                                                                std::vector<std::vector<int32_t>>& samples) const {
  if (quantize.empty()) return nullptr;
  const quant::ModeConfig& mode = quant::find_quant_mode(quantize, "--quantize");
  const quant::QuantScope s = quant::parse_quant_scope(scope, "--scope");
  const int64_t length = calibration_seq_length > 0 ? calibration_seq_length : default_length;
  std::string how;
  if (!calibration_text.empty()) {
    std::vector<int32_t> tokens = tok.encode(read_text_file(calibration_text), false);
    samples = quant::calibration_samples_from_tokens(tokens, length, calibration_limit, tok.bos_id());
    how = fmt::format("{} samples x {} tokens (BOS first) from the start of {}", samples.size(), length,
                      calibration_text);
  } else {
    const std::string prompt = calibration_data.empty() ? "Once upon a time" : calibration_data;
    samples = {quant::greedy_continuation(model, tok.encode(prompt, true), length, threads)};
    how = fmt::format("greedy self-continuation of the prompt \"{}\" to {} tokens", prompt, samples[0].size());
  }
  quant::CalibrationOptions options;
  options.seq_length = length;
  options.threads = threads;
  options.progress = progress;
  auto recipe = std::make_shared<quant::QuantRecipe>(quant::calibrate(model, mode, s, samples, options));
  recipe->calibration = how;
  return recipe;
}

}  // namespace l2n::cli
