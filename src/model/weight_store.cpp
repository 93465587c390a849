#include "model/weight_store.h"

#include <cstring>

#include "core/error.h"

namespace l2n::model::detail {

void MappedWeightStore::add(const std::string& name, StoredTensor tensor) {
  auto [it, inserted] = tensors_.emplace(name, std::move(tensor));
  if (!inserted)
    fail("checkpoint holds weight '{}' twice ({} and another tensor map to the same name); "
         "remove the duplicate from the checkpoint",
         name, describe(name));
}

std::vector<std::string> MappedWeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, tensor] : tensors_) out.push_back(name);
  return out;
}

bool MappedWeightStore::has(const std::string& name) const { return tensors_.count(name) != 0; }

const StoredTensor& MappedWeightStore::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("internal: the checkpoint has no weight named '{}'", name);
  return it->second;
}

TensorInfo MappedWeightStore::info(const std::string& name) const {
  const StoredTensor& t = get(name);
  return {t.dtype, t.shape};
}

void MappedWeightStore::release_resident_pages() const {
  const MappedFile* last = nullptr;  // entries of one file are usually adjacent in the map
  for (const auto& [name, tensor] : tensors_)
    if (tensor.file && tensor.file.get() != last) {
      last = tensor.file.get();
      last->release_resident_pages();
    }
}

std::string MappedWeightStore::describe(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return fmt::format("'{}'", name);
  const StoredTensor& t = it->second;
  const std::string file = t.file ? t.file->path().string() : std::string("?");
  if (t.file_name.empty() || t.file_name == name) return fmt::format("'{}' in {}", name, file);
  return fmt::format("'{}' ('{}' in {})", name, t.file_name, file);
}

Tensor MappedWeightStore::load_f32(const std::string& name) const {
  const StoredTensor& t = get(name);
  const int64_t n = shape_numel(t.shape);
  if (t.dtype == DType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0) {
    // Aliasing constructor: the view keeps the whole mapping alive.
    std::shared_ptr<const void> owner(t.file, t.data);
    return Tensor::view(DType::F32, t.shape, t.data, std::move(owner));
  }
  Tensor out(DType::F32, t.shape);
  float* dst = out.mutable_data<float>();
  switch (t.dtype) {
    case DType::F32:
      std::memcpy(dst, t.data, static_cast<size_t>(n) * sizeof(float));
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        dst[i] = f16_to_f32(h);
      }
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, t.data + 2 * i, 2);
        dst[i] = bf16_to_f32(b);
      }
      break;
    default:
      fail("weight {} is stored as {}, which cannot be converted to f32", describe(name),
           dtype_name(t.dtype));
  }
  return out;
}

}  // namespace l2n::model::detail
