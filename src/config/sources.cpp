#include "config/sources.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

#include "config/key_bindings.h"
#include "core/error.h"
#include "target/closest_name.h"

namespace l2n::config {

namespace {

// clang-format off
constexpr auto kLegacyFlags = std::to_array<LegacyFlag>({
    {"--checkpoint", "-c", "base.checkpoint", "", false, ""},
    {"--model", "", "base.checkpoint", "", false, ""},
    {"--tokenizer_path", "--tokenizer", "base.tokenizer_path", "", false, ""},
    {"--use_kv_cache", "-kv", "model.use_kv_cache", "true", false, ""},
    {"--disable_dynamic_shape", "", "model.enable_dynamic_shape", "false", false, ""},
    {"--quantize_kv_cache", "", "model.quantize_kv_cache", "true", false, ""},
    {"--dtype-override", "-d", "model.dtype_override", "", false, ""},
    {"--max_seq_length", "", "export.max_seq_length", "", false, ""},
    {"--max_context_length", "", "export.max_context_length", "", false, ""},
    {"--output-dir", "-o", "export.output_dir", "", false, ""},
    {"--output_name", "-n", "export.output_name", "", false, ""},
    {"--pt2e_quantize", "", "quantization.pt2e_quantize", "", false, ""},
    {"--quantize_scope", "", "quantization.quantize_scope", "", false, ""},
    {"--calibration_tasks", "", "quantization.calibration_tasks", "", true, ""},
    {"--calibration_limit", "", "quantization.calibration_limit", "", false, ""},
    {"--calibration_seq_length", "", "quantization.calibration_seq_length", "", false, ""},
    {"--calibration_data", "", "quantization.calibration_data", "", false, ""},
    {"--vgf", "--arm-vgf", "backend.vgf.enabled", "true", false, ""},
    {"--vgf-compile-spec", "", "backend.vgf.compile_spec", "", false, ""},
    // ExecuTorch writes --vgf-quantize-scope into both scopes, so they can never disagree.
    {"--vgf-quantize-scope", "", "backend.vgf.quantize_scope", "", false, "quantization.quantize_scope"},
    {"--verbose", "-v", "debug.verbose", "true", false, ""},
    {"--generate_full_logits", "", "debug.generate_full_logits", "true", false, ""},
    {"--output_dir", "", "export.output_dir", "", false, ""},
    {"--dtype_override", "", "model.dtype_override", "", false, ""},
});
// clang-format on

constexpr std::string_view kSeeDocs = "docs/configuration.md lists every key";

std::string_view leaf_of(std::string_view key) {
  const std::size_t dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

std::vector<std::string_view> all_key_names() {
  std::vector<std::string_view> names;
  for (const KeyInfo& info : config_keys()) names.push_back(info.key);
  return names;
}

bool is_section(std::string_view path) {
  if (path == "backend") return true;
  const auto sections = config_sections();
  return std::find(sections.begin(), sections.end(), path) != sections.end();
}

// The key (or section) a user most likely meant: a near spelling of the whole name, else a
// key whose last part is spelled (nearly) the same, so "quantize_scope=linear" finds its
// section.
std::optional<std::string> suggest_key(std::string_view typed) {
  const auto names = all_key_names();
  std::vector<std::string_view> names_and_sections = names;
  names_and_sections.push_back("backend");
  for (std::string_view section : config_sections()) names_and_sections.push_back(section);
  if (auto whole = target::closest_name(typed, names_and_sections)) return whole;
  std::vector<std::string_view> leaves;
  for (std::string_view name : names) leaves.push_back(leaf_of(name));
  const std::string_view typed_leaf = leaf_of(typed);
  if (const auto leaf = target::closest_name(typed_leaf, leaves))
    for (std::string_view name : names)
      if (leaf_of(name) == *leaf) return std::string(name);
  return std::nullopt;
}

[[noreturn]] void fail_unknown_key(std::string_view key, const Origin& origin) {
  if (const auto reason = unsupported_upstream_key(key))
    fail_usage("{} ({}) is an ExecuTorch setting llm2npu does not have: {}", key, origin.to_string(), *reason);
  if (is_section(key))
    fail_usage("{} ({}) is a section, not a key; set one of its keys, e.g. {}.<key>=VALUE ({})", key,
               origin.to_string(), key, kSeeDocs);
  const auto suggestion = suggest_key(key);
  if (suggestion)
    fail_usage("unknown configuration key '{}' ({}); did you mean '{}'? ({})", key, origin.to_string(), *suggestion,
               kSeeDocs);
  fail_usage("unknown configuration key '{}' ({}); {}", key, origin.to_string(), kSeeDocs);
}

void assign_node(LlmConfig& config, std::string_view key, const YAML::Node& value, const Origin& origin) {
  const detail::KeyBinding* binding = detail::find_binding(key);
  if (!binding) fail_unknown_key(key, origin);
  binding->assign(config, value, detail::describe(key, origin));
  config.origins[std::string(key)] = origin;
}

void walk_mapping(LlmConfig& config, const YAML::Node& mapping, const std::string& prefix, const Origin& origin) {
  for (const auto& entry : mapping) {
    if (!entry.first.IsScalar())
      fail_usage("{}: every key under '{}' must be a plain name", origin.to_string(), prefix.empty() ? "the top" : prefix);
    const std::string path = prefix.empty() ? entry.first.Scalar() : prefix + "." + entry.first.Scalar();
    if (detail::find_binding(path)) {
      assign_node(config, path, entry.second, origin);
    } else if (is_section(path)) {
      if (entry.second.IsNull()) continue;  // an empty section header
      if (!entry.second.IsMap())
        fail_usage("{} ({}) is a section, so it must hold a mapping of its keys, not {}", path, origin.to_string(),
                 entry.second.IsSequence() ? "a list" : fmt::format("the value '{}'", entry.second.Scalar()));
      walk_mapping(config, entry.second, path, origin);
    } else {
      fail_unknown_key(path, origin);
    }
  }
}

bool is_quoted(std::string_view text) {
  return text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front();
}

bool is_yaml_null_word(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

YAML::Node parse_yaml_value(std::string_view text, const std::string& where) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    fail_usage("{}: '{}' is not a valid YAML value ({}); quote it or fix the brackets", where, text, e.msg);
  }
}

const LegacyFlag* find_flag(std::string_view spelling) {
  for (const LegacyFlag& flag : kLegacyFlags)
    if (flag.spelling == spelling || (!flag.alias.empty() && flag.alias == spelling)) return &flag;
  return nullptr;
}

[[noreturn]] void fail_unknown_flag(std::string_view spelling) {
  const std::size_t name_start = spelling.find_first_not_of('-');
  if (name_start == std::string_view::npos)
    fail_usage("unexpected argument '{}': settings are section.key=value overrides or export_llama flags", spelling);
  std::string bare(spelling.substr(name_start));
  if (bare.find('.') != std::string::npos && bare.find('=') != std::string::npos)
    fail_usage("'{}': overrides are written without dashes, as {}", spelling, bare);
  std::string as_key = bare.substr(0, bare.find('='));
  std::replace(as_key.begin(), as_key.end(), '-', '_');
  for (const KeyInfo& info : config_keys())
    if (leaf_of(info.key) == as_key)
      fail_usage("there is no flag '{}'; set the key instead: {}=VALUE", spelling, info.key);
  if (find_key(fmt::format("backend.{}.enabled", as_key)))
    fail_usage("there is no flag '{}'; enable the backend with backend.{}.enabled=true", spelling, as_key);
  std::vector<std::string_view> spellings;
  for (const LegacyFlag& flag : kLegacyFlags) {
    spellings.push_back(flag.spelling);
    if (!flag.alias.empty()) spellings.push_back(flag.alias);
  }
  fail_usage("unknown flag '{}'{}; use a dotted override (section.key=value) or one of the export_llama flags in "
             "docs/configuration.md",
             spelling, target::did_you_mean(spelling, spellings));
}

bool looks_like_override(std::string_view argument) {
  const std::size_t equals = argument.find('=');
  return equals != std::string_view::npos && argument.substr(0, equals).find('.') != std::string_view::npos &&
         argument.front() != '-';
}

// Applies the flag at arguments[index]; returns how many arguments it used.
std::size_t apply_flag(LlmConfig& config, const std::vector<std::string>& arguments, std::size_t index) {
  const std::string& argument = arguments[index];
  const std::size_t equals = argument.find('=');
  const std::string spelling = argument.substr(0, equals);
  const std::optional<std::string> inline_value =
      equals == std::string::npos ? std::nullopt : std::optional<std::string>(argument.substr(equals + 1));
  const LegacyFlag* flag = find_flag(spelling);
  if (!flag) fail_unknown_flag(argument);
  const Origin origin = Origin::flag(spelling);

  if (!flag->fixed_value.empty()) {
    if (inline_value)
      fail_usage("flag {} takes no value; to choose the value write {}=true or {}=false", spelling, flag->key,
                 flag->key);
    set_value(config, flag->key, flag->fixed_value, origin);
    return 1;
  }

  if (flag->takes_list) {
    if (inline_value) {
      set_value(config, flag->key, *inline_value, origin);
      return 1;
    }
    YAML::Node items(YAML::NodeType::Sequence);
    std::size_t used = 1;
    while (index + used < arguments.size()) {
      const std::string& next = arguments[index + used];
      if ((!next.empty() && next.front() == '-') || looks_like_override(next)) break;
      items.push_back(next);
      ++used;
    }
    if (used == 1) fail_usage("flag {} needs at least one value, e.g. {} wikitext", spelling, spelling);
    assign_node(config, flag->key, items, origin);
    return used;
  }

  std::string value;
  std::size_t used = 1;
  if (inline_value) {
    value = *inline_value;
  } else {
    if (index + 1 >= arguments.size() || arguments[index + 1].rfind("--", 0) == 0)
      fail_usage("flag {} needs a value, e.g. {} VALUE or {}=VALUE (it sets {})", spelling, spelling, spelling,
                 flag->key);
    value = arguments[index + 1];
    used = 2;
  }
  set_value(config, flag->key, value, origin);
  if (!flag->also_sets.empty()) set_value(config, flag->also_sets, value, origin);
  return used;
}

}  // namespace

void apply_yaml_text(LlmConfig& config, std::string_view yaml, const Origin& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    fail_usage("{} is not valid YAML: line {}, column {}: {}", origin.to_string(), e.mark.line + 1,
               e.mark.column + 1, e.msg);
  }
  if (root.IsNull()) return;
  if (!root.IsMap())
    fail_usage("{} must be a YAML mapping of sections (base, model, export, quantization, backend, debug), e.g.\n"
               "quantization:\n  quantize_scope: linear",
               origin.to_string());
  walk_mapping(config, root, "", origin);
}

