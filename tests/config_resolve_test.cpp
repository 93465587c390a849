// Valid configurations: defaults, resolution of "default" per NPU family, origins,
// precedence (file < overrides and flags in command-line order), the legacy flags, the
// resolved compile specs and Vela arguments, and what `config show` prints.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/render.h"
#include "config/resolve.h"
#include "config/sources.h"
#include "core/error.h"
#include "scratch_dir.h"

namespace {

using namespace l2n::config;
using json = nlohmann::ordered_json;

const std::vector<std::string> kAcceptanceArguments = {
    "backend.ethosu.enabled=true",
    "quantization.pt2e_quantize=ethosu_16a8w",
    "quantization.quantize_scope=linear",
    "backend.ethosu.target=ethos-u85-256",
    "backend.ethosu.system_config=Ethos_U85_SYS_DRAM_High",
    "backend.ethosu.memory_mode=Dedicated_Sram_512KB"};

const std::vector<std::string> kEthosU = {"backend.ethosu.enabled=true", "quantization.pt2e_quantize=ethosu_8a8w"};

std::vector<std::string> plus(std::vector<std::string> base, const std::vector<std::string>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

ResolvedConfig resolve_arguments(const std::vector<std::string>& arguments) {
  return resolve(load_config(std::nullopt, arguments));
}

LlmConfig from_yaml(const std::string& yaml, const std::vector<std::string>& arguments = {}) {
  LlmConfig config;
  apply_yaml_text(config, yaml, Origin::file("run.yaml"));
  apply_arguments(config, arguments);
  return config;
}

json value_of(const LlmConfig& config, std::string_view key) {
  std::string pointer = fmt::format("/{}/value", key);
  std::replace(pointer.begin(), pointer.end(), '.', '/');
  return config_to_json(config).at(json::json_pointer(pointer));
}

std::string origin_of(const LlmConfig& config, std::string_view key) { return config.origin_of(key).to_string(); }

TEST(ConfigKeys, DocumentedDefaultsAreTheRealDefaults) {
  const LlmConfig defaults;
  ASSERT_EQ(config_keys().size(), 33u);
  for (const KeyInfo& info : config_keys()) {
    SCOPED_TRACE(std::string(info.key));
    LlmConfig parsed;
    set_value(parsed, info.key, info.default_text, Origin::override_argument());
    EXPECT_EQ(value_of(parsed, info.key), value_of(defaults, info.key));
    EXPECT_EQ(origin_of(defaults, info.key), "default");
  }
}

TEST(ConfigKeys, EthosUChoicesComeFromTheHardwareTables) {
  EXPECT_EQ(find_key("backend.ethosu.target")->allowed.size(), 11u);
  EXPECT_EQ(find_key("backend.ethosu.system_config")->allowed.size(), 12u);  // with "default"
  EXPECT_EQ(find_key("backend.ethosu.memory_mode")->allowed.size(), 7u);
  EXPECT_EQ(find_key("backend.ethosu.memory_mode")->allowed.front(), "default");
}

TEST(ConfigKeys, UpstreamDefaults) {
  const LlmConfig c;
  EXPECT_EQ(c.backend.ethosu.target, "ethos-u85-128");
  EXPECT_EQ(c.backend.ethosu.system_config, "default");
  EXPECT_EQ(c.backend.ethosu.memory_mode, "default");
  EXPECT_EQ(c.backend.tosa.version, "TOSA-1.0+INT");
  EXPECT_EQ(c.backend.vgf.compile_spec, "TOSA-1.0+INT");
  EXPECT_EQ(c.quantization.quantize_scope, QuantizeScope::Full);
  EXPECT_EQ(c.quantization.calibration_data, "Once upon a time");
  EXPECT_EQ(c.export_.max_seq_length, 128);
  EXPECT_EQ(c.export_.max_context_length, 128);
  EXPECT_DOUBLE_EQ(c.model.static_quantize_kv_cache_scale, 1.0 / 127.0);
  EXPECT_FALSE(c.model.enable_dynamic_shape);  // llm2npu's default; upstream's is true
}

TEST(ResolveEthosU, DefaultSystemConfigAndMemoryModePerFamily) {
  const auto u85 = resolve_arguments(plus(kEthosU, {"backend.ethosu.target=ethos-u85-256"}));
  ASSERT_TRUE(u85.ethosu);
  EXPECT_EQ(u85.ethosu->system_config->name, "Ethos_U85_SYS_DRAM_Mid");
  EXPECT_EQ(u85.ethosu->memory_mode->name, "Sram_Only");
  const auto explicit_default = resolve_arguments(plus(
      kEthosU, {"backend.ethosu.target=ethos-u85-256", "backend.ethosu.system_config=default",
                "backend.ethosu.memory_mode=default"}));
  EXPECT_EQ(explicit_default.ethosu->system_config->name, "Ethos_U85_SYS_DRAM_Mid");
  EXPECT_EQ(explicit_default.ethosu->memory_mode->name, "Sram_Only");
  const auto u55 = resolve_arguments(plus(kEthosU, {"backend.ethosu.target=ethos-u55-128"}));
  EXPECT_EQ(u55.ethosu->system_config->name, "Ethos_U55_High_End_Embedded");
  EXPECT_EQ(u55.ethosu->memory_mode->name, "Shared_Sram");
  EXPECT_EQ(u55.tosa_spec.to_string(), "TOSA-1.0+INT+int16+int4+u55");
  const auto u65 = resolve_arguments(plus(kEthosU, {"backend.ethosu.target=ethos-u65-256"}));
  EXPECT_EQ(u65.ethosu->system_config->name, "Ethos_U65_High_End");
  EXPECT_EQ(u65.ethosu->memory_mode->name, "Dedicated_Sram_384KB");
  EXPECT_EQ(u65.tosa_spec.to_string(), "TOSA-1.0+INT+int16+int4+u55");
  const auto plain = resolve_arguments(kEthosU);
  EXPECT_EQ(plain.ethosu->accelerator->name, "ethos-u85-128");
  EXPECT_EQ(plain.tosa_spec.to_string(), "TOSA-1.0+INT+int16+int4+cf");
}

TEST(ResolveEthosU, AcceptanceExampleVelaArguments) {
  const auto resolved = resolve_arguments(kAcceptanceArguments);
  EXPECT_EQ(resolved.backend, ArmBackend::EthosU);
  EXPECT_EQ(resolved.quantize_scope, QuantizeScope::Linear);
  EXPECT_EQ(resolved.vela_arguments(),
            (std::vector<std::string>{"--accelerator-config=ethos-u85-256", "--config=Arm/vela.ini",
                                      "--output-format=raw", "--system-config=Ethos_U85_SYS_DRAM_High",
                                      "--memory-mode=Dedicated_Sram_512KB"}));
  EXPECT_EQ(resolved.tosa_spec.to_string(), "TOSA-1.0+INT+int16+int4+cf");
  EXPECT_EQ(resolved.ethosu->effective_arena_cache_size(), 524288u);
  const auto entries = resolved.compile_spec_entries();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[3].second, "ethos-u85-256");
}

TEST(ResolveEthosU, ExtraFlagsFromAHydraStyleListComeFirst) {
  const auto resolved = resolve_arguments(
      plus(kEthosU, {R"(backend.ethosu.extra_flags=["--arena-cache-size=1048576", "--verbose-performance"])"}));
  const auto arguments = resolved.vela_arguments();
  ASSERT_EQ(arguments.size(), 7u);
  EXPECT_EQ(arguments[0], "--arena-cache-size=1048576");
  EXPECT_EQ(arguments[1], "--verbose-performance");
  EXPECT_EQ(arguments[2], "--accelerator-config=ethos-u85-128");
  EXPECT_EQ(resolved.ethosu->effective_arena_cache_size(), 1048576u);
  // A bare flag is a one-item list.
  EXPECT_EQ(resolve_arguments(plus(kEthosU, {"backend.ethosu.extra_flags=--verbose-all"})).vela_arguments()[0],
            "--verbose-all");
}

TEST(ResolveOtherBackends, Tosa) {
  const auto resolved = resolve_arguments({"backend.tosa.enabled=true", "--pt2e_quantize", "tosa_8a8w"});
  EXPECT_EQ(resolved.backend, ArmBackend::Tosa);
  ASSERT_TRUE(resolved.tosa);
  EXPECT_EQ(resolved.tosa_spec.to_string(), "TOSA-1.0+INT");
  EXPECT_TRUE(resolved.vela_arguments().empty());
  const auto floating = resolve_arguments({"backend.tosa.enabled=true", "backend.tosa.version=TOSA-1.0+FP"});
  EXPECT_FALSE(floating.config.quantization.pt2e_quantize.has_value());
  EXPECT_EQ(floating.compile_spec_entries().front().second, "TOSA-1.0+FP");
}

TEST(ResolveOtherBackends, VgfWithLegacyFlags) {
  const auto resolved = resolve_arguments({"--vgf", "--vgf-compile-spec", "TOSA-1.0+FP+INT+int16", "--pt2e_quantize",
                                           "vgf_16a8w", "--vgf-quantize-scope", "linear"});
  EXPECT_EQ(resolved.backend, ArmBackend::Vgf);
  ASSERT_TRUE(resolved.vgf);
  EXPECT_EQ(resolved.tosa_spec.to_string(), "TOSA-1.0+FP+INT+int16");
  EXPECT_EQ(resolved.quantize_scope, QuantizeScope::Linear);
  // ExecuTorch's coupling: the VGF flag also sets the shared scope.
  EXPECT_EQ(origin_of(resolved.config, "quantization.quantize_scope"), "flag:--vgf-quantize-scope");
  EXPECT_EQ(origin_of(resolved.config, "backend.vgf.quantize_scope"), "flag:--vgf-quantize-scope");
}

TEST(ResolveOtherBackends, VgfNullSpecMeansVgfsOwnDefault) {
  const auto resolved = resolve_arguments({"backend.vgf.enabled=true", "backend.vgf.compile_spec=null",
                                           "quantization.pt2e_quantize=vgf_16a8w"});
  EXPECT_EQ(resolved.tosa_spec.to_string(), "TOSA-1.0+FP+INT+int4+int16");
}

TEST(ResolveOtherBackends, VgfScopeAloneDecidesForVgf) {
  const auto resolved = resolve_arguments({"backend.vgf.enabled=true", "backend.vgf.quantize_scope=linear",
                                           "quantization.pt2e_quantize=vgf_8a8w"});
  EXPECT_EQ(resolved.quantize_scope, QuantizeScope::Linear);
  EXPECT_EQ(resolved.quantize_scope_key, "backend.vgf.quantize_scope");
  const auto agree = resolve_arguments({"backend.vgf.enabled=true", "backend.vgf.quantize_scope=linear",
                                        "quantization.quantize_scope=linear", "quantization.pt2e_quantize=vgf_8a8w"});
  EXPECT_EQ(agree.quantize_scope_key, "quantization.quantize_scope");
}

TEST(Origins, EachSourceIsRecorded) {
  const l2n::testing::ScratchDir dir("l2n_config_origins");
  const std::filesystem::path file =
      dir.write("origins.yaml", "backend:\n  ethosu:\n    enabled: true\n    target: ethos-u55-64\n");
  const LlmConfig config = load_config(file, {"quantization.pt2e_quantize=ethosu_8a8w", "--max_seq_length=32"});
  EXPECT_EQ(origin_of(config, "backend.ethosu.enabled"), "file:" + file.string());
  EXPECT_EQ(origin_of(config, "backend.ethosu.target"), "file:" + file.string());
  EXPECT_EQ(origin_of(config, "quantization.pt2e_quantize"), "override");
  EXPECT_EQ(origin_of(config, "export.max_seq_length"), "flag:--max_seq_length");
  EXPECT_EQ(origin_of(config, "export.max_context_length"), "default");
  EXPECT_TRUE(config.is_set("backend.ethosu.target"));
  EXPECT_FALSE(config.is_set("backend.ethosu.memory_mode"));
  std::filesystem::remove(file);
}

TEST(Precedence, FileThenArgumentsInOrder) {
  const std::string yaml = "quantization:\n  quantize_scope: linear\n  calibration_limit: 5\n";
  const LlmConfig file_only = from_yaml(yaml);
  EXPECT_EQ(file_only.quantization.quantize_scope, QuantizeScope::Linear);

  const LlmConfig overridden = from_yaml(yaml, {"quantization.quantize_scope=full"});
  EXPECT_EQ(overridden.quantization.quantize_scope, QuantizeScope::Full);
  EXPECT_EQ(origin_of(overridden, "quantization.quantize_scope"), "override");
  EXPECT_EQ(overridden.quantization.calibration_limit, 5);
  EXPECT_EQ(origin_of(overridden, "quantization.calibration_limit"), "file:run.yaml");

  const LlmConfig flag_last = from_yaml(yaml, {"quantization.calibration_limit=7", "--calibration_limit", "9"});
  EXPECT_EQ(flag_last.quantization.calibration_limit, 9);
  EXPECT_EQ(origin_of(flag_last, "quantization.calibration_limit"), "flag:--calibration_limit");

  const LlmConfig override_last = from_yaml(yaml, {"--calibration_limit", "9", "quantization.calibration_limit=7"});
  EXPECT_EQ(override_last.quantization.calibration_limit, 7);
  EXPECT_EQ(origin_of(override_last, "quantization.calibration_limit"), "override");

  const LlmConfig unset = from_yaml(yaml, {"quantization.calibration_limit=null"});
  EXPECT_FALSE(unset.quantization.calibration_limit.has_value());
}

TEST(LegacyFlags, MapToTheirKeys) {
  const LlmConfig c = load_config(
      std::nullopt, {"--checkpoint", "/models/smollm2", "--tokenizer_path=/models/tok.json", "-kv",
                     "--disable_dynamic_shape", "-d", "fp16", "--max_seq_length", "64", "--max_context_length=64",
                     "-o", "out", "--output_name", "smollm2.pte", "--pt2e_quantize", "ethosu_16a8w",
                     "--quantize_scope", "linear", "--calibration_tasks", "wikitext", "wikitext",
                     "backend.ethosu.enabled=true", "--calibration_limit", "1", "--calibration_seq_length", "64",
                     "--calibration_data", "Hello: world", "-v", "--generate_full_logits"});
  EXPECT_EQ(c.base.checkpoint, "/models/smollm2");
  EXPECT_EQ(c.base.tokenizer_path, "/models/tok.json");
  EXPECT_TRUE(c.model.use_kv_cache);
  EXPECT_FALSE(c.model.enable_dynamic_shape);
  EXPECT_EQ(c.model.dtype_override, DTypeOverride::Fp16);
  EXPECT_EQ(c.export_.max_seq_length, 64);
  EXPECT_EQ(c.export_.max_context_length, 64);
  EXPECT_EQ(c.export_.output_dir, "out");
  EXPECT_EQ(c.export_.output_name, "smollm2.pte");
  EXPECT_EQ(c.quantization.pt2e_quantize, QuantMode::EthosU16a8w);
  EXPECT_EQ(c.quantization.quantize_scope, QuantizeScope::Linear);
  EXPECT_EQ(c.quantization.calibration_tasks, (std::vector<std::string>{"wikitext", "wikitext"}));
  EXPECT_TRUE(c.backend.ethosu.enabled);  // the list stopped at the override
  EXPECT_EQ(c.quantization.calibration_limit, 1);
  EXPECT_EQ(c.quantization.calibration_seq_length, 64);
  EXPECT_EQ(c.quantization.calibration_data, "Hello: world");  // string keys take the text as is
  EXPECT_TRUE(c.debug.verbose);
  EXPECT_TRUE(c.debug.generate_full_logits);
  EXPECT_EQ(origin_of(c, "model.use_kv_cache"), "flag:-kv");
  const auto resolved = resolve(c);
  EXPECT_TRUE(resolved.calibrates);
  EXPECT_TRUE(resolved.warnings.empty()) << resolved.warnings.front();
}

TEST(LegacyFlags, EveryFlagNamesARealKey) {
  for (const LegacyFlag& flag : legacy_flags()) {
    EXPECT_NE(find_key(flag.key), nullptr) << flag.spelling;
    if (!flag.also_sets.empty()) {
      EXPECT_NE(find_key(flag.also_sets), nullptr) << flag.spelling;
    }
  }
}

TEST(ValueSyntax, YamlScalarsListsAndQuoting) {
  const LlmConfig c = load_config(
      std::nullopt, {"model.use_kv_cache=True", "debug.verbose=yes", "model.static_quantize_kv_cache_scale=0.02",
                     "quantization.calibration_files=[a.txt, 'b c.txt']", "quantization.calibration_data=' padded'",
                     "base.model_class=smollm2", "export.output_name=~"});
  EXPECT_TRUE(c.model.use_kv_cache);
  EXPECT_TRUE(c.debug.verbose);
  EXPECT_DOUBLE_EQ(c.model.static_quantize_kv_cache_scale, 0.02);
  EXPECT_EQ(c.quantization.calibration_files, (std::vector<std::string>{"a.txt", "b c.txt"}));
  EXPECT_EQ(c.quantization.calibration_data, " padded");
  EXPECT_EQ(c.base.model_class, "smollm2");
  EXPECT_FALSE(c.export_.output_name.has_value());
}

TEST(YamlFile, NestedDottedAndEmptySections) {
  const LlmConfig c = from_yaml(
      "base:\nmodel:\n  use_kv_cache: true\nbackend.ethosu:\n  enabled: true\nquantization.pt2e_quantize: "
      "ethosu_8a8w\nbackend:\n  ethosu:\n    extra_flags:\n      - --arena-cache-size=4096\n");
  EXPECT_TRUE(c.model.use_kv_cache);
  EXPECT_TRUE(c.backend.ethosu.enabled);
  EXPECT_EQ(c.quantization.pt2e_quantize, QuantMode::EthosU8a8w);
  EXPECT_EQ(c.backend.ethosu.extra_flags, std::vector<std::string>{"--arena-cache-size=4096"});
  EXPECT_NO_THROW(apply_yaml_text(*std::make_unique<LlmConfig>(), "", Origin::file("empty.yaml")));
}

TEST(Warnings, ForSettingsWithoutEffect) {
  const auto has = [](const ResolvedConfig& r, std::string_view text) {
    return std::any_of(r.warnings.begin(), r.warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
  };
  const auto dummy = resolve_arguments(kEthosU);
  EXPECT_FALSE(dummy.calibrates);
  EXPECT_TRUE(has(dummy, "calibration_seq_length is not set"));
  EXPECT_TRUE(has(resolve_arguments(plus(kEthosU, {"backend.vgf.compiler_flags=[--x]"})),
                  "backend.vgf.compiler_flags=[\"--x\"] (override) has no effect"));
  EXPECT_TRUE(has(resolve_arguments(plus(kEthosU, {"backend.vgf.quantize_scope=linear"})),
                  "backend.vgf.quantize_scope=linear (override) has no effect"));
  EXPECT_TRUE(has(resolve_arguments(plus(kEthosU, {"-kv", "quantization.calibration_seq_length=16",
                                                   "quantization.calibration_limit=2"})),
                  "quantization.calibration_limit=2 (override) has no effect"));
  EXPECT_TRUE(has(resolve_arguments({"backend.ethosu.enabled=true", "quantization.pt2e_quantize=ethosu_16a8w",
                                     "backend.ethosu.target=ethos-u55-128"}),
                  "no int16 MATMUL"));
  EXPECT_TRUE(has(resolve_arguments(plus(kEthosU, {"-kv", "model.static_quantize_kv_cache=true"})), "fixed scale"));
  EXPECT_TRUE(resolve_arguments(plus(kEthosU, {"-kv", "--calibration_seq_length", "64", "--calibration_tasks",
                                               "wikitext", "--calibration_limit", "1"}))
                  .warnings.empty());
}

TEST(Render, YamlShowsOriginsAndTheVelaArguments) {
  const std::string yaml = render_yaml(resolve_arguments(kAcceptanceArguments));
  EXPECT_NE(yaml.find("pt2e_quantize: ethosu_16a8w"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("# override"), std::string::npos);
  EXPECT_NE(yaml.find("# default"), std::string::npos);
  EXPECT_NE(yaml.find("  vela_arguments:\n    - --accelerator-config=ethos-u85-256\n    - --config=Arm/vela.ini\n"
                      "    - --output-format=raw\n    - --system-config=Ethos_U85_SYS_DRAM_High\n"
                      "    - --memory-mode=Dedicated_Sram_512KB\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("tosa_spec: TOSA-1.0+INT+int16+int4+cf"), std::string::npos);
}

TEST(Render, TheConfigurationDocumentReadsBackUnchanged) {
  const auto resolved = resolve_arguments(plus(
      kAcceptanceArguments, {R"(backend.ethosu.extra_flags=["--arena-cache-size=1048576"])", "base.model_class=x",
                             "quantization.calibration_data=Once: upon", "-kv", "--calibration_seq_length=8"}));
  const std::string yaml = render_yaml(resolved);
  const std::string first_document = yaml.substr(0, yaml.find("\n---\n") + 1);
  LlmConfig reread;
  apply_yaml_text(reread, first_document, Origin::file("shown.yaml"));
  for (const KeyInfo& info : config_keys())
    EXPECT_EQ(value_of(reread, info.key), value_of(resolved.config, info.key)) << info.key;
}

TEST(Render, JsonCarriesValuesOriginsAndResolution) {
  const json document = render_json(resolve_arguments(kAcceptanceArguments));
  EXPECT_EQ(document["config"]["backend"]["ethosu"]["target"]["value"], "ethos-u85-256");
  EXPECT_EQ(document["config"]["backend"]["ethosu"]["target"]["origin"], "override");
  EXPECT_EQ(document["config"]["export"]["max_seq_length"]["origin"], "default");
  EXPECT_EQ(document["resolved"]["backend"], "ethosu");
  EXPECT_EQ(document["resolved"]["vela_arguments"].size(), 5u);
  EXPECT_EQ(document["resolved"]["ethosu"]["arena_cache_size"], 524288);
  EXPECT_EQ(document["resolved"]["compile_spec"]["output_format"], "vela");
  EXPECT_EQ(document["resolved"]["quantization"]["activations"], "int16");
}

// docs/configuration.md is the user's reference: it must cover every key and flag.
TEST(Docs, ConfigurationReferenceListsEveryKeyAndFlag) {
  const std::filesystem::path docs =
      std::filesystem::path(__FILE__).parent_path().parent_path() / "docs" / "configuration.md";
  std::ifstream in(docs);
  ASSERT_TRUE(in) << docs;
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  for (const KeyInfo& info : config_keys())
    EXPECT_NE(content.find(fmt::format("`{}`", info.key)), std::string::npos) << info.key;
  for (const LegacyFlag& flag : legacy_flags())
    EXPECT_NE(content.find(fmt::format("`{}", flag.spelling)), std::string::npos) << flag.spelling;
}

}  // namespace
