// Shared by the libFuzzer targets in tests/fuzz/ (cmake/fuzz.cmake, make fuzz).
//
// Contract of every target: a reader given any bytes either succeeds or throws l2n::Error.
// Any other exception escapes LLVMFuzzerTestOneInput and libFuzzer reports it as a crash,
// as it does for sanitizer reports, aborts, hangs and out-of-memory.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace l2n::fuzz {

// A directory of this process under the temp dir (TMPDIR, /tmp), created once and reused by
// every input: readers that take a path get their bytes from a file written here.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("l2n_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes bytes to scratch_dir()/name (replacing it, creating its directory) and returns
// the path.
inline std::filesystem::path write_file(const std::string& name, std::string_view bytes) {
  const std::filesystem::path path = scratch_dir() / name;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  std::fclose(f);
  return path;
}

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace l2n::fuzz
