#include "quant/integer_elementwise.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "quant/qparams.h"

namespace l2n::quant {
namespace {

// Below this many elements an OpenMP fork/join costs more than the loop.
constexpr int64_t kParallelElements = int64_t{1} << 15;

// Runs body(begin, end) over [0, n) and returns the OR of its results (true: a REQUIRE
// failed somewhere; bodies without REQUIREs return false). Below kParallelElements in a single call outside OpenMP: even a region
// that its `if` clause keeps serial costs about a microsecond, which dominated the short
// runs (a few hundred elements) that the interpreter's broadcasts and decode steps make.
// Above, `unit`-aligned chunks are shared among the threads.
template <typename Body>
bool over_chunks(int64_t n, Body body, int64_t unit = 1) {
  if (n < kParallelElements) return body(int64_t{0}, n);
  const int64_t chunk = std::max<int64_t>(unit, 8192 / unit * unit);
  const int64_t chunks = (n + chunk - 1) / chunk;
  bool bad = false;
#pragma omp parallel for schedule(static) reduction(|| : bad)
  for (int64_t c = 0; c < chunks; ++c) {
    const bool chunk_bad = body(c * chunk, std::min(n, (c + 1) * chunk));
    bad = bad || chunk_bad;
  }
  return bad;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// RESCALE
//
// The per-element REQUIREs are evaluated branch-free and OR-ed into one flag, and the loops
// are written so that g++ vectorises them: 32×32→64 products of sign-extended int32
// (vpmuldq), compares, and the arithmetic 64-bit right shift — which AVX2 lacks — as a
// logical shift of the value with its sign bit flipped: for 0 <= s <= 63,
//   ((u ^ 2^63) >>> s) − (2^63 >>> s) = floor((u + 2^63) / 2^s) − 2^(63−s) = u >> s.
// Inlined into target_clones functions, so the AVX2 clone does four 64-bit lanes at once
// where the CPU has it; integer arithmetic is exact, so every clone gives the same results.

namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;

// x >> shift (arithmetic) for 0 <= shift <= 63 in operations AVX2 has; bias = 2^63 >>> shift
// (an array per channel: g++ 12 does not vectorise a constant shifted by a vector).
[[gnu::always_inline]] inline int64_t shift_right(uint64_t x, uint64_t shift, uint64_t bias) {
  return static_cast<int64_t>(((x ^ kSignBit) >> shift) - bias);
}

// v ^ (v >> 31) is v for v >= 0 and −v − 1 for v < 0, so the REQUIRE
// −2^(shift−1) <= v < 2^(shift−1) of apply_scale_32 is one compare: v ^ (v >> 31) <= vmax,
// vmax = 2^(shift−1) − 1 (INT32_MAX from shift 32 on, where every int32 passes).
int32_t scale32_vmax(int shift) {
  return shift <= 31 ? static_cast<int32_t>((int64_t{1} << (shift - 1)) - 1) : INT32_MAX;
}

// 2^(shift−1), plus 2^30 with double rounding and shift > 31; the reference adds −2^30
// instead for v < 0, i.e. another −2^31 (scale32_round_neg).
int64_t scale32_round(int shift, bool double_round) {
  return (int64_t{1} << (shift - 1)) + (double_round && shift > 31 ? int64_t{1} << 30 : 0);
}
int64_t scale32_round_neg(int shift) { return shift > 31 ? -(int64_t{1} << 31) : 0; }

// The zero points and output clip of one RESCALE.
struct RescaleEnds {
  int32_t izp, ozp, lo, hi;
  // The scaled values of a 16-bit-multiplier RESCALE that fit int32 before and after + ozp:
  // both int32 REQUIREs of rescale() in one range.
  int64_t rmin, rmax;
};

// One element of rescale() with scale32, v = x − input_zp; ORs a nonzero value into `bad`
// when a REQUIRE fails. |v·multiplier + round| < 2^63 for every int32 v, so nothing
// overflows even for a flagged element. A v that passes scales into [−2^30 − 1, 2^30],
// where adding an int8 zero point cannot leave int32: that REQUIRE of rescale() cannot
// fail, so it is not tested.
template <bool kDoubleRound>
[[gnu::always_inline]] inline int32_t scale32_lane(int32_t v, int32_t multiplier, int32_t vmax, int64_t round,
                                                   int64_t round_neg, uint64_t shift, uint64_t bias, int32_t ozp,
                                                   int32_t lo, int32_t hi, uint32_t& bad) {
  bad |= static_cast<uint32_t>((v ^ (v >> 31)) > vmax);
  int64_t sum = static_cast<int64_t>(v) * multiplier + round;
  if constexpr (kDoubleRound) sum += static_cast<int64_t>(v >> 31) & round_neg;
  const int32_t w = static_cast<int32_t>(static_cast<uint32_t>(shift_right(static_cast<uint64_t>(sum), shift, bias)) +
                                         static_cast<uint32_t>(ozp));
  return w < lo ? lo : w > hi ? hi : w;
}

// One element of rescale() with a 16-bit multiplier, v = x − input_zp. The product is taken
// modulo 2^64: exact when v fits int48 (|v·multiplier| < 2^62), and a v that does not is
// flagged.
[[gnu::always_inline]] inline int32_t scale16_lane(int64_t v, int64_t multiplier, int64_t half, uint64_t shift,
                                                   uint64_t bias, int64_t rmin, int64_t rmax, int32_t ozp, int32_t lo,
                                                   int32_t hi, uint64_t& bad) {
  bad |= (static_cast<uint64_t>(v) + (uint64_t{1} << 47)) >> 48;  // nonzero iff v is outside int48
  const int64_t scaled = shift_right(
      static_cast<uint64_t>(v) * static_cast<uint64_t>(multiplier) + static_cast<uint64_t>(half), shift, bias);
  bad |= static_cast<uint64_t>(scaled < rmin) | static_cast<uint64_t>(scaled > rmax);
  const int32_t w = static_cast<int32_t>(static_cast<uint32_t>(scaled) + static_cast<uint32_t>(ozp));
  return w < lo ? lo : w > hi ? hi : w;
}

#if defined(__x86_64__)
#define L2N_AVX2_CLONES [[gnu::target_clones("avx2", "default")]]
#else
#define L2N_AVX2_CLONES
#endif

// Per-channel constants, one array per field so that the channel loop loads them as
// vectors. Decode rescales single rows of a few hundred channels, so building them is a
// visible part of the call: two allocations, nothing zero-filled first, and vectorised
// fills. Those take 1 as an argument hidden behind an empty asm, because g++ 12 does not
// vectorise a compile-time constant shifted by a vector of counts.

L2N_AVX2_CLONES void split_multipliers(const ScaleMultiplier* __restrict m, int64_t n, int32_t* __restrict multiplier,
                                       int64_t* __restrict shift) {
  for (int64_t c = 0; c < n; ++c) multiplier[c] = m[c].multiplier, shift[c] = m[c].shift;
}

L2N_AVX2_CLONES void split_multipliers(const ScaleMultiplier* __restrict m, int64_t n, int64_t* __restrict multiplier,
                                       int64_t* __restrict shift) {
  for (int64_t c = 0; c < n; ++c) multiplier[c] = m[c].multiplier, shift[c] = m[c].shift;
}

// scale32_vmax, scale32_round, 2^63 >>> shift and scale32_round_neg (0 without double
// rounding) of each channel.
L2N_AVX2_CLONES void fill_scale32(int64_t n, bool double_round, uint64_t one, const int64_t* __restrict shift,
                                  int32_t* __restrict vmax, int64_t* __restrict round, uint64_t* __restrict bias,
                                  int64_t* __restrict round_neg) {
  asm("" : "+r"(one));
  const uint64_t sign = one << 63;
  const int64_t second = double_round ? static_cast<int64_t>(one << 30) : 0;
  for (int64_t c = 0; c < n; ++c) {
    const int64_t s = shift[c];  // validated: 2..62
    const int64_t half = static_cast<int64_t>((one << s) >> 1);
    vmax[c] = static_cast<int32_t>(s <= 31 ? half - 1 : INT32_MAX);
    round[c] = half + (s > 31 ? second : 0);
    bias[c] = sign >> s;
    round_neg[c] = s > 31 ? -2 * second : 0;
  }
}

// 2^(shift−1) and 2^63 >>> shift of each channel.
L2N_AVX2_CLONES void fill_scale16(int64_t n, uint64_t one, const int64_t* __restrict shift, int64_t* __restrict half,
                                  uint64_t* __restrict bias) {
  asm("" : "+r"(one));
  const uint64_t sign = one << 63;
  for (int64_t c = 0; c < n; ++c) {
    const uint64_t s = static_cast<uint64_t>(shift[c]);  // validated: 2..62
    half[c] = static_cast<int64_t>((one << s) >> 1);
    bias[c] = sign >> s;
  }
}

struct Scale32Channels {
  int64_t channels;
  std::unique_ptr<int32_t[]> i32;  // multiplier, vmax
  std::unique_ptr<int64_t[]> i64;  // round, shift, bias, round_neg

  Scale32Channels(std::span<const ScaleMultiplier> m, bool double_round)
      : channels(static_cast<int64_t>(m.size())),
        i32(std::make_unique_for_overwrite<int32_t[]>(2 * m.size())),
        i64(std::make_unique_for_overwrite<int64_t[]>(4 * m.size())) {
    const int64_t n = channels;
    int64_t* shift = i64.get() + n;
    split_multipliers(m.data(), n, i32.get(), shift);
    fill_scale32(n, double_round, 1, shift, i32.get() + n, i64.get(), reinterpret_cast<uint64_t*>(shift + n),
                 shift + 2 * n);
  }
};

struct Scale16Channels {
  int64_t channels;
  std::unique_ptr<int64_t[]> i64;  // multiplier, half, shift, bias

  explicit Scale16Channels(std::span<const ScaleMultiplier> m)
      : channels(static_cast<int64_t>(m.size())), i64(std::make_unique_for_overwrite<int64_t[]>(4 * m.size())) {
    const int64_t n = channels;
    int64_t* shift = i64.get() + 2 * n;
    split_multipliers(m.data(), n, i64.get(), shift);
    fill_scale16(n, 1, shift, i64.get() + n, reinterpret_cast<uint64_t*>(shift + n));
  }
};

// The kernels return whether any per-element REQUIRE of rescale() fails (the values written
// are then meaningless and the caller recomputes with the reference). x − input_zp is exact
// in int32: only int8 inputs have a zero point.

template <bool kDoubleRound, typename In, typename Out>
[[gnu::always_inline]] inline bool scale32_uniform_body(const In* __restrict x, Out* __restrict out, int64_t n,
                                                        ScaleMultiplier m, const RescaleEnds& e) {
  const int32_t multiplier = m.multiplier, vmax = scale32_vmax(m.shift);
  const int64_t round = scale32_round(m.shift, kDoubleRound), round_neg = scale32_round_neg(m.shift);
  const uint64_t shift = static_cast<uint64_t>(m.shift), bias = kSignBit >> shift;
  const int32_t izp = e.izp, ozp = e.ozp, lo = e.lo, hi = e.hi;
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<Out>(scale32_lane<kDoubleRound>(static_cast<int32_t>(x[i]) - izp, multiplier, vmax, round,
                                                         round_neg, shift, bias, ozp, lo, hi, bad));
  return bad != 0;
}

// rows × channels elements, channel innermost.
template <bool kDoubleRound, typename In, typename Out>
[[gnu::always_inline]] inline bool scale32_rows_body(const In* __restrict x, Out* __restrict out, int64_t rows,
                                                     const Scale32Channels& k, const RescaleEnds& e) {
  const int64_t channels = k.channels;
  const int32_t* __restrict multiplier = k.i32.get();
  const int32_t* __restrict vmax = multiplier + channels;
  const int64_t* __restrict round = k.i64.get();
  const uint64_t* __restrict shift = reinterpret_cast<const uint64_t*>(round + channels);
  const uint64_t* __restrict bias = shift + channels;
  const int64_t* __restrict round_neg = round + 3 * channels;
  const int32_t izp = e.izp, ozp = e.ozp, lo = e.lo, hi = e.hi;
  uint32_t bad = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const In* __restrict xr = x + r * channels;
    Out* __restrict o = out + r * channels;
    for (int64_t c = 0; c < channels; ++c)
      o[c] = static_cast<Out>(scale32_lane<kDoubleRound>(static_cast<int32_t>(xr[c]) - izp, multiplier[c], vmax[c],
                                                         round[c], kDoubleRound ? round_neg[c] : 0, shift[c], bias[c],
                                                         ozp, lo, hi, bad));
  }
  return bad != 0;
}

template <typename In, typename Out>
[[gnu::always_inline]] inline bool scale16_uniform_body(const In* __restrict x, Out* __restrict out, int64_t n,
                                                        ScaleMultiplier m, const RescaleEnds& e) {
  const int64_t multiplier = m.multiplier, half = int64_t{1} << (m.shift - 1), rmin = e.rmin, rmax = e.rmax;
  const uint64_t shift = static_cast<uint64_t>(m.shift), bias = kSignBit >> shift;
  const int64_t izp = e.izp;
  const int32_t ozp = e.ozp, lo = e.lo, hi = e.hi;
  uint64_t bad = 0;
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<Out>(
        scale16_lane(static_cast<int64_t>(x[i]) - izp, multiplier, half, shift, bias, rmin, rmax, ozp, lo, hi, bad));
  return bad != 0;
}

template <typename In, typename Out>
[[gnu::always_inline]] inline bool scale16_rows_body(const In* __restrict x, Out* __restrict out, int64_t rows,
                                                     const Scale16Channels& k, const RescaleEnds& e) {
  const int64_t channels = k.channels;
  const int64_t* __restrict multiplier = k.i64.get();
  const int64_t* __restrict half = multiplier + channels;
  const uint64_t* __restrict shift = reinterpret_cast<const uint64_t*>(half + channels);
  const uint64_t* __restrict bias = shift + channels;
  const int64_t rmin = e.rmin, rmax = e.rmax, izp = e.izp;
  const int32_t ozp = e.ozp, lo = e.lo, hi = e.hi;
  uint64_t bad = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const In* __restrict xr = x + r * channels;
    Out* __restrict o = out + r * channels;
    for (int64_t c = 0; c < channels; ++c)
      o[c] = static_cast<Out>(scale16_lane(static_cast<int64_t>(xr[c]) - izp, multiplier[c], half[c], shift[c], bias[c],
                                           rmin, rmax, ozp, lo, hi, bad));
  }
  return bad != 0;
}

// Overload sets of plain functions: function multiversioning does not apply to templates.
#define L2N_RESCALE_KERNELS(In, Out)                                                                                  \
  L2N_AVX2_CLONES bool scale32_uniform(const In* x, Out* out, int64_t n, ScaleMultiplier m, const RescaleEnds& e,     \
                                       bool double_round) {                                                           \
    return double_round ? scale32_uniform_body<true>(x, out, n, m, e) : scale32_uniform_body<false>(x, out, n, m, e); \
  }                                                                                                                   \
  L2N_AVX2_CLONES bool scale32_rows(const In* x, Out* out, int64_t rows, const Scale32Channels& k,                    \
                                    const RescaleEnds& e, bool double_round) {                                        \
    return double_round ? scale32_rows_body<true>(x, out, rows, k, e) : scale32_rows_body<false>(x, out, rows, k, e); \
  }                                                                                                                   \
  L2N_AVX2_CLONES bool scale16_uniform(const In* x, Out* out, int64_t n, ScaleMultiplier m, const RescaleEnds& e) {   \
    return scale16_uniform_body(x, out, n, m, e);                                                                     \
  }                                                                                                                   \
  L2N_AVX2_CLONES bool scale16_rows(const In* x, Out* out, int64_t rows, const Scale16Channels& k,                    \
                                    const RescaleEnds& e) {                                                           \
    return scale16_rows_body(x, out, rows, k, e);                                                                     \
  }
#define L2N_RESCALE_KERNELS_FROM(In) \
  L2N_RESCALE_KERNELS(In, int8_t) L2N_RESCALE_KERNELS(In, int16_t) L2N_RESCALE_KERNELS(In, int32_t)
L2N_RESCALE_KERNELS_FROM(int8_t)
L2N_RESCALE_KERNELS_FROM(int16_t)
L2N_RESCALE_KERNELS_FROM(int32_t)
#undef L2N_RESCALE_KERNELS_FROM
#undef L2N_RESCALE_KERNELS
#define L2N_RESCALE_KERNELS(Out)                                                                        \
  L2N_AVX2_CLONES bool scale16_uniform(const int64_t* x, Out* out, int64_t n, ScaleMultiplier m,        \
                                       const RescaleEnds& e) {                                          \
    return scale16_uniform_body(x, out, n, m, e);                                                       \
  }                                                                                                     \
  L2N_AVX2_CLONES bool scale16_rows(const int64_t* x, Out* out, int64_t rows, const Scale16Channels& k, \
                                    const RescaleEnds& e) {                                             \
    return scale16_rows_body(x, out, rows, k, e);                                                       \
  }
L2N_RESCALE_KERNELS(int8_t)
L2N_RESCALE_KERNELS(int16_t)
L2N_RESCALE_KERNELS(int32_t)
#undef L2N_RESCALE_KERNELS
#undef L2N_AVX2_CLONES

}  // namespace

