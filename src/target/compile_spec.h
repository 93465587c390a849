// Compile specs: everything a backend needs to know to compile a delegated TOSA graph, as
// ExecuTorch's Arm backends define them (TosaCompileSpec, EthosUCompileSpec,
// VgfCompileSpec).
//
// Contract: each create() validates its inputs completely and throws l2n::Error(Usage)
// that says what is wrong with the value and how to fix it; the messages name the concept
// ("Ethos-U target", "memory mode"), not a configuration key — the config stage adds the
// key and where the value came from. A created spec is always valid.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "target/ethosu_hardware.h"
#include "target/tosa_spec.h"

namespace l2n::target {

enum class OutputFormat { Tosa, Vela, Vgf };
std::string_view output_format_name(OutputFormat format);  // "tosa", "vela", "vgf"

// (key, value) pairs in the order ExecuTorch serialises a compile spec list.
using CompileSpecEntries = std::vector<std::pair<std::string, std::string>>;

// Generic TOSA: the delegate is the TOSA flatbuffer itself.
struct TosaCompileSpec {
  TosaSpec tosa_spec;

  static TosaCompileSpec create(std::string_view tosa_spec_text);
  CompileSpecEntries entries() const;
};

// The Ethos-U validation pieces, usable one by one so a caller can attach each error to
// the option it came from. "default" is not accepted here; resolve it with
// default_system_config() / default_memory_mode() first.
const AcceleratorConfig& require_accelerator_config(std::string_view target);
const SystemConfig& require_system_config(std::string_view name, const AcceleratorConfig& accelerator);
const MemoryMode& require_memory_mode(std::string_view name, const AcceleratorConfig& accelerator);
// Extra Vela flags are joined with spaces and split again before Vela sees them, so a flag
// must not contain whitespace; flags this spec sets itself (or that Vela's invocation sets)
// are refused because Vela would silently take whichever came last.
void check_vela_extra_flags(const std::vector<std::string>& flags);

// The TOSA spec ExecuTorch lowers to for an Ethos-U target: integer-only with int16 and int4;
// U55 and U65 add the u55 subset (U65 shares the U55's operator restrictions), U85 adds cf.
TosaSpec tosa_spec_for(const AcceleratorConfig& accelerator);

struct EthosUCompileSpec {
  const AcceleratorConfig* accelerator = nullptr;
  const SystemConfig* system_config = nullptr;
  const MemoryMode* memory_mode = nullptr;
  std::vector<std::string> extra_flags;       // the user's, in the user's order
  std::string config_ini = "Arm/vela.ini";    // the vela.ini shipped with Vela
  TosaSpec tosa_spec;

  // system_config / memory_mode: nullopt or "default" pick the family default.
  static EthosUCompileSpec create(std::string_view target, std::optional<std::string_view> system_config,
                                  std::optional<std::string_view> memory_mode,
                                  std::vector<std::string> extra_flags = {});

  // Exactly what ExecuTorch hands Vela: the extra flags, then --accelerator-config,
  // --config, --output-format=raw, --system-config, --memory-mode. (The output directory and
  // the input .tosa file are appended when Vela actually runs.)
  std::vector<std::string> vela_arguments() const;

  // --arena-cache-size from the extra flags if given, else the memory mode's, else the
  // family's largest address.
  uint64_t effective_arena_cache_size() const;

  CompileSpecEntries entries() const;
};

// VGF: the TOSA graph is converted by model-converter into a Vulkan graph file.
struct VgfCompileSpec {
  TosaSpec tosa_spec;
  std::vector<std::string> compiler_flags;  // blank flags removed

  // The spec VGF uses when none is given.
  static constexpr std::string_view kDefaultTosaSpec = "TOSA-1.0+FP+INT+int4+int16";

  static VgfCompileSpec create(std::optional<std::string_view> tosa_spec_text,
                               std::vector<std::string> compiler_flags = {});

  // model-converter's arguments: the compiler flags, then -i INPUT -o OUTPUT.
  std::vector<std::string> converter_arguments(std::string_view input_tosa, std::string_view output_vgf) const;

  CompileSpecEntries entries() const;
};

}  // namespace l2n::target
