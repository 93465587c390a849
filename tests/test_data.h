// Paths to the shared test data (../shared/data), fixed at configure time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace l2n::testing {

inline std::filesystem::path shared_data() { return std::filesystem::path(LLM2NPU_SHARED_DIR) / "data"; }
inline std::filesystem::path stories260k_dir() { return shared_data() / "models" / "stories260K"; }
inline std::filesystem::path stories260k_bin() { return stories260k_dir() / "stories260K.bin"; }
inline std::filesystem::path stories260k_hf_dir() { return shared_data() / "models" / "stories260K-hf"; }
inline std::filesystem::path tiny_gguf() {
  return shared_data() / "models" / "llama-2-tiny-random-gguf" / "llama-2-tiny-random.gguf";
}
inline std::filesystem::path tinystories_text() { return shared_data() / "text" / "tinystories" / "tinystories_dev.txt"; }

// Greedy token ids from BOS for stories260K (SOURCES.md).
inline constexpr int kStories260kGreedy[] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376,
                                             298, 315, 421, 395, 317, 426, 338, 401, 396, 267};

// n calibration samples of `length` tokens: BOS, then the greedy sequence above from offset
// 3k (deterministic, no tokenizer needed).
inline std::vector<std::vector<int32_t>> stories260k_samples(int64_t n, int64_t length) {
  std::vector<std::vector<int32_t>> s;
  for (int64_t k = 0; k < n; ++k) {
    std::vector<int32_t> t{1};
    for (int64_t i = 1; i < length; ++i) t.push_back(kStories260kGreedy[(i + k * 3) % 20]);
    s.push_back(t);
  }
  return s;
}

}  // namespace l2n::testing
