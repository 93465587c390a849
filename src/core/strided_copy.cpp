#include "core/strided_copy.h"

#include <algorithm>
#include <cstring>

namespace l2n {
namespace {

// One element moved as T through memcpy: tensors may view mapped files at any byte offset,
// and a fixed-size memcpy compiles to a plain load and store without alignment assumptions.
template <typename T>
inline void move_element(T* dst, const T* src) {
  std::memcpy(dst, src, sizeof(T));
}

// Elements are moved as T (a trivially copyable integer of the element's size).
template <typename T>
void gather_typed(T* out, const std::vector<int64_t>& shape, const T* src, const std::vector<int64_t>& strides) {
  const int rank = static_cast<int>(shape.size());
  const int64_t inner = shape[rank - 1], inner_stride = strides[rank - 1];
  // A 2-D transpose at the tail (the next axis is contiguous in src while the last is not,
  // e.g. K [S, heads, hd] → [heads, hd, S]): copy tiles of kTile output columns so that
  // each source cache line serves kTile reads instead of one.
  const bool transpose_tail = rank >= 2 && inner_stride != 1 && strides[rank - 2] == 1;
  const int64_t tail_rows = transpose_tail ? shape[rank - 2] : 1;
  const int64_t block = inner * tail_rows;  // output elements per step of the odometer
  const int lead = rank - (transpose_tail ? 2 : 1);  // axes walked by the odometer
  int64_t outer = 1;
  for (int d = 0; d < lead; ++d) outer *= shape[d];
  std::vector<int64_t> index(static_cast<size_t>(lead), 0);
  int64_t offset = 0;
  for (int64_t o = 0; o < outer; ++o) {
    T* d = out + o * block;
    const T* s = src + offset;
    if (transpose_tail) {
      constexpr int64_t kTile = 16;
      for (int64_t j0 = 0; j0 < inner; j0 += kTile) {
        const int64_t j1 = std::min(inner, j0 + kTile);
        for (int64_t i = 0; i < tail_rows; ++i)
          for (int64_t j = j0; j < j1; ++j) move_element(d + i * inner + j, s + i + j * inner_stride);
      }
    } else if (inner_stride == 1) {
      std::memcpy(d, s, static_cast<size_t>(inner) * sizeof(T));
    } else {
      for (int64_t j = 0; j < inner; ++j) move_element(d + j, s + j * inner_stride);
    }
    for (int k = lead - 1; k >= 0; --k) {  // odometer over the leading axes
      offset += strides[k];
      if (++index[static_cast<size_t>(k)] < shape[k]) break;
      offset -= strides[k] * shape[k];
      index[static_cast<size_t>(k)] = 0;
    }
  }
}

}  // namespace

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

void gather_strided(void* out, const std::vector<int64_t>& out_shape, const void* src,
                    const std::vector<int64_t>& src_strides, size_t elem_size) {
  int64_t count = 1;
  for (int64_t extent : out_shape) count *= extent;
  if (count == 0) return;
  if (out_shape.empty()) {
    std::memcpy(out, src, elem_size);
    return;
  }
  switch (elem_size) {
    case 1: return gather_typed(static_cast<uint8_t*>(out), out_shape, static_cast<const uint8_t*>(src), src_strides);
    case 2: return gather_typed(static_cast<uint16_t*>(out), out_shape, static_cast<const uint16_t*>(src), src_strides);
    case 4: return gather_typed(static_cast<uint32_t*>(out), out_shape, static_cast<const uint32_t*>(src), src_strides);
    case 8: return gather_typed(static_cast<uint64_t*>(out), out_shape, static_cast<const uint64_t*>(src), src_strides);
    default: break;
  }
  // Other sizes: view the bytes as [..., elem_size] with a contiguous last axis.
  std::vector<int64_t> shape = out_shape, strides = src_strides;
  for (int64_t& s : strides) s *= static_cast<int64_t>(elem_size);
  shape.push_back(static_cast<int64_t>(elem_size));
  strides.push_back(1);
  gather_typed(static_cast<uint8_t*>(out), shape, static_cast<const uint8_t*>(src), strides);
}

}  // namespace l2n
