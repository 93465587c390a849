// A read-only memory-mapped file. The mapping lives as long as any shared_ptr to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

namespace l2n {

class MappedFile {
 public:
  // Throws l2n::Error naming the path when the file cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

  // Drops the mapping's pages from this process's resident set; the bytes do not change
  // (the mapping is read-only, a later read faults them back in from the page cache). For
  // a phase that is done with most of a large checkpoint and must not be charged for it.
  void release_resident_pages() const;

 private:
  MappedFile() = default;
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string; throws l2n::Error naming the path on failure.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace l2n
