#include "tosa/npy.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tosa/serialize.h"

namespace l2n::tosa {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct Header {
  std::string descr;
  bool fortran = false;
  Shape shape;
  bool has_descr = false, has_fortran = false, has_shape = false;
};

// A tiny parser for the Python dict literal numpy writes: {'key': value, ...} with string,
// bool and tuple-of-int values.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  Header parse() {
    Header h;
    skip();
    expect('{');
    for (;;) {
      skip();
      if (peek() == '}') break;
      const std::string key = string();
      skip();
      expect(':');
      skip();
      if (key == "descr") {
        h.descr = string();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran = boolean();
        h.has_fortran = true;
      } else if (key == "shape") {
        h.shape = tuple();
        h.has_shape = true;
      } else {
        bad("unknown header key '{}'", key);
      }
      skip();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip();
      if (peek() != '}') bad("expected ',' or '}}' at header offset {}", pos_);
    }
    if (!h.has_descr || !h.has_fortran || !h.has_shape) bad("the header lacks descr, fortran_order or shape");
    return h;
  }

 private:
  template <typename... Args>
  [[noreturn]] void bad(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{} is not a valid .npy file: {}", what_, fmt::format(format, std::forward<Args>(args)...));
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) bad("expected '{}' at header offset {}", c, pos_);
    ++pos_;
  }
  std::string string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string at header offset {}", pos_);
    ++pos_;
    const size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) bad("unterminated string in the header");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(pos_).starts_with("True")) return pos_ += 4, true;
    if (s_.substr(pos_).starts_with("False")) return pos_ += 5, false;
    bad("fortran_order must be True or False");
  }
  Shape tuple() {
    expect('(');
    Shape out;
    for (;;) {
      skip();
      if (peek() == ')') break;
      int64_t v = 0;
      size_t digits = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) bad("a shape dimension is too large");
        v = v * 10 + (peek() - '0');
        ++pos_;
        ++digits;
      }
      if (digits == 0) bad("the shape must be a tuple of non-negative integers");
      out.push_back(v);
      skip();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') bad("expected ',' or ')' in the shape");
    }
    ++pos_;
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string what_;
};

}  // namespace

std::string_view npy_descr(NpyType t) {
  switch (t) {
    case NpyType::I8: return "|i1";
    case NpyType::I16: return "<i2";
    case NpyType::I32: return "<i4";
    case NpyType::I64: return "<i8";
    case NpyType::F32: return "<f4";
    case NpyType::Bool: return "|b1";
  }
  return "?";
}

l2n::DType npy_storage(NpyType t) {
  switch (t) {
    case NpyType::I8: return l2n::DType::I8;
    case NpyType::I16: return l2n::DType::I16;
    case NpyType::I32: return l2n::DType::I32;
    case NpyType::I64: return l2n::DType::I64;
    case NpyType::F32: return l2n::DType::F32;
    case NpyType::Bool: return l2n::DType::U8;
  }
  return l2n::DType::U8;
}

std::vector<uint8_t> write_npy(const NpyArray& array) {
  if (array.tensor.dtype() != npy_storage(array.type))
    fail("internal: .npy {} array held as {}", npy_descr(array.type), l2n::dtype_name(array.tensor.dtype()));
  // Python tuple syntax: "()", "(4,)", "(2, 3)".
  std::string shape = fmt::format("{}", fmt::join(array.tensor.shape(), ", "));
  if (array.tensor.rank() == 1) shape += ",";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", npy_descr(array.type), shape);
  int major = 1;
  size_t prefix = 10;
  if (header.size() + 1 + prefix > 65535) major = 2, prefix = 12;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::vector<uint8_t> out(kMagic, kMagic + 6);
  out.push_back(static_cast<uint8_t>(major));
  out.push_back(0);
  const auto len = static_cast<uint32_t>(header.size());
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  const auto* data = static_cast<const uint8_t*>(array.tensor.raw());
  out.insert(out.end(), data, data + array.tensor.nbytes());  // little-endian host
  return out;
}

NpyArray read_npy(std::span<const uint8_t> bytes, const std::string& what) {
  auto bad = [&](const std::string& why) { fail("{} is not a valid .npy file: {}", what, why); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) bad("it does not start with the NumPy magic");
  const int major = bytes[6];
  if (major < 1 || major > 3) bad(fmt::format("format version {}.{} is unknown", major, bytes[7]));
  size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
    prefix = 10;
  } else {
    if (bytes.size() < 12) bad("the header is truncated");
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) | (static_cast<size_t>(bytes[10]) << 16) |
                 (static_cast<size_t>(bytes[11]) << 24);
    prefix = 12;
  }
  if (header_len > bytes.size() - prefix) bad(fmt::format("the header claims {} bytes, the file has {}", header_len, bytes.size() - prefix));
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);
  const Header h = HeaderParser(text, what).parse();
  NpyArray array;
  const std::string& d = h.descr;
  if (d == "<i1" || d == "|i1") array.type = NpyType::I8;
  else if (d == "<i2") array.type = NpyType::I16;
  else if (d == "<i4") array.type = NpyType::I32;
  else if (d == "<i8") array.type = NpyType::I64;
  else if (d == "<f4") array.type = NpyType::F32;
  else if (d == "|b1" || d == "<b1") array.type = NpyType::Bool;
  else bad(fmt::format("dtype '{}' is not supported (int8/16/32/64 little-endian, float32, bool)", d));
  if (h.fortran && h.shape.size() > 1) bad("Fortran-order arrays are not supported; save it with C order");
  int64_t count = 1;
  for (int64_t dim : h.shape) {
    if (dim != 0 && count > std::numeric_limits<int64_t>::max() / 8 / dim) bad("the shape has too many elements");
    count *= dim;
  }
  const size_t es = dtype_size(npy_storage(array.type));
  const size_t need = static_cast<size_t>(count) * es, have = bytes.size() - prefix - header_len;
  if (have != need) bad(fmt::format("shape ({}) of {} needs {} data bytes, the file has {}", fmt::join(h.shape, ", "), d, need, have));
  array.tensor = Tensor(npy_storage(array.type), h.shape);
  if (need) std::memcpy(array.tensor.mutable_raw(), bytes.data() + prefix + header_len, need);
  if (array.type == NpyType::Bool) {
    auto* p = static_cast<uint8_t*>(array.tensor.mutable_raw());
    for (int64_t i = 0; i < count; ++i) p[i] = p[i] != 0;
  }
  return array;
}

void write_npy_file(const std::filesystem::path& path, const NpyArray& array) {
  const auto bytes = write_npy(array);
  write_file_atomic(path, bytes);
}

NpyArray read_npy_file(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  return read_npy(bytes, path.string());
}

}  // namespace l2n::tosa
