#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "core/error.h"
#include "quant/modes.h"
#include "quant/observers.h"

namespace l2n::quant {
namespace {

const QuantSpec& act8() { return find_quant_mode("tosa_8a8w").activation; }
const QuantSpec& act16() { return find_quant_mode("ethosu_16a8w").activation; }
const QuantSpec& weight8() { return find_quant_mode("tosa_8a8w").weight; }

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------------------------------
// torch.histc

TEST(Histc, EdgesOutOfRangeAndLastBin) {
  const std::vector<float> x = {0.0f, 0.25f, 0.5f, 0.74f, 1.0f, -0.1f, 1.1f};
  const std::vector<float> h = histc(x.data(), static_cast<int64_t>(x.size()), 4, 0.0, 1.0);
  // 0 and 0.25 open their bins; 1.0 (== max) goes to the last bin; out-of-range values drop.
  EXPECT_EQ(h, (std::vector<float>{1, 1, 2, 1}));
}

TEST(Histc, EqualBoundsWidenToDataThenByOne) {
  const std::vector<float> x = {2.0f, 3.0f, 4.0f};
  EXPECT_EQ(histc(x.data(), 3, 2, 0.0, 0.0), (std::vector<float>{1, 2}));  // range [2, 4]
  const std::vector<float> c = {5.0f, 5.0f};
  EXPECT_EQ(histc(c.data(), 2, 4, 5.0, 5.0), (std::vector<float>{0, 0, 2, 0}));  // range [4, 6]
}

// ---------------------------------------------------------------------------------------
// Min/max observers

TEST(MinMaxObserver, RunningRangeAcrossCalls) {
  MinMaxObserver obs(act8());
  EXPECT_FALSE(obs.initialized());
  EXPECT_EQ(obs.calculate_qparams().scale(), 1.0f);
  obs.observe(Tensor::from_vector<float>({3}, {0.5f, 1.0f, 2.0f}));
  obs.observe(Tensor::from_vector<float>({0}, {}));
  obs.observe(Tensor::from_vector<float>({2}, {-1.0f, 0.0f}));
  EXPECT_EQ(obs.min_val(), -1.0f);
  EXPECT_EQ(obs.max_val(), 2.0f);
  const QuantParams qp = obs.calculate_qparams();
  EXPECT_EQ(qp.scale(), 3.0f / 255.0f);
  EXPECT_EQ(qp.zero_point(), -43);  // −128 − round(−1/(3/255)) = −128 + 85
  EXPECT_THROW(obs.observe(Tensor::from_vector<float>({1}, {std::nanf("")})), Error);
  EXPECT_THROW(MinMaxObserver{weight8()}, Error);
}

TEST(PerChannelMinMaxObserver, ChannelsAlongAxisZeroAndOthers) {
  PerChannelMinMaxObserver obs(weight8());
  obs.observe(Tensor::from_vector<float>({3, 2}, {1, -2, 0.5f, 0.25f, -4, 0}));
  obs.observe(Tensor::from_vector<float>({3, 2}, {3, 0, 0, 0, 0, 0}));
  EXPECT_EQ(obs.min_vals(), (std::vector<float>{-2, 0, -4}));
  EXPECT_EQ(obs.max_vals(), (std::vector<float>{3, 0.5f, 0}));
  const QuantParams qp = obs.calculate_qparams();
  EXPECT_EQ(qp.scales, (std::vector<float>{3.0f / 127.0f, 0.5f / 127.0f, 4.0f / 127.0f}));
  EXPECT_THROW(obs.observe(Tensor::from_vector<float>({2, 2}, {0, 0, 0, 0})), Error);

  QuantSpec axis1 = weight8();
  axis1.ch_axis = 1;
  PerChannelMinMaxObserver obs1(axis1);
  obs1.observe(Tensor::from_vector<float>({2, 3, 1}, {1, 2, 3, -1, -2, -3}));
  EXPECT_EQ(obs1.min_vals(), (std::vector<float>{-1, -2, -3}));
  EXPECT_EQ(obs1.max_vals(), (std::vector<float>{1, 2, 3}));
}

// ---------------------------------------------------------------------------------------
// HistogramObserver

// The inputs of the reference cases: exact float32 values (k·2^p + offset with small k),
// so that this test and the reference script see bit-identical data.
struct XorShift {
  uint32_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
};

std::vector<float> bell(XorShift& rng, int n, int pow2, float offset) {
  std::vector<float> out(static_cast<size_t>(n));
  for (auto& v : out) {
    const uint32_t a = rng.next() % 1001;
    const uint32_t b = rng.next() % 1001;
    const uint32_t c = rng.next() % 1001;
    v = static_cast<float>(static_cast<int>(a + b + c) - 1500) * std::ldexp(1.0f, pow2) + offset;
  }
  return out;
}

std::vector<float> cat(std::vector<float> a, const std::vector<float>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

double checksum(const std::vector<float>& h) {
  double s = 0;
  for (size_t i = 0; i < h.size(); ++i) s += static_cast<double>(h[i]) * static_cast<double>(i + 1);
  return s;
}

struct Expected {
  float min, max, mass;
  double checksum;
  float lo, hi, scale;
  int32_t zp;
};

void check_histogram(const char* name, const std::vector<std::vector<float>>& batches, const QuantSpec& spec,
                     const Expected& want) {
  SCOPED_TRACE(name);
  HistogramObserver obs(spec);
  for (const auto& b : batches) obs.observe(b.data(), static_cast<int64_t>(b.size()));
  EXPECT_EQ(obs.min_val(), want.min);
  EXPECT_EQ(obs.max_val(), want.max);
  float mass = 0;
  for (float v : obs.histogram()) mass += v;
  EXPECT_EQ(mass, want.mass);
  EXPECT_EQ(checksum(obs.histogram()), want.checksum);
  const auto [lo, hi] = obs.search_range();
  EXPECT_EQ(lo, want.lo);
  EXPECT_EQ(hi, want.hi);
  const QuantParams qp = obs.calculate_qparams();
  EXPECT_EQ(qp.scale(), want.scale);
  EXPECT_EQ(qp.zero_point(), want.zp);
}

// Expected values below were produced by a throwaway numpy re-implementation of torchao's
// HistogramObserver written from ../shared/docs/reference/observers.md §2 and §4 (torch is not
// installed here): float32 tensor ops emulated one by one, upstream's literal linear walks in
// the search, the same inputs (XorShift + bell above). Hex floats are exact float32 values.
struct Case {
  const char* name;
  std::vector<std::vector<float>> batches;
};

std::vector<Case> reference_cases() {
  std::vector<Case> cases;
  XorShift r1{12345};
  cases.push_back({"single", {bell(r1, 2000, -8, 0.0f)}});
  XorShift r2{777};
  cases.push_back({"outliers", {cat(bell(r2, 2000, -8, 0.0f), {60.0f, -35.5f})}});
  XorShift r3{2024};
  {
    auto b1 = bell(r3, 1000, -8, 0.0f);
    auto b2 = bell(r3, 1000, -7, 1.5f);
    auto b3 = bell(r3, 500, -9, 0.0f);
    auto b4 = cat(bell(r3, 1000, -6, -2.0f), {100.0f});
    cases.push_back({"multi", {b1, b2, b3, b4}});
  }
  XorShift r4{99};
  cases.push_back({"const_then", {std::vector<float>(10, 3.0f), bell(r4, 1000, -8, 0.5f)}});
  XorShift r5{5};
  cases.push_back({"with_inf", {cat({kInf, -kInf}, bell(r5, 500, -8, 0.25f)), {kInf}}});
  XorShift r6{31337};
  {
    auto b1 = bell(r6, 3000, -4, 0.0f);
    auto b2 = bell(r6, 3000, -3, -8.0f);
    cases.push_back({"wide16", {b1, b2}});
  }
  return cases;
}

TEST(HistogramObserver, MatchesReferenceInt8Affine) {
  const Expected want[] = {
      {-0x1.5ep+2f, 0x1.5c4p+2f, 0x1.f4p+10f, 2039187.0, -0x1.5ep+2f, 0x1.5be8b8p+2f, 0x1.5e52aep-5f, 0},
      {-0x1.1cp+5f, 0x1.ep+5f, 0x1.f48p+10f, 1525573.0, -0x1.1cp+5f, 0x1.dfa08p+5f, 0x1.7f4f9p-2f, -33},
      {-0x1.6dcp+4f, 0x1.9p+6f, 0x1.b5ap+11f, 1328088.4453125, -0x1.6dcp+4f, 0x1.8fc292p+6f, 0x1.ed1fb2p-2f, -81},
      {-0x1.0f8p+2f, 0x1.79p+2f, 0x1.f9p+9f, 958775.0, -0x1.0f8p+2f, 0x1.78aefp+2f, 0x1.455cd4p-5f, -21},
      {-0x1.31p+2f, 0x1.63p+2f, 0x1.f4p+8f, 508678.0, -0x1.31p+2f, 0x1.62ad8p+2f, 0x1.4b21e2p-5f, -10},
      {-0x1.738p+7f, 0x1.56p+7f, 0x1.77p+12f, 6253237.5, -0x1.738p+7f, 0x1.4704fp+7f, 0x1.5ea11ap+0f, 8},
  };
  const auto cases = reference_cases();
  for (size_t i = 0; i < cases.size(); ++i) check_histogram(cases[i].name, cases[i].batches, act8(), want[i]);
}

TEST(HistogramObserver, MatchesReferenceInt16Symmetric) {
  // Same histograms; the search runs with 65536 destination levels, so it trims less, and
  // every |range| below ~8 ends at the eps floor 2^-12.
  const Expected want[] = {
      {-0x1.5ep+2f, 0x1.5c4p+2f, 0x1.f4p+10f, 2039187.0, -0x1.5ep+2f, 0x1.5be8b8p+2f, 0x1p-12f, 0},
      {-0x1.1cp+5f, 0x1.ep+5f, 0x1.f48p+10f, 1525573.0, -0x1.1cp+5f, 0x1.dfa08p+5f, 0x1.dfa44p-10f, 0},
      {-0x1.6dcp+4f, 0x1.9p+6f, 0x1.b5ap+11f, 1328088.4453125, -0x1.6dcp+4f, 0x1.8fc292p+6f, 0x1.8fc5b2p-9f, 0},
      {-0x1.0f8p+2f, 0x1.79p+2f, 0x1.f9p+9f, 958775.0, -0x1.0f8p+2f, 0x1.78aefp+2f, 0x1p-12f, 0},
      {-0x1.31p+2f, 0x1.63p+2f, 0x1.f4p+8f, 508678.0, -0x1.31p+2f, 0x1.62ad8p+2f, 0x1p-12f, 0},
      {-0x1.738p+7f, 0x1.56p+7f, 0x1.77p+12f, 6253237.5, -0x1.738p+7f, 0x1.55a6dp+7f, 0x1.7382e8p-8f, 0},
  };
  const auto cases = reference_cases();
  for (size_t i = 0; i < cases.size(); ++i) check_histogram(cases[i].name, cases[i].batches, act16(), want[i]);
}

TEST(HistogramObserver, TwoPointsByHand) {
  // Bins 0 and 2047 hold one value each. The first move trims the right edge by one bin
  // (l − s = 0 is not > e − r = 1) and is accepted against +inf; every later step leaves
  // the edges alone until the quantile passes the top value, which would clip it to 0 and
  // raise the error, so the search stops at [0, 2047/2048].
  HistogramObserver obs(act8());
  const float x[] = {0.0f, 1.0f};
  obs.observe(x, 2);
  EXPECT_EQ(obs.histogram()[0], 1.0f);
  EXPECT_EQ(obs.histogram()[2047], 1.0f);
  const auto [lo, hi] = obs.search_range();
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 2047.0f / 2048.0f);
  const QuantParams qp = obs.calculate_qparams();
  EXPECT_EQ(qp.scale(), (2047.0f / 2048.0f) / 255.0f);
  EXPECT_EQ(qp.zero_point(), -128);
}

TEST(HistogramObserver, ConstantInputAndUninitialized) {
  HistogramObserver obs(act8());
  EXPECT_EQ(obs.calculate_qparams().scale(), 1.0f);
  const std::vector<float> c(7, 3.0f);
  obs.observe(c.data(), 7);
  // histc widens [3, 3] to [2, 4]: all mass in the middle bin; the search keeps [3, 3].
  EXPECT_EQ(obs.histogram()[1024], 7.0f);
  EXPECT_EQ(obs.search_range(), std::make_pair(3.0f, 3.0f));
  EXPECT_EQ(obs.calculate_qparams().scale(), 3.0f / 255.0f);
  EXPECT_EQ(obs.calculate_qparams().zero_point(), -128);
  // A wider batch moves the whole old mass (7) into the bin holding 3.0 on the new grid.
  const std::vector<float> b = {0.0f, 4.0f};
  obs.observe(b.data(), 2);
  EXPECT_EQ(obs.histogram()[1536], 7.0f);
  EXPECT_EQ(obs.histogram()[0], 1.0f);
  EXPECT_EQ(obs.histogram()[2047], 1.0f);
}

TEST(HistogramObserver, UpscaleConservesMassAndSameRangeAdds) {
  HistogramObserver obs(act8());
  XorShift rng{42};
  double n = 0;
  for (int i = 0; i < 6; ++i) {
    const auto x = bell(rng, 3000, -8 + i, 0.25f * static_cast<float>(i));
    obs.observe(x.data(), static_cast<int64_t>(x.size()));
    n += static_cast<double>(x.size());
    double mass = 0;
    for (float v : obs.histogram()) mass += v;
    // Exact until the repeated /16 splits need more than float32's 24 bits per bin.
    EXPECT_NEAR(mass, n, n * 1e-6);
  }
  const auto before = obs.histogram();
  const float inside[] = {obs.min_val(), obs.max_val(), 0.0f};
  obs.observe(inside, 3);
  double diff = 0;
  for (size_t i = 0; i < before.size(); ++i) diff += obs.histogram()[i] - before[i];
  EXPECT_NEAR(diff, 3.0, 1e-3);
  EXPECT_EQ(obs.histogram()[2047], before[2047] + 1.0f);
}

TEST(HistogramObserver, DeterministicAndRejectsNaN) {
  XorShift rng{7};
  const auto a = bell(rng, 5000, -6, 0.0f), b = bell(rng, 5000, -5, 1.0f);
  HistogramObserver x(act16()), y(act16());
  for (auto* o : {&x, &y}) {
    o->observe(a.data(), 5000);
    o->observe(b.data(), 5000);
  }
  EXPECT_EQ(x.histogram(), y.histogram());
  EXPECT_EQ(x.search_range(), y.search_range());
  const float bad[] = {1.0f, std::nanf("")};
  EXPECT_THROW(x.observe(bad, 2), Error);
  EXPECT_THROW(HistogramObserver{weight8()}, Error);
}

}  // namespace
}  // namespace l2n::quant
