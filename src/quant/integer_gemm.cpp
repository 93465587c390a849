#include "quant/integer_gemm.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "exec/gemm.h"
#include "quant/integer_ops.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define L2N_X86_KERNELS 1
#endif

namespace l2n::quant {
namespace {

// Work split: a task is kRowTile rows × kOutTile output channels, small enough that its
// weights (kOutTile·n int16) and activations (kRowTile·n int16) stay in L1/L2 while every
// weight row is reused by kRowTile activation rows. Fewer MACs than kParallelWork are not
// worth waking the OpenMP team (a fork/join costs a few microseconds).
constexpr int64_t kRowTile = 16;
constexpr int64_t kOutTile = 64;
constexpr int64_t kParallelWork = int64_t{1} << 16;

// acc[r·ldo + o] = Σ_i x[r·n + i]·w[o·n + i] (+ bias[o] when bias is not null) for r in
// [r0, r1), o in [o0, o1). With prefetch_rows > 0 (the rows w has), weight rows two groups
// ahead are prefetched: what the decode GEMV, which reads each weight once, waits on.
// Partial sums are int32 over blocks of `block` terms (the caller proves that a block cannot
// overflow int32: block·max|x|·max|w| <= INT32_MAX), added into int64. The weight W is
// int16 (widened) or int8 (streamed as stored, sign-extended in registers); either way the
// inner loops are dot-product reductions that g++ vectorises (pmaddwd); four output channels
// share each activation load. Inlined into the target_clones kernels below, so AVX2 doubles
// the vector width where the CPU has it; integer arithmetic is exact, so the clones give
// identical results.
template <typename W>
[[gnu::always_inline]] inline void tile_body(const int16_t* x, const W* w, int64_t n, int64_t block, int64_t r0,
                                             int64_t r1, int64_t o0, int64_t o1, const int64_t* bias, int64_t* acc,
                                             int64_t ldo, int64_t prefetch_rows = 0) {
  int64_t o = o0;
  for (; o + 4 <= o1; o += 4) {
    const W* w0 = w + o * n;
    const W* w1 = w0 + n;
    const W* w2 = w1 + n;
    const W* w3 = w2 + n;
    if (o + 12 <= prefetch_rows) {
      // The weight rows two groups ahead (contiguous): each group of four rows is only a few
      // cache lines per row, too short for the hardware prefetcher to get ahead on its own.
      const char* ahead = reinterpret_cast<const char*>(w + (o + 8) * n);
      for (int64_t off = 0; off < 4 * n * static_cast<int64_t>(sizeof(W)); off += 64) __builtin_prefetch(ahead + off);
    }
    for (int64_t r = r0; r < r1; ++r) {
      const int16_t* xr = x + r * n;
      int64_t t0 = bias ? bias[o] : 0, t1 = bias ? bias[o + 1] : 0, t2 = bias ? bias[o + 2] : 0,
              t3 = bias ? bias[o + 3] : 0;
      for (int64_t b = 0; b < n; b += block) {
        const int64_t e = std::min(n, b + block);
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int64_t i = b; i < e; ++i) {
          const int32_t xv = xr[i];
          s0 += xv * w0[i];
          s1 += xv * w1[i];
          s2 += xv * w2[i];
          s3 += xv * w3[i];
        }
        t0 += s0;
        t1 += s1;
        t2 += s2;
        t3 += s3;
      }
      int64_t* out = acc + r * ldo + o;
      out[0] = t0;
      out[1] = t1;
      out[2] = t2;
      out[3] = t3;
    }
  }
  for (; o < o1; ++o) {
    const W* wo = w + o * n;
    for (int64_t r = r0; r < r1; ++r) {
      const int16_t* xr = x + r * n;
      int64_t t = bias ? bias[o] : 0;
      for (int64_t b = 0; b < n; b += block) {
        const int64_t e = std::min(n, b + block);
        int32_t s = 0;
        for (int64_t i = b; i < e; ++i) s += static_cast<int32_t>(xr[i]) * wo[i];
        t += s;
      }
      acc[r * ldo + o] = t;
    }
  }
}

[[gnu::target_clones("avx2", "default")]] void tile_i16(const int16_t* x, const int16_t* w, int64_t n, int64_t block,
                                                         int64_t r0, int64_t r1, int64_t o0, int64_t o1,
                                                         const int64_t* bias, int64_t* acc, int64_t ldo) {
  tile_body(x, w, n, block, r0, r1, o0, o1, bias, acc, ldo);
}

// For each of `batch` problems: acc[b][r, o] = Σ_i x[b][r, i]·w[b][o, i] (x: [rows, n],
// w: [n_out, n] at w + b·w_batch_stride, acc: [rows, n_out]). Tasks are whole output tiles,
// so no sum is split between threads and the result does not depend on who computes what.
// They are handed out dynamically: on a shared machine a thread that is descheduled would
// otherwise leave its static share for the other threads to wait on at the barrier.
void gemm_driver(const int16_t* x, const int16_t* w, int64_t w_batch_stride, int64_t batch, int64_t rows, int64_t n_out,
                 int64_t n, int64_t block, int64_t* acc, const int64_t* bias = nullptr) {
  const int64_t row_tiles = (rows + kRowTile - 1) / kRowTile;
  const int64_t out_tiles = (n_out + kOutTile - 1) / kOutTile;
  const int64_t tasks = batch * row_tiles * out_tiles;
  const bool parallel = tasks > 1 && batch * rows * n_out * std::max<int64_t>(n, 1) >= kParallelWork;
  block = std::max<int64_t>(block, 1);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t b = t / (row_tiles * out_tiles);
    const int64_t rt = (t / out_tiles) % row_tiles, ot = t % out_tiles;
    const int64_t r0 = rt * kRowTile, o0 = ot * kOutTile;
    tile_i16(x + b * rows * n, w + b * w_batch_stride, n, block, r0, std::min(rows, r0 + kRowTile), o0,
             std::min(n_out, o0 + kOutTile), bias, acc + b * rows * n_out, n_out);
  }
}

