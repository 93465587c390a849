// The TOSA interpreter against hand-computed values and against the same computation done
// directly with quant/integer_ops, after a write/read round trip of each graph.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <random>

#include "core/error.h"
#include "quant/integer_ops.h"
#include "tosa/interpreter.h"
#include "tosa/serialize.h"
#include "tosa_test_graphs.h"

namespace l2n::tosa {
namespace {

using testing::V;
namespace q = l2n::quant;

TosaValue val(DType t, Shape shape, const V& values) {
  TosaValue v{t, Tensor(value_storage(t), std::move(shape))};
  EXPECT_EQ(static_cast<int64_t>(values.size()), v.tensor.numel());
  for (size_t i = 0; i < values.size(); ++i) {
    switch (v.tensor.dtype()) {
      case l2n::DType::U8: v.tensor.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(values[i]); break;
      case l2n::DType::I8: v.tensor.mutable_data<int8_t>()[i] = static_cast<int8_t>(values[i]); break;
      case l2n::DType::I16: v.tensor.mutable_data<int16_t>()[i] = static_cast<int16_t>(values[i]); break;
      case l2n::DType::I32: v.tensor.mutable_data<int32_t>()[i] = static_cast<int32_t>(values[i]); break;
      case l2n::DType::I64: v.tensor.mutable_data<int64_t>()[i] = values[i]; break;
      default: ADD_FAILURE();
    }
  }
  return v;
}

V ints(const TosaValue& v) {
  V out(static_cast<size_t>(v.tensor.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (v.tensor.dtype()) {
      case l2n::DType::U8: out[i] = v.tensor.data<uint8_t>()[i]; break;
      case l2n::DType::I8: out[i] = v.tensor.data<int8_t>()[i]; break;
      case l2n::DType::I16: out[i] = v.tensor.data<int16_t>()[i]; break;
      case l2n::DType::I32: out[i] = v.tensor.data<int32_t>()[i]; break;
      case l2n::DType::I64: out[i] = v.tensor.data<int64_t>()[i]; break;
      default: ADD_FAILURE();
    }
  }
  return out;
}

// Runs the graph as it comes back from the file, so the interpreter sees what a reader sees.
ValueMap run(const TosaGraph& g, const ValueMap& inputs) {
  const Interpreter interp(read_tosa(write_tosa(g)));
  return interp.run(inputs);
}

TEST(TosaInterpreter, Conv2d16x8WithRescale16) {
  const V x = {1, 2, 3, 4, -32768, 32767, 100, -5};
  const auto out = run(testing::linear_i16x8(), {{"x", val(DType::INT16, {1, 1, 2, 4}, x)}});
  const TosaValue& y = out.at("y");
  EXPECT_EQ(y.type, DType::INT16);
  EXPECT_EQ(y.tensor.shape(), (Shape{1, 1, 2, 3}));
  const V got = ints(y);
  // Token 0 by hand: acc = -10 + 5e9 → (4999999990·16384 + 2^29) >> 30 = 76294 → clipped 32767;
  // 1270 − 7 = 1263 → (1263·20000 + 2^21) >> 22 = 6; −90 + 1000 = 910 → (910·30001 + 2^16) >> 17 = 208.
  EXPECT_EQ(got[0], 32767);
  EXPECT_EQ(got[1], 6);
  EXPECT_EQ(got[2], 208);
  // Everything through integer_ops directly.
  std::vector<int16_t> x16(x.begin(), x.end());
  std::vector<int8_t> w8(testing::kLinearWeight.begin(), testing::kLinearWeight.end());
  const q::RescaleAttrs attrs{q::QDType::I48, q::QDType::I16, false, q::RoundingMode::Single, 0, 0};
  for (int t = 0; t < 2; ++t)
    for (int oc = 0; oc < 3; ++oc) {
      const int64_t acc = q::add_bias_i48(q::dot_i16_i8(x16.data() + 4 * t, w8.data() + 4 * oc, 4), testing::kLinearBias[oc]);
      const q::ScaleMultiplier m{static_cast<int32_t>(testing::kLinearMultiplier[oc]),
                                 static_cast<int8_t>(testing::kLinearShift[oc])};
      EXPECT_EQ(got[3 * t + oc], q::rescale(acc, m, attrs)) << t << "," << oc;
    }
}

TEST(TosaInterpreter, MatMulInt8WithZeroPointsAndInt16ToInt48) {
  const auto out = run(testing::matmuls(), {{"a", val(DType::INT8, {1, 2, 3}, {1, 2, 3, -128, 0, 127})},
                                            {"c", val(DType::INT16, {1, 2, 3}, {1, 2, 3, 32767, -32768, -1})}});
  EXPECT_EQ(out.at("ab").type, DType::INT32);
  EXPECT_EQ(ints(out.at("ab")), (V{-26, -11, 494, 502}));  // Σ (a+3)(b−5), by hand
  EXPECT_EQ(out.at("cd").type, DType::INT48);
  EXPECT_EQ(ints(out.at("cd")), (V{-2770, -29992, -90666288, -983042770}));
}

TEST(TosaInterpreter, TableInt16InterpolatesAndShiftRounds) {
  const V x = {-32768, -1, 0, 1, 12345, 32767};
  const auto out = run(testing::table_i16(), {{"x", val(DType::INT16, {1, 6}, x)}});
  const auto table = testing::sigmoid_table();
  const V t = ints(out.at("t")), r = ints(out.at("r"));
  for (size_t i = 0; i < x.size(); ++i) {
    const int32_t expect = q::lookup_i16(static_cast<int16_t>(x[i]), table);
    EXPECT_EQ(t[i], expect);
    EXPECT_EQ(r[i], (expect >> 7) + ((expect >> 6) & 1));
  }
  EXPECT_EQ(t[2], 16384 * 128);  // sigmoid(0) = 0.5 = 16384 / 32768, with 7 fraction bits
  EXPECT_EQ(r[2], 16384);
}

TEST(TosaInterpreter, AddBroadcastsAndMulShiftRoundsHalfUp) {
  const auto out = run(testing::add_mul(), {{"a", val(DType::INT32, {2, 3}, {1, 2, 3, -4, -5, 600})},
                                            {"h", val(DType::INT16, {2, 3}, {-32768, 300, -2, 7, 0, 32767})}});
  EXPECT_EQ(ints(out.at("s")), (V{11, -18, 2147483003, 6, -25, 2147483600}));
  EXPECT_EQ(ints(out.at("p")), (V{4, -7, 805306126, -4, 16, -1342177250}));
  EXPECT_EQ(ints(out.at("hh")), (V{1073741824, 90000, 4, 49, 0, 1073676289}));
}

TEST(TosaInterpreter, GatherAndScatterAreEmbeddingAndCacheWrite) {
  const auto out = run(testing::gather_scatter(), {{"ids", val(DType::INT32, {1, 2}, {4, 1})},
                                                   {"cache", val(DType::INT8, {1, 4, 3}, V(12, 7))}});
  EXPECT_EQ(ints(out.at("rows")), (V{-40, -41, -42, 10, 11, 12}));
  EXPECT_EQ(ints(out.at("cache_out")), (V{7, 7, 7, 10, 11, 12, 7, 7, 7, -40, -41, -42}));
}

TEST(TosaInterpreter, DataMovementReductionsCastClamp) {
  V x(24);
  for (int i = 0; i < 24; ++i) x[i] = i;
  const auto out = run(testing::data_movement(), {{"x", val(DType::INT32, {2, 3, 4}, x)},
                                                  {"h", val(DType::INT16, {5}, {-32768, -100, 5, 1000, 32767})}});
  EXPECT_EQ(out.at("t").tensor.shape(), (Shape{4, 6}));
  EXPECT_EQ(ints(out.at("t"))[6 * 1 + 2], 9);  // t[i][j] = 4j + i
  EXPECT_EQ(ints(out.at("s")), (V{9, 13, 17, 10, 14, 18}));
  EXPECT_EQ(ints(out.at("c")), (V{9, 13, 17, 10, 14, 18, 100, 200, 300, 400, 500, 1000}));
  EXPECT_EQ(ints(out.at("sum")), (V{39, 42, 600, 1900}));
  EXPECT_EQ(ints(out.at("max")), (V{400, 500, 1000}));
  EXPECT_EQ(ints(out.at("c8")), (V{9, 13, 17, 10, 14, 18, 100, -56, 44, -112, -12, -24}));  // wraps, no saturation
  EXPECT_EQ(ints(out.at("hc")), (V{-100, -100, 5, 1000, 1000}));
  EXPECT_EQ(ints(out.at("id")), ints(out.at("c")));
}

// RESCALE variants in a one-op graph.
TosaGraph rescale_graph(DType in_t, DType out_t, RescaleAttr attr, Shape shape, V mult, V shift, int64_t in_zp,
                        int64_t out_zp) {
  TosaBasicBlock b;
  std::vector<int32_t> s(shape.begin(), shape.end());
  b.add_tensor("x", in_t, s);
  b.inputs = {"x"};
  const auto nc = static_cast<int32_t>(mult.size());
  b.add_const("m", attr.scale32 ? DType::INT32 : DType::INT16, {nc}, mult);
  b.add_const("s", DType::INT8, {nc}, shift);
  b.add_const("izp", in_t, {1}, V{in_zp});
  b.add_const("ozp", out_t, {1}, V{out_zp});
  b.add_tensor("y", out_t, s);
  b.add_op(Op::RESCALE, {"x", "m", "s", "izp", "ozp"}, {"y"}, attr);
  b.outputs = {"y"};
  return TosaGraph::from_block(std::move(b));
}

TEST(TosaInterpreter, Rescale32DoubleRoundWithZeroPoints) {
  const V x = {-100, -3, 0, 7, 100, 127};
  const auto g = rescale_graph(DType::INT8, DType::INT8, RescaleAttr{true, RoundingMode::DOUBLE_ROUND, false, false, false},
                               {6}, {1518500250}, {33}, -3, 5);
  const V got = ints(run(g, {{"x", val(DType::INT8, {6}, x)}}).at("y"));
  const q::RescaleAttrs a{q::QDType::I8, q::QDType::I8, true, q::RoundingMode::Double, -3, 5};
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(got[i], q::rescale(x[i], {1518500250, 33}, a)) << i;
}

TEST(TosaInterpreter, RescaleUnsignedInput) {
  // uint8 200 (stored as int8 −56) minus zp 128 = 72, times 2^30 >> 30 = 72 in int16.
  const auto g = rescale_graph(DType::INT8, DType::INT16, RescaleAttr{true, RoundingMode::SINGLE_ROUND, false, true, false},
                               {3}, {1 << 30}, {30}, static_cast<int8_t>(128), 0);
  EXPECT_EQ(ints(run(g, {{"x", val(DType::INT8, {3}, {-56, 0, 127})}}).at("y")), (V{72, -128, -1}));
}

TEST(TosaInterpreter, RescaleWithConstantParametersIsTheSameOnEveryRunAndKeepsItsErrors) {
  // A RESCALE whose parameters are constants checks and lays them out on its first run and
  // reuses that (a decode step runs each one once per token): every run must still give what
  // the per-element rescale() gives, and a bad parameter must fail every run, not only the first.
  const V mult = {20000, 16384, 30001}, shift = {20, 21, 40};
  const auto g = rescale_graph(DType::INT48, DType::INT16, RescaleAttr{false, RoundingMode::SINGLE_ROUND, true, false, false},
                               {2, 3}, mult, shift, 0, 0);
  const Interpreter interp(read_tosa(write_tosa(g)));
  const q::RescaleAttrs a{q::QDType::I48, q::QDType::I16, false, q::RoundingMode::Single, 0, 0};
  for (const V& x : {V{1, -2, 3, 1 << 20, -(1 << 25), int64_t{1} << 40}, V{0, 0, 0, 0, 0, 0},
                     V{-(int64_t{1} << 30), 7, -7, 123456789, -987654321, 5}}) {
    const V got = ints(interp.run({{"x", val(DType::INT48, {2, 3}, x)}}).at("y"));
    for (size_t i = 0; i < x.size(); ++i) {
      const q::ScaleMultiplier m{static_cast<int32_t>(mult[i % 3]), static_cast<int8_t>(shift[i % 3])};
      EXPECT_EQ(got[i], q::rescale(x[i], m, a)) << i;
    }
  }
  const auto bad_shift = rescale_graph(DType::INT32, DType::INT16, RescaleAttr{true, RoundingMode::SINGLE_ROUND, true, false, false},
                                       {2}, {1 << 30, 1 << 30}, {30, 70}, 0, 0);
  const Interpreter bad(read_tosa(write_tosa(bad_shift)));
  for (int attempt = 0; attempt < 2; ++attempt)
    EXPECT_THROW(
        {
          try {
            bad.run({{"x", val(DType::INT32, {2}, {1, 2})}});
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("shift 70"), std::string::npos) << e.what();
            throw;
          }
        },
        Error)
        << "attempt " << attempt;
}

// --- errors name the operator ---

void expect_op_error(const TosaGraph& g, const ValueMap& inputs, const std::string& op, const std::string& detail) {
  try {
    run(g, inputs);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(op), std::string::npos) << msg;
    EXPECT_NE(msg.find(detail), std::string::npos) << msg;
    EXPECT_EQ(msg.find("internal:"), std::string::npos) << msg;
  }
}

TEST(TosaInterpreter, RequireAndErrorIfViolationsNameTheOperator) {
  expect_op_error(testing::add_mul(),
                  {{"a", val(DType::INT32, {2, 3}, {1, 2, 1000, 0, 0, 0})}, {"h", val(DType::INT16, {2, 3}, V(6, 0))}},
                  "ADD", "fits int32");
  expect_op_error(testing::gather_scatter(),
                  {{"ids", val(DType::INT32, {1, 2}, {5, 0})}, {"cache", val(DType::INT8, {1, 4, 3}, V(12, 0))}},
                  "GATHER", "index 5");
  const auto i48_scale32 = rescale_graph(DType::INT48, DType::INT16,
                                         RescaleAttr{true, RoundingMode::SINGLE_ROUND, false, false, false}, {2},
                                         {1 << 30}, {30}, 0, 0);
  expect_op_error(i48_scale32, {{"x", val(DType::INT48, {2}, {1, 2})}}, "RESCALE", "int48");
  const auto zp16 = rescale_graph(DType::INT16, DType::INT8, RescaleAttr{true, RoundingMode::SINGLE_ROUND, false, false, false},
                                  {2}, {1 << 30}, {30}, 3, 0);
  expect_op_error(zp16, {{"x", val(DType::INT16, {2}, {1, 2})}}, "RESCALE", "zero point");

  TosaBasicBlock b;  // SCATTER writing one row twice
  b.add_tensor("cache", DType::INT8, {1, 2, 1});
  b.add_tensor("rows", DType::INT8, {1, 2, 1});
  b.inputs = {"cache", "rows"};
  b.add_const("pos", DType::INT32, {1, 2}, V{1, 1});
  b.add_tensor("out", DType::INT8, {1, 2, 1});
  b.add_op(Op::SCATTER, {"cache", "pos", "rows"}, {"out"});
  b.outputs = {"out"};
  expect_op_error(TosaGraph::from_block(b),
                  {{"cache", val(DType::INT8, {1, 2, 1}, {0, 0})}, {"rows", val(DType::INT8, {1, 2, 1}, {1, 2})}},
                  "SCATTER", "written twice");
}

TEST(TosaInterpreter, DeclaredShapesAndTypesAreChecked) {
  TosaGraph g = testing::matmuls();
  for (auto& t : g.regions[0].blocks[0].tensors)
    if (t.name == "ab") t.shape = {1, 2, 3};
  expect_op_error(g, {{"a", val(DType::INT8, {1, 2, 3}, V(6, 0))}, {"c", val(DType::INT16, {1, 2, 3}, V(6, 0))}}, "MATMUL",
                  "declared");
  // A wrong input shape or a missing input is refused before anything runs.
  const Interpreter interp(testing::matmuls());
  EXPECT_THROW(interp.run({{"a", val(DType::INT8, {1, 3, 2}, V(6, 0))}, {"c", val(DType::INT16, {1, 2, 3}, V(6, 0))}}),
               Error);
  EXPECT_THROW(interp.run({{"a", val(DType::INT8, {1, 2, 3}, V(6, 0))}}), Error);
}

TEST(TosaInterpreter, UnsupportedOpsAndDanglingNamesAreRefusedUpFront) {
  TosaBasicBlock b;
  b.add_tensor("x", DType::FP32, {2});
  b.inputs = {"x"};
  b.add_tensor("y", DType::FP32, {2});
  b.add_op(Op::SIN, {"x"}, {"y"});
  b.outputs = {"y"};
  EXPECT_THROW(Interpreter{TosaGraph::from_block(b)}, Error);
  TosaBasicBlock c;
  c.add_tensor("y", DType::INT32, {2});
  c.add_op(Op::IDENTITY, {"nowhere"}, {"y"});
  c.outputs = {"y"};
  EXPECT_THROW(Interpreter{TosaGraph::from_block(c)}, Error);
}

TEST(TosaInterpreter, ValuesLiveUntilTheirLastReaderAndOutputsSurvive) {
  // s is read right away and again three operators later; p is a block output that a later
  // operator also reads; x (an input) is read first and last. run() releases values after
  // their last reader, so a release one operator too early shows up as a wrong value or an
  // empty tensor here.
  TosaBasicBlock b;
  b.add_tensor("x", DType::INT32, {1, 3});
  b.inputs = {"x"};
  b.add_const("k", DType::INT32, {1, 3}, V{10, 20, 30});
  b.add_tensor("s", DType::INT32, {1, 3});
  b.add_op(Op::ADD, {"x", "k"}, {"s"});
  b.add_tensor("p", DType::INT32, {1, 3});
  b.add_op(Op::SUB, {"s", "k"}, {"p"});
  b.add_tensor("q", DType::INT32, {1, 3});
  b.add_op(Op::ADD, {"p", "p"}, {"q"});
  b.add_tensor("r", DType::INT32, {1, 3});
  b.add_op(Op::ADD, {"q", "s"}, {"r"});
  b.add_tensor("y", DType::INT32, {1, 3});
  b.add_op(Op::SUB, {"r", "x"}, {"y"});
  b.outputs = {"y", "p"};
  const Interpreter interp(read_tosa(write_tosa(TosaGraph::from_block(b))));
  const TosaValue x = val(DType::INT32, {1, 3}, {1, -2, 3});
  for (int repeat = 0; repeat < 2; ++repeat) {
    const auto out = interp.run({{"x", x}});
    // p = x; q = 2x; r = 3x + k; y = 2x + k
    EXPECT_EQ(ints(out.at("p")), (V{1, -2, 3}));
    EXPECT_EQ(ints(out.at("y")), (V{12, 16, 36}));
  }
  EXPECT_EQ(ints(x), (V{1, -2, 3})) << "the caller's input is untouched";
}

// Decode attention's shape: q·Kᵀ and p·V with K and V caches [S, G, D] transposed by
// {1, 2, 0} and {1, 0, 2}. The interpreter reads those transposes in place (each has one
// reader); kt2 is also a block output, so that one is copied. Every result is compared with
// dot_i16_i16 over the transposed data.
TosaGraph attention_graph(int32_t S, int32_t G, int32_t H, int32_t D, std::vector<int32_t> kt_declared) {
  TosaBasicBlock b;
  b.add_tensor("q", DType::INT16, {G, H, D});
  b.add_tensor("k", DType::INT16, {S, G, D});
  b.add_tensor("p", DType::INT16, {G, H, S});
  b.add_tensor("v", DType::INT16, {S, G, D});
  b.inputs = {"q", "k", "p", "v"};
  b.add_const("zp", DType::INT16, {1}, V{0});
  b.add_tensor("kt", DType::INT16, kt_declared);
  b.add_op(Op::TRANSPOSE, {"k"}, {"kt"}, TransposeAttr{{1, 2, 0}});
  b.add_tensor("scores", DType::INT48, {G, H, S});
  b.add_op(Op::MATMUL, {"q", "kt", "zp", "zp"}, {"scores"});
  b.add_tensor("vt", DType::INT16, {G, S, D});
  b.add_op(Op::TRANSPOSE, {"v"}, {"vt"}, TransposeAttr{{1, 0, 2}});
  b.add_tensor("ctx", DType::INT48, {G, H, D});
  b.add_op(Op::MATMUL, {"p", "vt", "zp", "zp"}, {"ctx"});
  b.add_tensor("kt2", DType::INT16, {G, D, S});
  b.add_op(Op::TRANSPOSE, {"k"}, {"kt2"}, TransposeAttr{{1, 2, 0}});
  b.add_tensor("scores2", DType::INT48, {G, H, S});
  b.add_op(Op::MATMUL, {"q", "kt2", "zp", "zp"}, {"scores2"});
  b.outputs = {"scores", "ctx", "kt2", "scores2"};
  return TosaGraph::from_block(std::move(b));
}

TEST(TosaInterpreter, MatMulReadsATransposedKvCacheInPlaceWithTheSameResults) {
  const int32_t S = 37, G = 3, D = 64;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int64_t> dist(-32768, 32767);
  auto random_v = [&](int64_t n) {
    V v(static_cast<size_t>(n));
    for (auto& e : v) e = dist(rng);
    return v;
  };
  for (const int32_t H : {2, 17}) {  // decode (row kernels) and prefill-sized (dgemm) query counts
    const V q = random_v(G * H * D), k = random_v(S * G * D), p = random_v(G * H * S), v = random_v(S * G * D);
    const auto out = run(attention_graph(S, G, H, D, {G, D, S}),
                         {{"q", val(DType::INT16, {G, H, D}, q)}, {"k", val(DType::INT16, {S, G, D}, k)},
                          {"p", val(DType::INT16, {G, H, S}, p)}, {"v", val(DType::INT16, {S, G, D}, v)}});
    V scores(static_cast<size_t>(G * H * S)), ctx(static_cast<size_t>(G * H * D)), kt(static_cast<size_t>(G * D * S));
    std::vector<int16_t> row(static_cast<size_t>(std::max(S, D))), col(row.size());
    for (int64_t g = 0; g < G; ++g)
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t s = 0; s < S; ++s) {  // scores[g, h, s] = Σ_d q[g, h, d]·k[s, g, d]
          for (int64_t d = 0; d < D; ++d) {
            row[static_cast<size_t>(d)] = static_cast<int16_t>(q[static_cast<size_t>((g * H + h) * D + d)]);
            col[static_cast<size_t>(d)] = static_cast<int16_t>(k[static_cast<size_t>((s * G + g) * D + d)]);
            kt[static_cast<size_t>((g * D + d) * S + s)] = k[static_cast<size_t>((s * G + g) * D + d)];
          }
          scores[static_cast<size_t>((g * H + h) * S + s)] = q::dot_i16_i16(row.data(), col.data(), D);
        }
        for (int64_t d = 0; d < D; ++d) {  // ctx[g, h, d] = Σ_s p[g, h, s]·v[s, g, d]
          for (int64_t s = 0; s < S; ++s) {
            row[static_cast<size_t>(s)] = static_cast<int16_t>(p[static_cast<size_t>((g * H + h) * S + s)]);
            col[static_cast<size_t>(s)] = static_cast<int16_t>(v[static_cast<size_t>((s * G + g) * D + d)]);
          }
          ctx[static_cast<size_t>((g * H + h) * D + d)] = q::dot_i16_i16(row.data(), col.data(), S);
        }
      }
    EXPECT_EQ(ints(out.at("scores")), scores) << H;
    EXPECT_EQ(ints(out.at("ctx")), ctx) << H;
    EXPECT_EQ(ints(out.at("kt2")), kt) << H;
    EXPECT_EQ(ints(out.at("scores2")), scores) << H;
  }
  // The skipped TRANSPOSE's declared shape is still checked, by the MATMUL that reads it.
  expect_op_error(attention_graph(S, G, 2, D, {G, S, D}),
                  {{"q", val(DType::INT16, {G, 2, D}, V(G * 2 * D, 0))}, {"k", val(DType::INT16, {S, G, D}, V(S * G * D, 0))},
                   {"p", val(DType::INT16, {G, 2, S}, V(G * 2 * S, 0))}, {"v", val(DType::INT16, {S, G, D}, V(S * G * D, 0))}},
                  "MATMUL", "TRANSPOSE of B");
}

