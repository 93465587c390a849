// Fuzzes the llama2.c checkpoint reader: the seven int32 header fields, their bounds and
// the exact-size check (src/model/llama2c.cpp). Inputs are a header plus whatever bytes
// follow; a header that passes is also given a body of exactly the declared size (when it
// is small), so the weight slicing runs too.
#include <cstring>

#include "fuzz_common.h"

#include "core/error.h"
#include "model/model.h"

namespace {

void load(const std::filesystem::path& path) {
  try {
    const l2n::model::Model m = l2n::model::load_model(path);
    for (const auto& name : m.weights->names()) m.weights->load_f32(name);
  } catch (const l2n::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(l2n::fuzz::as_view(data, size));
  // Never let the input start with "GGUF": that is the GGUF target's reader.
  if (bytes.compare(0, 4, "GGUF") == 0) bytes[0] = 'g';
  load(l2n::fuzz::write_file("model.bin", bytes));
  // The same header with a body padded to the size the error message would name.
  if (bytes.size() >= 28) {
    int32_t h[7];
    std::memcpy(h, bytes.data(), sizeof h);
    bool small = true;
    for (int32_t v : h) small = small && v > 0 && v <= 64;
    if (small) {
      const int64_t dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv = h[4], vocab = h[5], seq = h[6];
      if (dim % heads == 0) {
        const int64_t head = dim / heads;
        const int64_t floats = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * head * dim + 3 * hidden * dim) +
                               dim + seq * head;
        bytes.resize(28 + static_cast<size_t>(floats) * 4, '\0');
        load(l2n::fuzz::write_file("model.bin", bytes));
      }
    }
  }
  return 0;
}
