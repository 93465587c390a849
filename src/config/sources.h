// The three ways a setting reaches an LlmConfig — a YAML file, dotted overrides, and the
// legacy export_llama flags — applied so that later sources win: the file first, then the
// command-line arguments in the order they were typed.
//
// Contract: every function throws l2n::Error(Usage) naming the key (or flag) at fault and
// suggesting the nearest valid one for unknown names; a config file that cannot be read is
// an l2n::Error(Runtime). Each value set records its Origin. Nothing here checks rules
// between keys; that is resolve()'s job.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/llm_config.h"

namespace l2n::config {

// A YAML mapping of sections (`quantization: {quantize_scope: linear}`), nested for the
// backends (`backend: {ethosu: {enabled: true}}`); dotted keys are accepted at any level.
void apply_yaml_file(LlmConfig& config, const std::filesystem::path& path);
void apply_yaml_text(LlmConfig& config, std::string_view yaml, const Origin& origin);

// Sets `key` from its command-line text. String keys take the text literally (quote it
// YAML-style to keep e.g. a leading space; null/~ unset an optional key); every other
// key parses the text as a YAML value: true, 64, 0.5, [a, b], null.
void set_value(LlmConfig& config, std::string_view key, std::string_view text, const Origin& origin);

// One "section.key=value" argument.
void apply_override(LlmConfig& config, std::string_view argument);

// Overrides and legacy flags, in order: "quantization.quantize_scope=linear",
// "--pt2e_quantize ethosu_16a8w", "--max_seq_length=64", "-kv", …
void apply_arguments(LlmConfig& config, const std::vector<std::string>& arguments);

// Defaults, then the file (if any), then the arguments.
LlmConfig load_config(const std::optional<std::filesystem::path>& file, const std::vector<std::string>& arguments);

// A flag of ExecuTorch's export_llama (or an llm2npu spelling) and the key it sets.
struct LegacyFlag {
  std::string_view spelling;     // "--pt2e_quantize"
  std::string_view alias;        // "" or a second spelling, "-kv"
  std::string_view key;          // "quantization.pt2e_quantize"
  std::string_view fixed_value;  // switches: the value they set ("true"); "" when the flag takes one
  bool takes_list = false;       // consumes every following argument that is not a flag or override
  std::string_view also_sets;    // a second key set to the same value (ExecuTorch couples some)
};

std::span<const LegacyFlag> legacy_flags();

}  // namespace l2n::config
