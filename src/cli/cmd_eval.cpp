// llm2npu eval: perplexity of a model on a text, with llama.cpp's chunked method.
#include <fmt/format.h>

#include <fstream>

#include "cli/common.h"
#include "cli/quant_args.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "eval/perplexity.h"
#include "quant/quantize.h"
#include "runtime/session.h"

namespace l2n::cli {
namespace {

struct EvalArgs {
  ModelArgs model;
  std::string text_path;
  int64_t context = 512;
  int64_t max_chunks = 0;
  bool json = false;
  bool no_progress = false;
  QuantArgs quant;  // --quantize enables it; --scope defaults to full
  bool compare_fp32 = false;
  std::string report_path;
};

void run_eval(const EvalArgs& args) {
  const model::Model model = args.model.load(args.context);
  const auto tok = args.model.load_tokenizer(model);
  if (tok->bos_id() < 0)
    fail("the tokenizer has no BOS token, which the chunked perplexity method needs at each chunk start");
  const std::string text = read_text_file(args.text_path);
  const std::vector<int32_t> tokens = tok->encode(text, true);

  runtime::SessionOptions session_options;
  session_options.threads = args.model.threads;
  std::vector<std::vector<int32_t>> samples;
  session_options.quantization =
      args.quant.calibrate(model, *tok, args.context, args.model.threads, !args.no_progress, samples);
  eval::PerplexityOptions options;
  options.context = args.context;
  options.bos_id = tok->bos_id();
  options.max_chunks = args.max_chunks;
  options.progress = !args.no_progress;
  runtime::Session session(model, session_options);
  const auto r = eval::chunked_perplexity(session, tokens, options);
  std::optional<eval::PerplexityResult> fp32;
  if (args.compare_fp32 && session_options.quantization) {
    runtime::SessionOptions fp32_options;
    fp32_options.threads = args.model.threads;
    runtime::Session fp32_session(model, fp32_options);
    fp32 = eval::chunked_perplexity(fp32_session, tokens, options);
  }
  if (!args.report_path.empty()) {
    if (!session_options.quantization) fail("--report needs --quantize");
    const quant::QuantReport report = quant::report(model, *session_options.quantization, samples, args.model.threads);
    std::ofstream(args.report_path) << report.to_json() << "\n";
    if (!args.json) fmt::print("{}", report.to_table());
  }

  if (args.json) {
    nlohmann::json doc{{"perplexity", r.perplexity},
                {"tokens_scored", r.tokens_scored},
                {"chunks", r.chunks},
                {"context", args.context},
                {"tokens_in_text", r.tokens_in_text},
                {"nll_sum", r.nll_sum},
                {"method", "chunked"},
                {"model", args.model.model_path},
                {"text", args.text_path},
                {"seconds", r.seconds},
                {"tokens_per_second", r.tokens_per_second}};
    if (session_options.quantization) {
      doc["quantize"] = args.quant.quantize;
      doc["scope"] = args.quant.scope;
      doc["calibration"] = session_options.quantization->calibration;
    }
    if (fp32) {
      doc["perplexity_fp32"] = fp32->perplexity;
      doc["relative_to_fp32_percent"] = 100.0 * (r.perplexity / fp32->perplexity - 1.0);
    }
    print_json(doc);
    return;
  }
  if (session_options.quantization)
    fmt::print("quantized {} scope {}; calibration: {}\n", args.quant.quantize, args.quant.scope,
               session_options.quantization->calibration);
  if (fp32)
    fmt::print("FP32 perplexity {:.4f}; quantized is {:+.3f} %\n", fp32->perplexity,
               100.0 * (r.perplexity / fp32->perplexity - 1.0));
  fmt::print("perplexity {:.4f} over {} scored tokens ({} chunks of {}, {} tokens in the text)\n", r.perplexity,
             r.tokens_scored, r.chunks, args.context, r.tokens_in_text);
  fmt::print("{:.1f} s, {:.0f} tokens/s\n", r.seconds, r.tokens_per_second);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval",
      "Perplexity on a text (llama.cpp's method: chunks of --ctx tokens starting with BOS, second half scored)");
  args->model.add_to(*cmd);
  cmd->add_option("--text", args->text_path, "Text file to score")->required()->check(CLI::ExistingFile);
  cmd->add_option("--ctx", args->context, "Chunk length in tokens")->capture_default_str()->check(CLI::Range(4, 1 << 20));
  cmd->add_option("--max-chunks", args->max_chunks, "Score at most this many chunks (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  cmd->add_flag("--no-progress", args->no_progress, "No progress bar on stderr");
  args->quant.add_to(*cmd);
  cmd->add_flag("--compare-fp32", args->compare_fp32, "Also evaluate the FP32 model and report the difference");
  cmd->add_option("--report", args->report_path, "Write the per-tensor quantization report (JSON) here");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace l2n::cli
