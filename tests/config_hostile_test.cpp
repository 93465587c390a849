// Hostile configuration input (docs/reliability.md): YAML alias bombs and recursive
// aliases, deep nesting, enormous documents, invalid UTF-8, absurd numbers, and overrides
// that try the same. Each must be l2n::Error(Usage) naming the key or file, quickly, with
// bounded memory; never a yaml-cpp exception, a stack overflow or an abort.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config/llm_config.h"
#include "config/render.h"
#include "config/resolve.h"
#include "config/sources.h"
#include "core/error.h"
#include "core/json_text.h"
#include "hostile_util.h"

namespace l2n::config {
namespace {

using l2n::testing::expect_l2n_error;

void expect_yaml_error(const std::string& yaml, const std::vector<std::string>& keywords) {
  const auto start = std::chrono::steady_clock::now();
  std::string message = expect_l2n_error(
      [&] {
        LlmConfig config;
        apply_yaml_text(config, yaml, Origin::file("hostile.yaml"));
      },
      keywords);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  try {
    LlmConfig config;
    apply_yaml_text(config, yaml, Origin::file("hostile.yaml"));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage) << e.what();
  }
}

// 10 * 4^depth strings if expanded; yaml-cpp shares aliased nodes, so it never is.
std::string alias_bomb(int depth) {
  std::string yaml = "[&a0 [x, x, x, x, x, x, x, x, x, x]";
  for (int i = 1; i <= depth; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    yaml += ", &a" + std::to_string(i) + " [" + prev + ", " + prev + ", " + prev + ", " + prev + "]";
  }
  return yaml + "]";
}

TEST(ConfigHostile, AliasBombInAListKey) {
  expect_yaml_error("quantization:\n  calibration_tasks: " + alias_bomb(20) + "\n", {"calibration_tasks", "a list"});
}

TEST(ConfigHostile, AliasBombAsASection) {
  expect_yaml_error("backend: " + alias_bomb(20) + "\n", {"backend", "section"});
}

TEST(ConfigHostile, RecursiveAlias) {
  // An alias to an anchor still being defined: yaml-cpp refuses it as an unknown anchor.
  expect_yaml_error("backend: &b {ethosu: *b}\n", {"hostile.yaml"});
  expect_yaml_error("quantization: &q\n  calibration_tasks: *q\n", {"hostile.yaml"});
}

TEST(ConfigHostile, DeepNesting) {
  expect_yaml_error("base: " + std::string(100000, '[') + std::string(100000, ']') + "\n", {"hostile.yaml"});
  expect_yaml_error("base: " + std::string(100000, '{') + std::string(100000, '}') + "\n", {"hostile.yaml"});
  std::string block;
  for (int i = 0; i < 3000; ++i) block += std::string(static_cast<size_t>(i), ' ') + "k" + std::to_string(i) + ":\n";
  expect_yaml_error(block, {"hostile.yaml"});
}

TEST(ConfigHostile, EnormousDocument) {
  std::string yaml = "quantization:\n  calibration_tasks:\n";
  for (int i = 0; i < 20000; ++i) yaml += "    - task" + std::to_string(i) + "\n";
  yaml += "  no_such_key: 1\n";
  expect_yaml_error(yaml, {"no_such_key"});
}

TEST(ConfigHostile, InvalidUtf8AndControlBytes) {
  expect_yaml_error("base:\n  checkpoint\xff\xfe: x\n", {"hostile.yaml"});
  expect_yaml_error(std::string("base:\n  check\0point: a\n", 23), {"hostile.yaml"});
  expect_yaml_error("\xef\xbb\xbf\xef\xbb\xbf: [\n", {"hostile.yaml"});
}

TEST(ConfigHostile, AbsurdNumbers) {
  expect_yaml_error("export:\n  max_seq_length: 99999999999999999999999999\n", {"export.max_seq_length", "too large"});
  expect_yaml_error("export:\n  max_seq_length: 1e400\n", {"export.max_seq_length", "whole number"});
  expect_yaml_error("export:\n  max_seq_length: [1, 2]\n", {"export.max_seq_length", "a list"});
}

TEST(ConfigHostile, KeysThatAreNotNames) {
  expect_yaml_error("? [a, b]\n: 1\n", {"plain name"});
  expect_yaml_error("base:\n  ? {x: 1}\n  : 2\n", {"plain name"});
}

TEST(ConfigHostile, HostileOverrides) {
  auto expect_override_error = [](const std::vector<std::string>& arguments, const std::vector<std::string>& keywords) {
    expect_l2n_error(
        [&] {
          LlmConfig config;
          apply_arguments(config, arguments);
        },
        keywords);
  };
  expect_override_error({"export.max_seq_length=" + std::string(50000, '[')}, {"export.max_seq_length"});
  expect_override_error({"quantization.calibration_tasks=" + alias_bomb(20)}, {"calibration_tasks"});
  expect_override_error({"export.max_seq_length=&a [*a]"}, {"export.max_seq_length"});
  expect_override_error({std::string(10000, 'k') + "=1"}, {"unknown configuration key"});
  expect_override_error({"=1"}, {"no key"});
  expect_override_error({"--max_seq_length"}, {"needs a value"});
  expect_override_error({"--calibration_tasks"}, {"at least one value"});
  expect_override_error({std::string("base.checkpoint\xff=x")}, {"unknown configuration key"});
}

// Found by config_overrides_fuzz: a value with invalid UTF-8 reached an error message through
// nlohmann's dump(), whose type_error escaped as a crash. The message now shows it with U+FFFD.
TEST(ConfigHostile, InvalidUtf8InAValueQuotedByAMessage) {
  const std::vector<std::string> arguments = {"--pt2e_quantize", "ethosu_16a8w", "-kv",
                                              "--calibration_tasks", "wikitext", "m\x93\x96u",
                                              "backend.ethosu.enabled=true"};
  const std::string message = expect_l2n_error(
      [&] {
        LlmConfig config;
        apply_arguments(config, arguments);
        (void)resolve(std::move(config));
      },
      {"calibration_tasks"});
  EXPECT_NE(message.find("\xef\xbf\xbd"), std::string::npos) << message;
}

TEST(ConfigHostile, InvalidUtf8PathRendersAsJson) {
  LlmConfig config;
  apply_arguments(config, {"base.checkpoint=/tmp/model\xff.pth", "backend.tosa.enabled=true",
                           "quantization.pt2e_quantize=tosa_8a8w"});
  const std::string text = json_text(render_json(resolve(std::move(config))));
  EXPECT_NE(text.find("model\xef\xbf\xbd.pth"), std::string::npos) << text;
}

}  // namespace
}  // namespace l2n::config
