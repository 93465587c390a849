// llm2npu eval: perplexity of a checkpoint (FP32 or quantized in memory) or of an exported
// program, with llama.cpp's chunked method (default) or the upstream step-wise KV-cache method.
#include <fmt/format.h>

#include "cli/common.h"
#include "cli/program_args.h"
#include "cli/quant_args.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "eval/perplexity.h"
#include "eval/stepwise.h"
#include "quant/quantize.h"
#include "runtime/session.h"

namespace l2n::cli {
namespace {

struct EvalArgs {
  ModelArgs model;
  std::string program_path;
  std::string text_path;
  std::string method = "chunked";
  int64_t context = 0;  // 0: 512, or the program's window
  int64_t max_chunks = 0;
  std::string prompts_file;
  int64_t num_prompts = 100;
  int64_t prompt_tokens = 64;
  int64_t window = 64;
  bool json = false;
  bool no_progress = false;
  QuantArgs quant;  // --quantize enables it; --scope defaults to full
  bool compare_fp32 = false;
  std::string report_path;
};

// What is evaluated: a checkpoint session or a program, behind one Runner.
struct Evaluated {
  std::optional<model::Model> model;
  std::unique_ptr<runtime::Session> session;
  LoadedProgram program;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::shared_ptr<const quant::QuantRecipe> recipe;
  std::vector<std::vector<int32_t>> samples;
  runtime::Runner* runner = nullptr;
};

void check_arguments(const EvalArgs& a) {
  if (a.program_path.empty() == a.model.model_path.empty())
    fail_usage("eval needs exactly one of --model PATH (a checkpoint) or --program FILE (an exported program)");
  if (!a.program_path.empty() && (a.quant.enabled() || a.compare_fp32 || !a.report_path.empty()))
    fail_usage("--quantize, --compare-fp32 and --report apply to --model; a program is already quantized (compare "
               "with `eval --model` on its checkpoint, or use `export --report --report-text`)");
  if (!a.program_path.empty() && !a.model.tokenizer_path.empty())
    fail_usage("--tokenizer applies to --model; a program carries its tokenizer");
  if (a.method == "chunked" && a.text_path.empty()) fail_usage("the chunked method needs --text FILE");
  if (a.method == "stepwise" && a.text_path.empty() == a.prompts_file.empty())
    fail_usage("the stepwise method needs --prompts-file FILE (one prompt per line) or --text FILE (prompts built "
               "from its lines), not both");
  if (a.method == "chunked" && !a.prompts_file.empty()) fail_usage("--prompts-file belongs to --method stepwise");
}

Evaluated open(const EvalArgs& a, int64_t context) {
  Evaluated e;
  if (!a.program_path.empty()) {
    e.program = load_program(a.program_path, a.model.threads);
    e.runner = e.program.session.get();
    return e;
  }
  e.model = a.model.load(context);
  e.tokenizer = a.model.load_tokenizer(*e.model);
  runtime::SessionOptions options;
  options.threads = a.model.threads;
  options.max_context = a.method == "stepwise" ? a.window : 0;
  e.recipe = a.quant.calibrate(*e.model, *e.tokenizer, context, a.model.threads, !a.no_progress, e.samples);
  options.quantization = e.recipe;
  e.session = std::make_unique<runtime::Session>(*e.model, options);
  e.runner = e.session.get();
  return e;
}

void run_stepwise(const EvalArgs& args) {
  Evaluated e = open(args, args.window);
  const tokenizer::Tokenizer& tok = e.tokenizer ? *e.tokenizer : *e.program.tokenizer;
  std::vector<std::string> prompts;
  if (!args.prompts_file.empty()) {
    prompts = eval::read_prompts_file(read_text_file(args.prompts_file));
    if (static_cast<int64_t>(prompts.size()) > args.num_prompts) prompts.resize(static_cast<size_t>(args.num_prompts));
  } else {
    eval::PromptOptions po;
    po.num_prompts = args.num_prompts;
    po.min_prompt_tokens = po.max_prompt_tokens = args.prompt_tokens;
    prompts = eval::build_prompts(read_text_file(args.text_path), tok, po);
  }
  eval::StepwiseOptions so;
  so.max_tokens = args.window;
  so.progress = !args.no_progress;
  const auto r = eval::stepwise_perplexity(*e.runner, tok, prompts, so);
  if (args.json) {
    print_json({{"perplexity", r.perplexity}, {"method", "stepwise"}, {"tokens_scored", r.tokens_scored},
                {"prompts_scored", r.prompts_scored}, {"prompts_skipped", r.prompts_skipped}, {"nll_sum", r.nll_sum},
                {"window", args.window}, {"seconds", r.seconds},
                {"source", args.program_path.empty() ? args.model.model_path : args.program_path}});
    return;
  }
  fmt::print("step-wise perplexity {:.4f} over {} scored tokens ({} prompts, window {})\n", r.perplexity,
             r.tokens_scored, r.prompts_scored, args.window);
  fmt::print("{:.1f} s\n", r.seconds);
}

void run_chunked(const EvalArgs& args) {
  int64_t context = args.context > 0 ? args.context : 512;
  if (!args.program_path.empty() && args.context == 0) context = 0;  // the program's window, below
  Evaluated e = open(args, context);
  if (e.program.session) {
    const int64_t window = e.program.session->window_length();
    if (context == 0) context = window;
  }
  const tokenizer::Tokenizer& tok = e.tokenizer ? *e.tokenizer : *e.program.tokenizer;
  if (tok.bos_id() < 0)
    fail("the tokenizer has no BOS token, which the chunked perplexity method needs at each chunk start");
  const std::vector<int32_t> tokens = tok.encode(read_text_file(args.text_path), true);
  eval::PerplexityOptions options;
  options.context = context;
  options.bos_id = tok.bos_id();
  options.max_chunks = args.max_chunks;
  options.progress = !args.no_progress;
  options.threads = args.model.threads;
  const auto r = eval::chunked_perplexity(*e.runner, tokens, options);
  std::optional<eval::PerplexityResult> fp32;
  if (args.compare_fp32 && e.recipe) {
    runtime::SessionOptions fp32_options;
    fp32_options.threads = args.model.threads;
    runtime::Session fp32_session(*e.model, fp32_options);
    fp32 = eval::chunked_perplexity(fp32_session, tokens, options);
  }
  if (!args.report_path.empty()) {
    if (!e.recipe) fail_usage("--report needs --quantize");
    const quant::QuantReport report = quant::report(*e.model, *e.recipe, e.samples, args.model.threads);
    write_file_atomic(args.report_path, report.to_json() + "\n");
    if (!args.json) fmt::print("{}", report.to_table());
  }

  if (args.json) {
    nlohmann::json doc{{"perplexity", r.perplexity},
                       {"tokens_scored", r.tokens_scored},
                       {"chunks", r.chunks},
                       {"context", context},
                       {"tokens_in_text", r.tokens_in_text},
                       {"nll_sum", r.nll_sum},
                       {"method", "chunked"},
                       {"text", args.text_path},
                       {"seconds", r.seconds},
                       {"tokens_per_second", r.tokens_per_second}};
    if (args.program_path.empty()) doc["model"] = args.model.model_path;
    else doc["program"] = args.program_path;
    if (e.recipe) {
      doc["quantize"] = args.quant.quantize;
      doc["scope"] = args.quant.scope;
      doc["calibration"] = e.recipe->calibration;
    }
    if (fp32) {
      doc["perplexity_fp32"] = fp32->perplexity;
      doc["relative_to_fp32_percent"] = 100.0 * (r.perplexity / fp32->perplexity - 1.0);
    }
    print_json(doc);
    return;
  }
  if (e.recipe)
    fmt::print("quantized {} scope {}; calibration: {}\n", args.quant.quantize, args.quant.scope,
               e.recipe->calibration);
  if (!args.program_path.empty()) fmt::print("program {}\n", args.program_path);
  if (fp32)
    fmt::print("FP32 perplexity {:.4f}; quantized is {:+.3f} %\n", fp32->perplexity,
               100.0 * (r.perplexity / fp32->perplexity - 1.0));
  fmt::print("perplexity {:.4f} over {} scored tokens ({} chunks of {}, {} tokens in the text)\n", r.perplexity,
             r.tokens_scored, r.chunks, context, r.tokens_in_text);
  fmt::print("{:.1f} s, {:.0f} tokens/s\n", r.seconds, r.tokens_per_second);
}

void run_eval(const EvalArgs& args) {
  check_arguments(args);
  if (args.method == "stepwise") run_stepwise(args);
  else run_chunked(args);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval",
      "Perplexity of a checkpoint or an exported program: llama.cpp's chunked method (chunks of --ctx tokens "
      "starting with BOS, second half scored) or the upstream step-wise KV-cache method");
  args->model.add_to(*cmd, false);
  cmd->add_option("--program", args->program_path, "Evaluate this exported program instead of a checkpoint")
      ->check(CLI::ExistingFile);
  cmd->add_option("--method", args->method,
                  "chunked (default): llama.cpp's method on --text; stepwise: BOS + prompt scored one token at a "
                  "time through the KV cache, as ExecuTorch's Ethos-U example")
      ->check(CLI::IsMember({"chunked", "stepwise"}));
  cmd->add_option("--text", args->text_path, "Text file to score (stepwise: prompts are built from its lines)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--ctx", args->context,
                  "Chunk length in tokens (default 512; for a program, its window export.max_seq_length)")
      ->check(CLI::Range(4, 1 << 20));
  cmd->add_option("--max-chunks", args->max_chunks, "Score at most this many chunks (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--prompts-file", args->prompts_file, "stepwise: prompts, one per line")->check(CLI::ExistingFile);
  cmd->add_option("--num-prompts", args->num_prompts, "stepwise: number of prompts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "stepwise: tokens per prompt built from --text")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--window", args->window, "stepwise: tokens scored per prompt at most (BOS included)")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  cmd->add_flag("--no-progress", args->no_progress, "No progress bar on stderr");
  args->quant.add_to(*cmd);
  cmd->add_flag("--compare-fp32", args->compare_fp32, "Also evaluate the FP32 model and report the difference");
  cmd->add_option("--report", args->report_path, "Write the per-tensor quantization report (JSON) here");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace l2n::cli
