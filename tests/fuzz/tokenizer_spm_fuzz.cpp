// Fuzzes SentencePiece .model files. The protobuf is parsed by libsentencepiece (not our
// code, and not instrumented); what this target checks is our wrapper around it
// (src/tokenizer/sentencepiece_model.cpp: piece table, byte pieces, control ids, the
// dummy-prefix probe, decode) on every model the library accepts, and that a model it
// rejects becomes an l2n::Error.
// A tokenizer that loads is then run by exercise() (encode, decode, streaming, pieces).
#include "exercise_tokenizer.h"
#include "fuzz_common.h"

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The path only names the file in errors and locates files beside it (none here).
  static const std::filesystem::path path = l2n::fuzz::scratch_dir() / "tokenizer.model";
  try {
    const std::string bytes(l2n::fuzz::as_view(data, size));
    const auto tok = l2n::tokenizer::load_sentencepiece_model(path, bytes);
    l2n::fuzz::exercise(*tok);
  } catch (const l2n::Error&) {
  }
  return 0;
}
