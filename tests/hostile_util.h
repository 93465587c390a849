// Helpers shared by the hostile-input tests (tests/*_hostile_test.cpp): scratch dirs
// (scratch_dir.h), raw file writing, and the check that a reader fails with l2n::Error
// naming the problem.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "scratch_dir.h"

namespace l2n::testing {

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

template <typename T>
void append_le(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Runs fn, expecting an l2n::Error whose message contains every keyword; any other
// exception, or none, is a failure. Returns the message.
inline std::string expect_l2n_error(const std::function<void()>& fn, const std::vector<std::string>& keywords) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one mentioning '" << keywords.front() << "'";
  } catch (const l2n::Error& e) {
    const std::string msg = e.what();
    for (const auto& k : keywords) EXPECT_NE(msg.find(k), std::string::npos) << "'" << k << "' not in: " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-l2n exception: " << e.what();
  }
  return {};
}

// `depth` nested JSON arrays around a number: "[[[...1...]]]".
inline std::string nested_json_arrays(size_t depth) {
  return std::string(depth, '[') + "1" + std::string(depth, ']');
}

}  // namespace l2n::testing