struct RescalePlan::Channels {
  std::unique_ptr<Scale32Channels> scale32;
  std::unique_ptr<Scale16Channels> scale16;
};

RescalePlan::RescalePlan(std::span<const ScaleMultiplier> m, const RescaleAttrs& a)
    : multipliers_(m.begin(), m.end()), attrs_(a) {
  validate_rescale(a, m);
  if (m.size() == 1) return;
  auto channels = std::make_unique<Channels>();
  if (a.scale32) channels->scale32 = std::make_unique<Scale32Channels>(m, a.rounding == RoundingMode::Double);
  else channels->scale16 = std::make_unique<Scale16Channels>(m);
  channels_ = std::move(channels);
}

RescalePlan::~RescalePlan() = default;

template <typename In, typename Out>
void RescalePlan::run(const In* x, Out* out, int64_t n) const {
  const RescaleAttrs& a = attrs_;
  const std::span<const ScaleMultiplier> m(multipliers_);
  const int64_t channels = static_cast<int64_t>(m.size());
  auto reference = [&] {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(rescale(x[i], m[static_cast<size_t>(i % channels)], a));
  };
  // Channels that do not tile the tensor (the reference's i % channels decides), and scale32
  // on int64 storage, which validate_rescale admits only for a caller whose in_dtype does
  // not match In.
  if (n % channels != 0 || (a.scale32 && std::is_same_v<In, int64_t>)) {
    reference();
    return;
  }
  const RescaleEnds e{a.input_zp,
                      a.output_zp,
                      static_cast<int32_t>(qdtype_min(a.out_dtype)),
                      static_cast<int32_t>(qdtype_max(a.out_dtype)),
                      std::max<int64_t>(INT32_MIN, int64_t{INT32_MIN} - a.output_zp),
                      std::min<int64_t>(INT32_MAX, int64_t{INT32_MAX} - a.output_zp)};
  bool bad = false;
  if constexpr (!std::is_same_v<In, int64_t>) {
    if (a.scale32) {
      const bool double_round = a.rounding == RoundingMode::Double;
      if (channels == 1) {
        bad = over_chunks(n, [&](int64_t begin, int64_t end) {
          return scale32_uniform(x + begin, out + begin, end - begin, m[0], e, double_round);
        });
      } else {
        const Scale32Channels& k = *channels_->scale32;
        bad = over_chunks(
            n,
            [&](int64_t begin, int64_t end) {
              return scale32_rows(x + begin, out + begin, (end - begin) / channels, k, e, double_round);
            },
            channels);
      }
      if (bad) reference();
      return;
    }
  }
  if (channels == 1) {
    bad = over_chunks(
        n, [&](int64_t begin, int64_t end) { return scale16_uniform(x + begin, out + begin, end - begin, m[0], e); });
  } else {
    const Scale16Channels& k = *channels_->scale16;
    bad = over_chunks(
        n,
        [&](int64_t begin, int64_t end) {
          return scale16_rows(x + begin, out + begin, (end - begin) / channels, k, e);
        },
        channels);
  }
  if (bad) reference();
}

