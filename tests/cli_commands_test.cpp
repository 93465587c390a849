// Drives the built llm2npu binary as a user would: output, --json, exit status, errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_run.h"
#include "test_data.h"

namespace {

namespace fs = std::filesystem;
using l2n::testing::CliRun;
using l2n::testing::q;
using l2n::testing::run_cli;

TEST(Cli, InspectPrintsTheArchitectureAsJson) {
  const CliRun r = run_cli("inspect --json --model " + q(l2n::testing::stories260k_bin()));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["dim"], 64);
  EXPECT_EQ(doc["n_layers"], 5);
  EXPECT_EQ(doc["n_kv_heads"], 4);
  EXPECT_EQ(doc["vocab_size"], 512);
  EXPECT_EQ(doc["tokenizer"]["vocab_size"], 512);
}

TEST(Cli, GreedyGenerateJsonGivesTheDocumentedIds) {
  const CliRun r = run_cli("generate --json --temperature 0 --max-new-tokens 19 --model " +
                        q(l2n::testing::stories260k_bin()));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  std::vector<int> ids = doc["prompt_ids"].get<std::vector<int>>();
  for (int id : doc["generated_ids"]) ids.push_back(id);
  EXPECT_EQ(ids, std::vector<int>(std::begin(l2n::testing::kStories260kGreedy), std::end(l2n::testing::kStories260kGreedy)));
  EXPECT_EQ(doc["stop_reason"], "max_new_tokens");
}

TEST(Cli, StreamingGenerateContinuesThePrompt) {
  const CliRun r = run_cli("generate --temperature 0 --max-new-tokens 12 --prompt 'Once upon a time' --model " +
                        q(l2n::testing::stories260k_bin()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl", 0), 0u) << r.out;
}

TEST(Cli, EvalJsonReportsPerplexityAndCounts) {
  const CliRun r = run_cli("eval --json --no-progress --ctx 128 --max-chunks 3 --model " +
                        q(l2n::testing::stories260k_bin()) + " --text " + q(l2n::testing::tinystories_text()));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["chunks"], 3);
  EXPECT_EQ(doc["tokens_scored"], 3 * 63);
  EXPECT_GT(doc["perplexity"].get<double>(), 1.0);
  EXPECT_LT(doc["perplexity"].get<double>(), 20.0);
}

TEST(Cli, TokenizeRoundTripsThroughDecode) {
  const CliRun enc = run_cli("tokenize --json --tokenizer " + q(l2n::testing::stories260k_dir() / "tok512.bin") +
                          " --text 'Once upon a time'");
  ASSERT_EQ(enc.status, 0) << enc.err;
  const auto doc = nlohmann::json::parse(enc.out);
  std::string ids;
  for (int id : doc["ids"]) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id);
  }
  const CliRun dec = run_cli("tokenize --tokenizer " + q(l2n::testing::stories260k_dir() / "tok512.bin") + " --decode " + ids);
  ASSERT_EQ(dec.status, 0) << dec.err;
  EXPECT_EQ(dec.out, "Once upon a time\n");
}

TEST(Cli, MissingModelIsARuntimeErrorNamingThePath) {
  const CliRun r = run_cli("inspect --model /nonexistent/model.bin");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.bin"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run_cli("generate").status, 2);                       // --model missing
  EXPECT_EQ(run_cli("frobnicate").status, 2);                     // unknown command
  EXPECT_EQ(run_cli("generate --model x --top-p 7").status, 2);   // out of range
  const CliRun r = run_cli("eval --model " + q(l2n::testing::stories260k_bin()) + " --text " +
                        q(l2n::testing::tinystories_text()) + " --ctx 1000000");
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST(Cli, HelpExplainsEveryCommand) {
  const CliRun r = run_cli("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* command : {"generate", "eval", "inspect", "tokenize"})
    EXPECT_NE(r.out.find(command), std::string::npos) << command;
}

}  // namespace
