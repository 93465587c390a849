// Internal to the model stage: the WeightStore every loader fills.
//
// Each entry is a byte range inside a memory-mapped file, already checked by the loader to
// lie inside the file and to hold exactly numel * dtype_size bytes, laid out row-major.
// Entries keep their file mapping alive, so a store (and any F32 view it hands out)
// outlives the loader that built it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "model/model.h"

namespace l2n::model::detail {

struct StoredTensor {
  DType dtype = DType::F32;
  Shape shape;
  const uint8_t* data = nullptr;
  std::shared_ptr<const MappedFile> file;
  std::string file_name;  // the tensor's name inside the file, for error messages
};

class MappedWeightStore final : public WeightStore {
 public:
  // Throws if `name` is already present (two source tensors mapped to one weight).
  void add(const std::string& name, StoredTensor tensor);

  std::vector<std::string> names() const override;
  bool has(const std::string& name) const override;
  TensorInfo info(const std::string& name) const override;
  // F32 data at a 4-byte aligned address comes back as a read-only view of the mapping
  // (no copy); everything else is converted into a fresh, writable tensor.
  Tensor load_f32(const std::string& name) const override;
  void release_resident_pages() const override;

  // "layers.0.wq (model.layers.0.self_attn.q_proj.weight in /x/model.safetensors)".
  std::string describe(const std::string& name) const;

 private:
  const StoredTensor& get(const std::string& name) const;
  std::map<std::string, StoredTensor> tensors_;
};

}  // namespace l2n::model::detail
