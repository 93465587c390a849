// NumPy .npy reading and writing: round trips, numpy's exact header bytes, malformed files.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "tosa/npy.h"

namespace l2n::tosa {
namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// What numpy 1.x/2.x writes for np.save(f, np.array([[1, -2, 3], [4, 5, -6]], dtype='<i4')).
std::vector<uint8_t> numpy_i32_2x3() {
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  for (int32_t v : {1, -2, 3, 4, 5, -6}) file.append(reinterpret_cast<const char*>(&v), 4);
  return bytes_of(file);
}

TEST(TosaNpy, ReadsWhatNumpyWritesAndWritesItBack) {
  const auto bytes = numpy_i32_2x3();
  const NpyArray a = read_npy(bytes);
  EXPECT_EQ(a.type, NpyType::I32);
  EXPECT_EQ(a.tensor.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.tensor.data<int32_t>()[1], -2);
  EXPECT_EQ(a.tensor.data<int32_t>()[5], -6);
  EXPECT_EQ(write_npy(a), bytes);  // numpy's header, byte for byte
}

TEST(TosaNpy, RoundTripsEveryType) {
  const std::vector<std::pair<NpyType, Shape>> cases = {
      {NpyType::I8, {3}}, {NpyType::I16, {2, 2}}, {NpyType::I32, {}}, {NpyType::I64, {1, 2, 3}},
      {NpyType::F32, {4}}, {NpyType::Bool, {5}}, {NpyType::I32, {0, 3}}};
  for (const auto& [type, shape] : cases) {
    NpyArray a{type, Tensor(npy_storage(type), shape)};
    auto* raw = static_cast<uint8_t*>(a.tensor.mutable_raw());
    for (size_t i = 0; i < a.tensor.nbytes(); ++i) raw[i] = static_cast<uint8_t>(type == NpyType::Bool ? i % 2 : i * 37);
    const auto bytes = write_npy(a);
    EXPECT_EQ((bytes.size() - a.tensor.nbytes()) % 64, 0u) << "header padded to 64";
    const NpyArray b = read_npy(bytes);
    EXPECT_EQ(b.type, type);
    EXPECT_EQ(b.tensor.shape(), shape);
    EXPECT_EQ(std::memcmp(a.tensor.raw(), b.tensor.raw(), a.tensor.nbytes()), 0);
  }
  const std::string header1d(reinterpret_cast<const char*>(write_npy(NpyArray{NpyType::I8, Tensor(l2n::DType::I8, {4})}).data()) + 10, 60);
  EXPECT_NE(header1d.find("'shape': (4,)"), std::string::npos) << header1d;
  EXPECT_NE(header1d.find("'descr': '|i1'"), std::string::npos) << header1d;
}

TEST(TosaNpy, Version2HeadersAndOtherKeyOrdersAreRead) {
  std::string header = "{'shape': (2,), 'fortran_order': False, 'descr': '<i2'}\n";
  std::string file = std::string("\x93NUMPY\x02\x00", 8);
  const auto len = static_cast<uint32_t>(header.size());
  file.append(reinterpret_cast<const char*>(&len), 4);
  file += header;
  file += std::string("\x01\x00\xff\xff", 4);
  const NpyArray a = read_npy(bytes_of(file));
  EXPECT_EQ(a.type, NpyType::I16);
  EXPECT_EQ(a.tensor.data<int16_t>()[1], -1);
}

void expect_bad(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    read_npy(bytes, "bad.npy");
    ADD_FAILURE() << "accepted; expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.npy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

std::vector<uint8_t> with_header(const std::string& header, size_t data_bytes) {
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  file.append(data_bytes, '\0');
  return bytes_of(file);
}

TEST(TosaNpy, MalformedFilesGiveClearErrors) {
  const auto good = numpy_i32_2x3();
  for (size_t n = 0; n < good.size(); ++n) {
    try {
      read_npy(std::span(good.data(), n), "bad.npy");
      ADD_FAILURE() << "truncated to " << n;
    } catch (const Error&) {
    }
  }
  expect_bad(bytes_of("PK\x03\x04 not numpy"), "magic");
  expect_bad(with_header("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }\n", 4), "'>i4' is not supported");
  expect_bad(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", 8), "'<f8' is not supported");
  expect_bad(with_header("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2), }\n", 16), "Fortran");
  expect_bad(with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }\n", 8), "needs 12 data bytes");
  expect_bad(with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (-1,), }\n", 0), "shape");
  expect_bad(with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }\n", 0),
             "too many");
  expect_bad(with_header("{'descr': '<i4', 'shape': (1,), }\n", 4), "lacks");
  expect_bad(with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), 'extra': 1}\n", 4), "unknown header key");
  auto huge = good;
  huge[8] = 0xff, huge[9] = 0xff;
  expect_bad(huge, "header claims");
}

}  // namespace
}  // namespace l2n::tosa
