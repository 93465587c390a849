// Internal to the exec stage: e^x for float in plain arithmetic that compilers vectorize.
// glibc's expf is a scalar call, and exp() is most of softmax, the largest op of a window.
//
// Contract: relative error below 2e-7 (about 2 ulp) against std::exp for x in [-87, 88];
// 0 below -87 (std::exp gives values under 1.7e-38 there), +inf above 88, NaN stays NaN.
#pragma once

#include <bit>
#include <cstdint>

namespace l2n::exec::detail {

inline float exp_f32(float x) {
  // e^x = 2^n · e^r with n = round(x·log2(e)) and |r| <= ln(2)/2; e^r from Cephes' expf
  // polynomial. ln(2) is split in two parts so that x - n·ln(2) is exact.
  //
  // Written without branches or float ?: on purpose: under the default -ftrapping-math the
  // compiler will not vectorize a loop in which float arithmetic became conditional. Inputs
  // outside [-87, 88] compute garbage that the masks at the end replace.
  const float rounder = 12582912.0f;  // 1.5·2^23: v + rounder holds round(v) in its low bits
  const float shifted = x * 1.44269504088896341f + rounder;
  const float n = shifted - rounder;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = p * r * r + r + 1.0f;
  const uint32_t n_bits = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(rounder);  // n (mod 2^32)
  const float two_n = std::bit_cast<float>((n_bits + 127u) << 23);
  const uint32_t below = 0u - static_cast<uint32_t>(x < -87.0f);  // all ones or zero
  const uint32_t above = 0u - static_cast<uint32_t>(x > 88.0f);
  const uint32_t y = std::bit_cast<uint32_t>(e_r * two_n);
  return std::bit_cast<float>((y & ~(below | above)) | (0x7f800000u & above));  // NaN passes through
}

}  // namespace l2n::exec::detail
