// llm2npu config show: the export configuration exactly as export will see it — every key
// with its value and origin, then the backend, TOSA spec, compile spec and Vela arguments
// derived from it. It takes export's configuration arguments: --config FILE, dotted
// overrides and the legacy export_llama flags, in any order.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "config/render.h"
#include "config/resolve.h"
#include "config/sources.h"
#include "core/json_text.h"

namespace l2n::cli {
namespace {

struct ShowArgs {
  std::string config_file;
  bool json = false;
};

constexpr const char* kShowFooter =
    "\nSettings, lowest precedence first: the defaults, --config FILE, then the arguments in the order given:\n"
    "  section.key=value        e.g. quantization.quantize_scope=linear\n"
    "                                backend.ethosu.extra_flags='[\"--arena-cache-size=1048576\"]'\n"
    "  export_llama flags       e.g. --pt2e_quantize ethosu_16a8w --max_seq_length 64 -kv --vgf\n"
    "Every key, its default, its allowed values and the rules between keys: docs/configuration.md";

void run_show(const ShowArgs& args, const std::vector<std::string>& settings) {
  std::optional<std::filesystem::path> file;
  if (!args.config_file.empty()) file = args.config_file;
  const config::ResolvedConfig resolved = config::resolve(config::load_config(file, settings));
  if (args.json) {
    fmt::print("{}\n", json_text(config::render_json(resolved)));
    return;
  }
  fmt::print("{}", config::render_yaml(resolved));
  for (const std::string& warning : resolved.warnings) fmt::print(stderr, "warning: {}\n", warning);
}

}  // namespace

void register_config(CLI::App& app) {
  auto* config = app.add_subcommand("config", "Inspect the export configuration (docs/configuration.md)");
  config->require_subcommand(1);
  auto args = std::make_shared<ShowArgs>();
  auto* show = config->add_subcommand(
      "show", "Print the fully resolved export configuration with the origin of every value, the compile spec "
              "and the Vela arguments export will use");
  show->add_option("--config", args->config_file, "YAML configuration file")->check(CLI::ExistingFile);
  show->add_flag("--json", args->json, "Print one JSON document instead of YAML");
  // Overrides and export_llama flags (which CLI11 cannot know, e.g. --pt2e_quantize) stay in
  // CLI11's extras, in command-line order, and the config stage parses them.
  show->allow_extras();
  show->footer(kShowFooter);
  show->callback([show, args] { run_show(*args, show->remaining()); });
}

}  // namespace l2n::cli
