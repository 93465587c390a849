// Architecture presets for synthetic benchmark checkpoints (llm2npu make-model).
//
// Contract: each preset mirrors the config.json of the real checkpoint it is named after
// (sizes, heads, RoPE, norm eps, tied embeddings, BOS/EOS ids), so a model made from it has
// exactly the shapes and cost of the real one. The weights are random: such a model is for
// benchmarks only, never for accuracy claims. preset_config() throws a Usage error naming
// the known presets for an unknown name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"

namespace l2n::model {

struct ModelPreset {
  std::string name;                         // "smollm2-135m", ...
  ModelConfig config;                       // architecture, as load_model() would read it
  std::vector<std::string> special_tokens;  // added tokens at ids 0..n-1 of the tokenizer
};

const std::vector<ModelPreset>& model_presets();
const ModelPreset& model_preset(std::string_view name);
std::string preset_names();  // "smollm2-135m, tinyllama-1.1b, stories260k" for messages

// The Hugging Face config.json of a preset (pretty-printed, deterministic).
std::string preset_config_json(const ModelConfig& config, std::string_view torch_dtype);

}  // namespace l2n::model
