// The built llm2npu binary given hostile files and arguments: it must exit 1 (runtime: a
// bad file) or 2 (usage: a bad option or configuration) with one "error: " message that
// names the file or option, never die of a signal, abort, print a stack trace or a
// sanitizer report.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "cli_run.h"
#include "hostile_util.h"
#include "test_data.h"

namespace {

namespace fs = std::filesystem;

using l2n::testing::append_le;
using l2n::testing::CliRun;
using l2n::testing::q;
using l2n::testing::run_cli;
using l2n::testing::ScratchDir;
using l2n::testing::slurp;
using l2n::testing::write_file;

// One clean error: the expected status, "error: " first, the keyword, and none of the
// signs of a crash.
void expect_clean_error(const CliRun& r, int status, const std::string& keyword) {
  EXPECT_EQ(r.status, status) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(keyword), std::string::npos) << "'" << keyword << "' not in: " << r.err;
  for (const char* sign : {"terminate called", "Aborted", "Segmentation", "AddressSanitizer", "runtime error:",
                           "what():", "#0 0x", "json.exception", "yaml-cpp"})
    EXPECT_EQ(r.err.find(sign), std::string::npos) << "'" << sign << "' in: " << r.err;
}

TEST(CliHostile, MissingModelIsARuntimeError) {
  expect_clean_error(run_cli("inspect --model /nonexistent/model.bin"), 1, "/nonexistent/model.bin");
}

TEST(CliHostile, TruncatedGguf) {
  const std::string good = slurp(l2n::testing::tiny_gguf());
  const ScratchDir dir("l2n_cli_hostile");
  const fs::path path = dir / "cut.gguf";
  write_file(path, good.substr(0, 4096));
  expect_clean_error(run_cli("inspect --model " + q(path)), 1, path.string());
}

TEST(CliHostile, GgufDeclaringAHugeString) {
  std::string s = "GGUF";
  append_le<uint32_t>(s, 3);
  append_le<uint64_t>(s, 0);
  append_le<uint64_t>(s, 1);
  append_le<uint64_t>(s, uint64_t{1} << 60);
  const ScratchDir dir("l2n_cli_hostile");
  const fs::path path = dir / "huge.gguf";
  write_file(path, s + "abcdefgh");
  expect_clean_error(run_cli("inspect --model " + q(path)), 1, "declares a length");
}

TEST(CliHostile, Llama2cHeaderOnly) {
  std::string s;
  for (int32_t v : {64, 172, 5, 8, 4, 512, 512}) append_le(s, v);
  const ScratchDir dir("l2n_cli_hostile");
  const fs::path path = dir / "header.bin";
  write_file(path, s + std::string(12, '\0'));
  expect_clean_error(run_cli("generate -n 4 --model " + q(path)), 1, "truncated");
}

TEST(CliHostile, DeeplyNestedConfigJson) {
  const ScratchDir dir("l2n_cli_hostile");
  write_file(dir / "config.json", "{\"architectures\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
  expect_clean_error(run_cli("inspect --model " + q(dir.path())), 1, "levels deep");
}

TEST(CliHostile, GarbageTokenizer) {
  const ScratchDir dir("l2n_cli_hostile");
  const fs::path path = dir / "garbage.tok";
  write_file(path, std::string("\x00\x00\x00\x00garbage", 11));
  expect_clean_error(run_cli("tokenize --tokenizer " + q(path) + " --text hi"), 1, path.string());
}

// Found by tokenizer_json_fuzz: a non-string "type" threw nlohmann's type_error.
TEST(CliHostile, TokenizerJsonWithWrongTypedFields) {
  const ScratchDir dir("l2n_cli_hostile");
  write_file(dir / "tokenizer.json",
             R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
                 "post_processor": {"type": 7}, "decoder": {"type": "Strip", "start": "x"}})");
  const CliRun r = run_cli("tokenize --tokenizer " + q(dir / "tokenizer.json") + " --text ab");
  EXPECT_EQ(r.status, 0) << r.err;
  write_file(dir / "tokenizer.json", R"({"model": {"type": 5, "vocab": {"a": 0}}})");
  expect_clean_error(run_cli("tokenize --tokenizer " + q(dir / "tokenizer.json") + " --text ab"), 1, "type");
}

TEST(CliHostile, YamlAliasBomb) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i)
    yaml += fmt::format("a{0}: &a{0} [*a{1}, *a{1}, *a{1}, *a{1}]\n", i, i - 1);
  const ScratchDir dir("l2n_cli_hostile");
  const fs::path path = dir / "bomb.yaml";
  write_file(path, yaml);
  expect_clean_error(run_cli("config show --config " + q(path)), 2, "a0");
}

TEST(CliHostile, YamlDeepNesting) {
  const ScratchDir dir("l2n_cli_hostile");
  const fs::path path = dir / "deep.yaml";
  write_file(path, "base: " + std::string(50000, '[') + std::string(50000, ']') + "\n");
  expect_clean_error(run_cli("config show --config " + q(path)), 2, path.string());
}

TEST(CliHostile, YamlNotUtf8) {
  const ScratchDir dir("l2n_cli_hostile");
  const fs::path path = dir / "latin1.yaml";
  write_file(path, "base:\n  checkpoint: caf\xe9\xff\xfe.bin\n  bad key\xff: 1\n");
  const CliRun r = run_cli("config show --config " + q(path));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

TEST(CliHostile, BadOverridesAreUsageErrors) {
  expect_clean_error(run_cli("config show export.max_seq_length=[[[[1]]]]"), 2, "export.max_seq_length");
  expect_clean_error(run_cli("config show export.max_seq_length=99999999999999999999999"), 2,
                     "export.max_seq_length");
  expect_clean_error(run_cli("config show 'quantization.quantize_scope={'"), 2, "quantization.quantize_scope");
}

TEST(CliHostile, UnknownOptionIsAUsageError) {
  const CliRun r = run_cli("inspect --model x --no-such-option");
  EXPECT_EQ(r.status, 2) << r.err;
}

}  // namespace
