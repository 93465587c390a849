// tosa/lower on hand-made integer graphs: the lowered TOSA graph, run by the interpreter,
// gives bit for bit what the integer kernels give on the graph (the export tests cover the
// lowerings a Llama delegate uses; this file covers the ones only some models need).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "exec/executor.h"
#include "graph/graph.h"
#include "quant/integer_kernels.h"
#include "tosa/interpreter.h"
#include "tosa/lower.h"

namespace l2n::tosa {
namespace {

using graph::OpKind;
using graph::ValueId;

Tensor random_i32(const Shape& shape, int32_t lo, int32_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(lo, hi);
  Tensor t(l2n::DType::I32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<int32_t>()[i] = dist(rng);
  return t;
}

Tensor scalar_i32(int32_t v, size_t rank) {
  Tensor t(l2n::DType::I32, Shape(rank, 1));
  t.mutable_data<int32_t>()[0] = v;
  return t;
}

// The clamp the converter emits before a saturating requantization: MINIMUM with +limit,
// MAXIMUM with −limit, on values far outside the limits (the whole int32 range).
TEST(Lower, MinimumThenMaximumClampLikeTheKernels) {
  graph::Graph g;
  const ValueId x = g.add_input("x", l2n::DType::I32, {3, 7});
  const ValueId hi = g.add_constant("hi", scalar_i32(1000, 2));
  const ValueId lo = g.add_constant("lo", scalar_i32(-1000, 2));
  const ValueId upper = g.add_node(OpKind::Minimum, "upper", {x, hi});
  g.add_output("y", g.add_node(OpKind::Maximum, "y", {upper, lo}));

  const Tensor in = random_i32({3, 7}, INT32_MIN, INT32_MAX, 1);
  const Tensor expected = exec::Executor(g, quant::integer_exec_options()).run({{"x", in}}).at("y");
  int clamped = 0;
  for (int64_t i = 0; i < in.numel(); ++i) {
    const int32_t v = in.data<int32_t>()[i];
    EXPECT_EQ(expected.data<int32_t>()[i], std::clamp(v, -1000, 1000));
    clamped += v != expected.data<int32_t>()[i];
  }
  EXPECT_GT(clamped, 10) << "the input must exercise both sides of the clamp";

  const Interpreter interpreter(lower_to_tosa(g));
  const ValueMap out = interpreter.run({{"x", {DType::INT32, in}}});
  const Tensor& got = out.at("y").tensor;
  ASSERT_EQ(got.shape(), expected.shape());
  EXPECT_EQ(std::memcmp(got.raw(), expected.raw(), expected.nbytes()), 0);
}

// A broadcast operand of lower rank is reshaped to the result's rank, as for ADD.
TEST(Lower, MaximumBroadcastsALowerRankOperand) {
  graph::Graph g;
  const ValueId a = g.add_input("a", l2n::DType::I32, {2, 3, 4});
  const ValueId b = g.add_input("b", l2n::DType::I32, {4});
  g.add_output("y", g.add_node(OpKind::Maximum, "y", {a, b}));
  const Tensor ta = random_i32({2, 3, 4}, -50, 50, 2);
  const Tensor tb = random_i32({4}, -50, 50, 3);
  const Tensor expected = exec::Executor(g, quant::integer_exec_options()).run({{"a", ta}, {"b", tb}}).at("y");
  for (int64_t i = 0; i < ta.numel(); ++i)
    EXPECT_EQ(expected.data<int32_t>()[i], std::max(ta.data<int32_t>()[i], tb.data<int32_t>()[i % 4]));
  const ValueMap out = Interpreter(lower_to_tosa(g)).run({{"a", {DType::INT32, ta}}, {"b", {DType::INT32, tb}}});
  EXPECT_EQ(std::memcmp(out.at("y").tensor.raw(), expected.raw(), expected.nbytes()), 0);
}

}  // namespace
}  // namespace l2n::tosa
