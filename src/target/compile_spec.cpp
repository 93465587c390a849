#include "target/compile_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "core/error.h"
#include "target/closest_name.h"

namespace l2n::target {

namespace {

constexpr std::string_view kArenaCacheSizeFlag = "--arena-cache-size";

std::vector<std::string_view> accelerator_names() {
  std::vector<std::string_view> names;
  for (const auto& config : accelerator_configs()) names.push_back(config.name);
  return names;
}

std::vector<std::string_view> system_config_names(std::optional<EthosUFamily> family = std::nullopt) {
  std::vector<std::string_view> names;
  for (const auto& config : system_configs())
    if (!family || config.family == *family) names.push_back(config.name);
  return names;
}

std::vector<std::string_view> memory_mode_names(std::optional<EthosUFamily> family = std::nullopt) {
  std::vector<std::string_view> names;
  for (const auto& mode : memory_modes())
    if (!family || mode.available_on(*family)) names.push_back(mode.name);
  return names;
}

bool has_whitespace(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

bool is_flag(std::string_view text) { return text.size() > 1 && text[0] == '-'; }

std::string_view flag_name(std::string_view flag) { return flag.substr(0, flag.find('=')); }

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

// The value given to --arena-cache-size, as "--arena-cache-size=N" or as two items.
std::optional<std::string_view> arena_cache_size_value(const std::vector<std::string>& flags) {
  std::optional<std::string_view> value;
  for (std::size_t i = 0; i < flags.size(); ++i) {
    const std::string_view flag = flags[i];
    if (flag_name(flag) != kArenaCacheSizeFlag) continue;
    if (flag.size() > kArenaCacheSizeFlag.size())
      value = flag.substr(kArenaCacheSizeFlag.size() + 1);
    else
      value = i + 1 < flags.size() ? std::string_view(flags[i + 1]) : std::string_view();
  }
  return value;
}

bool is_default(std::optional<std::string_view> value) { return !value || *value == "default"; }

}  // namespace

std::string_view output_format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::Tosa: return "tosa";
    case OutputFormat::Vela: return "vela";
    case OutputFormat::Vgf: return "vgf";
  }
  return "";
}

TosaCompileSpec TosaCompileSpec::create(std::string_view tosa_spec_text) {
  return TosaCompileSpec{TosaSpec::parse(tosa_spec_text)};
}

CompileSpecEntries TosaCompileSpec::entries() const {
  return {{"tosa_spec", tosa_spec.to_string()}, {"output_format", std::string(output_format_name(OutputFormat::Tosa))}};
}

const AcceleratorConfig& require_accelerator_config(std::string_view target) {
  if (const AcceleratorConfig* config = find_accelerator_config(target)) return *config;
  const auto names = accelerator_names();
  fail_usage("'{}' is not an Ethos-U target{}; choose one of {}", target, did_you_mean(target, names),
             join_names(names));
}

const SystemConfig& require_system_config(std::string_view name, const AcceleratorConfig& accelerator) {
  const auto family_names = system_config_names(accelerator.family);
  const SystemConfig* config = find_system_config(name);
  if (!config)
    fail_usage("'{}' is not a system config of Vela's {}{}; for {} choose one of {}, or 'default' ({})", name,
               "Arm/vela.ini", did_you_mean(name, system_config_names()), accelerator.name, join_names(family_names),
               default_system_config(accelerator.family));
  if (config->family != accelerator.family)
    fail_usage("system config '{}' describes an {} system, but the target {} is an {}; choose one of {}, or "
               "'default' ({})",
               name, family_name(config->family), accelerator.name, family_name(accelerator.family),
               join_names(family_names), default_system_config(accelerator.family));
  return *config;
}

const MemoryMode& require_memory_mode(std::string_view name, const AcceleratorConfig& accelerator) {
  const auto usable = memory_mode_names(accelerator.family);
  const MemoryMode* mode = find_memory_mode(name);
  if (!mode)
    fail_usage("'{}' is not a memory mode of Vela's Arm/vela.ini{}; for {} choose one of {}, or 'default' ({})", name,
               did_you_mean(name, memory_mode_names()), accelerator.name, join_names(usable),
               default_memory_mode(accelerator.family));
  if (!mode->available_on(accelerator.family))
    fail_usage("memory mode '{}' keeps the arena in external memory and uses SRAM as a dedicated NPU cache, which "
               "only Ethos-U65 and U85 have; the target {} is an {}, so choose one of {}, or 'default' ({})",
               name, accelerator.name, family_name(accelerator.family), join_names(usable),
               default_memory_mode(accelerator.family));
  return *mode;
}

