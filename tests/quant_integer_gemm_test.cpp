// The fast integer GEMM/MATMUL kernels against the per-element oracle of integer_ops.h
// (dot_i8, dot_i16_i8, dot_i16_i16, add_bias_*): exact equality on odd shapes, extreme values
// and zero points, independence of the thread count, and REQUIRE failures still reported.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <random>
#include <vector>

#include "core/error.h"
#include "quant/integer_gemm.h"
#include "quant/integer_ops.h"

namespace l2n::quant {
namespace {

template <typename T>
std::vector<T> random_vec(int64_t n, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<T>(dist(rng));
  return v;
}

std::vector<int32_t> ref_gemm_i8(const std::vector<int8_t>& x, const std::vector<int8_t>& w, int64_t rows, int64_t n_out,
                                 int64_t n_in, int32_t xzp, int32_t wzp) {
  std::vector<int32_t> out(static_cast<size_t>(rows * n_out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_out; ++o)
      out[static_cast<size_t>(r * n_out + o)] = dot_i8(x.data() + r * n_in, w.data() + o * n_in, n_in, xzp, wzp);
  return out;
}

std::vector<int64_t> ref_gemm_i16(const std::vector<int16_t>& x, const std::vector<int8_t>& w, int64_t rows,
                                  int64_t n_out, int64_t n_in, int32_t wzp) {
  std::vector<int64_t> out(static_cast<size_t>(rows * n_out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_out; ++o)
      out[static_cast<size_t>(r * n_out + o)] = dot_i16_i8(x.data() + r * n_in, w.data() + o * n_in, n_in, wzp);
  return out;
}

// Runs f with `threads` OpenMP threads.
template <typename F>
auto with_threads(int threads, F&& f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto result = f();
  omp_set_num_threads(saved);
  return result;
}

TEST(IntegerGemm, Int8MatchesDotOnOddShapesAndThreadCounts) {
  uint32_t seed = 1;
  for (const int64_t n_in : {1, 7, 64, 172, 333})
    for (const int64_t n_out : {1, 3, 172, 512})
      for (const int64_t rows : {1, 5, 512}) {
        const int32_t xzp = static_cast<int32_t>(seed % 256) - 128, wzp = static_cast<int32_t>((seed * 7) % 21) - 10;
        const auto x = random_vec<int8_t>(rows * n_in, -128, 127, seed++);
        const auto w = random_vec<int8_t>(n_out * n_in, -128, 127, seed++);
        const auto ref = ref_gemm_i8(x, w, rows, n_out, n_in, xzp, wzp);
        for (const int threads : {1, 2}) {
          const auto got = with_threads(threads, [&] {
            std::vector<int32_t> out(ref.size());
            gemm_i8(x.data(), w.data(), rows, n_out, n_in, xzp, wzp, out.data());
            return out;
          });
          ASSERT_EQ(got, ref) << "in " << n_in << " out " << n_out << " rows " << rows << " threads " << threads;
        }
      }
}

TEST(IntegerGemm, Int16x8MatchesDotOnOddShapesAndThreadCounts) {
  uint32_t seed = 100;
  for (const int64_t n_in : {1, 7, 64, 172, 333})
    for (const int64_t n_out : {1, 3, 172, 512})
      for (const int64_t rows : {1, 5, 512}) {
        const int32_t wzp = n_in == 333 ? 5 : 0;
        const auto x = random_vec<int16_t>(rows * n_in, -32768, 32767, seed++);
        const auto w = random_vec<int8_t>(n_out * n_in, -127, 127, seed++);
        const auto ref = ref_gemm_i16(x, w, rows, n_out, n_in, wzp);
        for (const int threads : {1, 2}) {
          const auto got = with_threads(threads, [&] {
            std::vector<int64_t> out(ref.size());
            gemm_i16_i8(x.data(), w.data(), rows, n_out, n_in, wzp, out.data());
            return out;
          });
          ASSERT_EQ(got, ref) << "in " << n_in << " out " << n_out << " rows " << rows << " threads " << threads;
        }
      }
}

TEST(IntegerGemm, ExtremeValuesAndZeroPoints) {
  const int64_t rows = 9, n_out = 11;
  for (const int64_t n_in : {1, 255, 256, 257, 1000, 33000}) {
    for (const int8_t xv : {int8_t{-128}, int8_t{127}})
      for (const int8_t wv : {int8_t{-128}, int8_t{127}})
        for (const int32_t zp : {-128, 0, 127}) {
          const std::vector<int8_t> x(static_cast<size_t>(rows * n_in), xv), w(static_cast<size_t>(n_out * n_in), wv);
          std::vector<int32_t> got(static_cast<size_t>(rows * n_out));
          const int32_t wzp = -zp == 128 ? 127 : -zp;
          gemm_i8(x.data(), w.data(), rows, n_out, n_in, zp, wzp, got.data());
          EXPECT_EQ(got, ref_gemm_i8(x, w, rows, n_out, n_in, zp, wzp)) << n_in << " " << int{xv} << " " << int{wv};
        }
    for (const int16_t xv : {int16_t{-32768}, int16_t{32767}})
      for (const int8_t wv : {int8_t{-127}, int8_t{127}, int8_t{-128}})
        for (const int32_t wzp : {0, 127, -128}) {
          const std::vector<int16_t> x(static_cast<size_t>(rows * n_in), xv);
          const std::vector<int8_t> w(static_cast<size_t>(n_out * n_in), wv);
          std::vector<int64_t> got(static_cast<size_t>(rows * n_out));
          gemm_i16_i8(x.data(), w.data(), rows, n_out, n_in, wzp, got.data());
          EXPECT_EQ(got, ref_gemm_i16(x, w, rows, n_out, n_in, wzp)) << n_in << " " << xv << " " << int{wv};
        }
  }
}

TEST(IntegerGemm, BoundNotMetFallsBackToTheCheckedReference) {
  // n·255·255 > INT32_MAX: the bound cannot prove the int32 accumulator. With every other
  // term 0 no partial sum overflows, and the result must still be exact...
  const int64_t n = 40000;
  std::vector<int8_t> x(static_cast<size_t>(n)), w(static_cast<size_t>(n), -128);
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = i % 2 ? int8_t{-128} : int8_t{127};  // −255 or 0 after zp 127
  int32_t out = 0;
  gemm_i8(x.data(), w.data(), 1, 1, n, 127, 127, &out);
  EXPECT_EQ(out, dot_i8(x.data(), w.data(), n, 127, 127));
  // ...and when a partial sum does overflow, the REQUIRE is reported.
  std::fill(x.begin(), x.end(), int8_t{-128});
  EXPECT_THROW(gemm_i8(x.data(), w.data(), 1, 1, n, 127, 127, &out), Error);
  EXPECT_THROW(dot_i8(x.data(), w.data(), n, 127, 127), Error);
}

TEST(IntegerGemm, Int48RequireStillReported) {
  // 16843100 terms of −32768·(127 − (−128)) leave int48.
  const int64_t n = 16843100;
  const std::vector<int16_t> x(static_cast<size_t>(n), -32768);
  const std::vector<int8_t> w(static_cast<size_t>(n), 127);
  int64_t out = 0;
  EXPECT_THROW(gemm_i16_i8(x.data(), w.data(), 1, 1, n, -128, &out), Error);
  // One term fewer than the int48 limit allows on the matmul path: 2^17 products of 2^30.
  const int64_t k = (int64_t{1} << 17) + 1;
  const std::vector<int16_t> a(static_cast<size_t>(k), -32768), b(static_cast<size_t>(k), -32768);
  EXPECT_THROW(matmul_i16(a.data(), b.data(), 1, 1, k, 1, &out), Error);
}

TEST(IntegerGemm, MatMulMatchesDotAndThreadCounts) {
  uint32_t seed = 500;
  for (const int64_t batch : {1, 3})
    for (const int64_t m : {1, 5, 64})
      for (const int64_t k : {1, 7, 64, 333})
        for (const int64_t n : {1, 3, 64, 172}) {
          const auto a8 = random_vec<int8_t>(batch * m * k, -128, 127, seed++);
          const auto b8 = random_vec<int8_t>(batch * k * n, -128, 127, seed++);
          auto a16 = random_vec<int16_t>(batch * m * k, -32768, 32767, seed++);
          auto b16 = random_vec<int16_t>(batch * k * n, -32768, 32767, seed++);
          // The largest products (2^30 each), and with both filled the largest sums.
          if (seed % 3 == 0) std::fill(b16.begin(), b16.end(), int16_t{-32768});
          if (seed % 5 == 0) std::fill(a16.begin(), a16.end(), int16_t{-32768});
          std::vector<int32_t> ref8(static_cast<size_t>(batch * m * n));
          std::vector<int64_t> ref16(ref8.size());
          std::vector<int8_t> col8(static_cast<size_t>(k));
          std::vector<int16_t> col16(static_cast<size_t>(k));
          for (int64_t bi = 0; bi < batch; ++bi)
            for (int64_t j = 0; j < n; ++j) {
              for (int64_t r = 0; r < k; ++r) {
                col8[static_cast<size_t>(r)] = b8[static_cast<size_t>((bi * k + r) * n + j)];
                col16[static_cast<size_t>(r)] = b16[static_cast<size_t>((bi * k + r) * n + j)];
              }
              for (int64_t i = 0; i < m; ++i) {
                const size_t o = static_cast<size_t>((bi * m + i) * n + j);
                ref8[o] = dot_i8(a8.data() + (bi * m + i) * k, col8.data(), k, -3, 100);
                ref16[o] = dot_i16_i16(a16.data() + (bi * m + i) * k, col16.data(), k);
              }
            }
          for (const int threads : {1, 2}) {
            const auto got8 = with_threads(threads, [&] {
              std::vector<int32_t> out(ref8.size());
              matmul_i8(a8.data(), b8.data(), batch, m, k, n, -3, 100, out.data());
              return out;
            });
            const auto got16 = with_threads(threads, [&] {
              std::vector<int64_t> out(ref16.size());
              matmul_i16(a16.data(), b16.data(), batch, m, k, n, out.data());
              return out;
            });
            ASSERT_EQ(got8, ref8) << batch << " " << m << " " << k << " " << n;
            ASSERT_EQ(got16, ref16) << batch << " " << m << " " << k << " " << n;
          }
        }
}

TEST(IntegerGemm, MatMulThroughStridesMatchesTheTransposedCopy) {
  // B is every rank-3 transpose of a [d0, d1, d2] tensor (a KV cache [S, kv heads, head dim]
  // transposes with {1, 2, 0} for the keys and {1, 0, 2} for the values), read in place.
  uint32_t seed = 900;
  const std::vector<std::array<int64_t, 3>> perms = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& dims : std::vector<std::array<int64_t, 3>>{{37, 3, 64}, {150, 2, 16}, {5, 1, 7}, {1, 2, 3}})
    for (const auto& perm : perms)
      for (const int64_t m : {1, 3, 20}) {
        auto c = random_vec<int16_t>(dims[0] * dims[1] * dims[2], -32768, 32767, seed++);
        if (seed % 4 == 0) std::fill(c.begin(), c.end(), int16_t{-32768});
        const std::array<int64_t, 3> c_strides{dims[1] * dims[2], dims[2], 1};
        const int64_t batch = dims[perm[0]], k = dims[perm[1]], n = dims[perm[2]];
        const StridedI16 view{c.data(), c_strides[perm[0]], c_strides[perm[1]], c_strides[perm[2]]};
        std::vector<int16_t> dense(c.size());
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t r = 0; r < k; ++r)
            for (int64_t j = 0; j < n; ++j)
              dense[static_cast<size_t>((b * k + r) * n + j)] =
                  c[static_cast<size_t>(b * view.batch_stride + r * view.row_stride + j * view.col_stride)];
        const auto a = random_vec<int16_t>(batch * m * k, -32768, 32767, seed++);
        std::vector<int64_t> ref(static_cast<size_t>(batch * m * n));
        std::vector<int16_t> col(static_cast<size_t>(k));
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t j = 0; j < n; ++j) {
            for (int64_t r = 0; r < k; ++r) col[static_cast<size_t>(r)] = dense[static_cast<size_t>((b * k + r) * n + j)];
            for (int64_t i = 0; i < m; ++i)
              ref[static_cast<size_t>((b * m + i) * n + j)] = dot_i16_i16(a.data() + (b * m + i) * k, col.data(), k);
          }
        for (const int threads : {1, 2}) {
          const auto got = with_threads(threads, [&] {
            std::vector<int64_t> out(ref.size());
            matmul_i16(a.data(), view, batch, m, k, n, out.data());
            return out;
          });
          ASSERT_EQ(got, ref) << "dims " << dims[0] << "," << dims[1] << "," << dims[2] << " perm " << perm[0] << perm[1]
                              << perm[2] << " m " << m << " threads " << threads;
        }
      }
}

TEST(IntegerGemm, FewRowMatMulKeepsEveryInt32PartialSumInRange) {
  // The AVX2 few-row kernels add pair products in int32 lanes over runs chosen from a (B may
  // hold anything). B = −32768 everywhere and a negative makes every product positive, so a
  // run one term too long wraps an int32 lane: a row with Σ|a| = 65535 fits one run (its
  // sum, 2^31 − 2^15, is the largest that fits), 65536 does not (2^31). For the key layout
  // (dots) a lane only sees terms 16s + {0, 1}, so those carry the whole weight; Σ|a| = 4096
  // is what decode probabilities look like. Odd k and n reach the kernels' tails.
  for (const bool dots : {false, true})
    for (const int64_t k : {int64_t{512}, int64_t{67}})
      for (const int64_t n : {int64_t{64}, int64_t{37}})
        for (const int64_t m : {int64_t{1}, int64_t{3}, int64_t{5}})
          for (const int64_t weight : {int64_t{4096}, int64_t{65535}, int64_t{65536}, int64_t{3 * 65536 + 7}}) {
            std::vector<int16_t> a(static_cast<size_t>(m * k), 0);
            for (int64_t i = 0; i < m; ++i) {
              // Spread `weight` over the terms a lane of the kernel sees, at most 32767 each.
              std::vector<int64_t> lane_terms;
              // rows: the last terms stay zero, from a different term in each row (masked
              // positions, whose rows of B the kernel skips only when every row of a is zero).
              for (int64_t r = 0; r < (dots ? k : k / 2 + 3 * i); ++r)
                if (!dots || r % 16 < 2) lane_terms.push_back(r);
              int64_t left = weight + i;  // rows differ, so runs end at different steps
              for (size_t t = 0; t < lane_terms.size() && left > 0; ++t) {
                const int64_t share = std::min<int64_t>({32767, left, (left + static_cast<int64_t>(lane_terms.size() - t) - 1) /
                                                                        static_cast<int64_t>(lane_terms.size() - t)});
                a[static_cast<size_t>(i * k + lane_terms[t])] = static_cast<int16_t>(-share);
                left -= share;
              }
            }
            const std::vector<int16_t> b(static_cast<size_t>(k * n), int16_t{-32768});
            // dots: B = Kᵀ read from keys [n, k] (column j contiguous); rows: B [k, n] as stored.
            const StridedI16 view = dots ? StridedI16{b.data(), k * n, 1, k} : StridedI16{b.data(), k * n, n, 1};
            std::vector<int16_t> col(static_cast<size_t>(k), int16_t{-32768});
            std::vector<int64_t> ref(static_cast<size_t>(m * n));
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) ref[static_cast<size_t>(i * n + j)] = dot_i16_i16(a.data() + i * k, col.data(), k);
            for (const int threads : {1, 2}) {
              const auto got = with_threads(threads, [&] {
                std::vector<int64_t> out(ref.size());
                matmul_i16(a.data(), view, 1, m, k, n, out.data());
                return out;
              });
              ASSERT_EQ(got, ref) << (dots ? "dots" : "rows") << " k " << k << " n " << n << " m " << m << " weight "
                                  << weight << " threads " << threads;
            }
          }
}