TEST(TosaInterpreter, ScatterUpdatesAHandedOverCacheInPlaceAndNeverASharedOne) {
  TosaBasicBlock b;
  b.add_tensor("cache", DType::INT16, {1, 4, 2});
  b.add_tensor("idx", DType::INT32, {1, 1});
  b.add_tensor("row", DType::INT16, {1, 1, 2});
  b.inputs = {"cache", "idx", "row"};
  b.add_tensor("updated", DType::INT16, {1, 4, 2});
  b.add_op(Op::SCATTER, {"cache", "idx", "row"}, {"updated"});
  b.outputs = {"updated"};
  const Interpreter interp(read_tosa(write_tosa(TosaGraph::from_block(b))));
  const V before = {1, 2, 3, 4, 5, 6, 7, 8}, after = {1, 2, 3, 4, -9, 9, 7, 8};
  auto inputs = [&](TosaValue cache) {
    return ValueMap{{"cache", std::move(cache)}, {"idx", val(DType::INT32, {1, 1}, {2})},
                    {"row", val(DType::INT16, {1, 1, 2}, {-9, 9})}};
  };
  // Handed over: the result is the same buffer, updated.
  TosaValue cache = val(DType::INT16, {1, 4, 2}, before);
  const void* buffer = cache.tensor.raw();
  auto out = interp.run(inputs(std::move(cache)));
  EXPECT_EQ(out.at("updated").tensor.raw(), buffer);
  EXPECT_EQ(ints(out.at("updated")), after);
  // Shared with the caller: the caller's tensor keeps its values, the result is a copy.
  const TosaValue kept = val(DType::INT16, {1, 4, 2}, before);
  out = interp.run(inputs(kept));
  EXPECT_NE(out.at("updated").tensor.raw(), kept.tensor.raw());
  EXPECT_EQ(ints(out.at("updated")), after);
  EXPECT_EQ(ints(kept), before);
}

