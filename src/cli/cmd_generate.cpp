// llm2npu generate: stream a continuation of a prompt.
#include <fmt/format.h>

#include <cstdio>
#include <random>

#include "cli/common.h"
#include "cli/program_args.h"
#include "cli/quant_args.h"
#include "core/error.h"
#include "eval/generate.h"
#include "runtime/session.h"

namespace l2n::cli {
namespace {

struct GenerateArgs {
  ModelArgs model;
  std::string program_path;
  std::string prompt;
  int64_t max_new_tokens = 256;
  int64_t context = 0;
  runtime::SamplerOptions sampler;
  std::optional<uint64_t> seed;
  bool no_bos = false;
  bool json = false;
  QuantArgs quant;  // --quantize: generate with the integer model
};

void run_generate(const GenerateArgs& args) {
  if (args.program_path.empty() == args.model.model_path.empty())
    fail_usage("generate needs exactly one of --model PATH (a checkpoint) or --program FILE (an exported program)");
  if (!args.program_path.empty() && (args.quant.enabled() || args.context > 0 || !args.model.tokenizer_path.empty()))
    fail_usage("--quantize, --context and --tokenizer apply to --model; a program has its quantization, KV-cache "
               "capacity (export.max_context_length) and tokenizer");
  std::optional<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> model_tok;
  std::unique_ptr<runtime::Session> model_session;
  LoadedProgram program;
  if (!args.program_path.empty()) {
    program = load_program(args.program_path, args.model.threads);
  } else {
    model = args.model.load(args.context);
    model_tok = args.model.load_tokenizer(*model);
    runtime::SessionOptions session_options;
    session_options.threads = args.model.threads;
    session_options.max_context = args.context;
    // Calibrated at the context the session decodes with (the decode step's softmax and
    // RoPE ranges depend on it), unless --calibration-seq-length says otherwise.
    std::vector<std::vector<int32_t>> samples;
    session_options.quantization = args.quant.calibrate(*model, *model_tok,
                                                        args.context > 0 ? args.context : model->config.max_seq_len,
                                                        args.model.threads, !args.json, samples);
    model_session = std::make_unique<runtime::Session>(*model, session_options);
  }
  runtime::Runner& session = program.session ? static_cast<runtime::Runner&>(*program.session) : *model_session;
  const tokenizer::Tokenizer* tok = program.tokenizer ? program.tokenizer.get() : model_tok.get();

  eval::GenerateOptions options;
  options.max_new_tokens = args.max_new_tokens;
  options.sampler = args.sampler;
  options.sampler.seed = args.seed ? *args.seed : std::random_device{}();

  std::vector<int32_t> prompt_ids = tok->encode(args.prompt, !args.no_bos && tok->bos_id() >= 0);
  if (prompt_ids.empty())
    fail_usage("the prompt is empty and the tokenizer has no BOS token; give --prompt TEXT");

  if (!args.json) {
    fmt::print("{}", args.prompt);
    std::fflush(stdout);
  }
  const auto result = eval::generate(session, *tok, prompt_ids, options, [&](const std::string& piece) {
    if (args.json) return;
    fmt::print("{}", piece);
    std::fflush(stdout);
  });
  if (args.json) {
    print_json({{"prompt", args.prompt},
                {"prompt_ids", result.prompt_ids},
                {"generated_ids", result.generated_ids},
                {"text", result.text},
                {"stop_reason", eval::stop_reason_name(result.stop)},
                {"seed", options.sampler.seed},
                {"prefill_seconds", result.prefill_seconds},
                {"decode_seconds", result.decode_seconds},
                {"decode_tokens_per_second", result.decode_tokens_per_second()}});
    return;
  }
  fmt::print("\n");
  std::fflush(stdout);
  if (result.stop == eval::StopReason::ContextFull)
    fmt::print(stderr, "[stopped: the context of {} tokens is full; raise {} to go on]\n", session.max_context(),
               args.program_path.empty() ? "--context" : "export.max_context_length when exporting");
  const std::string seed =
      options.sampler.temperature > 0 ? fmt::format(", seed {}", options.sampler.seed) : std::string(", greedy");
  fmt::print(stderr, "[{} tokens, {:.1f} tokens/s, stop: {}{}]\n", result.generated_ids.size(),
             result.decode_tokens_per_second(), eval::stop_reason_name(result.stop), seed);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt, streaming tokens as they come");
  args->model.add_to(*cmd, false);
  cmd->add_option("--program", args->program_path, "Generate with this exported program (its KV-cache decode step)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--prompt,-p", args->prompt, "Prompt text (empty: start from BOS)");
  cmd->add_option("--max-new-tokens,-n", args->max_new_tokens, "Tokens to generate at most")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--context", args->context, "KV-cache capacity in tokens (default: the model's context)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", args->sampler.temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", args->sampler.top_k, "Keep the k most likely tokens (0 = off)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", args->sampler.top_p, "Keep the smallest set with this probability mass (1 = off)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repetition-penalty", args->sampler.repetition_penalty,
                  "Penalty for tokens already seen (1 = off); applied in greedy mode too")
      ->capture_default_str()->check(CLI::Range(0.01, 100.0));
  cmd->add_option("--seed", args->seed, "Random seed (default: random, printed at the end)");
  cmd->add_flag("--no-bos", args->no_bos, "Do not prepend BOS to the prompt");
  cmd->add_flag("--json", args->json, "Print one JSON object with ids, text and timings instead of streaming");
  args->quant.add_to(*cmd);
  cmd->callback([args] { run_generate(*args); });
}

}  // namespace l2n::cli
