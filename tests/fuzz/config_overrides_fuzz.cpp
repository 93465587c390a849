// Fuzzes the command-line side of the configuration (src/config/sources.cpp): the input is
// split at newlines into arguments — dotted overrides (section.key=value, values parsed as
// YAML), legacy export_llama flags with and without values, list flags — applied in order
// by apply_arguments(), then resolve() when they are accepted.
#include <vector>

#include "fuzz_common.h"

#include "config/llm_config.h"
#include "config/resolve.h"
#include "config/sources.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> arguments;
  std::string_view rest = l2n::fuzz::as_view(data, size);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    arguments.emplace_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  try {
    l2n::config::LlmConfig config;
    l2n::config::apply_arguments(config, arguments);
    const l2n::config::ResolvedConfig resolved = l2n::config::resolve(std::move(config));
    (void)resolved.compile_spec_entries();
    (void)resolved.vela_arguments();
  } catch (const l2n::Error&) {
  }
  return 0;
}