template <typename In, typename Out>
void rescale_tensor(const In* x, Out* out, int64_t n, std::span<const ScaleMultiplier> m, const RescaleAttrs& a) {
  RescalePlan(m, a).run(x, out, n);
}

#define L2N_RESCALE_INSTANCE(In, Out)                                                                                \
  template void rescale_tensor<In, Out>(const In*, Out*, int64_t, std::span<const ScaleMultiplier>, const RescaleAttrs&); \
  template void RescalePlan::run<In, Out>(const In*, Out*, int64_t) const;
#define L2N_RESCALE_INSTANCES(In) \
  L2N_RESCALE_INSTANCE(In, int8_t) L2N_RESCALE_INSTANCE(In, int16_t) L2N_RESCALE_INSTANCE(In, int32_t)
L2N_RESCALE_INSTANCES(int8_t)
L2N_RESCALE_INSTANCES(int16_t)
L2N_RESCALE_INSTANCES(int32_t)
L2N_RESCALE_INSTANCES(int64_t)
#undef L2N_RESCALE_INSTANCES
#undef L2N_RESCALE_INSTANCE

// ---------------------------------------------------------------------------------------
// TABLE

void table_i8_tensor(const int8_t* x, int8_t* out, int64_t n, const TableI8& table) {
  over_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = lookup_i8(x[i], table);
    return false;
  });
}

