#include "eval/generate.h"

#include <chrono>

#include "core/error.h"

namespace l2n::eval {

std::string stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::Eos: return "eos";
    case StopReason::MaxTokens: return "max_new_tokens";
    case StopReason::ContextFull: return "context_full";
  }
  return "?";
}

GenerateResult generate(runtime::Runner& session, const tokenizer::Tokenizer& tokenizer,
                        std::vector<int32_t> prompt_ids, const GenerateOptions& options,
                        const std::function<void(const std::string&)>& on_text) {
  using clock = std::chrono::steady_clock;
  if (prompt_ids.empty()) fail_usage("generation needs at least one prompt token (BOS)");
  if (static_cast<int64_t>(prompt_ids.size()) > session.max_context())
    fail_usage("the prompt has {} tokens but the context holds {}; shorten the prompt or raise the context",
               prompt_ids.size(), session.max_context());
  for (int32_t id : prompt_ids)
    if (id < 0 || id >= session.vocab_size())
      fail("prompt token id {} is outside the model's vocabulary of {}; the tokenizer does not match the model",
           id, session.vocab_size());

  GenerateResult result;
  result.prompt_ids = prompt_ids;
  runtime::Sampler sampler(options.sampler);
  tokenizer::StreamingDecoder stream(tokenizer);
  std::vector<int32_t> history = prompt_ids;
  session.reset();
  // The decoder sees the prompt first so that spacing at the seam is decoded in context
  // (a SentencePiece "▁a" after a prompt keeps its space); its text is not emitted.
  for (int32_t id : prompt_ids) stream.push(id);

  auto t0 = clock::now();
  std::span<const float> logits;
  for (int32_t id : prompt_ids) logits = session.decode(id);
  result.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();

  t0 = clock::now();
  std::vector<float> scratch;
  while (true) {
    if (static_cast<int64_t>(result.generated_ids.size()) >= options.max_new_tokens) {
      result.stop = StopReason::MaxTokens;
      break;
    }
    scratch.assign(logits.begin(), logits.end());
    const int32_t next = sampler.sample(scratch, history);
    if (options.stop_at_eos && next == tokenizer.eos_id()) {
      result.stop = StopReason::Eos;
      break;
    }
    result.generated_ids.push_back(next);
    history.push_back(next);
    const std::string piece = stream.push(next);
    result.text += piece;
    if (on_text && !piece.empty()) on_text(piece);
    if (session.position() >= session.max_context()) {
      result.stop = StopReason::ContextFull;
      break;
    }
    logits = session.decode(next);
  }
  const std::string rest = stream.flush();
  result.text += rest;
  if (on_text && !rest.empty()) on_text(rest);
  result.decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  return result;
}

}  // namespace l2n::eval
