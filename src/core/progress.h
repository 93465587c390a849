// A progress bar on stderr for long work (eval, calibration, export).
// Draws only when stderr is a terminal or when forced; redraws at most ~10 times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace l2n {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  ~ProgressBar();
  void update(int64_t done, const std::string& suffix = "");
  void finish();

 private:
  void draw(int64_t done, const std::string& suffix);
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool finished_ = false;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace l2n
