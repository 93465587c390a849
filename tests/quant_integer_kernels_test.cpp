// The integer kernels against their float references, and their determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "exec/executor.h"
#include "graph/graph.h"
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

}  // namespace
}  // namespace l2n::quant