void table_i16_tensor(const int16_t* x, int32_t* out, int64_t n, const TableI16& table) {
  // The slope REQUIRE depends only on the segment: when every segment passes, no element can
  // fail; otherwise the reference throws for the first element that reaches a bad segment.
  bool slopes_ok = true;
  for (size_t k = 0; k + 1 < table.size(); ++k) {
    const int32_t slope = static_cast<int32_t>(table[k + 1]) - table[k];
    slopes_ok &= slope >= -32768 && slope <= 32767;
  }
  if (!slopes_ok) {
    for (int64_t i = 0; i < n; ++i) out[i] = lookup_i16(x[i], table);
    return;
  }
  over_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int32_t v = x[i];
      const size_t index = static_cast<size_t>((v + 32768) >> 7);
      const int32_t base = table[index];
      out[i] = base * 128 + (table[index + 1] - base) * (v & 0x7f);
    }
    return false;
  });
}

// ---------------------------------------------------------------------------------------
// int32 ADD / SUB / MUL

namespace {

// o[i] = fast(a[i·sa], b[i·sb]) for i in [begin, end); true when a REQUIRE failed somewhere.
// One loop per stride pattern, the broadcast operand hoisted out of it, and `bad |= …`
// rather than a short-circuit, so that each loop vectorises.
template <typename Fast>
bool binary_span(const int32_t* __restrict a, int64_t sa, const int32_t* __restrict b, int64_t sb,
                 int32_t* __restrict o, int64_t begin, int64_t end, Fast fast) {
  bool bad = false;
  if (sa == 1 && sb == 1) {
    for (int64_t i = begin; i < end; ++i) bad |= !fast(a[i], b[i], o[i]);
  } else if (sa == 1 && sb == 0) {
    const int32_t v = b[0];
    for (int64_t i = begin; i < end; ++i) bad |= !fast(a[i], v, o[i]);
  } else if (sa == 0 && sb == 1) {
    const int32_t u = a[0];
    for (int64_t i = begin; i < end; ++i) bad |= !fast(u, b[i], o[i]);
  } else {
    for (int64_t i = begin; i < end; ++i) bad |= !fast(a[i * sa], b[i * sb], o[i]);
  }
  return bad;
}

// Computes o[i] = op(a[i·sa], b[i·sb]) where op returns false on a failed REQUIRE (without
// throwing); then, if any failed, recomputes with the throwing reference `ref`.
template <typename Fast, typename Ref>
void binary_run(const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n, Fast fast, Ref ref) {
  const bool bad =
      over_chunks(n, [&](int64_t begin, int64_t end) { return binary_span(a, sa, b, sb, o, begin, end, fast); });
  if (!bad) return;
  for (int64_t i = 0; i < n; ++i) o[i] = ref(a[i * sa], b[i * sb]);
}

}  // namespace

