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

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes, std::string_view what) {
  static std::atomic<uint64_t> counter{0};
  const std::string name = what.empty() ? fmt::format("'{}'", path.string()) : std::string(what);
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path temp =
      dir / fmt::format(".{}.tmp-{}-{}", path.filename().string(), ::getpid(), counter.fetch_add(1));
  const int slot = claim_slot(temp.string());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    release_slot(slot);
    fail("cannot write {}: cannot create a file in {}: {}; check that the directory exists and is writable", name,
         dir.string(), std::strerror(err));
  }
  auto give_up = [&](const char* step, int err) {
    ::unlink(temp.c_str());
    release_slot(slot);
    fail("cannot write {}: {} failed: {}; check free space and permissions", name, step, std::strerror(err));
  };
  const uint8_t* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      give_up("write", err);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    give_up("fsync", err);
  }
  if (::close(fd) != 0) give_up("close", errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    release_slot(slot);
    fail("cannot write {}: {}; check that the path is not a directory and is writable", name, std::strerror(err));
  }
  release_slot(slot);
  // Make the rename durable; the new file is complete whether or not this succeeds.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
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
