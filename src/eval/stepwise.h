// Step-wise perplexity, the method of the upstream Ethos-U LLM example
// (eval_wikitext_perplexity.py; executorch-arm-llm.md §8.4): each prompt is encoded with BOS,
// cut to max_tokens tokens, and scored one position at a time through the KV cache — run
// (tok[pos], pos), add −log p(tok[pos+1]) — so a prompt of n tokens scores n−1.
// perplexity = exp(Σ NLL / Σ scored tokens), pooled over all prompts.
//
// Prompts come from a prompts file (one per line) or are built from a text the upstream
// way: whitespace collapsed, empty lines and "= heading =" lines skipped, lines joined until
// the encoding (no BOS) reaches min_prompt_tokens, then the first max_prompt_tokens tokens
// decoded back to text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/runner.h"
#include "tokenizer/tokenizer.h"

namespace l2n::eval {

struct PromptOptions {
  int64_t num_prompts = 100;
  int64_t min_prompt_tokens = 64;
  int64_t max_prompt_tokens = 64;
};

// Throws when the text yields fewer than num_prompts prompts (saying how many it built).
std::vector<std::string> build_prompts(const std::string& text, const tokenizer::Tokenizer& tokenizer,
                                       const PromptOptions& options);
// Non-empty lines of a prompts file, in order.
std::vector<std::string> read_prompts_file(const std::string& text);

struct StepwiseOptions {
  int64_t max_tokens = 64;  // per prompt, BOS included; 0 = no cap (then the KV capacity)
  bool progress = true;
};

struct StepwiseResult {
  double perplexity = 0;
  double nll_sum = 0;
  int64_t tokens_scored = 0;
  int64_t prompts_scored = 0;
  int64_t prompts_skipped = 0;  // shorter than 2 tokens
  double seconds = 0;
};

StepwiseResult stepwise_perplexity(runtime::Runner& runner, const tokenizer::Tokenizer& tokenizer,
                                   const std::vector<std::string>& prompts, const StepwiseOptions& options);

}  // namespace l2n::eval
