#include "core/tensor.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace l2n {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(DType dtype, Shape shape) : Tensor(dtype, std::move(shape), Fill::Zero) {}

Tensor Tensor::uninitialized(DType dtype, Shape shape) { return Tensor(dtype, std::move(shape), Fill::None); }

Tensor::Tensor(DType dtype, Shape shape, Fill fill) : dtype_(dtype), shape_(std::move(shape)) {
  for (int64_t d : shape_)
    if (d < 0) fail("negative dimension in tensor shape {}", shape_str(shape_));
  // One allocation holds the reference counts and the data (an interpreter decode step makes
  // thousands of small tensors, and a second malloc/free each showed in its profile). Its
  // elements are max_align_t, so the data is aligned for every element type.
  const size_t units = std::max<size_t>((nbytes() + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t), 1);
  // Zeroed by memset: make_shared's value-initialisation of max_align_t leaves the padding
  // of its long double as it was.
  std::shared_ptr<std::max_align_t[]> buffer = std::make_shared_for_overwrite<std::max_align_t[]>(units);
  if (fill == Fill::Zero) std::memset(buffer.get(), 0, units * sizeof(std::max_align_t));
  data_ = buffer.get();
  owner_ = std::shared_ptr<const void>(std::move(buffer), data_);
  writable_ = true;
}

Tensor Tensor::view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.owner_ = std::move(owner);
  t.writable_ = false;
  return t;
}

int64_t Tensor::dim(int i) const {
  const int r = rank();
  const int k = i < 0 ? i + r : i;
  if (k < 0 || k >= r) fail("dimension {} out of range for tensor of shape {}", i, shape_str(shape_));
  return shape_[k];
}

void* Tensor::mutable_raw() {
  if (!writable_) fail("internal: writing to a read-only tensor view of shape {}", shape_str(shape_));
  return const_cast<void*>(data_);
}

Tensor Tensor::clone() const {
  Tensor t = uninitialized(dtype_, shape_);
  if (nbytes()) std::memcpy(t.mutable_raw(), data_, nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel())
    fail("internal: cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

void Tensor::check_dtype(DType expected) const {
  if (expected != dtype_)
    fail("internal: tensor holds {} but was read as {}", dtype_name(dtype_), dtype_name(expected));
}

}  // namespace l2n