void check_vela_extra_flags(const std::vector<std::string>& flags) {
  struct Managed {
    std::string_view flag;
    std::string_view instead;
  };
  static constexpr std::array<Managed, 6> kManaged = {{
      {"--accelerator-config", "choose the NPU with the Ethos-U target setting"},
      {"--system-config", "use the Ethos-U system_config setting"},
      {"--memory-mode", "use the Ethos-U memory_mode setting"},
      {"--config", "system configs and memory modes come from the vela.ini shipped with Vela, which llm2npu "
                   "checks names against"},
      {"--output-format", "the Ethos-U backend needs Vela's raw output"},
      {"--output-dir", "llm2npu chooses where Vela writes and reads the result back"},
  }};
  for (std::size_t i = 0; i < flags.size(); ++i) {
    const std::string_view flag = flags[i];
    if (flag.empty() || std::all_of(flag.begin(), flag.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
      fail_usage("extra Vela flag number {} is empty; remove it", i + 1);
    if (has_whitespace(flag))
      fail_usage("extra Vela flag '{}' contains whitespace, but the flags are joined with spaces and split again "
                 "before Vela reads them; write a flag and its value as one item joined by '=', e.g. "
                 "'--arena-cache-size=1048576'",
                 flag);
    const bool follows_bare_flag = i > 0 && is_flag(flags[i - 1]) && flags[i - 1].find('=') == std::string::npos;
    if (!is_flag(flag) && !follows_bare_flag)
      fail_usage("extra Vela flag '{}' is neither a flag (starting with '-') nor the value of the flag before it; "
                 "write flags like '--arena-cache-size=1048576'",
                 flag);
    if (!is_flag(flag)) continue;
    for (const Managed& managed : kManaged)
      if (flag_name(flag) == managed.flag)
        fail_usage("extra Vela flag '{}' repeats a flag llm2npu passes to Vela itself, and Vela would quietly use "
                   "llm2npu's (the later one); remove it: {}",
                   flag, managed.instead);
  }
  if (const auto size = arena_cache_size_value(flags); size && !parse_size(*size))
    fail_usage("extra Vela flag {} needs a positive whole number of bytes, got '{}'; e.g. "
               "'--arena-cache-size=1048576'",
               kArenaCacheSizeFlag, *size);
}

TosaSpec tosa_spec_for(const AcceleratorConfig& accelerator) {
  return TosaSpec::parse(accelerator.family == EthosUFamily::U85 ? "TOSA-1.0+INT+int16+int4+cf"
                                                                 : "TOSA-1.0+INT+int16+int4+u55");
}

EthosUCompileSpec EthosUCompileSpec::create(std::string_view target, std::optional<std::string_view> system_config,
                                            std::optional<std::string_view> memory_mode,
                                            std::vector<std::string> extra_flags) {
  EthosUCompileSpec spec;
  spec.accelerator = &require_accelerator_config(target);
  const EthosUFamily family = spec.accelerator->family;
  spec.system_config = &require_system_config(
      is_default(system_config) ? default_system_config(family) : *system_config, *spec.accelerator);
  spec.memory_mode =
      &require_memory_mode(is_default(memory_mode) ? default_memory_mode(family) : *memory_mode, *spec.accelerator);
  check_vela_extra_flags(extra_flags);
  spec.extra_flags = std::move(extra_flags);
  spec.tosa_spec = tosa_spec_for(*spec.accelerator);
  return spec;
}

std::vector<std::string> EthosUCompileSpec::vela_arguments() const {
  std::vector<std::string> arguments = extra_flags;
  arguments.push_back(fmt::format("--accelerator-config={}", accelerator->name));
  arguments.push_back(fmt::format("--config={}", config_ini));
  arguments.push_back("--output-format=raw");
  arguments.push_back(fmt::format("--system-config={}", system_config->name));
  arguments.push_back(fmt::format("--memory-mode={}", memory_mode->name));
  return arguments;
}

uint64_t EthosUCompileSpec::effective_arena_cache_size() const {
  if (const auto value = arena_cache_size_value(extra_flags))
    if (const auto size = parse_size(*value)) return *size;
  return arena_cache_size(*memory_mode, accelerator->family);
}

CompileSpecEntries EthosUCompileSpec::entries() const {
  std::string flags;
  for (const std::string& argument : vela_arguments()) flags += (flags.empty() ? "" : " ") + argument;
  return {{"tosa_spec", tosa_spec.to_string()},
          {"compile_flags", flags},
          {"output_format", std::string(output_format_name(OutputFormat::Vela))},
          {"target", std::string(accelerator->name)}};
}

VgfCompileSpec VgfCompileSpec::create(std::optional<std::string_view> tosa_spec_text,
                                      std::vector<std::string> compiler_flags) {
  VgfCompileSpec spec{TosaSpec::parse(tosa_spec_text.value_or(kDefaultTosaSpec)), {}};
  if (spec.tosa_spec.version().major != 1)
    fail_usage("VGF conversion needs a TOSA 1.x specification, got '{}'", spec.tosa_spec.to_string());
  for (std::string& flag : compiler_flags)
    if (!std::all_of(flag.begin(), flag.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
      spec.compiler_flags.push_back(std::move(flag));
  return spec;
}

std::vector<std::string> VgfCompileSpec::converter_arguments(std::string_view input_tosa,
                                                             std::string_view output_vgf) const {
  std::vector<std::string> arguments = compiler_flags;
  arguments.insert(arguments.end(), {"-i", std::string(input_tosa), "-o", std::string(output_vgf)});
  return arguments;
}

CompileSpecEntries VgfCompileSpec::entries() const {
  CompileSpecEntries entries = {{"tosa_spec", tosa_spec.to_string()}};
  std::string flags;
  for (const std::string& flag : compiler_flags) flags += (flags.empty() ? "" : " ") + flag;
  if (!flags.empty()) entries.emplace_back("compile_flags", flags);
  entries.emplace_back("output_format", std::string(output_format_name(OutputFormat::Vgf)));
  return entries;
}

}  // namespace l2n::target
