// Fuzzes the program file reader (src/program/program.cpp decode_program: header, CRC,
// flatbuffers verifier, enums, shapes and constant sizes, graph rebuild through the IR's
// shape inference, step indices). Every input is read twice: as a whole file, which
// exercises the header checks, and as a payload behind a valid header with its CRC, so
// that mutations get past the checksum into the flatbuffer decoding. A program the reader
// accepts must be written again, and the round trip must be stable.
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_common.h"

#include "core/error.h"
#include "program/program.h"

namespace {

std::vector<uint8_t> framed(const uint8_t* payload, size_t size) {
  using l2n::program::kHeaderSize;
  std::vector<uint8_t> out(kHeaderSize, 0);
  std::memcpy(out.data(), l2n::program::kMagic, sizeof(l2n::program::kMagic));
  const uint32_t version = l2n::program::kFormatVersion;
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, payload, static_cast<uInt>(size)));
  const uint64_t length = size;
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<uint8_t>(version >> (8 * i));
  for (int i = 0; i < 8; ++i) out[12 + i] = static_cast<uint8_t>(length >> (8 * i));
  for (int i = 0; i < 4; ++i) out[20 + i] = static_cast<uint8_t>(crc >> (8 * i));
  out.insert(out.end(), payload, payload + size);
  return out;
}

void read_and_rewrite(std::span<const uint8_t> bytes) {
  l2n::program::Program program;
  try {
    program = l2n::program::decode_program(bytes, "program 'fuzz.l2n'");
  } catch (const l2n::Error&) {
    return;
  }
  // The writer must take whatever the reader lets through (anything else escapes as a
  // crash), and write(read(write(p))) == write(p).
  const std::vector<uint8_t> written = l2n::program::encode_program(program);
  const std::vector<uint8_t> again =
      l2n::program::encode_program(l2n::program::decode_program(written, "program 'rewritten.l2n'"));
  if (written != again) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_and_rewrite(std::span<const uint8_t>(data, size));
  read_and_rewrite(framed(data, size));
  return 0;
}
