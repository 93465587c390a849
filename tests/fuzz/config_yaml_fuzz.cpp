// Fuzzes the YAML configuration file (src/config/sources.cpp apply_yaml_text: yaml-cpp,
// sections, nested backends, dotted keys, every value kind, anchors/aliases, deep
// nesting) and, when it is accepted, resolve() (the rules between keys) and the compile
// spec and Vela arguments derived from it.
#include "fuzz_common.h"

#include "config/llm_config.h"
#include "config/resolve.h"
#include "config/sources.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    l2n::config::LlmConfig config;
    l2n::config::apply_yaml_text(config, l2n::fuzz::as_view(data, size), l2n::config::Origin::file("fuzz.yaml"));
    const l2n::config::ResolvedConfig resolved = l2n::config::resolve(std::move(config));
    (void)resolved.compile_spec_entries();
    (void)resolved.vela_arguments();
  } catch (const l2n::Error&) {
  }
  return 0;
}