// dst[i] = src[i] − zp as int16 (|src − zp| <= 255 for int8 operands and zero points);
// returns max|dst[i]|.
template <typename T>
int32_t widen(const T* src, int64_t n, int32_t zp, int16_t* dst) {
  int32_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = static_cast<int32_t>(src[i]) - zp;
    dst[i] = static_cast<int16_t>(v);
    m = std::max(m, v < 0 ? -v : v);
  }
  return m;
}

int32_t max_abs(const int16_t* src, int64_t n) {
  int32_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = src[i];
    m = std::max(m, v < 0 ? -v : v);
  }
  return m;
}

// Transposes each [k, n] matrix of src to [n, k] while widening it (minus zp); returns the
// max |value − zp|.
template <typename T>
int32_t transpose_widen(const T* src, int64_t batch, int64_t k, int64_t n, int32_t zp, int16_t* dst) {
  int32_t m = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const T* s = src + b * k * n;
    int16_t* d = dst + b * k * n;
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < n; ++c) {
        const int32_t v = static_cast<int32_t>(s[r * n + c]) - zp;
        d[c * k + r] = static_cast<int16_t>(v);
        m = std::max(m, v < 0 ? -v : v);
      }
  }
  return m;
}

// An uninitialised buffer (every element is written before it is read): a zero-filled
// std::vector would cost a memset pass per call.
template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// Bias as int64 (the tile adds it), and max|bias|; nullptr when there is no bias.
template <typename T>
std::vector<int64_t> bias64(const T* bias, int64_t n_out, int64_t& max_abs_bias) {
  std::vector<int64_t> b(static_cast<size_t>(n_out));
  max_abs_bias = 0;
  for (int64_t o = 0; o < n_out; ++o) {
    b[static_cast<size_t>(o)] = bias[o];
    // |INT64_MIN| does not exist; anything beyond int48 already fails the fused bound.
    const int64_t v = std::clamp<int64_t>(bias[o], -kInt48Max - 1, kInt48Max + 1);
    max_abs_bias = std::max(max_abs_bias, v < 0 ? -v : v);
  }
  return b;
}

// True when n terms each of magnitude <= max_term cannot take a partial sum beyond limit.
bool sum_fits(int64_t n, int64_t max_term, int64_t limit) { return max_term == 0 || n <= limit / max_term; }

// The longest block of terms (<= max_term each) whose int32 partial sum cannot overflow.
int64_t int32_block(int64_t max_term) { return max_term == 0 ? INT32_MAX : INT32_MAX / max_term; }

// A few rows (KV-cache decode): out[r·ldo + o] = Σ_i x[r, i]·w[o, i] for o in [o0, o1),
// streaming the int8 weight once instead of widening all of it into a scratch copy per call
// (for the SmolLM2 head that copy is 56 MB per token, several times the reads the GEMV itself
// needs): tile_body with int8 weights, i.e. vpmovsxbw + vpmaddwd with AVX2. The caller
// proved that no partial sum of `block` terms overflows int32. The weight has n_out rows; the
// tile prefetches rows ahead of o1 that exist, since the next chunk is usually its neighbour's.
[[gnu::target_clones("avx2", "default")]] void gemv_tile_x16_w8(const int16_t* x, const int8_t* w, int64_t rows,
                                                                 int64_t n, int64_t block, int64_t o0, int64_t o1,
                                                                 int64_t n_out, int64_t* out, int64_t ldo) {
  tile_body(x, w, n, block, int64_t{0}, rows, o0, o1, nullptr, out, ldo, n_out);
}

#ifdef L2N_X86_KERNELS
bool has_avx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}

// The sum of the eight int32 lanes, in int32: callers add only lanes whose total fits.
[[gnu::target("avx2")]] int32_t sum_lanes_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Eight pair sums x[2k]·w[2k] + x[2k+1]·w[2k+1] of 16 int16 inputs and 16 int8 weights.
[[gnu::target("avx2")]] __m256i madd_i8_row(__m256i x, const int8_t* w) {
  return _mm256_madd_epi16(x, _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w))));
}

