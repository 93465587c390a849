// Small TOSA graphs shared by the tosa_* tests: each exercises the operators of one part
// of a Llama decoder, built through the TosaBasicBlock helpers.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "quant/integer_ops.h"
#include "tosa/tosa_graph.h"

namespace l2n::tosa::testing {

using V = std::vector<int64_t>;

// x:INT16[1,1,2,4] → CONV2D 1×1 (weight INT8[3,1,1,4], bias INT48[3]) → acc:INT48[1,1,2,3]
// → RESCALE (16-bit multipliers, per channel, SINGLE_ROUND) → y:INT16[1,1,2,3].
inline const V kLinearWeight = {1, -2, 3, -4, 127, 127, 127, 127, -128, 5, 0, 7};
inline const V kLinearBias = {5'000'000'000, -7, 1000};  // beyond int32: exercises int48
inline const V kLinearMultiplier = {16384, 20000, 30001};
inline const V kLinearShift = {30, 22, 17};

inline TosaGraph linear_i16x8() {
  TosaBasicBlock b;
  b.add_tensor("x", DType::INT16, {1, 1, 2, 4});
  b.inputs = {"x"};
  b.add_const("w", DType::INT8, {3, 1, 1, 4}, kLinearWeight);
  b.add_const("bias", DType::INT48, {3}, kLinearBias);
  b.add_const("x_zp", DType::INT16, {1}, V{0});
  b.add_const("w_zp", DType::INT8, {1}, V{0});
  b.add_tensor("acc", DType::INT48, {1, 1, 2, 3});
  b.add_op(Op::CONV2D, {"x", "w", "bias", "x_zp", "w_zp"}, {"acc"},
           ConvAttr{{0, 0, 0, 0}, {1, 1}, {1, 1}, false, DType::INT48});
  b.add_const("mult", DType::INT16, {3}, kLinearMultiplier);
  b.add_const("shift", DType::INT8, {3}, kLinearShift);
  b.add_const("acc_zp", DType::INT48, {1}, V{0});
  b.add_const("y_zp", DType::INT16, {1}, V{0});
  b.add_tensor("y", DType::INT16, {1, 1, 2, 3});
  b.add_op(Op::RESCALE, {"acc", "mult", "shift", "acc_zp", "y_zp"}, {"y"},
           RescaleAttr{false, RoundingMode::SINGLE_ROUND, true, false, false});
  b.outputs = {"y"};
  return TosaGraph::from_block(std::move(b));
}

// a:INT8[1,2,3] × b:INT8[1,3,2] (zero points -3 and 5) → INT32[1,2,2]; and
// c:INT16[1,2,3] × d:INT16[1,3,2] → INT48[1,2,2].
inline const V kMatB8 = {1, 2, 3, 4, 5, 6};
inline const V kMatD16 = {30000, -30000, 32767, 1, -32768, 2};

inline TosaGraph matmuls() {
  TosaBasicBlock b;
  b.add_tensor("a", DType::INT8, {1, 2, 3});
  b.add_tensor("c", DType::INT16, {1, 2, 3});
  b.inputs = {"a", "c"};
  b.add_const("b", DType::INT8, {1, 3, 2}, kMatB8);
  b.add_const("a_zp", DType::INT8, {1}, V{-3});
  b.add_const("b_zp", DType::INT8, {1}, V{5});
  b.add_tensor("ab", DType::INT32, {1, 2, 2});
  b.add_op(Op::MATMUL, {"a", "b", "a_zp", "b_zp"}, {"ab"});
  b.add_const("d", DType::INT16, {1, 3, 2}, kMatD16);
  b.add_const("c_zp", DType::INT16, {1}, V{0});
  b.add_const("d_zp", DType::INT16, {1}, V{0});
  b.add_tensor("cd", DType::INT48, {1, 2, 2});
  b.add_op(Op::MATMUL, {"c", "d", "c_zp", "d_zp"}, {"cd"});
  b.outputs = {"ab", "cd"};
  return TosaGraph::from_block(std::move(b));
}

// x:INT16[1,6] → TABLE (513 entries of a sigmoid) → t:INT32[1,6] → ARITHMETIC_RIGHT_SHIFT 7
// (round) → r:INT32[1,6].
inline quant::TableI16 sigmoid_table() {
  return quant::build_table_i16([](double v) { return 1.0 / (1.0 + std::exp(-v)); }, 8.0 / 32768, 1.0 / 32768);
}

inline TosaGraph table_i16() {
  TosaBasicBlock b;
  b.add_tensor("x", DType::INT16, {1, 6});
  b.inputs = {"x"};
  const auto table = sigmoid_table();
  b.add_const("table", DType::INT16, {513}, V(table.begin(), table.end()));
  b.add_tensor("t", DType::INT32, {1, 6});
  b.add_op(Op::TABLE, {"x", "table"}, {"t"});
  b.add_const("seven", DType::INT32, {1, 1}, V{7});
  b.add_tensor("r", DType::INT32, {1, 6});
  b.add_op(Op::ARITHMETIC_RIGHT_SHIFT, {"t", "seven"}, {"r"}, RightShiftAttr{true});
  b.outputs = {"t", "r"};
  return TosaGraph::from_block(std::move(b));
}

// a:INT32[2,3] + k:INT32[1,3] → s; s · m:INT32[2,1] with shift 3 → p; h:INT16[2,3] · h → hh:INT32.
inline TosaGraph add_mul() {
  TosaBasicBlock b;
  b.add_tensor("a", DType::INT32, {2, 3});
  b.add_tensor("h", DType::INT16, {2, 3});
  b.inputs = {"a", "h"};
  b.add_const("k", DType::INT32, {1, 3}, V{10, -20, 2147483000});
  b.add_tensor("s", DType::INT32, {2, 3});
  b.add_op(Op::ADD, {"a", "k"}, {"s"});
  b.add_const("m", DType::INT32, {2, 1}, V{3, -5});
  b.add_const("shift3", DType::INT8, {1}, V{3});
  b.add_tensor("p", DType::INT32, {2, 3});
  b.add_op(Op::MUL, {"s", "m", "shift3"}, {"p"});
  b.add_const("shift0", DType::INT8, {1}, V{0});
  b.add_tensor("hh", DType::INT32, {2, 3});
  b.add_op(Op::MUL, {"h", "h", "shift0"}, {"hh"});
  b.outputs = {"s", "p", "hh"};
  return TosaGraph::from_block(std::move(b));
}

// Embedding lookup and KV-cache write: GATHER rows of emb:INT8[1,5,3] at ids:INT32[1,2],
// then SCATTER them into cache:INT8[1,4,3] at rows pos:INT32[1,2].
inline const V kEmbedding = {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32, -40, -41, -42};

inline TosaGraph gather_scatter() {
  TosaBasicBlock b;
  b.add_tensor("ids", DType::INT32, {1, 2});
  b.add_tensor("cache", DType::INT8, {1, 4, 3});
  b.inputs = {"ids", "cache"};
  b.add_const("emb", DType::INT8, {1, 5, 3}, kEmbedding);
  b.add_tensor("rows", DType::INT8, {1, 2, 3});
  b.add_op(Op::GATHER, {"emb", "ids"}, {"rows"});
  b.add_const("pos", DType::INT32, {1, 2}, V{3, 1});
  b.add_tensor("cache_out", DType::INT8, {1, 4, 3});
  b.add_op(Op::SCATTER, {"cache", "pos", "rows"}, {"cache_out"});
  b.outputs = {"rows", "cache_out"};
  return TosaGraph::from_block(std::move(b));
}

// x:INT32[2,3,4] → RESHAPE [6,4] → TRANSPOSE [1,0] → [4,6] → SLICE start [1,2] size [2,3]
// → CONCAT with a constant [2,3] on axis 0 → [4,3] → REDUCE_SUM axis 1 → [4,1] and
// REDUCE_MAX axis 0 → [1,3]; CAST of the concat to INT8 (wraps) and CLAMP of a INT16 input.
inline TosaGraph data_movement() {
  TosaBasicBlock b;
  b.add_tensor("x", DType::INT32, {2, 3, 4});
  b.add_tensor("h", DType::INT16, {5});
  b.inputs = {"x", "h"};
  b.add_const_shape("shape64", V{6, 4});
  b.add_tensor("r", DType::INT32, {6, 4});
  b.add_op(Op::RESHAPE, {"x", "shape64"}, {"r"});
  b.add_tensor("t", DType::INT32, {4, 6});
  b.add_op(Op::TRANSPOSE, {"r"}, {"t"}, TransposeAttr{{1, 0}});
  b.add_const_shape("start", V{1, 2});
  b.add_const_shape("size", V{2, 3});
  b.add_tensor("s", DType::INT32, {2, 3});
  b.add_op(Op::SLICE, {"t", "start", "size"}, {"s"});
  b.add_const("k", DType::INT32, {2, 3}, V{100, 200, 300, 400, 500, 1000});
  b.add_tensor("c", DType::INT32, {4, 3});
  b.add_op(Op::CONCAT, {"s", "k"}, {"c"}, AxisAttr{0, NanMode::UNKNOWN});
  b.add_tensor("sum", DType::INT32, {4, 1});
  b.add_op(Op::REDUCE_SUM, {"c"}, {"sum"}, AxisAttr{1, NanMode::UNKNOWN});
  b.add_tensor("max", DType::INT32, {1, 3});
  b.add_op(Op::REDUCE_MAX, {"c"}, {"max"}, AxisAttr{0, NanMode::PROPAGATE});
  b.add_tensor("c8", DType::INT8, {4, 3});
  b.add_op(Op::CAST, {"c"}, {"c8"});
  b.add_tensor("hc", DType::INT16, {5});
  const int16_t lo = -100, hi = 1000;
  b.add_op(Op::CLAMP, {"h"}, {"hc"},
           ClampAttr{{static_cast<uint8_t>(lo & 0xff), static_cast<uint8_t>((lo >> 8) & 0xff)},
                     {static_cast<uint8_t>(hi & 0xff), static_cast<uint8_t>((hi >> 8) & 0xff)},
                     NanMode::PROPAGATE});
  b.add_tensor("id", DType::INT32, {4, 3});
  b.add_op(Op::IDENTITY, {"c"}, {"id"});
  b.outputs = {"t", "s", "c", "sum", "max", "c8", "hc", "id"};
  return TosaGraph::from_block(std::move(b));
}

inline std::vector<TosaGraph> all_graphs() {
  return {linear_i16x8(), matmuls(), table_i16(), add_mul(), gather_scatter(), data_movement()};
}

}  // namespace l2n::tosa::testing
