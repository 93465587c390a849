// Fuzzes the NumPy .npy reader (src/tosa/npy.cpp read_npy: magic, versions 1-3, the
// header dict, descr, fortran_order, shape, data length). An array it accepts is written
// back and read again, and must come back with the same type, shape and bytes.
#include <cstdlib>
#include <cstring>

#include "fuzz_common.h"

#include "core/error.h"
#include "tosa/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const l2n::tosa::NpyArray array = l2n::tosa::read_npy(std::span<const uint8_t>(data, size), "fuzz.npy");
    const l2n::tosa::NpyArray again = l2n::tosa::read_npy(l2n::tosa::write_npy(array), "rewritten.npy");
    if (again.type != array.type || again.tensor.shape() != array.tensor.shape() ||
        again.tensor.nbytes() != array.tensor.nbytes() ||
        (array.tensor.nbytes() > 0 &&
         std::memcmp(again.tensor.raw(), array.tensor.raw(), array.tensor.nbytes()) != 0))
      std::abort();  // the round trip lost something
  } catch (const l2n::Error&) {
  }
  return 0;
}