// gemv_tile_x16_w8 written out for AVX2, for a `block` of at least 16 terms: per step of 16
// inputs, each of four weight rows is sign-extended (vpmovsxbw) and multiplied into int32
// lanes (vpmaddwd). A block rounded down to a multiple of 16 terms is still a block whose
// partial sums fit int32, so every lane, and the sum of a block's lanes, is exact in int32;
// blocks are added in int64. What g++ made of the generic tile spent a fifth of its time in
// scalar tails whenever the block (511 for |x| up to 32768) was not a multiple of 32.
[[gnu::target("avx2")]] void gemv_tile_x16_w8_avx2(const int16_t* x, const int8_t* w, int64_t rows, int64_t n,
                                                    int64_t block, int64_t o0, int64_t o1, int64_t n_out, int64_t* out,
                                                    int64_t ldo) {
  const int64_t step_block = block - block % 16;
  int64_t o = o0;
  for (; o + 4 <= o1; o += 4) {
    const int8_t* w0 = w + o * n;
    const int8_t *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
    if (o + 12 <= n_out)
      for (int64_t off = 0; off < 4 * n; off += 64) _mm_prefetch(reinterpret_cast<const char*>(w + (o + 8) * n + off), _MM_HINT_T0);
    for (int64_t r = 0; r < rows; ++r) {
      const int16_t* xr = x + r * n;
      int64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      for (int64_t b = 0; b < n; b += step_block) {
        const int64_t e = std::min(n, b + step_block), e16 = b + (e - b) / 16 * 16;
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (int64_t i = b; i < e16; i += 16) {
          const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + i));
          s0 = _mm256_add_epi32(s0, madd_i8_row(xv, w0 + i));
          s1 = _mm256_add_epi32(s1, madd_i8_row(xv, w1 + i));
          s2 = _mm256_add_epi32(s2, madd_i8_row(xv, w2 + i));
          s3 = _mm256_add_epi32(s3, madd_i8_row(xv, w3 + i));
        }
        int32_t c0 = sum_lanes_i32(s0), c1 = sum_lanes_i32(s1), c2 = sum_lanes_i32(s2), c3 = sum_lanes_i32(s3);
        for (int64_t i = e16; i < e; ++i) {
          const int32_t xv = xr[i];
          c0 += xv * w0[i], c1 += xv * w1[i], c2 += xv * w2[i], c3 += xv * w3[i];
        }
        t0 += c0, t1 += c1, t2 += c2, t3 += c3;
      }
      int64_t* dst = out + r * ldo + o;
      dst[0] = t0, dst[1] = t1, dst[2] = t2, dst[3] = t3;
    }
  }
  if (o < o1) tile_body(x, w, n, block, int64_t{0}, rows, o, o1, nullptr, out, ldo);
}
#endif

// out[r, o] = Σ_i x[r, i]·(w[o, i] − w_zp) exactly, for a few rows: the products with the
// raw weight (|w| <= 128, so blocks of int32_block(max|x|·128) terms cannot overflow), then
// − w_zp·Σ_i x[r, i], which is the same integer. Output channels are split among threads in
// chunks handed out dynamically; each sum has one owner.
void gemv_x16_w8(const int16_t* x, int32_t max_abs_x, const int8_t* w, int64_t rows, int64_t n_out, int64_t n_in,
                 int32_t w_zp, int64_t* out) {
  constexpr int64_t kChunk = 64;
  const int64_t block = std::max<int64_t>(int32_block(int64_t{max_abs_x} * 128), 1);
  const int64_t chunks = (n_out + kChunk - 1) / kChunk;
  const bool parallel = chunks > 1 && rows * n_out * n_in >= kParallelWork;
#ifdef L2N_X86_KERNELS
  const bool avx2 = has_avx2() && block >= 16;
#endif
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t o0 = c * kChunk, o1 = std::min(n_out, (c + 1) * kChunk);
#ifdef L2N_X86_KERNELS
    if (avx2) {
      gemv_tile_x16_w8_avx2(x, w, rows, n_in, block, o0, o1, n_out, out, n_out);
      continue;
    }
#endif
    gemv_tile_x16_w8(x, w, rows, n_in, block, o0, o1, n_out, out, n_out);
  }
  if (w_zp == 0) return;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t sum_x = 0;
    for (int64_t i = 0; i < n_in; ++i) sum_x += x[r * n_in + i];
    for (int64_t o = 0; o < n_out; ++o) out[r * n_out + o] -= int64_t{w_zp} * sum_x;
  }
}

// Few rows of int16 × int16 (decode attention: one query row per head against the whole
// cache): out[i, j] = Σ_r a[i, r]·bm[r·ld + j] as a sum of rows of bm scaled by a[i, r], so
// bm is read once in its own layout instead of split and transposed. Each product fits int32
// (|a·b| <= 2^30) and is added in int64; the caller keeps k <= 2^17 so that no partial sum
// can leave int48 (what dot_i16_i16 would check).
[[gnu::target_clones("avx2", "default")]] void matmul_rows_i16_portable(const int16_t* a, const int16_t* bm, int64_t ld,
                                                                         int64_t m, int64_t k, int64_t n, int64_t* out, int64_t ldo) {
  for (int64_t i = 0; i < m; ++i) {
    int64_t* o = out + i * ldo;
    std::fill_n(o, n, int64_t{0});
    for (int64_t r = 0; r < k; ++r) {
      const int32_t av = a[i * k + r];
      const int16_t* row = bm + r * ld;
      for (int64_t j = 0; j < n; ++j) o[j] += av * static_cast<int32_t>(row[j]);
    }
  }
}

