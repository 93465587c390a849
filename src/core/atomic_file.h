// Atomic file output: every file llm2npu writes (programs, TOSA files, reports, .npy, the
// weights of make-model) goes through AtomicFileWriter or write_file_atomic, so a reader sees
// the old file or the complete new one, never a truncated one.
//
// Contract:
//  * The bytes go to a temporary file in the destination's directory (".<name>.tmp-<pid>-<n>",
//    same file system, so the rename is atomic), which is written, fsynced and renamed over
//    `path`; the directory is fsynced after. On any failure the temporary file is removed
//    and l2n::Error says what failed; an existing file at `path` is untouched.
//  * AtomicFileWriter streams: write() any number of chunks, then commit(). Destroying it (or
//    abort()) before commit() removes the temporary file, so an exception on the way out of a
//    long write cleans up by itself.
//  * install_interrupt_cleanup() (called once by main) makes SIGINT/SIGTERM/SIGHUP remove the
//    temporary files being written at that moment (by either API) before the process dies
//    with the signal. SIGKILL cannot be caught: it can leave a ".tmp-" file, never a partial
//    `path`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace l2n {

class AtomicFileWriter {
 public:
  // Creates the temporary file. `what` names the file in messages (e.g. "program 'x.l2n'");
  // default: the quoted path.
  explicit AtomicFileWriter(std::filesystem::path path, std::string_view what = {});
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void write(std::span<const uint8_t> bytes);
  void write(const void* bytes, size_t size);
  // fsync, rename over the destination, fsync the directory. Writing after it is an error.
  void commit();
  // Removes the temporary file now (the destructor does the same if commit() was not called).
  void abort() noexcept;

  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  [[noreturn]] void give_up(const char* step, int err);

  std::filesystem::path path_, temp_;
  std::string what_;
  int fd_ = -1;
  int slot_ = -1;  // the interrupt-cleanup slot holding temp_, or -1
};

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes, std::string_view what = {});
void write_file_atomic(const std::filesystem::path& path, std::string_view text, std::string_view what = {});

void install_interrupt_cleanup();

}  // namespace l2n
