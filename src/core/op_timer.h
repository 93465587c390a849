// Opt-in time per operator kind, for performance work on the executors.
//
// With the environment variable L2N_PROFILE_OPS set (to anything but "0"), the executors add
// the wall time of every operator they run under a key such as "tosa RESCALE" or
// "exec MatMul"; at process exit a table (key, calls, total ms, share of the profiled
// total), the largest first, goes to stderr. Unset, op_timing_enabled() is false and the
// executors take no clock readings. Thread-safe (the totals are behind a mutex; operators
// run one at a time per executor, so contention is negligible).
#pragma once

#include <chrono>
#include <string_view>

namespace l2n {

bool op_timing_enabled();
void add_op_time(std::string_view key, std::chrono::steady_clock::duration elapsed);

// Adds the lifetime of the scope under `key` when timing is enabled.
class OpTimerScope {
 public:
  explicit OpTimerScope(std::string_view key) : key_(key), enabled_(op_timing_enabled()) {
    if (enabled_) start_ = std::chrono::steady_clock::now();
  }
  ~OpTimerScope() {
    if (enabled_) add_op_time(key_, std::chrono::steady_clock::now() - start_);
  }
  OpTimerScope(const OpTimerScope&) = delete;
  OpTimerScope& operator=(const OpTimerScope&) = delete;

 private:
  std::string_view key_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace l2n
