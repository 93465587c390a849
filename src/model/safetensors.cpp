#include "model/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

#include "core/error.h"
#include "model/json_depth.h"
#include "core/json_text.h"

namespace l2n::model::detail {
namespace {

using nlohmann::json;

// dtype strings of the safetensors spec that are valid but that we cannot compute with.
constexpr const char* kKnownUnsupported[] = {"F64", "I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64",
                                             "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
                                             "F6_E3M2", "F4"};

DType parse_dtype(const std::string& dtype, const std::string& tensor, const std::string& src) {
  if (dtype == "F32") return DType::F32;
  if (dtype == "F16") return DType::F16;
  if (dtype == "BF16") return DType::BF16;
  for (const char* known : kKnownUnsupported)
    if (dtype == known)
      fail("tensor '{}' in {} has dtype {}, which is not supported for weights (supported: F32, F16, BF16); "
           "convert the checkpoint to one of those (quantized checkpoints must be dequantized first)",
           tensor, src, dtype);
  fail("tensor '{}' in {} has unknown dtype \"{}\" (supported: F32, F16, BF16); the file is corrupt or "
       "written by a newer safetensors version",
       tensor, src, dtype);
}

uint64_t read_offset(const json& value, const std::string& tensor, const std::string& src) {
  if (!value.is_number_unsigned())
    fail("tensor '{}' in {} has a data_offsets entry that is not a non-negative integer ({}); the file is "
         "corrupt",
         tensor, src, json_text(value));
  return value.get<uint64_t>();
}

}  // namespace

std::map<std::string, StoredTensor> read_safetensors(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  const std::string src = path.string();
  const uint64_t size = file->size();
  if (size < 8)
    fail("{} is {} bytes, too small to be a safetensors file (it needs at least an 8-byte header length); "
         "the file is truncated",
         src, size);
  uint64_t header_len;
  std::memcpy(&header_len, file->data(), 8);
  if (header_len > size - 8)
    fail("{}: the safetensors header length is {} bytes, larger than the {} bytes that follow it; the file "
         "is truncated or not a safetensors file",
         src, header_len, size - 8);
  const char* header_begin = reinterpret_cast<const char*>(file->data() + 8);
  json header;
  check_json_depth(std::string_view(header_begin, header_len), src + " (safetensors header)");
  // A tensor name written twice would silently keep only the last entry; refuse it.
  std::set<std::string> names;
  std::string duplicate;
  const json::parser_callback_t note_names = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && duplicate.empty() &&
        !names.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  try {
    header = json::parse(header_begin, header_begin + header_len, note_names);
  } catch (const json::exception& e) {
    fail("{}: the safetensors header is not valid JSON ({}); the file is corrupt", src, e.what());
  }
  if (!duplicate.empty())
    fail("{}: the safetensors header lists tensor '{}' twice; the file is corrupt", src, duplicate);
  if (!header.is_object())
    fail("{}: the safetensors header must be a JSON object of tensors, but it is a {}; the file is corrupt", src,
         header.type_name());

  const uint8_t* data = file->data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  std::map<std::string, StoredTensor> out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      fail("tensor '{}' in {}: header entry must be an object with dtype, shape and data_offsets; the file is "
           "corrupt",
           name, src);
    const json& dtype_json = entry["dtype"];
    if (!dtype_json.is_string())
      fail("tensor '{}' in {}: dtype is not a string; the file is corrupt", name, src);
    const DType dtype = parse_dtype(dtype_json.get<std::string>(), name, src);

    const json& shape_json = entry["shape"];
    if (!shape_json.is_array())
      fail("tensor '{}' in {}: shape is not an array; the file is corrupt", name, src);
    Shape shape;
    // numel is bounded by the data region so the product cannot overflow.
    uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : shape_json) {
      if (!d.is_number_unsigned())
        fail("tensor '{}' in {} has a negative or non-integer dimension {} in its shape {}; the file is corrupt",
             name, src, json_text(d), json_text(shape_json));
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(INT64_MAX))
        fail("tensor '{}' in {} has dimension {} which is too large; the file is corrupt", name, src, v);
      shape.push_back(static_cast<int64_t>(v));
      if (v != 0 && numel > data_size / v) overflow = true;
      numel *= v;
    }
    if (shape.size() > 8)
      fail("tensor '{}' in {} has {} dimensions; at most 8 are supported", name, src, shape.size());

    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      fail("tensor '{}' in {}: data_offsets must be [begin, end]; the file is corrupt", name, src);
    const uint64_t begin = read_offset(offsets[0], name, src);
    const uint64_t end = read_offset(offsets[1], name, src);
    if (begin > end)
      fail("tensor '{}' in {} has data_offsets [{}, {}] with begin > end; the file is corrupt", name, src, begin,
           end);
    if (end > data_size)
      fail("tensor '{}' in {} has data_offsets [{}, {}] past the end of the data region ({} bytes); the file "
           "is truncated or corrupt",
           name, src, begin, end, data_size);
    const uint64_t elem = dtype_size(dtype);
    if (overflow || numel * elem != end - begin)
      fail("tensor '{}' in {}: shape {} of {} needs {} bytes, but data_offsets [{}, {}] span {} bytes; the "
           "file is corrupt",
           name, src, shape_str(shape), dtype_name(dtype),
           overflow ? std::string("more than ") + std::to_string(data_size) : std::to_string(numel * elem),
           begin, end, end - begin);

    StoredTensor t;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.data = data + begin;
    t.file = file;
    t.file_name = name;
    out.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace l2n::model::detail
