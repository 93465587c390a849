// Internal to the model stage: the safetensors container.
//
// Layout: u64 little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// data region; offsets are relative to the start of the data region.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "model/weight_store.h"

namespace l2n::model::detail {

// Maps the file and returns every tensor in it, keyed by its name in the file. Checks the
// header length against the file size, the JSON, every dtype (F32, F16, BF16 accepted),
// shape and offset range, and that each byte range holds exactly numel * dtype size bytes.
std::map<std::string, StoredTensor> read_safetensors(const std::filesystem::path& path);

}  // namespace l2n::model::detail