// The same product when B's columns are contiguous (B = Kᵀ read from a [S, heads, hd] key
// cache: column j is key j): out[i, j] = Σ_r a[i, r]·bm[j·ld + r], one dot product each.
[[gnu::target_clones("avx2", "default")]] void matmul_dots_i16_portable(const int16_t* a, const int16_t* bm, int64_t ld,
                                                                         int64_t m, int64_t k, int64_t n, int64_t* out, int64_t ldo) {
  for (int64_t j = 0; j < n; ++j) {
    const int16_t* col = bm + j * ld;
    for (int64_t i = 0; i < m; ++i) {
      const int16_t* ar = a + i * k;
      int64_t sum = 0;
      for (int64_t r = 0; r < k; ++r) sum += static_cast<int32_t>(ar[r]) * static_cast<int32_t>(col[r]);
      out[i * ldo + j] = sum;
    }
  }
}

#ifdef L2N_X86_KERNELS
// AVX2 versions of the two kernels above, several times faster. vpmaddwd adds two products
// in an int32 lane, exact unless both are 2^30, i.e. unless a holds −32768 (the callers check).
// The pair sums are added in int32 lanes over a run of steps and the run's sums then widened
// into int64 lanes: `run_ends[s]` is true where a run ends, and the caller chose the runs so
// that no int32 partial sum can overflow (see int32_runs). g++ does not find this form itself.
[[gnu::target("avx2")]] __m256i add_pairs_i64(__m256i acc, __m256i pairs) {
  acc = _mm256_add_epi64(acc, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(pairs)));
  return _mm256_add_epi64(acc, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(pairs, 1)));
}

[[gnu::target("avx2")]] __m256i load(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Four dot products at a time (columns j..j+3 against one row of a): the row is loaded once
// for the four, and the four int64 accumulators are reduced together at the end. The rows of
// a are the inner loop, so the four columns are read from memory once and from L1 after. A
// step is 16 terms; run_ends has k / 16 entries per row of a.
[[gnu::target("avx2")]] void matmul_dots_i16_avx2(const int16_t* a, const int16_t* bm, int64_t ld, int64_t m, int64_t k,
                                                   int64_t n, int64_t* out, int64_t ldo, const uint8_t* run_ends) {
  const int64_t k16 = k - k % 16, n4 = n - n % 4;
  for (int64_t j = 0; j < n4; j += 4) {
    const int16_t* c0 = bm + j * ld;
    const int16_t *c1 = c0 + ld, *c2 = c1 + ld, *c3 = c2 + ld;
    // The columns two groups ahead: in a KV cache they are a stride apart, which the hardware
    // prefetchers stop following at every page boundary.
    if (j + 12 <= n)
      for (int64_t c = j + 8; c < j + 12; ++c)
        for (int64_t off = 0; off < k; off += 32) _mm_prefetch(reinterpret_cast<const char*>(bm + c * ld + off), _MM_HINT_T0);
    for (int64_t i = 0; i < m; ++i) {
      const int16_t* ar = a + i * k;
      const uint8_t* ends = run_ends + i * (k / 16);
      int64_t* o = out + i * ldo;
      const __m256i zero = _mm256_setzero_si256();
      __m256i s0 = zero, s1 = zero, s2 = zero, s3 = zero, p0 = zero, p1 = zero, p2 = zero, p3 = zero;
      for (int64_t r = 0; r < k16; r += 16) {
        const __m256i x = load(ar + r);
        p0 = _mm256_add_epi32(p0, _mm256_madd_epi16(x, load(c0 + r)));
        p1 = _mm256_add_epi32(p1, _mm256_madd_epi16(x, load(c1 + r)));
        p2 = _mm256_add_epi32(p2, _mm256_madd_epi16(x, load(c2 + r)));
        p3 = _mm256_add_epi32(p3, _mm256_madd_epi16(x, load(c3 + r)));
        if (ends[r / 16]) {
          s0 = add_pairs_i64(s0, p0), s1 = add_pairs_i64(s1, p1), s2 = add_pairs_i64(s2, p2), s3 = add_pairs_i64(s3, p3);
          p0 = p1 = p2 = p3 = zero;
        }
      }
      // [s0 lanes 0+1, s1 0+1, s0 2+3, s1 2+3] and the same for s2, s3; then the halves.
      const __m256i t01 = _mm256_add_epi64(_mm256_unpacklo_epi64(s0, s1), _mm256_unpackhi_epi64(s0, s1));
      const __m256i t23 = _mm256_add_epi64(_mm256_unpacklo_epi64(s2, s3), _mm256_unpackhi_epi64(s2, s3));
      const __m256i sums = _mm256_add_epi64(_mm256_permute2x128_si256(t01, t23, 0x20), _mm256_permute2x128_si256(t01, t23, 0x31));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + j), sums);
      for (int64_t r = k16; r < k; ++r) {
        const int32_t x = ar[r];
        o[j] += x * c0[r];
        o[j + 1] += x * c1[r];
        o[j + 2] += x * c2[r];
        o[j + 3] += x * c3[r];
      }
    }
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n4; j < n; ++j) {
      const int16_t* col = bm + j * ld;
      int64_t sum = 0;
      for (int64_t r = 0; r < k; ++r) sum += static_cast<int32_t>(a[i * k + r]) * static_cast<int32_t>(col[r]);
      out[i * ldo + j] = sum;
    }
}

