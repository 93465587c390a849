// Fuzzes the .tosa flatbuffer reader (src/tosa/serialize.cpp read_tosa: identifier,
// flatbuffers verifier, enums, attribute types, tensor data sizes, shapes). A graph it
// accepts is written back and read again: the writer must take whatever the reader lets
// through, and the round trip must be stable (write(read(write(g))) == write(g)).
#include <cstdlib>

#include "fuzz_common.h"

#include "core/error.h"
#include "tosa/serialize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const l2n::tosa::TosaGraph graph = l2n::tosa::read_tosa(std::span<const uint8_t>(data, size), "fuzz.tosa");
    const std::vector<uint8_t> written = l2n::tosa::write_tosa(graph);
    const std::vector<uint8_t> again = l2n::tosa::write_tosa(l2n::tosa::read_tosa(written, "rewritten.tosa"));
    if (written != again) std::abort();  // the round trip is not stable
  } catch (const l2n::Error&) {
  }
  return 0;
}
