#include <gtest/gtest.h>

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
