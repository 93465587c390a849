#include <algorithm>
#include <cstring>

#include "core/strided_copy.h"
#include "exec/kernels.h"

namespace l2n::exec {
namespace {

const uint8_t* bytes(const Tensor& t) { return static_cast<const uint8_t*>(t.raw()); }
uint8_t* mutable_bytes(Tensor& t) { return static_cast<uint8_t*>(t.mutable_raw()); }

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshaped(shape); }

Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  const int rank = x.rank();
  if (static_cast<int>(perm.size()) != rank)
    fail("internal: transpose perm of rank {} for shape {}", perm.size(), shape_str(x.shape()));
  const std::vector<int64_t> in_strides = row_major_strides(x.shape());
  Shape out_shape(rank);
  std::vector<int64_t> src_strides(rank);
  std::vector<bool> seen(rank, false);
  for (int k = 0; k < rank; ++k) {
    if (perm[k] < 0 || perm[k] >= rank || seen[perm[k]]) fail("internal: transpose perm is not a permutation");
    seen[perm[k]] = true;
    out_shape[k] = x.shape()[perm[k]];
    src_strides[k] = in_strides[perm[k]];
  }
  Tensor out = Tensor::uninitialized(x.dtype(), out_shape);
  gather_strided(out.mutable_raw(), out.shape(), x.raw(), src_strides, dtype_size(x.dtype()));
  return out;
}

Tensor slice(const Tensor& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& size) {
  const int rank = x.rank();
  if (static_cast<int>(begin.size()) != rank || static_cast<int>(size.size()) != rank)
    fail("internal: slice begin/size rank differs from shape {}", shape_str(x.shape()));
  const std::vector<int64_t> strides = row_major_strides(x.shape());
  int64_t start = 0;
  for (int k = 0; k < rank; ++k) {
    if (begin[k] < 0 || size[k] < 0 || begin[k] + size[k] > x.shape()[k])
      fail("internal: slice begin {} size {} out of bounds of {}", shape_str(begin), shape_str(size),
           shape_str(x.shape()));
    start += begin[k] * strides[k];
  }
  Tensor out = Tensor::uninitialized(x.dtype(), size);
  gather_strided(out.mutable_raw(), out.shape(), bytes(x) + start * dtype_size(x.dtype()), strides,
                 dtype_size(x.dtype()));
  return out;
}

Tensor concat(const std::vector<Tensor>& parts, int64_t axis) {
  if (parts.empty()) fail("internal: concat of nothing");
  const Shape& first = parts[0].shape();
  const int rank = static_cast<int>(first.size());
  const int64_t k = axis < 0 ? axis + rank : axis;
  if (k < 0 || k >= rank) fail("internal: concat axis {} out of range for rank {}", axis, rank);
  Shape out_shape = first;
  out_shape[k] = 0;
  for (const Tensor& part : parts) {
    bool fits = part.rank() == rank && part.dtype() == parts[0].dtype();
    for (int i = 0; fits && i < rank; ++i) fits = i == k || part.shape()[i] == first[i];
    if (!fits) fail("internal: concat of {} and {} on axis {}", shape_str(first), shape_str(part.shape()), k);
    out_shape[k] += part.shape()[k];
  }
  // Each part contributes a block of shape[k..] elements per index of the leading axes.
  int64_t outer = 1;
  for (int64_t i = 0; i < k; ++i) outer *= first[i];
  const size_t elem = dtype_size(parts[0].dtype());
  Tensor out = Tensor::uninitialized(parts[0].dtype(), out_shape);
  uint8_t* dst = mutable_bytes(out);
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor& part : parts) {
      const size_t block = static_cast<size_t>(part.numel() / outer) * elem;
      std::memcpy(dst, bytes(part) + o * block, block);
      dst += block;
    }
  }
  return out;
}

Tensor gather(const Tensor& table, const Tensor& indices) {
  if (table.rank() < 1) fail("internal: gather from a scalar table");
  const int64_t rows = table.dim(0);
  Shape out_shape = indices.shape();
  out_shape.insert(out_shape.end(), table.shape().begin() + 1, table.shape().end());
  Tensor out = Tensor::uninitialized(table.dtype(), out_shape);
  const size_t row_bytes = rows ? table.nbytes() / static_cast<size_t>(rows) : 0;
  const int32_t* ids = indices.data<int32_t>();
  uint8_t* dst = mutable_bytes(out);
  for (int64_t i = 0; i < indices.numel(); ++i) {
    if (ids[i] < 0 || ids[i] >= rows)
      fail("gather index {} (at position {}) is out of range for a table of {} rows", ids[i], i, rows);
    std::memcpy(dst + i * row_bytes, bytes(table) + ids[i] * row_bytes, row_bytes);
  }
  return out;
}

namespace {

// Checks the operands and returns the byte offset at which `rows` go into `cache`.
size_t cache_rows_offset(const Tensor& cache, const Tensor& rows, const Tensor& pos) {
  if (cache.rank() < 1 || rows.rank() != cache.rank() || rows.dtype() != cache.dtype() ||
      !std::equal(cache.shape().begin() + 1, cache.shape().end(), rows.shape().begin() + 1) ||
      pos.shape() != Shape{1})
    fail("internal: cache_update of {} with rows {} at a position of shape {}", shape_str(cache.shape()),
         shape_str(rows.shape()), shape_str(pos.shape()));
  const int64_t at = pos.data<int32_t>()[0];
  if (at < 0 || at + rows.dim(0) > cache.dim(0))
    fail("cache position {} is out of range: {} row(s) from there do not fit a cache of {} rows", at, rows.dim(0),
         cache.dim(0));
  const size_t row_bytes = cache.dim(0) ? cache.nbytes() / static_cast<size_t>(cache.dim(0)) : 0;
  return static_cast<size_t>(at) * row_bytes;
}

}  // namespace

Tensor cache_update(const Tensor& cache, const Tensor& rows, const Tensor& pos) {
  const size_t offset = cache_rows_offset(cache, rows, pos);
  Tensor out = cache.clone();
  std::memcpy(mutable_bytes(out) + offset, rows.raw(), rows.nbytes());
  return out;
}

Tensor cache_update_in_place(Tensor cache, const Tensor& rows, const Tensor& pos) {
  const size_t offset = cache_rows_offset(cache, rows, pos);
  std::memcpy(mutable_bytes(cache) + offset, rows.raw(), rows.nbytes());
  return cache;
}

}  // namespace l2n::exec
