#include "quant/integer_elementwise.h"

#include <algorithm>
#include <cmath>
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

namespace {

// Per-channel constants of one RESCALE, hoisted out of the element loop.
struct ChannelScale {
  int64_t multiplier;
  int64_t half;  // 2^(shift−1), the rounding constant and the scale32 input bound
  int shift;
};

// One element of rescale() with the channel's constants; sets `bad` when a per-element
// REQUIRE fails (the value returned is then meaningless and the caller recomputes).
template <bool kScale32, bool kDoubleRound, typename In>
inline int64_t rescale_element(In x, const ChannelScale& k, int64_t izp, int64_t ozp, int64_t lo, int64_t hi,
                               bool& bad) {
  const int64_t v = static_cast<int64_t>(x) - izp;
  int64_t scaled;
  if constexpr (kScale32) {
    const int32_t v32 = static_cast<int32_t>(v);  // as rescale() passes it to apply_scale_32
    bad |= v32 < -k.half || v32 >= k.half;
    int64_t round = k.half;
    if (kDoubleRound && k.shift > 31) round += v32 >= 0 ? (int64_t{1} << 30) : -(int64_t{1} << 30);
    scaled = static_cast<int32_t>((static_cast<int64_t>(v32) * k.multiplier + round) >> k.shift);
  } else {
    const bool fits48 = v >= kInt48Min && v <= kInt48Max;
    // |v·multiplier| < 2^62 once v fits int48; a v that does not is flagged, not computed.
    const int64_t result = ((fits48 ? v : 0) * k.multiplier + k.half) >> k.shift;
    bad |= !fits48 || result < INT32_MIN || result > INT32_MAX;
    scaled = static_cast<int32_t>(result);
  }
  const int64_t with_zp = scaled + ozp;
  bad |= with_zp < INT32_MIN || with_zp > INT32_MAX;
  return with_zp < lo ? lo : with_zp > hi ? hi : with_zp;
}

// rows × channels elements, channel innermost; returns whether any per-element REQUIRE of
// rescale() fails (the values written are then meaningless and the caller recomputes).
template <bool kScale32, bool kDoubleRound, typename In, typename Out>
bool rescale_rows(const In* __restrict x, Out* __restrict out, int64_t rows, int64_t channels,
                  const ChannelScale* __restrict cs, int64_t izp, int64_t ozp, int64_t lo, int64_t hi) {
  bool bad = false;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c)
      out[r * channels + c] =
          static_cast<Out>(rescale_element<kScale32, kDoubleRound>(x[r * channels + c], cs[c], izp, ozp, lo, hi, bad));
  return bad;
}

// n elements with one scale (per-tensor RESCALE): the constants stay in registers.
template <bool kScale32, bool kDoubleRound, typename In, typename Out>
bool rescale_uniform(const In* __restrict x, Out* __restrict out, int64_t n, ChannelScale k, int64_t izp, int64_t ozp,
                     int64_t lo, int64_t hi) {
  bool bad = false;
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<Out>(rescale_element<kScale32, kDoubleRound>(x[i], k, izp, ozp, lo, hi, bad));
  return bad;
}

}  // namespace

template <typename In, typename Out>
void rescale_tensor(const In* x, Out* out, int64_t n, std::span<const ScaleMultiplier> m, const RescaleAttrs& a) {
  validate_rescale(a, m);
  const int64_t channels = static_cast<int64_t>(m.size());
  auto reference = [&] {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(rescale(x[i], m[static_cast<size_t>(i % channels)], a));
  };
  if (n % channels != 0) {  // channels do not tile the tensor: the reference's i % channels decides
    reference();
    return;
  }
  std::vector<ChannelScale> cs(m.size());
  for (size_t c = 0; c < m.size(); ++c)
    cs[c] = {m[c].multiplier, int64_t{1} << (m[c].shift - 1), m[c].shift};  // shifts validated: 2..62
  const int64_t lo = qdtype_min(a.out_dtype), hi = qdtype_max(a.out_dtype);
  const int64_t izp = a.input_zp, ozp = a.output_zp;
  const auto loop = a.scale32 ? (a.rounding == RoundingMode::Double ? rescale_rows<true, true, In, Out>
                                                                    : rescale_rows<true, false, In, Out>)
                              : rescale_rows<false, false, In, Out>;
  const auto uniform = a.scale32 ? (a.rounding == RoundingMode::Double ? rescale_uniform<true, true, In, Out>
                                                                       : rescale_uniform<true, false, In, Out>)
                                 : rescale_uniform<false, false, In, Out>;
  const bool bad =
      channels == 1
          ? over_chunks(n, [&](int64_t begin, int64_t end) {
              return uniform(x + begin, out + begin, end - begin, cs[0], izp, ozp, lo, hi);
            })
          : over_chunks(
                n,
                [&](int64_t begin, int64_t end) {
                  return loop(x + begin, out + begin, (end - begin) / channels, channels, cs.data(), izp, ozp, lo, hi);
                },
                channels);
  if (bad) reference();
}

#define L2N_RESCALE_INSTANCE(In, Out) \
  template void rescale_tensor<In, Out>(const In*, Out*, int64_t, std::span<const ScaleMultiplier>, const RescaleAttrs&);
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
