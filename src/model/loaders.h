// Internal to the model stage: one loader per checkpoint format, and the checks they share.
//
// Every loader returns a Model whose config has passed validate_config() and whose store
// holds every canonical weight with the expected shape (check_weights), or throws
// l2n::Error. load_model() (model.cpp) only picks the loader and applies LoadOptions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "model/model.h"

namespace l2n::model::detail {

// Upper bounds on config values. They are far above any released model and exist so that
// a corrupt header fails with a clear message instead of overflowing size arithmetic or
// asking for gigabytes.
inline constexpr int64_t kMaxWidth = int64_t{1} << 20;    // dim, hidden_dim, head_dim
inline constexpr int64_t kMaxLayers = int64_t{1} << 12;
inline constexpr int64_t kMaxHeads = int64_t{1} << 14;
inline constexpr int64_t kMaxVocab = int64_t{1} << 22;
inline constexpr int64_t kMaxSeqLen = int64_t{1} << 24;

Model load_llama2c(const std::filesystem::path& path);
Model load_huggingface(const std::filesystem::path& dir);
Model load_gguf(const std::filesystem::path& path);

// Maps a canonical weight name to the name the source format uses, for error messages.
using SourceNamer = std::function<std::string(const std::string& canonical)>;

// Throws unless every weight the config needs is in model.weights with the exact shape.
void check_weights(const Model& model, const SourceNamer& source_name);

// Splits "layers.12.wq" into (12, "wq"); returns false for non-layer names.
bool split_layer_name(const std::string& canonical, int64_t& layer, std::string& field);

}  // namespace l2n::model::detail
