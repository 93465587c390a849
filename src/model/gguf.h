// Internal to the model stage: the GGUF container (versions 2 and 3).
//
// Layout: "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv_count metadata entries
// (string key, u32 value type, value), tensor_count tensor infos (string name, u32 n_dims,
// n_dims u64 extents with ne[0] the fastest-varying, u32 ggml type, u64 offset), padding to
// general.alignment (default 32), then the data section the offsets point into. Strings are
// a u64 byte length followed by the bytes. Everything is little-endian.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/weight_store.h"

namespace l2n::model::detail {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

struct GgufValue {
  GgufType type = GgufType::U8;
  // Scalars: integers and bools in `integer` (and `number`), floats in `number`.
  int64_t integer = 0;
  double number = 0;
  std::string string;
  // Arrays: the element type and the elements, strings in `strings`, numbers in `numbers`.
  // Nested arrays are skipped (nothing Llama needs uses them); only their count is kept.
  GgufType element_type = GgufType::U8;
  uint64_t count = 0;
  std::vector<std::string> strings;
  std::vector<double> numbers;

  bool is_integer() const;
  bool is_number() const;  // integer, bool or float scalar
};

struct GgufFile {
  std::shared_ptr<const MappedFile> file;
  uint32_t version = 0;
  std::map<std::string, GgufValue> metadata;
  // Tensors keyed by their GGUF name, shape already in row-major order (ne reversed).
  std::map<std::string, StoredTensor> tensors;
};

// Parses and bounds-checks the whole container; every count and length is compared with
// the bytes left in the file before anything is allocated. Only F32, F16 and BF16 tensors
// are accepted; any other ggml type is an error naming the type.
GgufFile read_gguf(const std::filesystem::path& path);

}  // namespace l2n::model::detail
