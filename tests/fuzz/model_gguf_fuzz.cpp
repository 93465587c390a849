// Fuzzes the GGUF reader: the container (self-declared counts, string lengths, nested
// arrays, tensor infos, alignment, offsets) and the model built from it (metadata keys,
// embedded vocabulary, tensor names and shapes) (src/model/gguf.cpp). Accepted tensors
// are converted to f32 so an out-of-file range shows up as an ASan report.
#include "fuzz_common.h"

#include "core/error.h"
#include "model/gguf.h"
#include "model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = l2n::fuzz::write_file("model.gguf", l2n::fuzz::as_view(data, size));
  try {
    l2n::model::detail::GgufFile g = l2n::model::detail::read_gguf(path);
    for (const auto& [name, t] : g.tensors) {
      // Touch the first and last byte of every accepted tensor.
      const size_t bytes = static_cast<size_t>(l2n::shape_numel(t.shape)) * l2n::dtype_size(t.dtype);
      if (bytes > 0) {
        volatile uint8_t sink = t.data[0] ^ t.data[bytes - 1];
        (void)sink;
      }
    }
  } catch (const l2n::Error&) {
    return 0;
  }
  try {
    const l2n::model::Model m = l2n::model::load_model(path);
    for (const auto& name : m.weights->names()) m.weights->load_f32(name);
  } catch (const l2n::Error&) {
  }
  return 0;
}
