// gather_strided (core/strided_copy.h) against an index-by-index reference: every permutation
// of ranks 1-4 (the 2-D-transpose tail path included), slices with offsets, element sizes
// 1, 2, 3, 4, 8, and shapes with odd extents and a zero extent.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "core/strided_copy.h"

namespace l2n {
namespace {

std::vector<uint8_t> reference(const std::vector<int64_t>& shape, const std::vector<uint8_t>& src, int64_t base,
                               const std::vector<int64_t>& strides, size_t elem) {
  int64_t count = 1;
  for (int64_t e : shape) count *= e;
  std::vector<uint8_t> out(static_cast<size_t>(count) * elem);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t offset = base;
    for (size_t d = 0; d < shape.size(); ++d) offset += index[d] * strides[d];
    std::copy_n(src.begin() + offset * static_cast<int64_t>(elem), elem, out.begin() + i * static_cast<int64_t>(elem));
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(StridedCopy, RowMajorStrides) {
  EXPECT_EQ(row_major_strides({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(row_major_strides({5}), (std::vector<int64_t>{1}));
  EXPECT_TRUE(row_major_strides({}).empty());
}

TEST(StridedCopy, EveryPermutationMatchesTheReference) {
  const std::vector<std::vector<int64_t>> shapes = {{7}, {5, 3}, {1, 17}, {33, 3, 5}, {512, 3, 16}, {2, 3, 4, 5}, {3, 1, 7, 2}};
  uint32_t seed = 1;
  for (const auto& in_shape : shapes)
    for (const size_t elem : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{8}}) {
      const std::vector<int64_t> in_strides = row_major_strides(in_shape);
      int64_t count = 1;
      for (int64_t e : in_shape) count *= e;
      const auto src = random_bytes(static_cast<size_t>(count) * elem, seed++);
      std::vector<int64_t> perm(in_shape.size());
      std::iota(perm.begin(), perm.end(), 0);
      do {
        std::vector<int64_t> out_shape, strides;
        for (int64_t p : perm) {
          out_shape.push_back(in_shape[static_cast<size_t>(p)]);
          strides.push_back(in_strides[static_cast<size_t>(p)]);
        }
        std::vector<uint8_t> out(src.size());
        gather_strided(out.data(), out_shape, src.data(), strides, elem);
        ASSERT_EQ(out, reference(out_shape, src, 0, strides, elem))
            << "shape rank " << in_shape.size() << " elem " << elem << " perm " << perm[0];
      } while (std::next_permutation(perm.begin(), perm.end()));
    }
}

TEST(StridedCopy, SlicesWithAnOffset) {
  const std::vector<int64_t> in_shape = {6, 7, 9};
  const std::vector<int64_t> strides = row_major_strides(in_shape);
  for (const size_t elem : {size_t{1}, size_t{2}, size_t{4}, size_t{8}}) {
    const auto src = random_bytes(6 * 7 * 9 * elem, 42);
    const std::vector<int64_t> begin = {1, 2, 3}, size = {4, 5, 6};
    int64_t base = 0;
    for (size_t d = 0; d < 3; ++d) base += begin[d] * strides[d];
    std::vector<uint8_t> out(4 * 5 * 6 * elem);
    gather_strided(out.data(), size, src.data() + base * static_cast<int64_t>(elem), strides, elem);
    EXPECT_EQ(out, reference(size, src, base, strides, elem)) << elem;
  }
}

TEST(StridedCopy, ScalarAndEmpty) {
  const std::vector<uint8_t> src = {1, 2, 3, 4};
  std::vector<uint8_t> out(4, 0);
  gather_strided(out.data(), {}, src.data(), {}, 4);
  EXPECT_EQ(out, src);
  std::vector<uint8_t> untouched(4, 9);
  gather_strided(untouched.data(), {0, 3}, src.data(), {3, 1}, 1);
  EXPECT_EQ(untouched, std::vector<uint8_t>(4, 9));
}

}  // namespace
}  // namespace l2n
