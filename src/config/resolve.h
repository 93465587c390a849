// resolve(): the one place where settings meet. It applies every rule between keys —
// ExecuTorch's own (KV-cache, static KV cache, context vs sequence length, mode vs backend,
// scope, TOSA specs, Ethos-U targets, VGF int16, extra flags) and llm2npu's stricter ones
// (exactly one backend, no silent scope precedence, no integer-only backend without
// quantization, no settings that would be silently ignored by calibration) — and derives
// what export needs: the backend, the effective quantize scope, the TOSA spec and the
// compile spec, including the exact Vela arguments.
//
// Contract: resolve() either returns a ResolvedConfig that export can use as is, or throws
// one l2n::Error(Usage) listing every problem found, each naming its key(s), the value's
// origin, and how to fix it. Settings that are legal but have no effect, or are known to
// work poorly, become warnings instead.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/llm_config.h"
#include "target/compile_spec.h"
#include "target/tosa_spec.h"

namespace l2n::config {

struct ResolvedConfig {
  LlmConfig config;
  ArmBackend backend = ArmBackend::EthosU;
  QuantizeScope quantize_scope = QuantizeScope::Full;  // the scope every backend uses
  std::string quantize_scope_key;                      // the key that decided it
  // True when calibration runs the model on real text (calibration_data, then the tasks and
  // files); false means a single pass over example inputs, or nothing to calibrate.
  bool calibrates = false;
  target::TosaSpec tosa_spec;  // what the delegated graphs are lowered to
  std::optional<target::TosaCompileSpec> tosa;
  std::optional<target::EthosUCompileSpec> ethosu;
  std::optional<target::VgfCompileSpec> vgf;
  std::vector<std::string> warnings;

  target::CompileSpecEntries compile_spec_entries() const;
  // The Vela argument list for Ethos-U; empty for the other backends.
  std::vector<std::string> vela_arguments() const;
};

ResolvedConfig resolve(LlmConfig config);

}  // namespace l2n::config