void add_i32_run(const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n) {
  binary_run(
      a, sa, b, sb, o, n,
      [](int32_t u, int32_t v, int32_t& r) {
        const int64_t c = int64_t{u} + v;
        r = static_cast<int32_t>(c);
        return c >= INT32_MIN && c <= INT32_MAX;
      },
      add_i32);
}

void sub_i32_run(const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n) {
  binary_run(
      a, sa, b, sb, o, n,
      [](int32_t u, int32_t v, int32_t& r) {
        const int64_t c = int64_t{u} - v;
        r = static_cast<int32_t>(c);
        return c >= INT32_MIN && c <= INT32_MAX;
      },
      sub_i32);
}

void mul_i32_run(const int32_t* a, int64_t sa, const int32_t* b, int64_t sb, int32_t* o, int64_t n, int shift) {
  auto ref = [shift](int32_t u, int32_t v) { return mul_i32(u, v, shift); };
  if (n > 0 && (shift < 0 || shift > 63)) {
    ref(a[0], b[0]);  // throws the reference's shift REQUIRE
    return;
  }
  if (shift == 0) {
    binary_run(
        a, sa, b, sb, o, n,
        [](int32_t u, int32_t v, int32_t& r) {
          r = static_cast<int32_t>(static_cast<uint32_t>(u) * static_cast<uint32_t>(v));  // the low 32 bits
          return true;
        },
        ref);
    return;
  }
  const int64_t half = int64_t{1} << (shift - 1);
  binary_run(
      a, sa, b, sb, o, n,
      [shift, half](int32_t u, int32_t v, int32_t& r) {
        const int64_t rounded = (static_cast<int64_t>(u) * v + half) >> shift;
        r = static_cast<int32_t>(rounded);
        return rounded >= INT32_MIN && rounded <= INT32_MAX;
      },
      ref);
}

