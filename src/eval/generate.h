// Text generation through the KV-cache decode step: the prompt is fed token by token,
// then new tokens are sampled until EOS, the token budget, or a full context.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/sampler.h"
#include "runtime/runner.h"
#include "tokenizer/tokenizer.h"

namespace l2n::eval {

enum class StopReason { Eos, MaxTokens, ContextFull };
std::string stop_reason_name(StopReason reason);

struct GenerateOptions {
  int64_t max_new_tokens = 256;
  runtime::SamplerOptions sampler;
  bool stop_at_eos = true;
};

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> generated_ids;
  std::string text;  // the generated part, decoded
  StopReason stop = StopReason::MaxTokens;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  double decode_tokens_per_second() const {
    return decode_seconds > 0 ? static_cast<double>(generated_ids.size()) / decode_seconds : 0;
  }
};

// `on_text` receives each piece of decoded text as soon as it is complete (streaming).
GenerateResult generate(runtime::Runner& session, const tokenizer::Tokenizer& tokenizer,
                        std::vector<int32_t> prompt_ids, const GenerateOptions& options,
                        const std::function<void(const std::string&)>& on_text = {});

}  // namespace l2n::eval