[[gnu::target("avx2")]] void widen_add_4(int64_t* o, __m128i sums) {
  __m256i* p = reinterpret_cast<__m256i*>(o);
  _mm256_storeu_si256(p, _mm256_add_epi64(_mm256_loadu_si256(p), _mm256_cvtepi32_epi64(sums)));
}

[[gnu::target("avx2")]] void widen_add_16(int64_t* o, __m256i lo, __m256i hi) {
  widen_add_4(o, _mm256_castsi256_si128(lo));
  widen_add_4(o + 4, _mm256_castsi256_si128(hi));
  widen_add_4(o + 8, _mm256_extracti128_si256(lo, 1));
  widen_add_4(o + 12, _mm256_extracti128_si256(hi, 1));
}

// Columns [j, j + 16) of M output rows (o, o + ldo, …): rows r and r + 1 of bm interleaved
// (vpunpck{l,h}wd) once, against the pair (a[i, r], a[i, r + 1]) of each row i, each output
// row in two int32 accumulators that are added into int64 sums where a run of any of the M
// rows ends (ending a run early is always safe). The sums stay on this thread's stack until
// the end: other threads write the neighbouring columns of o.
template <int M>
[[gnu::target("avx2")]] void rows_block_avx2(const int16_t* a, int64_t k, const int16_t* bm, int64_t ld, int64_t j,
                                              const uint8_t* ends, int64_t* o, int64_t ldo) {
  const int64_t k2 = k - k % 2, steps = k / 2;
  alignas(32) int64_t sums[M][16] = {};
  __m256i lo[M], hi[M];
  for (int i = 0; i < M; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  for (int64_t r = 0; r < k2; r += 2) {
    uint32_t pairs[M];
    uint32_t any = 0;
    bool end = false;
    for (int i = 0; i < M; ++i) {
      const int16_t* ar = a + i * k;
      pairs[i] = static_cast<uint16_t>(ar[r]) | (static_cast<uint32_t>(static_cast<uint16_t>(ar[r + 1])) << 16);
      any |= pairs[i];
      end |= ends[i * steps + r / 2] != 0;
    }
    // Rows of bm that every row of a multiplies by zero add nothing: decode attention's
    // probabilities are zero at every masked position, so most of the V cache is not read.
    if (any) {
      const __m256i r0 = load(bm + r * ld + j), r1 = load(bm + (r + 1) * ld + j);
      const __m256i low = _mm256_unpacklo_epi16(r0, r1), high = _mm256_unpackhi_epi16(r0, r1);
      for (int i = 0; i < M; ++i) {
        const __m256i pair = _mm256_set1_epi32(static_cast<int32_t>(pairs[i]));
        lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(low, pair));
        hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(high, pair));
      }
    }
    if (end) {
      for (int i = 0; i < M; ++i) {
        widen_add_16(sums[i], lo[i], hi[i]);
        lo[i] = hi[i] = _mm256_setzero_si256();
      }
    }
  }
  for (int i = 0; i < M; ++i) std::copy_n(sums[i], 16, o + i * ldo + j);
}

// out[i, j] = Σ_r a[i, r]·bm[r·ld + j]: 16 columns of up to four rows of a at a time, then
// the last columns one by one. A step is one pair of rows of bm; run_ends has k / 2 entries
// per row of a.
[[gnu::target("avx2")]] void matmul_rows_i16_avx2(const int16_t* a, const int16_t* bm, int64_t ld, int64_t m, int64_t k,
                                                   int64_t n, int64_t* out, int64_t ldo, const uint8_t* run_ends) {
  const int64_t n16 = n - n % 16, k2 = k - k % 2, steps = k / 2;
  for (int64_t i0 = 0; i0 < m; i0 += 4) {
    const int16_t* ai = a + i0 * k;
    const uint8_t* ends = run_ends + i0 * steps;
    int64_t* o = out + i0 * ldo;
    for (int64_t j = 0; j < n16; j += 16) {
      switch (std::min<int64_t>(4, m - i0)) {
        case 1: rows_block_avx2<1>(ai, k, bm, ld, j, ends, o, ldo); break;
        case 2: rows_block_avx2<2>(ai, k, bm, ld, j, ends, o, ldo); break;
        case 3: rows_block_avx2<3>(ai, k, bm, ld, j, ends, o, ldo); break;
        default: rows_block_avx2<4>(ai, k, bm, ld, j, ends, o, ldo); break;
      }
    }
  }
  for (int64_t i = 0; i < m; ++i) {
    const int16_t* ar = a + i * k;
    int64_t* o = out + i * ldo;
    if (k2 < k)
      for (int64_t j = 0; j < n16; ++j) o[j] += static_cast<int32_t>(ar[k2]) * static_cast<int32_t>(bm[k2 * ld + j]);
    for (int64_t j = n16; j < n; ++j) {
      int64_t sum = 0;
      for (int64_t r = 0; r < k; ++r) sum += static_cast<int32_t>(ar[r]) * static_cast<int32_t>(bm[r * ld + j]);
      o[j] = sum;
    }
  }
}

