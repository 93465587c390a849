#include "eval/stepwise.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "eval/perplexity.h"

namespace l2n::eval {
namespace {

std::string collapse_whitespace(const std::string& line) {
  std::istringstream words(line);
  std::string word, out;
  while (words >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

bool is_heading(const std::string& line) { return !line.empty() && line.front() == '=' && line.back() == '='; }

}  // namespace

std::vector<std::string> build_prompts(const std::string& text, const tokenizer::Tokenizer& tok,
                                       const PromptOptions& options) {
  if (options.min_prompt_tokens < 1 || options.max_prompt_tokens < options.min_prompt_tokens)
    fail_usage("prompt token bounds must satisfy 1 <= min ({}) <= max ({})", options.min_prompt_tokens,
               options.max_prompt_tokens);
  std::vector<std::string> prompts;
  std::istringstream lines(text);
  std::string line, candidate;
  while (static_cast<int64_t>(prompts.size()) < options.num_prompts && std::getline(lines, line)) {
    line = collapse_whitespace(line);
    if (line.empty() || is_heading(line)) continue;
    candidate = candidate.empty() ? line : candidate + " " + line;
    std::vector<int32_t> ids = tok.encode(candidate, false);
    if (static_cast<int64_t>(ids.size()) < options.min_prompt_tokens) continue;
    ids.resize(static_cast<size_t>(options.max_prompt_tokens));
    std::string prompt = collapse_whitespace(tok.decode(ids));
    if (!prompt.empty()) prompts.push_back(std::move(prompt));
    candidate.clear();
  }
  if (static_cast<int64_t>(prompts.size()) < options.num_prompts)
    fail_usage("only {} prompts of at least {} tokens could be built from the text; {} were requested (lower "
               "--num-prompts or --prompt-tokens, or give a longer text)",
               prompts.size(), options.min_prompt_tokens, options.num_prompts);
  return prompts;
}

std::vector<std::string> read_prompts_file(const std::string& text) {
  std::vector<std::string> prompts;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!collapse_whitespace(line).empty()) prompts.push_back(line);
  }
  if (prompts.empty()) fail_usage("the prompts file has no prompts (one per line)");
  return prompts;
}

StepwiseResult stepwise_perplexity(runtime::Runner& runner, const tokenizer::Tokenizer& tok,
                                   const std::vector<std::string>& prompts, const StepwiseOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  StepwiseResult r;
  ProgressBar bar("stepwise perplexity", static_cast<int64_t>(prompts.size()), options.progress);
  int64_t done = 0;
  for (const std::string& prompt : prompts) {
    std::vector<int32_t> ids = tok.encode(prompt, true);
    if (options.max_tokens > 0 && static_cast<int64_t>(ids.size()) > options.max_tokens)
      ids.resize(static_cast<size_t>(options.max_tokens));
    if (static_cast<int64_t>(ids.size()) > runner.max_context()) ids.resize(static_cast<size_t>(runner.max_context()));
    if (ids.size() < 2) {
      ++r.prompts_skipped;
      bar.update(++done);
      continue;
    }
    runner.reset();
    for (size_t pos = 0; pos + 1 < ids.size(); ++pos) {
      const auto logits = runner.decode(ids[pos]);
      r.nll_sum += negative_log_likelihood(logits, ids[pos + 1]);
      ++r.tokens_scored;
    }
    ++r.prompts_scored;
    bar.update(++done, fmt::format("ppl {:.4f}", std::exp(r.nll_sum / static_cast<double>(r.tokens_scored))));
  }
  bar.finish();
  if (r.tokens_scored == 0) fail("no prompt had the 2 tokens step-wise scoring needs");
  r.perplexity = std::exp(r.nll_sum / static_cast<double>(r.tokens_scored));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace l2n::eval
