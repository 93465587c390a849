// Errors: one exception type for everything the user can cause or the system can refuse.
//
// Contract: every failure a user can trigger (bad file, bad option, impossible config)
// throws l2n::Error with a message that says what failed, where (file/option), and what to
// do. The CLI maps ErrorKind to the exit status: Runtime -> 1, Usage -> 2. Nothing in the
// library prints or exits on its own.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace l2n {

enum class ErrorKind {
  Runtime = 1,  // a file, a model, the system: exit status 1
  Usage = 2,    // options, configuration: exit status 2
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::Runtime)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...), ErrorKind::Runtime);
}

template <typename... Args>
[[noreturn]] void fail_usage(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...), ErrorKind::Usage);
}

}  // namespace l2n
