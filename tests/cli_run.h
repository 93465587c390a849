// Running the built llm2npu binary from a test: exit status, stdout and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "scratch_dir.h"

namespace l2n::testing {

struct CliRun {
  int status = -1;  // the exit status; -1 when killed by a signal
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Single-quoted for the shell (built piecewise: GCC 12 warns falsely on "'" + s + "'").
inline std::string q(const std::filesystem::path& p) {
  std::string quoted(1, '\'');
  quoted += p.string();
  quoted += '\'';
  return quoted;
}

// Runs `llm2npu ARGS` (ARGS already shell-quoted where needed) with stdin from /dev/null.
inline CliRun run_cli(const std::string& args) {
  const ScratchDir io("l2n_cli_io");  // holds stdout and stderr until they are read back
  const auto out = io / "stdout", err = io / "stderr";
  const std::string cmd = std::string(LLM2NPU_CLI) + " " + args + " >" + q(out) + " 2>" + q(err) + " </dev/null";
  const int raw = std::system(cmd.c_str());
  return CliRun{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
}

}  // namespace l2n::testing
