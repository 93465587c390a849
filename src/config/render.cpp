#include "config/render.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <vector>

#include "config/key_bindings.h"
#include "core/json_text.h"

namespace l2n::config {

namespace {

using json = nlohmann::ordered_json;

std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

std::string yaml_string(const std::string& text) {
  YAML::Emitter emitter;
  emitter << text;
  return emitter.c_str();
}

std::string yaml_scalar(const json& value) {
  if (value.is_string()) return yaml_string(value.get<std::string>());
  return json_text(value);  // null, booleans and numbers print the same in YAML
}

// Lists inside the configuration print in flow style with quoted items, the way they are
// written on the command line: ["--arena-cache-size=1048576"].
std::string yaml_flow_list(const json& list) {
  std::string text = "[";
  for (const json& item : list) {
    if (text.size() > 1) text += ", ";
    text += item.is_string() ? json_text(json(item.get<std::string>())) : yaml_scalar(item);
  }
  return text + "]";
}

void append_block(std::string& out, const json& value, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (value.is_object()) {
    for (const auto& [name, item] : value.items()) {
      if ((item.is_object() && !item.empty()) || (item.is_array() && !item.empty())) {
        out += fmt::format("{}{}:\n", pad, name);
        append_block(out, item, indent + 2);
      } else {
        out += fmt::format("{}{}: {}\n", pad, name, item.is_array() ? "[]" : item.is_object() ? "{}" : yaml_scalar(item));
      }
    }
  } else if (value.is_array()) {
    for (const json& item : value) {
      if (item.is_object() || item.is_array()) {
        out += fmt::format("{}-\n", pad);
        append_block(out, item, indent + 2);
      } else {
        out += fmt::format("{}- {}\n", pad, yaml_scalar(item));
      }
    }
  }
}

std::string memory_description(const target::SystemConfig& system, target::AxiPort port) {
  return fmt::format("{} {}, {:.2f} GB/s peak", target::axi_port_name(port),
                     target::memory_type_name(system.port(port).memory),
                     target::peak_bandwidth_bytes_per_second(system, port) / 1e9);
}

json ethosu_to_json(const target::EthosUCompileSpec& spec, const LlmConfig& config) {
  const target::AcceleratorConfig& accelerator = *spec.accelerator;
  const target::SystemConfig& system = *spec.system_config;
  const target::MemoryMode& mode = *spec.memory_mode;
  const auto how_chosen = [&](std::string_view key) {
    const auto* binding = detail::find_binding(key);
    return binding->read(config) == "default"
               ? fmt::format("default for {}", target::family_name(accelerator.family))
               : std::string("as configured");
  };
  return {
      {"target", accelerator.name},
      {"family", target::family_name(accelerator.family)},
      {"int8_macs_per_cycle", accelerator.int8_macs_per_cycle},
      {"int16_macs_per_cycle", accelerator.int16_macs_per_cycle()},
      {"system_config", system.name},
      {"system_config_chosen", how_chosen("backend.ethosu.system_config")},
      {"core_clock_hz", system.core_clock_hz},
      {"axi0", memory_description(system, target::AxiPort::Axi0)},
      {"axi1", memory_description(system, target::AxiPort::Axi1)},
      {"memory_mode", mode.name},
      {"memory_mode_chosen", how_chosen("backend.ethosu.memory_mode")},
      {"weights_in", target::memory_type_name(system.port(mode.const_area).memory)},
      {"arena_in", target::memory_type_name(system.port(mode.arena_area).memory)},
      {"arena_cache_size", spec.effective_arena_cache_size()},
  };
}

json calibration_to_json(const ResolvedConfig& resolved) {
  const QuantizationOptions& q = resolved.config.quantization;
  const bool anything = q.pt2e_quantize || resolved.config.model.static_quantize_kv_cache;
  if (!anything) return {{"runs", "no (nothing is quantized)"}};
  if (!resolved.calibrates) return {{"runs", "one pass over example inputs (calibration_seq_length is not set)"}};
  json sources = json::array({"calibration_data"});
  if (q.calibration_tasks)
    for (const std::string& task : *q.calibration_tasks) sources.push_back(task);
  for (const std::string& file : q.calibration_files) sources.push_back(file);
  return {{"runs", "on text"},
          {"seq_length", *q.calibration_seq_length},
          {"sources", sources},
          {"limit", q.calibration_limit ? json(*q.calibration_limit) : json(nullptr)}};
}

}  // namespace

json config_to_json(const LlmConfig& config) {
  json document = json::object();
  for (const KeyInfo& info : config_keys()) {
    json* node = &document;
    for (const std::string& part : split_key(info.key)) node = &(*node)[part];
    *node = {{"value", detail::find_binding(info.key)->read(config)},
             {"origin", config.origin_of(info.key).to_string()}};
  }
  return document;
}

json resolved_to_json(const ResolvedConfig& resolved) {
  const std::optional<QuantMode> mode = resolved.config.quantization.pt2e_quantize;
  json quantization = {
      {"mode", mode ? json(quant_mode_name(*mode)) : json(nullptr)},
      {"activations", !mode ? "float" : has_int16_activations(*mode) ? "int16" : "int8"},
      {"weights", mode ? "int8" : "float"},
      {"scope", scope_name(resolved.quantize_scope)},
      {"scope_from", resolved.quantize_scope_key},
      {"calibration", calibration_to_json(resolved)},
  };
  json document = {
      {"backend", backend_name(resolved.backend)},
      {"quantization", quantization},
      {"tosa_spec", resolved.tosa_spec.to_string()},
  };
  if (resolved.ethosu) document["ethosu"] = ethosu_to_json(*resolved.ethosu, resolved.config);
  json compile_spec = json::object();
  for (const auto& [key, value] : resolved.compile_spec_entries()) compile_spec[key] = value;
  document["compile_spec"] = compile_spec;
  if (resolved.ethosu) document["vela_arguments"] = resolved.vela_arguments();
  if (resolved.vgf) document["model_converter_arguments"] = resolved.vgf->converter_arguments("out.tosa", "out.tosa.vgf");
  document["warnings"] = resolved.warnings;
  return document;
}

std::string render_yaml(const ResolvedConfig& resolved) {
  struct Line {
    std::string text;
    std::string comment;
  };
  std::vector<Line> lines;
  std::vector<std::string> open_sections;
  for (const KeyInfo& info : config_keys()) {
    const std::vector<std::string> parts = split_key(info.key);
    std::size_t shared = 0;
    while (shared < open_sections.size() && shared + 1 < parts.size() && open_sections[shared] == parts[shared])
      ++shared;
    open_sections.resize(shared);
    for (std::size_t depth = shared; depth + 1 < parts.size(); ++depth) {
      lines.push_back({fmt::format("{}{}:", std::string(2 * depth, ' '), parts[depth]), ""});
      open_sections.push_back(parts[depth]);
    }
    const json value = detail::find_binding(info.key)->read(resolved.config);
    const std::string shown = value.is_array() ? yaml_flow_list(value) : yaml_scalar(value);
    lines.push_back({fmt::format("{}{}: {}", std::string(2 * (parts.size() - 1), ' '), parts.back(), shown),
                     resolved.config.origin_of(info.key).to_string()});
  }
  std::size_t width = 0;
  for (const Line& line : lines)
    if (!line.comment.empty()) width = std::max(width, line.text.size());

  std::string out =
      "# llm2npu export configuration, fully resolved. The comment after each value says where it came\n"
      "# from: default, file:PATH, override (section.key=value) or flag:--name. This document is valid\n"
      "# input for --config.\n";
  for (const Line& line : lines) {
    out += line.text;
    if (!line.comment.empty()) out += fmt::format("{}  # {}", std::string(width - line.text.size(), ' '), line.comment);
    out += "\n";
  }
  out += "---\n# What export derives from it.\nresolved:\n";
  append_block(out, resolved_to_json(resolved), 2);
  return out;
}

json render_json(const ResolvedConfig& resolved) {
  return {{"config", config_to_json(resolved.config)}, {"resolved", resolved_to_json(resolved)}};
}

}  // namespace l2n::config
