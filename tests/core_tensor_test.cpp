#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace l2n {
namespace {

TEST(Tensor, OwnsZeroedMemoryAndSharesOnCopy) {
  Tensor a(DType::F32, {2, 3});
  EXPECT_EQ(a.numel(), 6);
  EXPECT_EQ(a.nbytes(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.data<float>()[i], 0.0f);
  Tensor b = a;
  b.mutable_data<float>()[4] = 7.0f;
  EXPECT_EQ(a.data<float>()[4], 7.0f);
  Tensor c = a.clone();
  c.mutable_data<float>()[4] = 1.0f;
  EXPECT_EQ(a.data<float>()[4], 7.0f);
}

TEST(Tensor, ZeroedEvenInReusedMemoryAndAlignedForEveryType) {
  // Memory that uninitialised tensors filled and freed comes back from the allocator: a
  // zeroed tensor must still be zero in every byte, and every buffer aligned for int64/double.
  for (const int64_t bytes : {1, 10, 16, 17, 100, 1000, 4096, 70000}) {
    for (int round = 0; round < 3; ++round) {
      std::vector<Tensor> dirty;
      for (int k = 0; k < 4; ++k) {
        dirty.push_back(Tensor::uninitialized(DType::U8, {bytes}));
        std::fill_n(dirty.back().mutable_data<uint8_t>(), bytes, uint8_t{0xab});
      }
    }
    const Tensor clean(DType::U8, {bytes});
    const uint8_t* p = clean.data<uint8_t>();
    EXPECT_EQ(std::count(p, p + bytes, uint8_t{0}), bytes) << bytes << " bytes";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(clean.raw()) % alignof(std::max_align_t), 0u) << bytes << " bytes";
    EXPECT_TRUE(clean.sole_owner());
  }
}

TEST(Tensor, RejectsWrongDtypeAndWritesToViews) {
  Tensor a(DType::I32, {4});
  EXPECT_THROW(a.data<float>(), Error);
  static const float values[2] = {1, 2};
  Tensor v = Tensor::view(DType::F32, {2}, values, nullptr);
  EXPECT_EQ(v.data<float>()[1], 2.0f);
  EXPECT_THROW(v.mutable_data<float>(), Error);
  EXPECT_THROW(a.reshaped({3}), Error);
  EXPECT_EQ(a.reshaped({2, 2}).dim(-1), 2);
}

TEST(DType, HalfConversionsAreExact) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604644775390625e-08f);  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), 6.0975551605224609e-05f);  // largest subnormal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc0a0), -5.0f);
}

}  // namespace
}  // namespace l2n
