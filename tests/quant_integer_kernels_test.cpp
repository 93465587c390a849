// The integer kernels against their float references, and their determinism.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <type_traits>

#include "exec/executor.h"
#include "graph/graph.h"
#include "core/error.h"
#include "quant/integer_elementwise.h"
#include "quant/integer_kernels.h"
#include "quant/integer_ops.h"
#include "quant/qparams.h"

namespace l2n::quant {
namespace {

using graph::Attrs;
using graph::Graph;
using graph::OpKind;
using graph::ValueId;

template <typename T>
Tensor random_ints(Shape shape, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  Tensor t(dtype_of<T>(), std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<T>()[i] = static_cast<T>(dist(rng));
  return t;
}

template <typename T>
ValueId scalar_const(Graph& g, const std::string& name, int64_t v) {
  return g.add_constant(name, Tensor::from_vector<T>({1}, {static_cast<T>(v)}));
}

std::map<std::string, Tensor> run(const Graph& g, const std::map<std::string, Tensor>& inputs, int threads = 0) {
  return exec::Executor(g, integer_exec_options(threads)).run(inputs);
}

// RESCALE i32 -> i8/i16 equals round(x * scale) + zp (clamped) within one step.
TEST(IntegerKernels, RescaleMatchesFloatWithinOneStep) {
  for (const bool to16 : {false, true}) {
    Graph g;
    const ValueId x = g.add_input("x", DType::I32, {1000});
    const double scale = to16 ? 0.0123 : 0.00071;
    const ScaleMultiplier m = compute_multiplier(scale, true);
    const int32_t zp = to16 ? 0 : -7;
    Attrs a;
    a.dtype = to16 ? DType::I16 : DType::I8;
    const ValueId mult = g.add_constant("m", Tensor::from_vector<int32_t>({1}, {m.multiplier}));
    const ValueId shift = g.add_constant("s", Tensor::from_vector<int8_t>({1}, {m.shift}));
    const ValueId izp = scalar_const<int32_t>(g, "izp", 0);
    const ValueId ozp = to16 ? scalar_const<int16_t>(g, "ozp", 0) : scalar_const<int8_t>(g, "ozp", zp);
    g.add_output("y", g.add_node(OpKind::Rescale, "r", {x, mult, shift, izp, ozp}, a));
    const Tensor in = random_ints<int32_t>({1000}, -2000000, 2000000, 1);
    const Tensor y = run(g, {{"x", in}}).at("y");
    const int64_t lo = to16 ? -32768 : -128, hi = to16 ? 32767 : 127;
    for (int64_t i = 0; i < 1000; ++i) {
      const double ref = std::clamp<double>(std::round(in.data<int32_t>()[i] * scale) + zp, lo, hi);
      const double got = to16 ? y.data<int16_t>()[i] : y.data<int8_t>()[i];
      EXPECT_LE(std::abs(got - ref), 1.0) << i;
    }
  }
}

// TABLE i16 (SiLU) read through its 7 fractional bits equals silu within ~one output step.
TEST(IntegerKernels, Int16TableMatchesFunction) {
  const double s_in = 8.0 / 32767, s_out = 8.0 / 32767;
  auto silu = [](double v) { return v / (1 + std::exp(-v)); };
  const TableI16 table = build_table_i16(silu, s_in, s_out);
  Graph g;
  const ValueId x = g.add_input("x", DType::I16, {4000});
  Tensor tt(DType::I16, {513});
  std::copy(table.begin(), table.end(), tt.mutable_data<int16_t>());
  g.add_output("y", g.add_node(OpKind::Table, "t", {x, g.add_constant("table", tt)}));
  const Tensor in = random_ints<int16_t>({4000}, -32767, 32767, 2);
  const Tensor y = run(g, {{"x", in}}).at("y");
  for (int64_t i = 0; i < 4000; ++i) {
    const double got = y.data<int32_t>()[i] / 128.0 * s_out;
    EXPECT_NEAR(got, silu(in.data<int16_t>()[i] * s_in), 2 * s_out) << i;
  }
}

TEST(IntegerKernels, Int8TableIsALookup) {
  const QuantParams in = QuantParams::per_tensor(0.05f, 3, QDType::I8, -128, 127);
  const QuantParams out = QuantParams::per_tensor(0.02f, -10, QDType::I8, -128, 127);
  const TableI8 table = build_table_i8([](double v) { return std::tanh(v); }, in, out);
  Graph g;
  const ValueId x = g.add_input("x", DType::I8, {256});
  Tensor tt(DType::I8, {256});
  std::copy(table.begin(), table.end(), tt.mutable_data<int8_t>());
  g.add_output("y", g.add_node(OpKind::Table, "t", {x, g.add_constant("table", tt)}));
  Tensor all(DType::I8, {256});
  for (int i = 0; i < 256; ++i) all.mutable_data<int8_t>()[i] = static_cast<int8_t>(i - 128);
  const Tensor y = run(g, {{"x", all}}).at("y");
  for (int i = 0; i < 256; ++i) {
    const double real = std::tanh((i - 128 - 3) * 0.05);
    EXPECT_NEAR((y.data<int8_t>()[i] + 10) * 0.02, real, 0.0101) << i;
  }
}

// IntLinear + per-channel RESCALE equals the float linear of the dequantized operands
// within one output step (i8 with zero points; i16 with the int48 accumulator).
TEST(IntegerKernels, IntLinearMatchesFloatWithinOneStep) {
  for (const bool wide : {false, true}) {
    const int64_t rows = 5, n_in = 40, n_out = 7;
    const DType xt = wide ? DType::I16 : DType::I8;
    const DType acc = wide ? DType::I64 : DType::I32;
    const float sx = wide ? 1e-4f : 0.02f, sw = 0.01f, sy = wide ? 3e-4f : 0.15f;
    const int32_t xzp = wide ? 0 : 5, yzp = wide ? 0 : -3;
    Graph g;
    const ValueId x = g.add_input("x", xt, {rows, n_in});
    const Tensor w = random_ints<int8_t>({n_out, n_in}, -127, 127, 3);
    Tensor bias(acc, {n_out});
    for (int64_t o = 0; o < n_out; ++o) {
      if (wide) bias.mutable_data<int64_t>()[o] = (o - 3) * 1000;
      else bias.mutable_data<int32_t>()[o] = static_cast<int32_t>((o - 3) * 1000);
    }
    const ValueId izp = wide ? scalar_const<int16_t>(g, "xzp", 0) : scalar_const<int8_t>(g, "xzp", xzp);
    const ValueId lin = g.add_node(OpKind::IntLinear, "lin",
                                   {x, g.add_constant("w", w), g.add_constant("b", bias), izp,
                                    scalar_const<int8_t>(g, "wzp", 0)});
    const ScaleMultiplier m = compute_multiplier(double(sx) * sw / sy, !wide);
    Attrs a;
    a.dtype = xt;
    a.scale32 = !wide;
    const ValueId mult = wide ? g.add_constant("m", Tensor::from_vector<int16_t>({1}, {static_cast<int16_t>(m.multiplier)}))
                              : g.add_constant("m", Tensor::from_vector<int32_t>({1}, {m.multiplier}));
    const ValueId sh = g.add_constant("s", Tensor::from_vector<int8_t>({1}, {m.shift}));
    const ValueId rzp = wide ? scalar_const<int64_t>(g, "rzp", 0) : scalar_const<int32_t>(g, "rzp", 0);
    const ValueId ozp = wide ? scalar_const<int16_t>(g, "ozp", 0) : scalar_const<int8_t>(g, "ozp", yzp);
    g.add_output("y", g.add_node(OpKind::Rescale, "r", {lin, mult, sh, rzp, ozp}, a));
    const Tensor in = wide ? random_ints<int16_t>({rows, n_in}, -30000, 30000, 4) : random_ints<int8_t>({rows, n_in}, -128, 127, 4);
    const Tensor y = run(g, {{"x", in}}).at("y");
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < n_out; ++o) {
        double ref = 0;
        for (int64_t k = 0; k < n_in; ++k) {
          const double xv = wide ? in.data<int16_t>()[r * n_in + k] : in.data<int8_t>()[r * n_in + k] - xzp;
          ref += xv * sx * w.data<int8_t>()[o * n_in + k] * sw;
        }
        ref += (o - 3) * 1000 * double(sx) * sw;
        const double lo = wide ? -32768 : -128, hi = wide ? 32767 : 127;
        const double expect = std::clamp(std::round(ref / sy) + yzp, lo, hi);
        const double got = wide ? y.data<int16_t>()[r * n_out + o] : y.data<int8_t>()[r * n_out + o];
        EXPECT_LE(std::abs(got - expect), 1.0) << r << "," << o;
      }
  }
}

TEST(IntegerKernels, IntMatMulAndInt32Arithmetic) {
  Graph g;
  const ValueId a = g.add_input("a", DType::I8, {2, 3, 4});
  const ValueId b = g.add_input("b", DType::I8, {2, 4, 5});
  const ValueId mm = g.add_node(OpKind::IntMatMul, "mm",
                                {a, b, scalar_const<int8_t>(g, "azp", 2), scalar_const<int8_t>(g, "bzp", -1)});
  const ValueId sum = g.add_node(OpKind::Add, "add", {mm, mm});
  const ValueId prod = g.add_node(OpKind::Mul, "mul", {sum, mm, scalar_const<int8_t>(g, "shift", 1)});
  g.add_output("mm", mm);
  g.add_output("prod", prod);
  const Tensor ta = random_ints<int8_t>({2, 3, 4}, -128, 127, 5), tb = random_ints<int8_t>({2, 4, 5}, -128, 127, 6);
  const auto out = run(g, {{"a", ta}, {"b", tb}});
  for (int64_t bi = 0; bi < 2; ++bi)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        int64_t ref = 0;
        for (int64_t k = 0; k < 4; ++k)
          ref += (ta.data<int8_t>()[(bi * 3 + i) * 4 + k] - 2) * (tb.data<int8_t>()[(bi * 4 + k) * 5 + j] + 1);
        const int64_t idx = (bi * 3 + i) * 5 + j;
        EXPECT_EQ(out.at("mm").data<int32_t>()[idx], ref);
        EXPECT_EQ(out.at("prod").data<int32_t>()[idx], (2 * ref * ref + 1) >> 1);  // round half up at shift 1
      }
}

TEST(IntegerKernels, QuantizeDequantizeRoundTripWithinHalfStep) {
  Graph g;
  const ValueId x = g.add_input("x", DType::F32, {100});
  Attrs a;
  a.dtype = DType::I16;
  a.scale = 0.001f;
  a.qmin = -32767;
  a.qmax = 32767;
  const ValueId q = g.add_node(OpKind::Quantize, "q", {x}, a);
  g.add_output("y", g.add_node(OpKind::Dequantize, "dq", {q}, a));
  std::vector<float> v(100);
  for (int i = 0; i < 100; ++i) v[i] = std::sin(i * 0.37f) * 20.0f;
  const Tensor y = run(g, {{"x", Tensor::from_vector<float>({100}, v)}}).at("y");
  for (int i = 0; i < 100; ++i) EXPECT_NEAR(y.data<float>()[i], v[i], 0.0005f + 1e-6f);
}

TEST(IntegerKernels, DeterministicAcrossThreadCounts) {
  Graph g;
  const ValueId a = g.add_input("a", DType::I16, {4, 64, 32});
  const ValueId b = g.add_input("b", DType::I16, {4, 32, 64});
  const ValueId mm = g.add_node(OpKind::IntMatMul, "mm",
                                {a, b, scalar_const<int16_t>(g, "azp", 0), scalar_const<int16_t>(g, "bzp", 0)});
  Attrs r;
  r.dtype = DType::I16;
  r.scale32 = false;
  const ScaleMultiplier m = compute_multiplier(1e-5, false);
  const ValueId y = g.add_node(OpKind::Rescale, "r",
                               {mm, g.add_constant("m", Tensor::from_vector<int16_t>({1}, {static_cast<int16_t>(m.multiplier)})),
                                g.add_constant("s", Tensor::from_vector<int8_t>({1}, {m.shift})),
                                scalar_const<int64_t>(g, "izp", 0), scalar_const<int16_t>(g, "ozp", 0)},
                               r);
  g.add_output("y", y);
  const std::map<std::string, Tensor> in{{"a", random_ints<int16_t>({4, 64, 32}, -32767, 32767, 7)},
                                         {"b", random_ints<int16_t>({4, 32, 64}, -32767, 32767, 8)}};
  const Tensor y1 = run(g, in, 1).at("y"), y2 = run(g, in, 2).at("y");
  ASSERT_EQ(y1.nbytes(), y2.nbytes());
  EXPECT_EQ(std::memcmp(y1.raw(), y2.raw(), y1.nbytes()), 0);
}

// ---------------------------------------------------------------------------------------
// The whole-tensor kernels against the per-element oracle (integer_ops.h / qparams.h).

template <typename In, typename Out>
void expect_rescale_exact(const RescaleAttrs& a, const std::vector<ScaleMultiplier>& m, int64_t lo, int64_t hi,
                          uint32_t seed) {
  const int64_t channels = static_cast<int64_t>(m.size()), n = channels * 700;
  const Tensor x = random_ints<In>({n}, lo, hi, seed);
  std::vector<Out> got(static_cast<size_t>(n));
  for (const int threads : {1, 2}) {
    omp_set_num_threads(threads);
    rescale_tensor(x.data<In>(), got.data(), n, m, a);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(got[static_cast<size_t>(i)], rescale(x.data<In>()[i], m[static_cast<size_t>(i % channels)], a)) << i;
  }
}

TEST(IntegerElementwise, RescaleEqualsPerElementRescale) {
  std::vector<ScaleMultiplier> m32, m16;
  for (const double s : {0.00071, 0.5, 1e-9, 3.7, 0.0123, 1.0 / 3})
    m32.push_back(compute_multiplier(s, true)), m16.push_back(compute_multiplier(s * 1e-3, false));
  RescaleAttrs a;
  a.in_dtype = QDType::I32, a.out_dtype = QDType::I8, a.output_zp = -7;
  expect_rescale_exact<int32_t, int8_t>(a, m32, -2000000, 2000000, 1);
  expect_rescale_exact<int32_t, int8_t>(a, {m32[0]}, INT32_MIN / 4, INT32_MAX / 4, 2);
  a.rounding = RoundingMode::Double;
  expect_rescale_exact<int32_t, int8_t>(a, m32, -2000000, 2000000, 3);
  a.in_dtype = QDType::I8, a.input_zp = 5, a.out_dtype = QDType::I32, a.output_zp = 0;
  expect_rescale_exact<int8_t, int32_t>(a, m32, -128, 127, 4);
  RescaleAttrs b;
  b.in_dtype = QDType::I48, b.out_dtype = QDType::I16, b.scale32 = false;
  expect_rescale_exact<int64_t, int16_t>(b, m16, -(int64_t{1} << 30), int64_t{1} << 30, 5);
  b.in_dtype = QDType::I16, b.out_dtype = QDType::I8;
  expect_rescale_exact<int16_t, int8_t>(b, m16, -32768, 32767, 6);
}

TEST(IntegerElementwise, RescaleRequireStillReported) {
  // shift 2 admits only values in [−2, 2): 100 fails apply_scale_32's REQUIRE.
  RescaleAttrs a;
  std::vector<int32_t> x(5000, 1);
  x[4321] = 100;
  std::vector<int8_t> out(x.size());
  const std::vector<ScaleMultiplier> m{{1 << 30, 2}};
  EXPECT_THROW(rescale_tensor(x.data(), out.data(), 5000, m, a), Error);
  x[4321] = 1;
  rescale_tensor(x.data(), out.data(), 5000, m, a);
  EXPECT_EQ(out[4321], rescale(1, m[0], a));
  // An int48 input beyond int48 with 16-bit multipliers.
  RescaleAttrs b;
  b.in_dtype = QDType::I48, b.out_dtype = QDType::I16, b.scale32 = false;
  std::vector<int64_t> y(100, 0);
  y[50] = kInt48Max + 1;
  std::vector<int16_t> out16(y.size());
  EXPECT_THROW(rescale_tensor(y.data(), out16.data(), 100, std::vector<ScaleMultiplier>{{16384, 20}}, b), Error);
}

// The vectorised RESCALE paths against rescale() element by element, on inputs that reach
// every edge of the arithmetic: type limits, the REQUIRE bounds of each channel's shift
// (the last passing value and, in the throwing variants, the first failing one), extreme
// multipliers and shifts, zero points, double rounding, lengths around the vector width
// and above the threading threshold, per-tensor and per-channel.
struct RescaleCase {
  RescaleAttrs a;
  std::vector<ScaleMultiplier> m;
};

// Whether rescale(v, m, a) passes its REQUIREs.
bool rescale_passes(int64_t v, ScaleMultiplier m, const RescaleAttrs& a) {
  try {
    rescale(v, m, a);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Inputs of channel m that sit on the edges of rescale()'s REQUIREs (passing or not).
template <typename In>
std::vector<int64_t> rescale_edges(ScaleMultiplier m, const RescaleAttrs& a) {
  const int64_t tmin = a.in_dtype == QDType::I48 ? kInt48Min : std::numeric_limits<In>::min();
  const int64_t tmax = a.in_dtype == QDType::I48 ? kInt48Max : std::numeric_limits<In>::max();
  std::vector<int64_t> v{tmin, tmin + 1, tmax, tmax - 1, 0, 1, -1, a.input_zp, a.input_zp + 1, a.input_zp - 1};
  if (std::is_same_v<In, int64_t>) v.insert(v.end(), {kInt48Min - 1, kInt48Max + 1});
  const __int128 half = __int128{1} << (m.shift - 1);
  if (a.scale32) {
    for (const __int128 b : {-half - 1, -half, -half + 1, half - 2, half - 1, half})
      v.push_back(static_cast<int64_t>(std::clamp<__int128>(b + a.input_zp, tmin, tmax)));
  } else if (m.multiplier > 0) {
    // The largest / smallest v whose scaled value (+ ozp) still fits int32, and one beyond.
    const __int128 top = (__int128{INT32_MAX} - std::max(a.output_zp, 0) + 1) * (__int128{1} << m.shift) - half - 1;
    const __int128 bottom = (__int128{INT32_MIN} - std::min(a.output_zp, 0)) * (__int128{1} << m.shift) - half;
    const __int128 hi = top / m.multiplier, lo = -((-bottom) / m.multiplier);
    for (const __int128 b : {lo - 1, lo, lo + 1, hi - 1, hi, hi + 1})
      v.push_back(static_cast<int64_t>(std::clamp<__int128>(b + a.input_zp, tmin, tmax)));
  }
  return v;
}

// n inputs for c: random values and edges (one in eight) that all pass the REQUIREs.
template <typename In>
std::vector<In> rescale_inputs(const RescaleCase& c, int64_t n, std::mt19937& rng) {
  const int64_t channels = static_cast<int64_t>(c.m.size());
  std::vector<std::vector<int64_t>> edges;
  for (const ScaleMultiplier& m : c.m) edges.push_back(rescale_edges<In>(m, c.a));
  const int64_t tmin = c.a.in_dtype == QDType::I48 ? kInt48Min : std::numeric_limits<In>::min();
  const int64_t tmax = c.a.in_dtype == QDType::I48 ? kInt48Max : std::numeric_limits<In>::max();
  std::vector<In> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const ScaleMultiplier m = c.m[static_cast<size_t>(i % channels)];
    const auto& e = edges[static_cast<size_t>(i % channels)];
    for (int attempt = 0;; ++attempt) {
      int64_t v;
      if (rng() % 8 == 0) {
        v = e[rng() % e.size()];
      } else {
        // Uniform over a range the REQUIREs admit most of the time: type limits, narrowed by
        // 2^(shift−1) for scale32 and by 2^(shift+31)/multiplier for 16-bit multipliers.
        __int128 r =
            c.a.scale32 ? __int128{1} << (m.shift - 1) : (__int128{1} << (m.shift + 31)) / std::max(m.multiplier, 1);
        int64_t lo = static_cast<int64_t>(std::max<__int128>(tmin, -r + c.a.input_zp));
        int64_t hi = static_cast<int64_t>(std::min<__int128>(tmax, r - 1 + c.a.input_zp));
        v = std::uniform_int_distribution<int64_t>(lo, hi)(rng);
      }
      if (v >= tmin && v <= tmax && rescale_passes(v, m, c.a)) {
        x[static_cast<size_t>(i)] = static_cast<In>(v);
        break;
      }
      if (attempt > 100) {
        x[static_cast<size_t>(i)] = static_cast<In>(c.a.input_zp);  // passes: scales 0
        break;
      }
    }
  }
  return x;
}

std::string thrown_by(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <typename In, typename Out>
void expect_rescale_case(const RescaleCase& c, int64_t n, std::mt19937& rng) {
  const int64_t channels = static_cast<int64_t>(c.m.size());
  std::vector<In> x = rescale_inputs<In>(c, n, rng);
  std::vector<Out> got(x.size());
  for (const int threads : {1, 2}) {
    omp_set_num_threads(threads);
    rescale_tensor(x.data(), got.data(), n, c.m, c.a);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(got[static_cast<size_t>(i)],
                rescale(x[static_cast<size_t>(i)], c.m[static_cast<size_t>(i % channels)], c.a))
          << "element " << i << " of " << n << ", x " << int64_t{x[static_cast<size_t>(i)]};
  }
  // Each failing edge value of the channel, alone in the tensor, must throw what the
  // reference throws.
  const int64_t p = static_cast<int64_t>(rng() % static_cast<uint32_t>(n));
  const ScaleMultiplier m = c.m[static_cast<size_t>(p % channels)];
  const In kept = x[static_cast<size_t>(p)];
  for (const int64_t v : rescale_edges<In>(m, c.a)) {
    if (rescale_passes(v, m, c.a) || v != static_cast<int64_t>(static_cast<In>(v))) continue;
    x[static_cast<size_t>(p)] = static_cast<In>(v);
    const std::string expected = thrown_by([&] {
      for (int64_t i = 0; i < n; ++i) rescale(x[static_cast<size_t>(i)], c.m[static_cast<size_t>(i % channels)], c.a);
    });
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(thrown_by([&] { rescale_tensor(x.data(), got.data(), n, c.m, c.a); }), expected) << "x " << v;
  }
  x[static_cast<size_t>(p)] = kept;
}

// Multipliers that hit the extremes: 0, 1, the largest, and random ones, with shifts at
// 2, 31, 32, 62 and random.
std::vector<ScaleMultiplier> edge_multipliers(int64_t channels, bool scale32, std::mt19937& rng) {
  const int32_t top = scale32 ? INT32_MAX : 32767;
  const std::vector<int32_t> fixed_m{0, 1, top, top / 2 + 1};
  const std::vector<int8_t> fixed_s{2, 31, 32, 62, 3, 30, 33, 47};
  std::vector<ScaleMultiplier> m;
  for (int64_t c = 0; c < channels; ++c) {
    ScaleMultiplier k;
    k.multiplier = rng() % 2 ? fixed_m[rng() % fixed_m.size()] : static_cast<int32_t>(rng() % (uint32_t(top) + 1));
    k.shift = rng() % 2 ? fixed_s[rng() % fixed_s.size()] : static_cast<int8_t>(2 + rng() % 61);
    m.push_back(k);
  }
  return m;
}

template <typename In, typename Out>
void expect_rescale_cases(QDType in, QDType out, bool scale32, std::mt19937& rng) {
  const int32_t in_zp_max = in == QDType::I8 ? 127 : 0, out_zp_max = out == QDType::I8 ? 127 : 0;
  for (const RoundingMode rounding : {RoundingMode::Single, RoundingMode::Double}) {
    if (rounding == RoundingMode::Double && !scale32) continue;
    for (const int64_t channels : {1, 7, 576}) {
      for (const int64_t length : {1, 7, 172, 40000}) {
        RescaleCase c;
        c.a.in_dtype = in, c.a.out_dtype = out, c.a.scale32 = scale32, c.a.rounding = rounding;
        c.a.input_zp = in_zp_max ? static_cast<int32_t>(rng() % 256) - 128 : 0;
        c.a.output_zp = out_zp_max ? static_cast<int32_t>(rng() % 256) - 128 : 0;
        c.m = edge_multipliers(channels, scale32, rng);
        const int64_t n = channels == 1 ? length : std::max<int64_t>(1, length / channels) * channels;
        SCOPED_TRACE(testing::Message() << qdtype_name(in) << "->" << qdtype_name(out) << " scale32 " << scale32
                                        << " rounding " << int(rounding) << " channels " << channels << " n " << n);
        expect_rescale_case<In, Out>(c, n, rng);
        if (channels > 1 && length > 1) expect_rescale_case<In, Out>(c, n + 1, rng);  // channels do not tile
      }
    }
  }
}

TEST(IntegerElementwise, RescaleFastPathsEqualPerElementRescaleAtTheEdges) {
  std::mt19937 rng(2026);
  expect_rescale_cases<int32_t, int8_t>(QDType::I32, QDType::I8, true, rng);
  expect_rescale_cases<int32_t, int16_t>(QDType::I32, QDType::I16, true, rng);
  expect_rescale_cases<int32_t, int32_t>(QDType::I32, QDType::I32, true, rng);
  expect_rescale_cases<int16_t, int8_t>(QDType::I16, QDType::I8, true, rng);
  expect_rescale_cases<int16_t, int16_t>(QDType::I16, QDType::I16, true, rng);
  expect_rescale_cases<int16_t, int32_t>(QDType::I16, QDType::I32, true, rng);
  expect_rescale_cases<int8_t, int8_t>(QDType::I8, QDType::I8, true, rng);
  expect_rescale_cases<int8_t, int16_t>(QDType::I8, QDType::I16, true, rng);
  expect_rescale_cases<int8_t, int32_t>(QDType::I8, QDType::I32, true, rng);
  expect_rescale_cases<int64_t, int8_t>(QDType::I48, QDType::I8, false, rng);
  expect_rescale_cases<int64_t, int16_t>(QDType::I48, QDType::I16, false, rng);
  expect_rescale_cases<int64_t, int32_t>(QDType::I48, QDType::I32, false, rng);
  expect_rescale_cases<int32_t, int16_t>(QDType::I32, QDType::I16, false, rng);
  expect_rescale_cases<int16_t, int8_t>(QDType::I16, QDType::I8, false, rng);
  expect_rescale_cases<int8_t, int16_t>(QDType::I8, QDType::I16, false, rng);
  omp_set_num_threads(2);
}

TEST(IntegerElementwise, TablesEqualLookups) {
  const TableI16 t16 = build_table_i16([](double v) { return std::tanh(v); }, 4.0 / 32767, 1.0 / 32767);
  std::vector<int16_t> all(65536);
  for (int i = 0; i < 65536; ++i) all[static_cast<size_t>(i)] = static_cast<int16_t>(i - 32768);
  std::vector<int32_t> got(all.size());
  table_i16_tensor(all.data(), got.data(), 65536, t16);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(got[i], lookup_i16(all[i], t16)) << i;
  TableI8 t8;
  for (int i = 0; i < 256; ++i) t8[static_cast<size_t>(i)] = static_cast<int8_t>(255 - i);
  std::vector<int8_t> x8(256), o8(256);
  for (int i = 0; i < 256; ++i) x8[static_cast<size_t>(i)] = static_cast<int8_t>(i - 128);
  table_i8_tensor(x8.data(), o8.data(), 256, t8);
  for (size_t i = 0; i < 256; ++i) EXPECT_EQ(o8[i], lookup_i8(x8[i], t8));
  // A segment too steep for the int16 slope: only inputs that reach it fail.
  TableI16 steep{};
  steep[300] = 32767, steep[301] = -32768;
  const std::vector<int16_t> safe{0, -32768, 32767}, hits{static_cast<int16_t>((300 - 256) * 128 + 5)};
  std::vector<int32_t> o(3);
  table_i16_tensor(safe.data(), o.data(), 3, steep);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(o[i], lookup_i16(safe[i], steep));
  EXPECT_THROW(table_i16_tensor(hits.data(), o.data(), 1, steep), Error);
}

TEST(IntegerElementwise, Int32ArithmeticEqualsReferenceAndReportsOverflow) {
  Tensor a = random_ints<int32_t>({50000}, INT32_MIN / 2, INT32_MAX / 2, 11);
  Tensor b = random_ints<int32_t>({50000}, -70000, 70000, 12);
  a.mutable_data<int32_t>()[7] = INT32_MIN, b.mutable_data<int32_t>()[7] = 0;
  const int32_t* pa = a.data<int32_t>();
  const int32_t* pb = b.data<int32_t>();
  std::vector<int32_t> o(50000);
  add_i32_run(pa, 1, pb, 1, o.data(), 50000);
  for (size_t i = 0; i < o.size(); ++i) ASSERT_EQ(o[i], add_i32(pa[i], pb[i]));
  sub_i32_run(pa, 1, pb, 0, o.data(), 50000);
  for (size_t i = 0; i < o.size(); ++i) ASSERT_EQ(o[i], sub_i32(pa[i], pb[0]));
  for (const int shift : {0, 1, 13, 31, 40}) {
    bool ref_throws = false;
    std::vector<int32_t> ref(o.size());
    try {
      for (size_t i = 0; i < o.size(); ++i) ref[i] = mul_i32(pa[i], pb[i], shift);
    } catch (const Error&) {
      ref_throws = true;
    }
    if (ref_throws) {
      EXPECT_THROW(mul_i32_run(pa, 1, pb, 1, o.data(), 50000, shift), Error) << shift;
    } else {
      mul_i32_run(pa, 1, pb, 1, o.data(), 50000, shift);
      EXPECT_EQ(o, ref) << shift;
    }
  }
  const int32_t big = INT32_MAX, one = 1;
  EXPECT_THROW(add_i32_run(&big, 0, &one, 0, o.data(), 3), Error);
  EXPECT_THROW(mul_i32_run(&big, 0, &one, 0, o.data(), 3, 64), Error);
}

TEST(IntegerElementwise, QuantizeDequantizeEqualPerElementFunctions) {
  std::vector<float> x;
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> dist(-3e5f, 3e5f);
  for (int i = 0; i < 20000; ++i) x.push_back(dist(rng) * (i % 3 == 0 ? 1e-4f : 1.0f));
  for (const float v : {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, -0.0f, 8388607.5f, 4194304.5f, -4194304.5f, 1e30f, -1e30f,
                        std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::quiet_NaN(), 16777217.0f})
    x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  for (const float scale : {1.0f, 0.01f, 0.37f, 3e-5f}) {
    const float inv = per_tensor_inv_scale(scale);
    std::vector<int8_t> q8(x.size());
    std::vector<int16_t> q16(x.size());
    std::vector<int32_t> q32(x.size());
    quantize_tensor(x.data(), q8.data(), n, inv, -3, -128, 127);
    quantize_tensor(x.data(), q16.data(), n, inv, 0, -32767, 32767);
    quantize_tensor(x.data(), q32.data(), n, inv, 0, INT32_MIN, INT32_MAX);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(q8[i], quantize_value(x[i], inv, -3, -128, 127)) << x[i];
      ASSERT_EQ(q16[i], quantize_value(x[i], inv, 0, -32767, 32767)) << x[i];
      ASSERT_EQ(q32[i], quantize_value(x[i], inv, 0, INT32_MIN, INT32_MAX)) << x[i];
    }
    std::vector<float> d(x.size());
    dequantize_tensor(q16.data(), d.data(), n, scale, 0);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(std::memcmp(&d[i], &(const float&)dequantize_value(q16[i], scale, 0), 4), 0);
    dequantize_tensor(q8.data(), d.data(), n, scale, -3);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(d[i], dequantize_value(q8[i], scale, -3));
  }
}

// IntLinear through the executor equals dot + bias per element on odd shapes, for 1 and 2
// threads.
TEST(IntegerKernels, IntLinearEqualsPerElementOracle) {
  for (const bool wide : {false, true})
    for (const int64_t n_in : {1, 7, 172})
      for (const int64_t n_out : {3, 172}) {
        const int64_t rows = 5;
        Graph g;
        const ValueId x = g.add_input("x", wide ? DType::I16 : DType::I8, {rows, n_in});
        const Tensor w = random_ints<int8_t>({n_out, n_in}, -127, 127, 31);
        const Tensor bias = wide ? random_ints<int64_t>({n_out}, -100000, 100000, 32) : random_ints<int32_t>({n_out}, -100000, 100000, 32);
        const ValueId izp = wide ? scalar_const<int16_t>(g, "xzp", 0) : scalar_const<int8_t>(g, "xzp", -9);
        g.add_output("y", g.add_node(OpKind::IntLinear, "lin",
                                     {x, g.add_constant("w", w), g.add_constant("b", bias), izp, scalar_const<int8_t>(g, "wzp", 0)}));
        const Tensor in = wide ? random_ints<int16_t>({rows, n_in}, -32768, 32767, 33) : random_ints<int8_t>({rows, n_in}, -128, 127, 33);
        for (const int threads : {1, 2}) {
          const Tensor y = run(g, {{"x", in}}, threads).at("y");
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t o = 0; o < n_out; ++o) {
              if (wide)
                ASSERT_EQ(y.data<int64_t>()[r * n_out + o],
                          add_bias_i48(dot_i16_i8(in.data<int16_t>() + r * n_in, w.data<int8_t>() + o * n_in, n_in), bias.data<int64_t>()[o]));
              else
                ASSERT_EQ(y.data<int32_t>()[r * n_out + o],
                          add_bias_i32(dot_i8(in.data<int8_t>() + r * n_in, w.data<int8_t>() + o * n_in, n_in, -9, 0), bias.data<int32_t>()[o]));
            }
        }
      }
}

}  // namespace
}  // namespace l2n::quant