TEST(TosaInterpreter, Fp32ElementwiseAndDataMovement) {
  TosaBasicBlock b;
  b.add_tensor("x", DType::FP32, {2, 2});
  b.inputs = {"x"};
  b.add_const_f32("k", {1, 2}, std::vector<float>{0.5f, -1.0f});
  b.add_tensor("s", DType::FP32, {2, 2});
  b.add_op(Op::ADD, {"x", "k"}, {"s"});
  b.add_const("shift", DType::INT8, {1}, V{0});
  b.add_tensor("p", DType::FP32, {2, 2});
  b.add_op(Op::MUL, {"s", "s", "shift"}, {"p"});
  b.add_tensor("e", DType::FP32, {2, 2});
  b.add_op(Op::EXP, {"p"}, {"e"});
  b.add_const_shape("flat", V{4});
  b.add_tensor("f", DType::FP32, {4});
  b.add_op(Op::RESHAPE, {"e", "flat"}, {"f"});
  b.outputs = {"f"};
  TosaValue x{DType::FP32, Tensor(l2n::DType::F32, {2, 2})};
  const float xv[] = {0.0f, 1.0f, -0.5f, 2.0f};
  std::copy(std::begin(xv), std::end(xv), x.tensor.mutable_data<float>());
  const auto out = run(TosaGraph::from_block(b), {{"x", x}});
  const float* f = out.at("f").tensor.data<float>();
  EXPECT_FLOAT_EQ(f[0], std::exp(0.25f));
  EXPECT_FLOAT_EQ(f[1], std::exp(0.0f));
  EXPECT_FLOAT_EQ(f[2], std::exp(0.0f));
  EXPECT_FLOAT_EQ(f[3], std::exp(1.0f));
}