TEST(IntegerGemm, BiasInTheGemmMatchesReferenceAddAndReportsOverflow) {
  const int64_t rows = 5, n_out = 13, n_in = 172;
  const auto x8 = random_vec<int8_t>(rows * n_in, -128, 127, 21);
  const auto x16 = random_vec<int16_t>(rows * n_in, -32768, 32767, 22);
  const auto w = random_vec<int8_t>(n_out * n_in, -127, 127, 23);
  // Small biases (fused into the tile) and biases at the edge of the type (the bound fails,
  // the checked add decides; with these accumulators some sums overflow).
  for (const bool edge : {false, true}) {
    auto b32 = random_vec<int32_t>(n_out, -100000, 100000, 24);
    auto b48 = random_vec<int64_t>(n_out, -(int64_t{1} << 40), int64_t{1} << 40, 25);
    if (edge) b32[3] = INT32_MAX - 5, b48[3] = kInt48Max - 5;
    auto ref8 = ref_gemm_i8(x8, w, rows, n_out, n_in, 3, 0);
    auto ref16 = ref_gemm_i16(x16, w, rows, n_out, n_in, 0);
    bool ref8_throws = false, ref16_throws = false;
    try {
      for (size_t i = 0; i < ref8.size(); ++i) ref8[i] = add_bias_i32(ref8[i], b32[i % n_out]);
    } catch (const Error&) {
      ref8_throws = true;
    }
    try {
      for (size_t i = 0; i < ref16.size(); ++i) ref16[i] = add_bias_i48(ref16[i], b48[i % n_out]);
    } catch (const Error&) {
      ref16_throws = true;
    }
    std::vector<int32_t> got8(ref8.size());
    std::vector<int64_t> got16(ref16.size());
    if (ref8_throws) {
      EXPECT_THROW(gemm_i8(x8.data(), w.data(), rows, n_out, n_in, 3, 0, got8.data(), b32.data()), Error);
    } else {
      gemm_i8(x8.data(), w.data(), rows, n_out, n_in, 3, 0, got8.data(), b32.data());
      EXPECT_EQ(got8, ref8) << edge;
    }
    if (ref16_throws) {
      EXPECT_THROW(gemm_i16_i8(x16.data(), w.data(), rows, n_out, n_in, 0, got16.data(), b48.data()), Error);
    } else {
      gemm_i16_i8(x16.data(), w.data(), rows, n_out, n_in, 0, got16.data(), b48.data());
      EXPECT_EQ(got16, ref16) << edge;
    }
    if (edge) {
      EXPECT_TRUE(ref8_throws);  // the constructed case does reach the REQUIRE
    }
  }
}