// ---------------------------------------------------------------------------------------
// Quantize / Dequantize

template <typename Out>
void quantize_tensor(const float* x, Out* out, int64_t n, float inv_scale, int32_t zero_point, int64_t qmin,
                     int64_t qmax) {
  const double zp = zero_point, lo = static_cast<double>(qmin), hi = static_cast<double>(qmax);
  const int64_t nan_value = std::clamp<int64_t>(zero_point, qmin, qmax);
  over_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float p = x[i] * inv_scale;
      // std::nearbyint (ties to even in the default rounding mode) without a libm call: below
      // 2^23, adding and removing 2^23 rounds |p| to an integer in the current mode; from 2^23
      // on every float is already an integer (and NaN fails the comparison).
      const float mag = std::fabs(p);
      const float r = mag < 0x1p23f ? std::copysign((mag + 0x1p23f) - 0x1p23f, p) : p;
      if (std::isnan(r)) {
        out[i] = static_cast<Out>(nan_value);
        continue;
      }
      const double v = std::clamp(static_cast<double>(r) + zp, lo, hi);
      out[i] = static_cast<Out>(static_cast<int64_t>(v));
    }
    return false;
  });
}

template <typename In>
void dequantize_tensor(const In* q, float* out, int64_t n, float scale, int32_t zero_point) {
  const float zp = static_cast<float>(zero_point);
  over_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = (static_cast<float>(q[i]) - zp) * scale;
    return false;
  });
}

template void quantize_tensor<int8_t>(const float*, int8_t*, int64_t, float, int32_t, int64_t, int64_t);
template void quantize_tensor<int16_t>(const float*, int16_t*, int64_t, float, int32_t, int64_t, int64_t);
template void quantize_tensor<int32_t>(const float*, int32_t*, int64_t, float, int32_t, int64_t, int64_t);
template void quantize_tensor<int64_t>(const float*, int64_t*, int64_t, float, int32_t, int64_t, int64_t);
template void dequantize_tensor<int8_t>(const int8_t*, float*, int64_t, float, int32_t);
template void dequantize_tensor<int16_t>(const int16_t*, float*, int64_t, float, int32_t);
template void dequantize_tensor<int32_t>(const int32_t*, float*, int64_t, float, int32_t);
template void dequantize_tensor<int64_t>(const int64_t*, float*, int64_t, float, int32_t);

}  // namespace l2n::quant
