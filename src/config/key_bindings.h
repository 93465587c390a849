// Internal to the config stage: how each key of config_keys() is read from YAML into an
// LlmConfig and written back out as JSON. Not part of the stage's public contract.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/llm_config.h"

namespace l2n::config::detail {

struct KeyBinding {
  const KeyInfo* info;
  // Converts `value` to the key's type and stores it; throws l2n::Error(Usage) beginning
  // with `where` (the key and the value's origin) when the value has the wrong type.
  std::function<void(LlmConfig&, const YAML::Node& value, const std::string& where)> assign;
  std::function<nlohmann::ordered_json(const LlmConfig&)> read;
};

const KeyBinding* find_binding(std::string_view key);

// "quantization.calibration_limit (override)" — how messages name a value.
std::string describe(std::string_view key, const Origin& origin);

}  // namespace l2n::config::detail