// Where the int32 runs of the AVX2 kernels end, for each of `rows` rows of a ([rows, k], no
// −32768): a step covers `step` terms, lane l of which adds a[2l]·b + a[2l + 1]·b. With
// |b| <= 2^15 a lane gains at most (|a[2l]| + |a[2l + 1]|)·2^15 per step, so a run is kept
// while the sum over its steps of the largest such |a| pair stays <= 65535
// (65535·2^15 <= INT32_MAX): no int32 partial sum can then overflow, whatever B holds.
// Decode attention's probabilities (a few thousand in all) fit one run per row.
std::unique_ptr<uint8_t[]> int32_runs(const int16_t* a, int64_t rows, int64_t k, int64_t step) {
  constexpr int64_t kRunLimit = INT32_MAX >> 15;  // 65535
  const int64_t steps = k / step;
  auto ends = std::make_unique<uint8_t[]>(static_cast<size_t>(std::max<int64_t>(rows * steps, 1)));
  for (int64_t i = 0; i < rows; ++i) {
    // A step's widest lane is at most the step's Σ|a|: a row whose Σ|a| is within the limit
    // is one run (the common case, and a loop g++ vectorises).
    int64_t total = 0;
    for (int64_t r = 0; r < steps * step; ++r) {
      const int32_t v = a[i * k + r];
      total += v < 0 ? -v : v;
    }
    if (total > kRunLimit) {
      int64_t run = 0;
      for (int64_t s = 0; s < steps; ++s) {
        const int16_t* t = a + i * k + s * step;
        int64_t widest = 0;
        for (int64_t l = 0; l < step; l += 2)
          widest = std::max<int64_t>(widest, std::abs(int32_t{t[l]}) + std::abs(int32_t{t[l + 1]}));
        if (s > 0 && run + widest > kRunLimit) {
          ends[static_cast<size_t>(i * steps + s - 1)] = 1;
          run = 0;
        }
        run += widest;
      }
    }
    if (steps > 0) ends[static_cast<size_t>(i * steps + steps - 1)] = 1;
  }
  return ends;
}

bool holds_int16_min(const int16_t* a, int64_t n) {
  bool found = false;
  for (int64_t i = 0; i < n; ++i) found |= a[i] == INT16_MIN;
  return found;
}
#endif

// The few-row kernels over columns [j0, j1) of out ([m, n]): AVX2 when given the int32 runs
// of a (the CPU has AVX2 and a holds no −32768), else portable.
void matmul_rows_i16(const int16_t* a, const int16_t* bm, int64_t ld, int64_t m, int64_t k, int64_t n, int64_t j0,
                     int64_t j1, int64_t* out, const uint8_t* run_ends) {
#ifdef L2N_X86_KERNELS
  if (run_ends) return matmul_rows_i16_avx2(a, bm + j0, ld, m, k, j1 - j0, out + j0, n, run_ends);
#endif
  matmul_rows_i16_portable(a, bm + j0, ld, m, k, j1 - j0, out + j0, n);
}

void matmul_dots_i16(const int16_t* a, const int16_t* bm, int64_t ld, int64_t m, int64_t k, int64_t n, int64_t j0,
                     int64_t j1, int64_t* out, const uint8_t* run_ends) {
#ifdef L2N_X86_KERNELS
  if (run_ends) return matmul_dots_i16_avx2(a, bm + j0 * ld, ld, m, k, j1 - j0, out + j0, n, run_ends);
#endif
  matmul_dots_i16_portable(a, bm + j0 * ld, ld, m, k, j1 - j0, out + j0, n);
}

// The largest |w − w_zp| an int8 weight can have: a bound that needs no pass over the weight.
int64_t int8_weight_bound(int32_t w_zp) {
  return std::max(std::abs(-128 - int64_t{w_zp}), std::abs(127 - int64_t{w_zp}));
}

}  // namespace

