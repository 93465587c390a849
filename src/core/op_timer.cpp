#include "core/op_timer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace l2n {
namespace {

struct Totals {
  std::mutex mutex;
  std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::duration>, std::less<>> by_key;

  ~Totals() {
    if (by_key.empty()) return;
    std::vector<std::pair<std::string, std::pair<int64_t, std::chrono::steady_clock::duration>>> rows(by_key.begin(),
                                                                                                      by_key.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
    double total_ms = 0;
    for (const auto& row : rows) total_ms += std::chrono::duration<double, std::milli>(row.second.second).count();
    fmt::print(stderr, "L2N_PROFILE_OPS: {:.1f} ms in operators\n{:<32} {:>10} {:>12} {:>7}\n", total_ms, "operator",
               "calls", "total ms", "share");
    for (const auto& [key, value] : rows) {
      const double ms = std::chrono::duration<double, std::milli>(value.second).count();
      fmt::print(stderr, "{:<32} {:>10} {:>12.2f} {:>6.1f}%\n", key, value.first, ms, 100.0 * ms / total_ms);
    }
  }
};

Totals& totals() {
  static Totals instance;
  return instance;
}

}  // namespace

bool op_timing_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("L2N_PROFILE_OPS");
    return value != nullptr && std::string_view(value) != "0" && std::string_view(value) != "";
  }();
  return enabled;
}

void add_op_time(std::string_view key, std::chrono::steady_clock::duration elapsed) {
  Totals& t = totals();
  std::lock_guard lock(t.mutex);
  auto it = t.by_key.find(key);
  if (it == t.by_key.end()) it = t.by_key.emplace(std::string(key), std::pair{int64_t{0}, elapsed.zero()}).first;
  it->second.first += 1;
  it->second.second += elapsed;
}

}  // namespace l2n
