// llm2npu make-model end to end: files, determinism, refusal of a non-empty directory, and
// the result runs through generate.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>

#include "cli_run.h"

namespace l2n::testing {
namespace {

namespace fs = std::filesystem;

TEST(CliMakeModel, WritesALoadableDeterministicCheckpoint) {
  const ScratchDir root("l2n_make_model_cli");
  const auto a = root / "a", b = root / "b", c = root / "c";
  for (const auto& [dir, seed] : {std::pair{a, 5}, std::pair{b, 5}, std::pair{c, 6}}) {
    const CliRun r = run_cli(fmt::format("make-model --preset stories260k --random-seed {} -o {} --json", seed, q(dir)));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\"parameters\""), std::string::npos) << r.out;
  }
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json"}) {
    EXPECT_EQ(slurp(a / file), slurp(b / file)) << file;
    if (std::string(file) != "config.json") {
      EXPECT_NE(slurp(a / file), slurp(c / file)) << file;
    }
  }
  // Not over an existing checkpoint unless asked.
  CliRun r = run_cli(fmt::format("make-model --preset stories260k -o {}", q(a)));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  r = run_cli(fmt::format("make-model --preset stories260k --random-seed 6 --dtype bf16 -o {} --force --no-progress",
                          q(a)));
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_cli(fmt::format("make-model --preset gpt-5 -o {}", q(root / "d")));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("smollm2-135m"), std::string::npos) << r.err;
  // The checkpoint runs with its own tokenizer.
  r = run_cli(fmt::format("generate --model {} --prompt {} -n 8 --temperature 0 --json", q(a), q("Once upon a time")));
  EXPECT_EQ(r.status, 0) << r.err;
}

}  // namespace
}  // namespace l2n::testing
