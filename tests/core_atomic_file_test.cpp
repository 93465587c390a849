// core/atomic_file: the streaming writer replaces the destination only on commit(), and an
// abandoned write (exception, early return) leaves neither a temporary nor a partial file.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "scratch_dir.h"

namespace l2n {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

size_t entries(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFileWriter, ChunksBecomeTheFileOnCommit) {
  const ScratchDir dir("l2n_atomic");
  const fs::path path = dir / "out.bin";
  write_file_atomic(path, std::string_view("old"));
  {
    AtomicFileWriter file(path);
    EXPECT_EQ(file.temp_path().parent_path(), dir.path());
    file.write("new ", 4);
    file.write("bytes", 5);
    EXPECT_EQ(read_text_file(path), "old");  // nothing visible before commit
    file.commit();
    EXPECT_THROW(file.write("x", 1), Error);
  }
  EXPECT_EQ(read_text_file(path), "new bytes");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFileWriter, AnAbandonedWriteLeavesTheOldFileAndNoTemporary) {
  const ScratchDir dir("l2n_atomic");
  const fs::path path = dir / "out.bin";
  write_file_atomic(path, std::string_view("old"));
  EXPECT_THROW(
      {
        AtomicFileWriter file(path);
        file.write("partial", 7);
        throw std::runtime_error("the producer failed");
      },
      std::runtime_error);
  EXPECT_EQ(read_text_file(path), "old");
  EXPECT_EQ(entries(dir.path()), 1u);

  AtomicFileWriter file(dir / "other.bin");
  file.write("x", 1);
  file.abort();
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFileWriter, AMissingDirectoryIsAClearError) {
  const ScratchDir dir("l2n_atomic");
  try {
    AtomicFileWriter file(dir / "no_such_dir" / "out.bin", "report 'out.bin'");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cannot write report 'out.bin'"), std::string::npos) << message;
    EXPECT_NE(message.find("check that the directory exists"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace l2n
