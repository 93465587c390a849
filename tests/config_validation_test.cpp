// Every way a configuration can be wrong: each case must fail with a Usage error (exit
// status 2) whose message names the offending key or flag (and, where one exists, the fix).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/resolve.h"
#include "config/sources.h"
#include "core/error.h"

namespace {

using namespace l2n::config;

struct InvalidCase {
  std::string name;
  std::vector<std::string> arguments;
  std::vector<std::string> mentions;  // every one must appear in the message
  std::string yaml;                   // optional config file content, applied first

  InvalidCase(std::string name, std::vector<std::string> arguments, std::vector<std::string> mentions,
              std::string yaml = "")
      : name(std::move(name)), arguments(std::move(arguments)), mentions(std::move(mentions)), yaml(std::move(yaml)) {}
};

std::vector<std::string> ethosu(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments = {"backend.ethosu.enabled=true", "quantization.pt2e_quantize=ethosu_8a8w"};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

std::vector<std::string> vgf(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments = {"backend.vgf.enabled=true"};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

std::vector<std::string> tosa(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments = {"backend.tosa.enabled=true"};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

const std::vector<InvalidCase>& invalid_cases() {
  static const std::vector<InvalidCase> cases = {
      // Which backend.
      {"NoBackend", {}, {"backend.ethosu.enabled", "backend.tosa.enabled", "backend.vgf.enabled"}},
      {"EthosUAndTosa", ethosu({"backend.tosa.enabled=true"}), {"backend.ethosu.enabled", "backend.tosa.enabled"}},
      {"EthosUAndVgf", ethosu({"--vgf"}), {"backend.vgf.enabled=true (flag:--vgf)"}},
      {"ModeForAnotherBackend", tosa({"quantization.pt2e_quantize=ethosu_8a8w"}),
       {"quantization.pt2e_quantize", "tosa_8a8w"}},
      {"VgfModeOnEthosU", {"backend.ethosu.enabled=true", "quantization.pt2e_quantize=vgf_8a8w"},
       {"quantization.pt2e_quantize", "ethosu_8a8w or ethosu_16a8w"}},
      {"EthosUWithoutQuantization", {"backend.ethosu.enabled=true"}, {"quantization.pt2e_quantize"}},
      {"ForeignMode", ethosu({"quantization.pt2e_quantize=xnnpack_dynamic"}), {"quantization.pt2e_quantize", "XNNPACK"}},
      {"NoTosa16a8w", tosa({"quantization.pt2e_quantize=tosa_16a8w"}), {"quantization.pt2e_quantize", "tosa_8a8w"}},
      {"MisspelledMode", ethosu({"quantization.pt2e_quantize=ethosu_8a16w"}), {"quantization.pt2e_quantize", "ethosu_16a8w"}},
      // Scope.
      {"BadScope", ethosu({"quantization.quantize_scope=linaer"}), {"quantization.quantize_scope", "did you mean 'linear'"}},
      {"ScopesDisagree", ethosu({"quantization.quantize_scope=linear", "backend.vgf.quantize_scope=full"}),
       {"quantization.quantize_scope", "backend.vgf.quantize_scope"}},
      {"LegacyScopeAgainstOverride", vgf({"--vgf-quantize-scope", "linear", "quantization.quantize_scope=full",
                                          "quantization.pt2e_quantize=vgf_8a8w"}),
       {"backend.vgf.quantize_scope=linear (flag:--vgf-quantize-scope)", "quantization.quantize_scope=full (override)"}},
      {"BadVgfScope", vgf({"--vgf-quantize-scope=partial"}), {"backend.vgf.quantize_scope", "full, linear"}},
      // VGF.
      {"Vgf16a8wNeedsInt16", vgf({"quantization.pt2e_quantize=vgf_16a8w"}), {"backend.vgf.compile_spec", "+int16"}},
      {"VgfStaticKvNeeds16a8wLinear",
       vgf({"quantization.pt2e_quantize=vgf_8a8w", "model.use_kv_cache=true", "model.static_quantize_kv_cache=true"}),
       {"model.static_quantize_kv_cache", "vgf_16a8w", "linear"}},
      {"VgfStaticKvNeedsLinear",
       vgf({"quantization.pt2e_quantize=vgf_16a8w", "backend.vgf.compile_spec=TOSA-1.0+FP+INT+int16", "-kv",
            "model.static_quantize_kv_cache=true"}),
       {"model.static_quantize_kv_cache", "quantize_scope=linear"}},
      {"VgfBadSpecVersion", vgf({"quantization.pt2e_quantize=vgf_8a8w", "backend.vgf.compile_spec=TOSA-2.0+INT"}),
       {"backend.vgf.compile_spec", "TOSA 2.0"}},
      {"VgfQuantizedWithoutInt", vgf({"quantization.pt2e_quantize=vgf_8a8w", "--vgf-compile-spec", "TOSA-1.0+FP"}),
       {"backend.vgf.compile_spec=TOSA-1.0+FP (flag:--vgf-compile-spec)", "+INT"}},
      {"VgfFloatOnIntOnlySpec", vgf(), {"backend.vgf.compile_spec", "quantization.pt2e_quantize"}},
      // TOSA.
      {"TosaNoProfile", tosa({"quantization.pt2e_quantize=tosa_8a8w", "backend.tosa.version=TOSA-1.0"}),
       {"backend.tosa.version", "profile"}},
      {"TosaWrongExtension", tosa({"quantization.pt2e_quantize=tosa_8a8w", "backend.tosa.version=TOSA-1.0+INT+fft"}),
       {"backend.tosa.version", "'fft'", "+FP"}},
      {"TosaIntOnlyWithoutQuantization", tosa(), {"backend.tosa.version", "quantization.pt2e_quantize"}},
      {"TosaQuantizedOnFpOnly", tosa({"quantization.pt2e_quantize=tosa_8a8w", "backend.tosa.version=TOSA-1.0+FP"}),
       {"backend.tosa.version", "+INT"}},
      // Ethos-U target, system config, memory mode, extra flags.
      {"UnknownTarget", ethosu({"backend.ethosu.target=ethos-u85-265"}), {"backend.ethosu.target", "ethos-u85-256"}},
      {"NotAnEthosTarget", ethosu({"backend.ethosu.target=cortex-m55"}), {"backend.ethosu.target", "ethos-u55-32"}},
      {"UnknownSystemConfig", ethosu({"backend.ethosu.system_config=Ethos_U85_SYS_DRAM_Medium"}),
       {"backend.ethosu.system_config", "Ethos_U85_SYS_DRAM_Mid"}},
      {"SystemConfigOfAnotherFamily",
       ethosu({"backend.ethosu.target=ethos-u85-256", "backend.ethosu.system_config=Ethos_U55_High_End_Embedded"}),
       {"backend.ethosu.system_config", "Ethos-U55", "Ethos-U85"}},
      {"U85SystemConfigOnU65",
       ethosu({"backend.ethosu.target=ethos-u65-512", "backend.ethosu.system_config=Ethos_U85_SYS_DRAM_High"}),
       {"backend.ethosu.system_config", "Ethos_U65_High_End"}},
      {"UnknownMemoryMode", ethosu({"backend.ethosu.memory_mode=Sram_Shared"}), {"backend.ethosu.memory_mode"}},
      {"DedicatedSramOnU55",
       ethosu({"backend.ethosu.target=ethos-u55-128", "backend.ethosu.memory_mode=Dedicated_Sram_512KB"}),
       {"backend.ethosu.memory_mode", "Ethos-U55", "Shared_Sram"}},
      {"DedicatedSramOnU55ByFile", ethosu(),
       {"backend.ethosu.memory_mode=Dedicated_Sram (file:test.yaml)"},
       "backend:\n  ethosu:\n    target: ethos-u55-32\n    memory_mode: Dedicated_Sram\n"},
      {"ExtraFlagWithSpace", ethosu({R"(backend.ethosu.extra_flags=["--arena-cache-size 1048576"])"}),
       {"backend.ethosu.extra_flags", "whitespace"}},
      {"ExtraFlagSetsMemoryMode", ethosu({"backend.ethosu.extra_flags=[--memory-mode=Sram_Only]"}),
       {"backend.ethosu.extra_flags", "memory_mode"}},
      {"ExtraFlagBadArenaSize", ethosu({"backend.ethosu.extra_flags=--arena-cache-size=1MB"}),
       {"backend.ethosu.extra_flags", "'1MB'"}},
      {"ExtraFlagNotAFlag", ethosu({"backend.ethosu.extra_flags=[verbose]"}), {"backend.ethosu.extra_flags", "'verbose'"}},
      {"ExtraFlagEmpty", ethosu({R"(backend.ethosu.extra_flags=[""])"}), {"backend.ethosu.extra_flags", "empty"}},
      // KV cache.
      {"DynamicKvWithoutKv", ethosu({"--quantize_kv_cache"}), {"model.quantize_kv_cache", "model.use_kv_cache"}},
      {"BothKvQuantizations", ethosu({"-kv", "--quantize_kv_cache", "model.static_quantize_kv_cache=true"}),
       {"model.quantize_kv_cache", "model.static_quantize_kv_cache"}},
      {"DynamicKvUnsupported", ethosu({"-kv", "model.quantize_kv_cache=true"}),
       {"model.quantize_kv_cache", "static_quantize_kv_cache=true"}},
      {"StaticKvWithoutKv", ethosu({"model.static_quantize_kv_cache=true"}),
       {"model.static_quantize_kv_cache", "model.use_kv_cache=true"}},
      {"StaticKvWithoutQuantization", {"-kv", "model.static_quantize_kv_cache=true"},
       {"model.static_quantize_kv_cache", "quantization.pt2e_quantize"}},
      {"ZeroKvScale", ethosu({"model.static_quantize_kv_cache_scale=0"}), {"model.static_quantize_kv_cache_scale"}},
      {"NegativeKvScale", ethosu({"model.static_quantize_kv_cache_scale=-0.5"}), {"model.static_quantize_kv_cache_scale"}},
      {"InfiniteKvScale", ethosu({"model.static_quantize_kv_cache_scale=.inf"}),
       {"model.static_quantize_kv_cache_scale=inf"}},
      {"NanKvScale", ethosu({"model.static_quantize_kv_cache_scale=.nan"}), {"model.static_quantize_kv_cache_scale=nan"}},
      {"DynamicShape", ethosu({"model.enable_dynamic_shape=true"}), {"model.enable_dynamic_shape", "false"}},
      // Lengths and names.
      {"ContextShorterThanSequence", ethosu({"--max_context_length", "64"}),
       {"export.max_context_length=64 (flag:--max_context_length)", "export.max_seq_length=128 (default)"}},
      {"ZeroSequence", ethosu({"export.max_seq_length=0"}), {"export.max_seq_length"}},
      {"NegativeContext", ethosu({"export.max_context_length=-5"}), {"export.max_context_length"}},
      {"HugeSequence", ethosu({"export.max_seq_length=99999999999999999999"}), {"export.max_seq_length", "too large"}},
      {"EmptyOutputDir", ethosu({"export.output_dir=''"}), {"export.output_dir"}},
      {"EmptyOutputName", ethosu({"export.output_name=\"\""}), {"export.output_name"}},
      {"ModelClassWithSpace", ethosu({"base.model_class=my model"}), {"base.model_class"}},
      {"BadDtype", ethosu({"-d", "fp64"}), {"model.dtype_override", "fp32"}},
      // Calibration.
      {"ZeroCalibrationLimit", ethosu({"quantization.calibration_limit=0", "quantization.calibration_seq_length=8"}),
       {"quantization.calibration_limit"}},
      {"ZeroCalibrationLength", ethosu({"--calibration_seq_length=0"}), {"quantization.calibration_seq_length"}},
      {"UnknownCalibrationTask", ethosu({"--calibration_tasks", "wikitxt", "--calibration_seq_length", "8"}),
       {"quantization.calibration_tasks", "did you mean 'wikitext'"}},
      {"TasksWithoutSequenceLength", ethosu({"quantization.calibration_tasks=[wikitext]"}),
       {"quantization.calibration_tasks", "quantization.calibration_seq_length"}},
      {"LimitWithoutSequenceLength", ethosu({"--calibration_limit", "4", "quantization.calibration_files=[a.txt]"}),
       {"quantization.calibration_limit", "quantization.calibration_seq_length"}},
      {"StaticKvTasksWithoutSequenceLength",
       {"backend.ethosu.enabled=true", "quantization.pt2e_quantize=ethosu_16a8w", "-kv",
        "model.static_quantize_kv_cache=true", "--calibration_tasks", "wikitext"},
       {"quantization.calibration_tasks", "calibration_seq_length"}},
      {"EmptyCalibrationFile", ethosu({R"(quantization.calibration_files=["", b.txt])"}),
       {"quantization.calibration_files"}},
      {"CalibrationLongerThanKvCache", ethosu({"-kv", "quantization.calibration_seq_length=256"}),
       {"quantization.calibration_seq_length=256", "export.max_context_length=128"}},
      {"NonKvCalibrationNeedsFullLogits", ethosu({"quantization.calibration_seq_length=64"}),
       {"debug.generate_full_logits"}},
      // Types.
      {"BoolNotBool", ethosu({"model.use_kv_cache=maybe"}), {"model.use_kv_cache", "true or false"}},
      {"IntNotInt", ethosu({"export.max_seq_length=12.5"}), {"export.max_seq_length", "whole number"}},
      {"NumberNotNumber", ethosu({"model.static_quantize_kv_cache_scale=small"}),
       {"model.static_quantize_kv_cache_scale", "a number"}},
      {"ListForInt", ethosu(), {"export.max_seq_length (file:test.yaml)", "a list"}, "export:\n  max_seq_length: [1, 2]\n"},
      {"ListForString", ethosu(), {"export.output_dir", "a string"}, "export:\n  output_dir: [a, b]\n"},
      {"MappingForList", ethosu(), {"backend.ethosu.extra_flags", "a mapping"},
       "backend:\n  ethosu:\n    extra_flags: {a: 1}\n"},
      {"NullForBool", ethosu(), {"debug.verbose"}, "debug:\n  verbose: ~\n"},
      {"BrokenYamlValue", ethosu({"quantization.calibration_tasks=[wikitext"}), {"quantization.calibration_tasks"}},
      // Unknown and unsupported keys.
      {"MisspelledKey", ethosu({"quantization.quantise_scope=linear"}),
       {"quantization.quantise_scope", "did you mean 'quantization.quantize_scope'"}},
      {"MisspelledSection", ethosu({"quantisation.calibration_limit=3"}),
       {"quantisation.calibration_limit", "quantization.calibration_limit"}},
      {"KeyWithoutSection", ethosu({"quantize_scope=linear"}), {"'quantize_scope'", "quantization.quantize_scope"}},
      {"MisspelledKeyInFile", ethosu(), {"'backend.ethosu.targt' (file:test.yaml)", "backend.ethosu.target"},
       "backend:\n  ethosu:\n    targt: ethos-u85-256\n"},
      {"UnknownSectionInFile", ethosu(), {"'exports'", "did you mean 'export'"}, "exports:\n  max_seq_length: 64\n"},
      {"SectionHoldsAValue", ethosu(), {"quantization (file:test.yaml)", "mapping"}, "quantization: linear\n"},
      {"SectionAsOverride", ethosu({"backend.ethosu=true"}), {"backend.ethosu", "section"}},
      {"UpstreamOnlyKey", ethosu({"base.params=examples/models/smollm2/135M_config.json"}), {"base.params"}},
      {"UpstreamQmode", ethosu({"quantization.qmode=8da4w"}), {"quantization.qmode", "pt2e_quantize"}},
      {"ForeignBackend", ethosu({"backend.xnnpack.enabled=true"}), {"backend.xnnpack.enabled", "Arm"}},
      {"TopLevelNotMapping", {}, {"file:test.yaml", "mapping"}, "- a\n- b\n"},
      {"BrokenYamlFile", {}, {"file:test.yaml", "not valid YAML", "line"}, "backend:\n  ethosu: [\n"},
      // Command-line shapes.
      {"FlagWithoutValue", ethosu({"--max_seq_length"}), {"--max_seq_length", "export.max_seq_length"}},
      {"FlagFollowedByFlag", ethosu({"--calibration_data", "--use_kv_cache"}), {"--calibration_data"}},
      {"SwitchWithValue", ethosu({"--use_kv_cache=false"}), {"--use_kv_cache", "model.use_kv_cache=false"}},
      {"MisspelledFlag", ethosu({"--pt2e_quantise", "ethosu_8a8w"}), {"--pt2e_quantise", "did you mean '--pt2e_quantize'"}},
      {"FlagThatIsAKey", ethosu({"--target", "ethos-u55-128"}), {"--target", "backend.ethosu.target="}},
      {"FlagForABackend", {"--ethosu"}, {"--ethosu", "backend.ethosu.enabled=true"}},
      {"DashedOverride", ethosu({"--export.max_seq_length=64"}), {"--export.max_seq_length=64", "without dashes"}},
      {"OverrideWithoutValue", ethosu({"quantization.quantize_scope"}), {"quantization.quantize_scope=VALUE"}},
      {"HydraAppend", ethosu({"+quantization.quantize_scope=linear"}), {"quantization.quantize_scope=VALUE"}},
      {"ListFlagWithoutValues", ethosu({"--calibration_tasks", "--use_kv_cache"}), {"--calibration_tasks"}},
      {"StrayWord", ethosu({"linear"}), {"'linear'", "section.key=value"}},
      {"BadFlagValue", {"backend.ethosu.enabled=true", "--pt2e_quantize=ethosu"}, {"quantization.pt2e_quantize (flag:--pt2e_quantize)"}},
  };
  return cases;
}

class InvalidConfiguration : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidConfiguration, IsAUsageErrorNamingTheOption) {
  const InvalidCase& c = GetParam();
  try {
    LlmConfig config;
    if (!c.yaml.empty()) apply_yaml_text(config, c.yaml, Origin::file("test.yaml"));
    apply_arguments(config, c.arguments);
    (void)resolve(std::move(config));
    FAIL() << "the configuration was accepted";
  } catch (const l2n::Error& e) {
    EXPECT_EQ(e.kind(), l2n::ErrorKind::Usage) << e.what();
    for (const std::string& text : c.mentions)
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << "missing '" << text << "' in: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidConfiguration, ::testing::ValuesIn(invalid_cases()),
                         [](const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.name; });

TEST(InvalidConfiguration, TheTableIsLargeEnough) { EXPECT_GE(invalid_cases().size(), 40u); }

TEST(InvalidConfiguration, EveryProblemIsReportedAtOnce) {
  try {
    (void)resolve(load_config(std::nullopt, ethosu({"export.max_seq_length=0", "model.enable_dynamic_shape=true",
                                                    "backend.ethosu.target=ethos-u95-256"})));
    FAIL() << "accepted";
  } catch (const l2n::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("3 problems"), std::string::npos) << message;
    EXPECT_NE(message.find("export.max_seq_length"), std::string::npos);
    EXPECT_NE(message.find("model.enable_dynamic_shape"), std::string::npos);
    EXPECT_NE(message.find("backend.ethosu.target"), std::string::npos);
  }
}

TEST(InvalidConfiguration, MissingFileIsARuntimeError) {
  try {
    (void)load_config(std::filesystem::path("/nonexistent/export.yaml"), {});
    FAIL() << "accepted";
  } catch (const l2n::Error& e) {
    EXPECT_EQ(e.kind(), l2n::ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/export.yaml"), std::string::npos);
  }
}

}  // namespace
