// An export killed at any moment leaves the previous output or none, never a truncated one:
// SIGKILL at several points of a run, and SIGINT/SIGTERM, which also remove the temporary file.
// make-model, which streams its weights, leaves nothing when interrupted.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "cli_run.h"
#include "core/atomic_file.h"
#include "program/program.h"
#include "test_data.h"

namespace {

namespace fs = std::filesystem;

const std::string kOld = "previous output: must survive an interrupted export";

// Starts `llm2npu ARGS` with stdout and stderr to /dev/null; returns its pid.
pid_t spawn_cli(std::vector<std::string> args) {
  args.insert(args.begin(), LLM2NPU_CLI);
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Sends `sig` to `pid` and returns its wait status.
int signal_and_wait(pid_t pid, int sig) {
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// Starts `llm2npu export ... -o out` and sends `sig` after `delay`; returns the wait status.
int export_and_signal(const fs::path& out, int sig, std::chrono::milliseconds delay) {
  const pid_t pid = spawn_cli({"export", "--checkpoint", l2n::testing::stories260k_bin().string(), "--max_seq_length",
                               "256", "--calibration_seq_length", "256", "--pt2e_quantize", "ethosu_16a8w",
                               "--quantize_scope", "full", "backend.ethosu.enabled=true",
                               "backend.ethosu.target=ethos-u85-256", "--no-progress", "-o", out.string()});
  std::this_thread::sleep_for(delay);
  return signal_and_wait(pid, sig);
}

// The file is the old content, or a complete program (the export finished before the signal).
void expect_old_or_complete(const fs::path& out) {
  ASSERT_TRUE(fs::exists(out));
  const std::string bytes = l2n::testing::slurp(out);
  if (bytes == kOld) return;
  EXPECT_NO_THROW(l2n::program::read_program_file(out)) << "neither the old file nor a complete program";
}

std::vector<fs::path> temporaries(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;  // a directory not made yet holds none
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) found.push_back(e.path());
  return found;
}

TEST(CliInterrupt, SigkillAtAnyPointLeavesTheOldFileOrACompleteOne) {
  const l2n::testing::ScratchDir dir("l2n_cli_interrupt");
  const fs::path out = dir / "p.l2n";
  for (int ms : {30, 120, 300, 700, 1500, 3000}) {
    l2n::write_file_atomic(out, kOld);
    export_and_signal(out, SIGKILL, std::chrono::milliseconds(ms));
    expect_old_or_complete(out);
    for (const auto& t : temporaries(dir.path())) fs::remove(t);  // SIGKILL cannot be cleaned up after
  }
}

TEST(CliInterrupt, SigintAndSigtermRemoveTheTemporaryFile) {
  const l2n::testing::ScratchDir dir("l2n_cli_interrupt");
  const fs::path out = dir / "p.l2n";
  for (int sig : {SIGINT, SIGTERM}) {
    for (int ms : {100, 800}) {
      l2n::write_file_atomic(out, kOld);
      const int status = export_and_signal(out, sig, std::chrono::milliseconds(ms));
      if (WIFSIGNALED(status)) {
        EXPECT_EQ(WTERMSIG(status), sig);
      }
      expect_old_or_complete(out);
      EXPECT_TRUE(temporaries(dir.path()).empty());
    }
  }
}

// SIGINT while make-model streams model.safetensors (~540 MB for SmolLM2-135M in F32): the
// temporary file goes, no model.safetensors appears, and the process dies by the signal.
TEST(CliInterrupt, SigintDuringMakeModelLeavesNoWeights) {
  const l2n::testing::ScratchDir dir("l2n_cli_interrupt");
  const fs::path out = dir / "model";
  const pid_t pid = spawn_cli({"make-model", "--preset", "smollm2-135m", "--no-progress", "-o", out.string()});
  // Interrupt once the weights are being written: a temporary file with some bytes in it.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool writing = false;
  while (!writing && std::chrono::steady_clock::now() < give_up) {
    for (const auto& t : temporaries(out)) {
      std::error_code ec;
      writing = writing || fs::file_size(t, ec) > 0;
    }
    if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int status = signal_and_wait(pid, SIGINT);
  ASSERT_TRUE(writing) << "make-model never started writing its weights";
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  EXPECT_EQ(WTERMSIG(status), SIGINT);
  EXPECT_TRUE(temporaries(out).empty());
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  EXPECT_FALSE(fs::exists(out / "config.json"));
}

}  // namespace
