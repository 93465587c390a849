// `llm2npu config show` driven through the built binary: the acceptance example, --json,
// a config file with overrides and legacy flags, and configuration errors (exit status 2,
// message naming the key).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "cli_run.h"

namespace {

namespace fs = std::filesystem;

using l2n::testing::CliRun;
using l2n::testing::q;
using l2n::testing::run_cli;

const std::string kAcceptance =
    "config show backend.ethosu.enabled=true quantization.pt2e_quantize=ethosu_16a8w "
    "quantization.quantize_scope=linear backend.ethosu.target=ethos-u85-256 "
    "backend.ethosu.system_config=Ethos_U85_SYS_DRAM_High backend.ethosu.memory_mode=Dedicated_Sram_512KB";

TEST(CliConfig, AcceptanceExamplePrintsTheResolvedConfigAndVelaArguments) {
  const CliRun run = run_cli(kAcceptance);
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("pt2e_quantize: ethosu_16a8w"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("# override"), std::string::npos);
  EXPECT_NE(run.out.find("    - --accelerator-config=ethos-u85-256\n"
                         "    - --config=Arm/vela.ini\n"
                         "    - --output-format=raw\n"
                         "    - --system-config=Ethos_U85_SYS_DRAM_High\n"
                         "    - --memory-mode=Dedicated_Sram_512KB\n"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("tosa_spec: TOSA-1.0+INT+int16+int4+cf"), std::string::npos);
  EXPECT_NE(run.err.find("warning: "), std::string::npos);  // no calibration_seq_length
}

TEST(CliConfig, JsonHasTheSameContent) {
  const CliRun run = run_cli(kAcceptance + " --json");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto document = nlohmann::json::parse(run.out);
  EXPECT_EQ(document["config"]["backend"]["ethosu"]["memory_mode"]["value"], "Dedicated_Sram_512KB");
  EXPECT_EQ(document["config"]["backend"]["ethosu"]["memory_mode"]["origin"], "override");
  EXPECT_EQ(document["resolved"]["vela_arguments"][3], "--system-config=Ethos_U85_SYS_DRAM_High");
}

TEST(CliConfig, FileThenOverridesAndLegacyFlagsInOrder) {
  const l2n::testing::ScratchDir dir("l2n_cli_config");
  const fs::path file = dir.write("export.yaml",
                                  "backend:\n  ethosu:\n    enabled: true\n    target: ethos-u55-128\n"
                                  "quantization:\n  pt2e_quantize: ethosu_8a8w\n  quantize_scope: full\n");
  const CliRun run = run_cli("config show --json --config " + q(file) +
                          " --quantize_scope linear -kv --max_seq_length 32 export.max_context_length=32 "
                          "--calibration_seq_length=32 --calibration_tasks wikitext --calibration_limit 1");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto document = nlohmann::json::parse(run.out);
  const auto& config = document["config"];
  EXPECT_EQ(config["backend"]["ethosu"]["target"]["origin"], "file:" + file.string());
  EXPECT_EQ(config["quantization"]["quantize_scope"]["value"], "linear");
  EXPECT_EQ(config["quantization"]["quantize_scope"]["origin"], "flag:--quantize_scope");
  EXPECT_EQ(config["model"]["use_kv_cache"]["origin"], "flag:-kv");
  EXPECT_EQ(config["export"]["max_context_length"]["origin"], "override");
  EXPECT_EQ(document["resolved"]["ethosu"]["system_config"], "Ethos_U55_High_End_Embedded");
  EXPECT_EQ(document["resolved"]["ethosu"]["memory_mode"], "Shared_Sram");
  EXPECT_TRUE(run.err.empty()) << run.err;
}

TEST(CliConfig, ConfigurationErrorsExitWithStatus2AndNameTheKey) {
  const struct {
    const char* args;
    const char* mentions;
  } cases[] = {
      {"config show", "backend.ethosu.enabled"},
      {"config show backend.ethosu.enabled=true quantization.pt2e_quantize=ethosu_8a8w "
       "backend.ethosu.target=ethos-u55-128 backend.ethosu.memory_mode=Dedicated_Sram_512KB",
       "backend.ethosu.memory_mode"},
      {"config show backend.ethosu.enabled=true quantization.pt2e_quantize=ethosu_8a8w "
       "quantization.quantise_scope=linear",
       "quantization.quantize_scope"},
      {"config show backend.ethosu.enabled=true --pt2e_quantize ethosu_8a8w --vgf", "backend.vgf.enabled"},
      {"config show backend.ethosu.enabled=true --pt2e_quantize tosa_8a8w", "quantization.pt2e_quantize"},
      {"config show backend.ethosu.enabled=true quantization.pt2e_quantize=ethosu_8a8w --max_context_length 16",
       "export.max_context_length"},
  };
  for (const auto& c : cases) {
    const CliRun run = run_cli(c.args);
    EXPECT_EQ(run.status, 2) << c.args << "\n" << run.err;
    EXPECT_NE(run.err.find(c.mentions), std::string::npos) << c.args << "\n" << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
}

TEST(CliConfig, HelpPointsToTheReference) {
  const CliRun run = run_cli("config show --help");
  EXPECT_EQ(run.status, 0);
  EXPECT_NE(run.out.find("docs/configuration.md"), std::string::npos) << run.out;
  EXPECT_EQ(run_cli("config").status, 2);  // a subcommand is required
  EXPECT_EQ(run_cli("config show --config /nonexistent.yaml").status, 2);
}

}  // namespace
