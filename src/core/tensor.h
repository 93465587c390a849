// Tensor: a dtype, a static shape and a contiguous row-major buffer.
//
// Copies are cheap and SHARE the buffer (like a shared_ptr); use clone() for a deep copy.
// A tensor either owns memory or views memory kept alive by an owner (Tensor::view, e.g. a
// memory-mapped checkpoint); views are read-only and mutable_data() on them throws. Owned
// memory is zero-filled (Tensor(dtype, shape)) unless made by Tensor::uninitialized, whose
// contents are indeterminate: only for results that the caller overwrites completely
// before anyone reads them (kernel outputs), where the zero fill is a wasted pass over
// memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace l2n {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);
  // Owned, writable, contents indeterminate (see above).
  static Tensor uninitialized(DType dtype, Shape shape);
  static Tensor view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner);
  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  // Size of dimension i; negative i counts from the end.
  int64_t dim(int i) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return data_ != nullptr || numel() == 0; }
  // Writable, and no other Tensor (copy, reshape) shares the buffer: its holder may write
  // into it without anyone else seeing the change.
  bool sole_owner() const { return writable_ && owner_.use_count() == 1; }

  const void* raw() const { return data_; }
  void* mutable_raw();

  template <typename T>
  const T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<const T*>(data_);
  }
  template <typename T>
  T* mutable_data() {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(mutable_raw());
  }

  Tensor clone() const;
  // Same buffer, new shape with the same element count.
  Tensor reshaped(Shape shape) const;

 private:
  enum class Fill { Zero, None };
  Tensor(DType dtype, Shape shape, Fill fill);
  void check_dtype(DType expected) const;

  DType dtype_ = DType::F32;
  Shape shape_;
  std::shared_ptr<const void> owner_;
  const void* data_ = nullptr;
  bool writable_ = false;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    fail("tensor of shape {} cannot hold {} values", shape_str(t.shape()), values.size());
  std::copy(values.begin(), values.end(), t.mutable_data<T>());
  return t;
}

}  // namespace l2n
