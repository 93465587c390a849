// llm2npu export / inspect PROGRAM / eval --program through the built binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli_run.h"
#include "test_data.h"

namespace {

namespace fs = std::filesystem;
using l2n::testing::q;
using l2n::testing::run_cli;

std::string base_args() {
  return "--checkpoint " + q(l2n::testing::stories260k_bin()) +
         " --max_seq_length 32 --max_context_length 32 -kv --calibration_seq_length 32 --no-progress";
}

TEST(CliExport, HelpPointsToTheConfigurationReference) {
  const auto r = run_cli("export --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("docs/configuration.md"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--emit-tosa"), std::string::npos);
}

TEST(CliExport, WritesAProgramThatInspectDescribes) {
  const l2n::testing::ScratchDir dir("l2n_cli_export_ok");
  const fs::path out = dir / "s.l2n";
  const fs::path tosa_dir = dir / "tosa";
  const auto r = run_cli("export " + base_args() + " --pt2e_quantize ethosu_16a8w --quantize_scope linear " +
                             "backend.ethosu.enabled=true backend.ethosu.target=ethos-u55-128 -o " + q(out) +
                             " --emit-tosa " + q(tosa_dir) + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["output"], out.string());
  EXPECT_GT(doc["delegates"].get<int>(), 0);
  EXPECT_TRUE(fs::exists(out));
  int tosa_files = 0;
  for (const auto& e : fs::directory_iterator(tosa_dir)) tosa_files += e.path().extension() == ".tosa";
  EXPECT_EQ(tosa_files, doc["delegates"].get<int>());

  const auto inspect = run_cli("inspect " + q(out));
  ASSERT_EQ(inspect.status, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("delegate_0"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("on the CPU"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("float/integer boundary"), std::string::npos) << inspect.out;
}

TEST(CliExport, EvalAndGenerateRunTheProgram) {
  const l2n::testing::ScratchDir dir("l2n_cli_export_run");
  const fs::path program = dir / "p.l2n";
  ASSERT_EQ(run_cli("export " + base_args() +
                        " --pt2e_quantize ethosu_16a8w --quantize_scope full backend.ethosu.enabled=true "
                        "backend.ethosu.target=ethos-u85-256 -o " + q(program)).status,
            0);
  const auto text = l2n::testing::tinystories_text();
  const auto chunked = run_cli("eval --program " + q(program) + " --text " + q(text) + " --max-chunks 3 --json");
  ASSERT_EQ(chunked.status, 0) << chunked.err;
  const auto c = nlohmann::json::parse(chunked.out);
  EXPECT_EQ(c["context"], 32);  // the program's window
  EXPECT_EQ(c["chunks"], 3);
  EXPECT_GT(c["perplexity"].get<double>(), 1.0);
  EXPECT_LT(c["perplexity"].get<double>(), 30.0);

  const auto stepwise = run_cli("eval --program " + q(program) + " --method stepwise --text " + q(text) +
                                    " --num-prompts 3 --prompt-tokens 16 --window 16 --json");
  ASSERT_EQ(stepwise.status, 0) << stepwise.err;
  const auto st = nlohmann::json::parse(stepwise.out);
  EXPECT_EQ(st["prompts_scored"], 3);
  EXPECT_GT(st["perplexity"].get<double>(), 1.0);

  const auto gen = run_cli("generate --program " + q(program) + " --temperature 0 -n 12 --json");
  ASSERT_EQ(gen.status, 0) << gen.err;
  const auto g = nlohmann::json::parse(gen.out);
  EXPECT_EQ(g["generated_ids"].size(), 12u);

  const auto mixed = run_cli("eval --program " + q(program) + " --quantize ethosu_16a8w --text " + q(text));
  EXPECT_EQ(mixed.status, 2);
  EXPECT_NE(mixed.err.find("already quantized"), std::string::npos) << mixed.err;
}

TEST(CliExport, ConfigurationErrorExitsTwoAndWritesNothing) {
  const l2n::testing::ScratchDir dir("l2n_cli_export_bad");
  const fs::path out = dir / "bad.l2n";
  // An Ethos-U target that does not exist.
  const auto r = run_cli("export " + base_args() +
                             " --pt2e_quantize ethosu_16a8w backend.ethosu.enabled=true backend.ethosu.target=nope -o " +
                             q(out));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(CliExport, RefusesToOverwriteItsInput) {
  const l2n::testing::ScratchDir dir("l2n_cli_export_self");
  const fs::path copy = dir / "model.bin";
  fs::copy_file(l2n::testing::stories260k_bin(), copy, fs::copy_options::overwrite_existing);
  fs::copy_file(l2n::testing::stories260k_dir() / "tok512.bin", dir / "tok512.bin", fs::copy_options::overwrite_existing);
  const auto before = fs::file_size(copy);
  const auto r = run_cli("export --checkpoint " + q(copy) + " --max_seq_length 32 --no-progress backend.tosa.enabled=true backend.tosa.version=TOSA-1.0+FP -o " + q(copy));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("is an input"), std::string::npos) << r.err;
  EXPECT_EQ(fs::file_size(copy), before);
}

TEST(CliExport, CorruptProgramIsRejectedClearly) {
  const l2n::testing::ScratchDir dir("l2n_cli_export_corrupt");
  const fs::path out = dir / "p.l2n";
  ASSERT_EQ(run_cli("export " + base_args() + " --pt2e_quantize tosa_8a8w backend.tosa.enabled=true -o " + q(out)).status, 0);
  std::string bytes = l2n::testing::slurp(out);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  std::ofstream(out, std::ios::binary | std::ios::trunc) << bytes;
  const auto r = run_cli("inspect " + q(out));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
}

}  // namespace
