// Fuzzes tokenizer.json (Hugging Face): model, vocab, merges (strings and pairs), added
// tokens, normalizers, pre-tokenizers (Split regexes go to PCRE2), decoders and
// post-processor templates (src/tokenizer/hf_json.cpp, hf_pipeline.cpp).
// A tokenizer that loads is then run by exercise() (encode, decode, streaming, pieces).
#include "exercise_tokenizer.h"
#include "fuzz_common.h"

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The path only names the file in errors; no companion files (tokenizer_config.json, ...).
  static const std::filesystem::path path = l2n::fuzz::scratch_dir() / "tokenizer.json";
  try {
    const std::string bytes(l2n::fuzz::as_view(data, size));
    const auto tok = l2n::tokenizer::load_hf_json(path, bytes, {});
    l2n::fuzz::exercise(*tok);
  } catch (const l2n::Error&) {
  }
  return 0;
}
