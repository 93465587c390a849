// A test's scratch directory: fresh, under the system temp directory, and removed with all it
// holds when the object goes out of scope, so that test runs leave nothing behind in /tmp.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace l2n::testing {

class ScratchDir {
 public:
  // <temp>/<tag>_<pid>_<n>: the pid keeps parallel test processes apart, n the directories
  // of one process.
  explicit ScratchDir(std::string_view tag = "l2n_test") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            (std::string(tag) + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);  // a leftover of a killed run with a recycled pid
    std::filesystem::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;  // a destructor cannot report; a leftover is harmless
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }

  // Writes `bytes` to <dir>/<name> (replacing it) and returns the path.
  std::filesystem::path write(const std::string& name, std::string_view bytes) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace l2n::testing