void gemm_i8(const int8_t* x, const int8_t* w, int64_t rows, int64_t n_out, int64_t n_in, int32_t x_zp, int32_t w_zp,
             int32_t* out, const int32_t* bias) {
  auto xs = scratch<int16_t>(rows * n_in);
  const int32_t max_x = widen(x, rows * n_in, x_zp, xs.get());
  if (rows < kRowTile && sum_fits(n_in, int64_t{max_x} * int8_weight_bound(w_zp), INT32_MAX)) {
    // Decode: the GEMV streams the int8 weight; the bound proves every partial sum fits int32.
    auto acc = scratch<int64_t>(rows * n_out);
    gemv_x16_w8(xs.get(), max_x, w, rows, n_out, n_in, w_zp, acc.get());
    for (int64_t i = 0; i < rows * n_out; ++i) out[i] = static_cast<int32_t>(acc[i]);
    if (bias) add_bias_rows_i32(out, bias, rows, n_out);
    return;
  }
  auto ws = scratch<int16_t>(n_out * n_in);
  const int64_t term = int64_t{max_x} * widen(w, n_out * n_in, w_zp, ws.get());
  if (!sum_fits(n_in, term, INT32_MAX)) {
    // The bound does not prove every partial sum fits int32: the checked reference decides.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < n_out; ++o) out[r * n_out + o] = dot_i8(x + r * n_in, w + o * n_in, n_in, x_zp, w_zp);
    if (bias) add_bias_rows_i32(out, bias, rows, n_out);
    return;
  }
  // The bias is added in the tile when |acc| + max|bias| provably fits int32 (then
  // add_bias_i32 cannot fail); otherwise by add_bias_rows_i32, which checks.
  int64_t max_bias = 0;
  const std::vector<int64_t> b = bias ? bias64(bias, n_out, max_bias) : std::vector<int64_t>();
  const bool fused = bias && sum_fits(n_in, term, INT32_MAX - max_bias);
  auto acc = scratch<int64_t>(rows * n_out);
  gemm_driver(xs.get(), ws.get(), 0, 1, rows, n_out, n_in, n_in, acc.get(), fused ? b.data() : nullptr);
  for (int64_t i = 0; i < rows * n_out; ++i) out[i] = static_cast<int32_t>(acc[i]);
  if (bias && !fused) add_bias_rows_i32(out, bias, rows, n_out);
}

void gemm_i16_i8(const int16_t* x, const int8_t* w, int64_t rows, int64_t n_out, int64_t n_in, int32_t w_zp,
                 int64_t* out, const int64_t* bias) {
  if (rows < kRowTile) {
    // Bound |w − w_zp| by the int8 range instead of a pass over the weight; when that bound
    // cannot prove the sums exact, the GEMM path below measures the real maximum.
    const int32_t max_x = max_abs(x, rows * n_in);
    if (sum_fits(n_in, int64_t{max_x} * int8_weight_bound(w_zp), kInt48Max)) {
      gemv_x16_w8(x, max_x, w, rows, n_out, n_in, w_zp, out);
      if (bias) add_bias_rows_i48(out, bias, rows, n_out);  // checked: the reference's REQUIREs
      return;
    }
  }
  auto ws = scratch<int16_t>(n_out * n_in);
  const int64_t term = int64_t{max_abs(x, rows * n_in)} * widen(w, n_out * n_in, w_zp, ws.get());
  if (!sum_fits(n_in, term, kInt48Max)) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < n_out; ++o) out[r * n_out + o] = dot_i16_i8(x + r * n_in, w + o * n_in, n_in, w_zp);
    if (bias) add_bias_rows_i48(out, bias, rows, n_out);
    return;
  }
  // As in gemm_i8: fused when the bias and |acc| + max|bias| provably fit int48.
  int64_t max_bias = 0;
  const std::vector<int64_t> b = bias ? bias64(bias, n_out, max_bias) : std::vector<int64_t>();
  const bool fused = bias && max_bias <= kInt48Max && sum_fits(n_in, term, kInt48Max - max_bias);
  gemm_driver(x, ws.get(), 0, 1, rows, n_out, n_in, int32_block(term), out, fused ? b.data() : nullptr);
  if (bias && !fused) add_bias_rows_i48(out, bias, rows, n_out);
}

void matmul_i8(const int8_t* a, const int8_t* bm, int64_t batch, int64_t m, int64_t k, int64_t n, int32_t a_zp,
               int32_t b_zp, int32_t* out) {
  auto as = scratch<int16_t>(batch * m * k);
  auto bt = scratch<int16_t>(batch * k * n);
  const int64_t term = int64_t{widen(a, batch * m * k, a_zp, as.get())} * transpose_widen(bm, batch, k, n, b_zp, bt.get());
  if (!sum_fits(k, term, INT32_MAX)) {
    std::vector<int8_t> col(static_cast<size_t>(k));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t r = 0; r < k; ++r) col[static_cast<size_t>(r)] = bm[(b * k + r) * n + j];
        for (int64_t i = 0; i < m; ++i) out[(b * m + i) * n + j] = dot_i8(a + (b * m + i) * k, col.data(), k, a_zp, b_zp);
      }
    return;
  }
  auto acc = scratch<int64_t>(batch * m * n);
  gemm_driver(as.get(), bt.get(), k * n, batch, m, n, k, k, acc.get());
  for (int64_t i = 0; i < batch * m * n; ++i) out[i] = static_cast<int32_t>(acc[i]);
}

void matmul_i16(const int16_t* a, const int16_t* bm, int64_t batch, int64_t m, int64_t k, int64_t n, int64_t* out) {
  matmul_i16(a, StridedI16{bm, k * n, n, 1}, batch, m, k, n, out);
}

