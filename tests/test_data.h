// Paths to the shared test data (../shared/data), fixed at configure time.
#pragma once

#include <filesystem>

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

}  // namespace l2n::testing
