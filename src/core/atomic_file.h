// Atomic file output: every file llm2npu writes (programs, TOSA files, reports, .npy) goes
// through write_file_atomic, so a reader sees the old file or the complete new one, never a
// truncated one.
//
// Contract:
//  * The bytes go to a temporary file in the destination's directory (".<name>.tmp-<pid>-<n>",
//    same file system, so the rename is atomic), which is written, fsynced and renamed over
//    `path`; the directory is fsynced after. On any failure the temporary file is removed
//    and l2n::Error says what failed; an existing file at `path` is untouched.
//  * install_interrupt_cleanup() (called once by main) makes SIGINT/SIGTERM/SIGHUP remove the
//    temporary files being written at that moment before the process dies with the
//    signal. SIGKILL cannot be caught: it can leave a ".tmp-" file, never a partial `path`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

namespace l2n {

// `what` names the file in messages (e.g. "program 'x.l2n'"); default: the quoted path.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes, std::string_view what = {});
void write_file_atomic(const std::filesystem::path& path, std::string_view text, std::string_view what = {});

void install_interrupt_cleanup();

}  // namespace l2n