void matmul_i16(const int16_t* a, const StridedI16& bm, int64_t batch, int64_t m, int64_t k, int64_t n, int64_t* out) {
  auto b_at = [&](int64_t b, int64_t r, int64_t j) {
    return bm.data[b * bm.batch_stride + r * bm.row_stride + j * bm.col_stride];
  };
  if (k > (int64_t{1} << 17)) {
    // Beyond 2^17 terms a partial sum may leave int48; the checked reference decides.
    std::vector<int16_t> col(static_cast<size_t>(k));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t r = 0; r < k; ++r) col[static_cast<size_t>(r)] = b_at(b, r, j);
        for (int64_t i = 0; i < m; ++i) out[(b * m + i) * n + j] = dot_i16_i16(a + (b * m + i) * k, col.data(), k);
      }
    return;
  }
  // From here every product of two int16 and every partial sum of at most 2^17 of them is an
  // integer of magnitude <= 2^47: no int48 REQUIRE can fail, and the order of the sums is free.
  if (m < kRowTile) {
    if (bm.col_stride != 1 && bm.row_stride != 1) {
      // Neither a row nor a column of B is contiguous: one dense copy, then the dense kernel.
      auto dense = scratch<int16_t>(batch * k * n);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t r = 0; r < k; ++r)
          for (int64_t j = 0; j < n; ++j) dense[(b * k + r) * n + j] = b_at(b, r, j);
      matmul_i16(a, StridedI16{dense.get(), k * n, n, 1}, batch, m, k, n, out);
      return;
    }
    // Tasks are (matrix, block of columns), so that a few KV heads still keep every thread
    // busy; each output element has one owner.
    const bool rows = bm.col_stride == 1;
    const int64_t step = rows ? 2 : 16;  // terms per int32 run step of the row / dot kernel
    std::unique_ptr<uint8_t[]> runs;
#ifdef L2N_X86_KERNELS
    if (has_avx2() && !holds_int16_min(a, batch * m * k)) runs = int32_runs(a, batch * m, k, step);
#endif
    const int64_t width = rows ? 16 : 64;
    const int64_t blocks = (n + width - 1) / width, tasks = batch * blocks;
    const bool parallel = tasks > 1 && batch * m * k * n >= kParallelWork;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t b = t / blocks, j0 = (t % blocks) * width, j1 = std::min(n, j0 + width);
      const int16_t* bb = bm.data + b * bm.batch_stride;
      const uint8_t* run_ends = runs ? runs.get() + b * m * (k / step) : nullptr;
      if (rows) matmul_rows_i16(a + b * m * k, bb, bm.row_stride, m, k, n, j0, j1, out + b * m * n, run_ends);
      else matmul_dots_i16(a + b * m * k, bb, bm.col_stride, m, k, n, j0, j1, out + b * m * n, run_ends);
    }
    return;
  }
  // double holds every integer up to 2^53, so a double GEMM makes no rounding in any order
  // of summation: OpenBLAS's dgemm gives the exact int64 sums, at several times the rate of
  // the int32-blocked integer GEMM (which for int16·int16 needs two passes, b split into bytes).
  auto ad = scratch<double>(batch * m * k);
  auto bd = scratch<double>(batch * k * n);
  std::copy_n(a, batch * m * k, ad.get());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < n; ++j) bd[(b * k + r) * n + j] = b_at(b, r, j);
  // The product is computed straight into `out` (double and int64 have the same size) and
  // converted in place; memcpy is how C++ lets one buffer change its element type.
  static_assert(sizeof(double) == sizeof(int64_t));
  exec::detail::gemm(batch, m, n, k, ad.get(), bd.get(), /*b_transposed=*/false, reinterpret_cast<double*>(out));
  const int64_t total = batch * m * n;
#pragma omp parallel for if (total >= kParallelWork)
  for (int64_t i = 0; i < total; ++i) {
    double v;
    std::memcpy(&v, out + i, sizeof v);
    out[i] = static_cast<int64_t>(v);
  }
}

void add_bias_rows_i32(int32_t* acc, const int32_t* bias, int64_t rows, int64_t n_out, bool bias_per_channel) {
  // One vectorisable pass proves every sum fits; only then are the sums stored, so that on a
  // failure the reference add_bias_i32 sees the untouched operands and reports the first.
  bool overflow = false;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_out; ++o) {
      const int64_t s = int64_t{acc[r * n_out + o]} + bias[bias_per_channel ? o : 0];
      overflow |= s < INT32_MIN || s > INT32_MAX;
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_out; ++o) {
      int32_t& a = acc[r * n_out + o];
      const int32_t b = bias[bias_per_channel ? o : 0];
      a = overflow ? add_bias_i32(a, b) : static_cast<int32_t>(int64_t{a} + b);
    }
}

void add_bias_rows_i48(int64_t* acc, const int64_t* bias, int64_t rows, int64_t n_out, bool bias_per_channel) {
  auto out48 = [](int64_t v) { return v < kInt48Min || v > kInt48Max; };
  bool overflow = false;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_out; ++o) {
      const int64_t a = acc[r * n_out + o], b = bias[bias_per_channel ? o : 0];
      // Wrapping add: the sum only matters (and is then exact) when both operands fit int48.
      const int64_t sum = static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
      overflow |= out48(a) | out48(b) | out48(sum);
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_out; ++o) {
      int64_t& a = acc[r * n_out + o];
      const int64_t b = bias[bias_per_channel ? o : 0];
      a = overflow ? add_bias_i48(a, b) : a + b;
    }
}

}  // namespace l2n::quant
