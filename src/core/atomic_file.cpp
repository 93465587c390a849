#include "core/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>

#include "core/error.h"

namespace l2n {
namespace {

// Temporary files in flight, readable from a signal handler: fixed buffers, claimed with an
// atomic flag (no allocation, no locks in the handler).
constexpr size_t kSlots = 16;
constexpr size_t kPathMax = 4096;
struct Slot {
  std::atomic<bool> used{false};
  char path[kPathMax] = {};
};
std::array<Slot, kSlots> g_slots;

int claim_slot(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (size_t i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (g_slots[i].used.load() || !g_slots[i].used.compare_exchange_strong(expected, true)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    return static_cast<int>(i);
  }
  return -1;  // more than kSlots concurrent writes: still atomic, just not cleaned on a signal
}

void release_slot(int slot) {
  if (slot >= 0) g_slots[static_cast<size_t>(slot)].used.store(false);
}

extern "C" void remove_temporaries_and_die(int sig) {
  for (Slot& s : g_slots)
    if (s.used.load()) ::unlink(s.path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::filesystem::path directory_of(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path, std::string_view what)
    : path_(std::move(path)), what_(what.empty() ? fmt::format("'{}'", path_.string()) : std::string(what)) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path dir = directory_of(path_);
  temp_ = dir / fmt::format(".{}.tmp-{}-{}", path_.filename().string(), ::getpid(), counter.fetch_add(1));
  // Registered before it exists, so no moment of the file's life escapes the signal handler.
  slot_ = claim_slot(temp_.string());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    release_slot(slot_);
    slot_ = -1;
    temp_.clear();
    fail("cannot write {}: cannot create a file in {}: {}; check that the directory exists and is writable", what_,
         dir.string(), std::strerror(err));
  }
}

AtomicFileWriter::~AtomicFileWriter() { abort(); }

void AtomicFileWriter::abort() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
  release_slot(slot_);
  slot_ = -1;
}

void AtomicFileWriter::give_up(const char* step, int err) {
  abort();
  fail("cannot write {}: {} failed: {}; check free space and permissions", what_, step, std::strerror(err));
}

void AtomicFileWriter::write(const void* bytes, size_t size) {
  if (fd_ < 0) fail("cannot write {}: the file was already committed or abandoned", what_);
  const char* data = static_cast<const char*>(bytes);
  while (size > 0) {
    const ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      give_up("write", errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFileWriter::write(std::span<const uint8_t> bytes) { write(bytes.data(), bytes.size()); }

void AtomicFileWriter::commit() {
  if (fd_ < 0) fail("cannot write {}: the file was already committed or abandoned", what_);
  if (::fsync(fd_) != 0) give_up("fsync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) give_up("close", errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    abort();
    fail("cannot write {}: {}; check that the path is not a directory and is writable", what_, std::strerror(err));
  }
  temp_.clear();  // now the destination: abort() must not remove it
  release_slot(slot_);
  slot_ = -1;
  // Make the rename durable; the new file is complete whether or not this succeeds.
  if (const int dfd = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes, std::string_view what) {
  AtomicFileWriter file(path, what);
  file.write(bytes);
  file.commit();
}

void write_file_atomic(const std::filesystem::path& path, std::string_view text, std::string_view what) {
  write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), what);
}

void install_interrupt_cleanup() {
  struct sigaction action {};
  action.sa_handler = remove_temporaries_and_die;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);
}

}  // namespace l2n
