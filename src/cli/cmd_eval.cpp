// llm2npu eval: perplexity of a model on a text, with llama.cpp's chunked method.
#include <fmt/format.h>

#include "cli/common.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "eval/perplexity.h"
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
  runtime::Session session(model, session_options);
  eval::PerplexityOptions options;
  options.context = args.context;
  options.bos_id = tok->bos_id();
  options.max_chunks = args.max_chunks;
  options.progress = !args.no_progress;
  const auto r = eval::chunked_perplexity(session, tokens, options);

  if (args.json) {
    print_json({{"perplexity", r.perplexity},
                {"tokens_scored", r.tokens_scored},
                {"chunks", r.chunks},
                {"context", args.context},
                {"tokens_in_text", r.tokens_in_text},
                {"nll_sum", r.nll_sum},
                {"method", "chunked"},
                {"model", args.model.model_path},
                {"text", args.text_path},
                {"seconds", r.seconds},
                {"tokens_per_second", r.tokens_per_second}});
    return;
  }
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
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace l2n::cli