// The run-based broadcasting against a per-element walk written here, over operand shapes
// that exercise every stride pattern: dense, scalar, broadcast inner or outer axes, and
// axes that merge.
TEST(TosaInterpreter, BroadcastRunsMatchPerElementBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {1, 1, 1, 1}}, {{1, 1, 1, 1}, {2, 3, 4, 5}},
      {{2, 3, 4, 5}, {2, 3, 1, 1}}, {{2, 3, 4, 5}, {1, 1, 4, 5}}, {{2, 1, 4, 1}, {1, 3, 1, 5}},
      {{2, 3, 1, 5}, {2, 1, 4, 5}}, {{1, 3, 4, 1}, {2, 3, 4, 5}}, {{1, 1, 1, 7}, {1, 1, 1, 1}}};
  auto index_of = [](const Shape& s, const Shape& out, int64_t i) {  // row-major, broadcast
    int64_t off = 0, stride = 1;
    for (size_t d = out.size(); d-- > 0;) {
      const int64_t idx = i % out[d];
      i /= out[d];
      if (s[d] != 1) off += idx * stride;
      stride *= s[d];
    }
    return off;
  };
  for (const auto& [sa, sb] : cases) {
    Shape so(sa.size());
    for (size_t d = 0; d < sa.size(); ++d) so[d] = std::max(sa[d], sb[d]);
    const std::vector<int32_t> so32(so.begin(), so.end());
    V va(static_cast<size_t>(shape_numel(sa))), vb(static_cast<size_t>(shape_numel(sb)));
    for (size_t i = 0; i < va.size(); ++i) va[i] = static_cast<int64_t>(i * 7919 % 2001) - 1000;
    for (size_t i = 0; i < vb.size(); ++i) vb[i] = static_cast<int64_t>(i * 104729 % 1999) - 999;
    TosaBasicBlock b;
    b.add_tensor("a", DType::INT32, std::vector<int32_t>(sa.begin(), sa.end()));
    b.add_tensor("b", DType::INT32, std::vector<int32_t>(sb.begin(), sb.end()));
    b.add_tensor("a16", DType::INT16, std::vector<int32_t>(sa.begin(), sa.end()));
    b.add_tensor("b16", DType::INT16, std::vector<int32_t>(sb.begin(), sb.end()));
    b.inputs = {"a", "b", "a16", "b16"};
    b.add_const("shift", DType::INT8, {1}, V{3});
    b.add_const("noshift", DType::INT8, {1}, V{0});
    const std::vector<std::pair<Op, std::string>> ops = {{Op::ADD, "add"}, {Op::SUB, "sub"}, {Op::MAXIMUM, "max"},
                                                         {Op::MINIMUM, "min"}, {Op::MUL, "mul"}, {Op::MUL, "mul16"}};
    for (const auto& [op, name] : ops) {
      b.add_tensor(name, DType::INT32, so32);
      if (name == "mul") b.add_op(op, {"a", "b", "shift"}, {name});
      else if (name == "mul16") b.add_op(op, {"a16", "b16", "noshift"}, {name});
      else b.add_op(op, {"a", "b"}, {name});
      b.outputs.push_back(name);
    }
    const auto out = run(TosaGraph::from_block(b), {{"a", val(DType::INT32, sa, va)},
                                                    {"b", val(DType::INT32, sb, vb)},
                                                    {"a16", val(DType::INT16, sa, va)},
                                                    {"b16", val(DType::INT16, sb, vb)}});
    std::map<std::string, V> want;
    for (int64_t i = 0; i < shape_numel(so); ++i) {
      const int32_t u = static_cast<int32_t>(va[static_cast<size_t>(index_of(sa, so, i))]);
      const int32_t v = static_cast<int32_t>(vb[static_cast<size_t>(index_of(sb, so, i))]);
      want["add"].push_back(q::add_i32(u, v));
      want["sub"].push_back(q::sub_i32(u, v));
      want["max"].push_back(std::max(u, v));
      want["min"].push_back(std::min(u, v));
      want["mul"].push_back(q::mul_i32(u, v, 3));
      want["mul16"].push_back(q::mul_i32(u, v, 0));
    }
    for (const auto& [op, name] : ops)
      EXPECT_EQ(ints(out.at(name)), want[name]) << name << " of " << shape_str(sa) << " and " << shape_str(sb);
  }
}

// Zero-filled inputs of the declared shapes (nullopt when they would be too large).
std::optional<ValueMap> zero_inputs(const TosaBasicBlock& b) {
  ValueMap in;
  for (const auto& name : b.inputs) {
    const TosaTensor* t = b.find_tensor(name);
    if (!t || element_count(t->shape) > 100000) return std::nullopt;
    try {
      in[name] = TosaValue{t->type, Tensor(value_storage(t->type), Shape(t->shape.begin(), t->shape.end()))};
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  return in;
}

TEST(TosaInterpreter, CorruptedFilesNeverCrashTheInterpreter) {
  for (const TosaGraph& graph : {testing::data_movement(), testing::linear_i16x8(), testing::gather_scatter()}) {
    const auto original = write_tosa(graph);
    for (size_t i = 0; i < original.size(); ++i) {
      auto bytes = original;
      bytes[i] ^= 0x41;
      try {
        const Interpreter interp(read_tosa(bytes, "flipped.tosa"));
        if (const auto in = zero_inputs(interp.block()))
          (void)interp.run(*in);
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace
}  // namespace l2n::tosa