TEST(IntegerGemm, BiasAddMatchesReferenceAndReportsOverflow) {
  std::vector<int32_t> acc = random_vec<int32_t>(5 * 7, -1000000, 1000000, 9), bias = random_vec<int32_t>(7, -5000, 5000, 10);
  std::vector<int32_t> ref = acc;
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t o = 0; o < 7; ++o) ref[static_cast<size_t>(r * 7 + o)] = add_bias_i32(ref[static_cast<size_t>(r * 7 + o)], bias[static_cast<size_t>(o)]);
  add_bias_rows_i32(acc.data(), bias.data(), 5, 7);
  EXPECT_EQ(acc, ref);
  acc[12] = INT32_MAX;
  bias[12 % 7] = 1;
  EXPECT_THROW(add_bias_rows_i32(acc.data(), bias.data(), 5, 7), Error);

  std::vector<int64_t> acc48 = random_vec<int64_t>(5 * 7, -(int64_t{1} << 46), int64_t{1} << 46, 11);
  std::vector<int64_t> bias48 = random_vec<int64_t>(7, -(int64_t{1} << 40), int64_t{1} << 40, 12);
  std::vector<int64_t> ref48 = acc48;
  for (size_t i = 0; i < ref48.size(); ++i) ref48[i] = add_bias_i48(ref48[i], bias48[i % 7]);
  add_bias_rows_i48(acc48.data(), bias48.data(), 5, 7);
  EXPECT_EQ(acc48, ref48);
  acc48[3] = kInt48Max;
  bias48[3] = 1;
  EXPECT_THROW(add_bias_rows_i48(acc48.data(), bias48.data(), 5, 7), Error);
  bias48[3] = kInt48Max + 1;  // the bias alone leaves int48
  acc48[3] = 0;
  EXPECT_THROW(add_bias_rows_i48(acc48.data(), bias48.data(), 5, 7), Error);
}

}  // namespace
}  // namespace l2n::quant
