// Fuzzes the safetensors container reader: u64 header length, JSON header, dtypes, shapes,
// data_offsets (src/model/safetensors.cpp). Every tensor it accepts is converted to f32,
// so an accepted byte range that lies outside the file shows up as an ASan report.
#include "fuzz_common.h"

#include "core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = l2n::fuzz::write_file("model.safetensors", l2n::fuzz::as_view(data, size));
  try {
    auto tensors = l2n::model::detail::read_safetensors(path);
    l2n::model::detail::MappedWeightStore store;
    for (auto& [name, t] : tensors) store.add(name, std::move(t));
    for (const auto& name : store.names()) store.load_f32(name);
  } catch (const l2n::Error&) {
  }
  return 0;
}