void apply_yaml_file(LlmConfig& config, const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read the configuration file {}: it does not exist or is not readable", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  apply_yaml_text(config, text.str(), Origin::file(path.string()));
}

void set_value(LlmConfig& config, std::string_view key, std::string_view text, const Origin& origin) {
  const KeyInfo* info = find_key(key);
  if (!info) fail_unknown_key(key, origin);
  const std::string where = detail::describe(key, origin);
  YAML::Node node;
  const bool optional_key = info->kind == ValueKind::OptionalString;
  if (info->kind == ValueKind::String || optional_key) {
    if (is_quoted(text))
      node = parse_yaml_value(text, where);
    else if (optional_key && is_yaml_null_word(text))
      node = YAML::Node(YAML::NodeType::Null);
    else
      node = YAML::Node(std::string(text));
  } else {
    node = parse_yaml_value(text, where);
  }
  assign_node(config, key, node, origin);
}

void apply_override(LlmConfig& config, std::string_view argument) {
  const std::size_t equals = argument.find('=');
  if (equals == std::string_view::npos) {
    if (find_key(argument))
      fail_usage("'{}' needs a value: write {}=VALUE", argument, argument);
    fail_usage("unexpected argument '{}': write settings as section.key=value (e.g. quantization.quantize_scope=linear) "
               "or use an export_llama flag such as --pt2e_quantize",
               argument);
  }
  const std::string_view key = argument.substr(0, equals);
  if (!key.empty() && (key.front() == '+' || key.front() == '~'))
    fail_usage("'{}': Hydra's +key / ~key forms are not needed here; every key always exists, so write {}=VALUE",
               argument, key.substr(1));
  if (key.empty()) fail_usage("'{}' has no key before '='; write section.key=value", argument);
  set_value(config, key, argument.substr(equals + 1), Origin::override_argument());
}

void apply_arguments(LlmConfig& config, const std::vector<std::string>& arguments) {
  std::size_t index = 0;
  while (index < arguments.size()) {
    const std::string& argument = arguments[index];
    if (argument.size() > 1 && argument.front() == '-') {
      index += apply_flag(config, arguments, index);
    } else {
      apply_override(config, argument);
      ++index;
    }
  }
}

LlmConfig load_config(const std::optional<std::filesystem::path>& file, const std::vector<std::string>& arguments) {
  LlmConfig config;
  if (file) apply_yaml_file(config, *file);
  apply_arguments(config, arguments);
  return config;
}

std::span<const LegacyFlag> legacy_flags() { return kLegacyFlags; }

}  // namespace l2n::config
