// How `config show` presents a resolved configuration.
//
// YAML: two documents. The first is the configuration, every key with its value and a
// comment saying where the value came from; it is valid input for --config. The second
// ("resolved:") is what export derives from it: backend, effective quantize scope,
// calibration, TOSA spec, compile spec, the Ethos-U hardware picked and the exact Vela
// arguments, plus warnings.
// JSON: {"config": {section: {key: {"value": …, "origin": …}}}, "resolved": {…}}, with the
// same content.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/resolve.h"

namespace l2n::config {

nlohmann::ordered_json config_to_json(const LlmConfig& config);
nlohmann::ordered_json resolved_to_json(const ResolvedConfig& resolved);

std::string render_yaml(const ResolvedConfig& resolved);
nlohmann::ordered_json render_json(const ResolvedConfig& resolved);

}  // namespace l2n::config
