#pragma once
// JSON serialization for everything the tool prints or writes.
//
// Contract: json_text(value, indent) equals value.dump(indent) except that bytes which are not
// valid UTF-8 inside strings become U+FFFD instead of throwing. Strings reach our JSON from
// the user (command-line overrides, YAML values, file paths) and from binary formats (GGUF
// names) without UTF-8 validation, and nlohmann's default dump() throws a type_error on them,
// which is not an l2n::Error and so would escape the error handling of every command.
#include <string>

namespace l2n {

template <typename Json>
std::string json_text(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace l2n
