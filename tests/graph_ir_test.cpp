#include <gtest/gtest.h>

#include "core/error.h"
#include "graph/graph.h"

namespace l2n::graph {
namespace {

// Expects `body` to throw l2n::Error whose message contains every fragment.
template <typename F>
void expect_error(F body, std::initializer_list<const char*> fragments) {
  try {
    body();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(GraphIr, InfersShapesOfEveryOp) {
  GraphBuilder b;
  const ValueId x = b.input("x", DType::F32, {5, 3, 8});
  const ValueId w = b.constant("w", Tensor(DType::F32, {6, 8}));
  const ValueId bias = b.constant("bias", Tensor(DType::F32, {6}));
  EXPECT_EQ(b.shape(b.linear(x, w, bias, "lin")), (Shape{5, 3, 6}));

  const ValueId a = b.input("a", DType::F32, {2, 4, 7});
  const ValueId m = b.input("m", DType::F32, {2, 7, 3});
  EXPECT_EQ(b.shape(b.matmul(a, m, "mm")), (Shape{2, 4, 3}));

  const ValueId row = b.input("row", DType::F32, {3, 1});
  const ValueId col = b.input("col", DType::F32, {8});
  EXPECT_EQ(b.shape(b.add(row, col, "outer_sum")), (Shape{3, 8}));
  EXPECT_EQ(b.shape(b.mul(x, b.scalar("two", 2.0f), "times_two")), (Shape{5, 3, 8}));
  EXPECT_EQ(b.shape(b.sub(x, row, "minus_row")), (Shape{5, 3, 8}));

  EXPECT_EQ(b.shape(b.silu(x, "silu")), (Shape{5, 3, 8}));
  EXPECT_EQ(b.shape(b.reduce_mean(x, "mean")), (Shape{5, 3, 1}));
  EXPECT_EQ(b.graph().find("mean")->attrs.axis, 2);
  EXPECT_EQ(b.shape(b.softmax(x, "softmax")), (Shape{5, 3, 8}));

  const ValueId table = b.constant("table", Tensor(DType::F32, {10, 4, 2}));
  const ValueId ids = b.input("ids", DType::I32, {6});
  EXPECT_EQ(b.shape(b.gather(table, ids, "rows")), (Shape{6, 4, 2}));

  EXPECT_EQ(b.shape(b.reshape(x, {-1, 8}, "flat")), (Shape{15, 8}));
  EXPECT_EQ(b.graph().find("flat")->attrs.shape, (Shape{15, 8}));
  const ValueId t = b.transpose(x, {2, 0, -2}, "t");
  EXPECT_EQ(b.shape(t), (Shape{8, 5, 3}));
  EXPECT_EQ(b.graph().find("t")->attrs.perm, (std::vector<int64_t>{2, 0, 1}));
  const ValueId s = b.slice(x, {0, 1, 4}, {5, 2, 4}, "s");
  EXPECT_EQ(b.shape(s), (Shape{5, 2, 4}));
  EXPECT_EQ(b.shape(b.concat({s, s}, -1, "cat")), (Shape{5, 2, 8}));
  EXPECT_EQ(b.graph().find("cat")->attrs.axis, 2);

  const ValueId cache = b.input("cache", DType::F32, {16, 2, 4});
  const ValueId new_rows = b.input("new_rows", DType::F32, {1, 2, 4});
  const ValueId pos = b.input("pos", DType::I32, {1});
  EXPECT_EQ(b.shape(b.cache_update(cache, new_rows, pos, "update")), (Shape{16, 2, 4}));
}

TEST(GraphIr, RejectsImpossibleNodesNamingThem) {
  GraphBuilder b;
  const ValueId x = b.input("x", DType::F32, {4, 8});
  const ValueId w = b.constant("w", Tensor(DType::F32, {6, 7}));
  expect_error([&] { b.linear(x, w, std::nullopt, "layers.0.attn.q_proj"); },
               {"internal", "layers.0.attn.q_proj", "linear", "f32[4, 8]", "f32[6, 7]"});
  const ValueId y = b.input("y", DType::F32, {3, 8});
  expect_error([&] { b.add(x, y, "bad_add"); }, {"bad_add", "broadcast"});
  const ValueId a3 = b.input("a3", DType::F32, {2, 4, 8});
  const ValueId b3 = b.input("b3", DType::F32, {3, 8, 4});
  expect_error([&] { b.matmul(a3, b3, "bad_mm"); }, {"bad_mm", "batch"});
  expect_error([&] { b.matmul(x, a3, "rank_mm"); }, {"rank_mm", "rank"});
  expect_error([&] { b.reshape(x, {5, 7}, "bad_reshape"); }, {"bad_reshape", "element counts"});
  expect_error([&] { b.transpose(x, {0, 0}, "bad_perm"); }, {"bad_perm", "repeats"});
  expect_error([&] { b.slice(x, {0, 6}, {4, 4}, "bad_slice"); }, {"bad_slice", "out of bounds"});
  expect_error([&] { b.concat({x, a3}, 0, "bad_cat"); }, {"bad_cat", "ranks"});
  const ValueId f = b.input("f", DType::F32, {2});
  expect_error([&] { b.gather(x, f, "bad_gather"); }, {"bad_gather", "i32"});
  const ValueId rows = b.input("rows", DType::F32, {1, 7});
  const ValueId pos = b.input("pos", DType::I32, {1});
  expect_error([&] { b.cache_update(x, rows, pos, "bad_update"); }, {"bad_update", "trailing"});
  expect_error([&] { b.add(x, x, "x"); }, {"duplicate", "'x'"});
  expect_error([&] { b.neg(ValueId{999}, "dangling"); }, {"dangling", "undefined value %999"});
  const ValueId i = b.input("i", DType::I32, {4, 8});
  expect_error([&] { b.exp(i, "int_exp"); }, {"int_exp", "f32"});
  Graph g;
  expect_error([&] { g.add_node(OpKind::Constant, "c", {}); }, {"add_constant"});
}

TEST(GraphIr, KeepsTopologicalOrderInputsOutputsAndPrints) {
  GraphBuilder b;
  const ValueId x = b.input("x", DType::F32, {2, 4});
  const ValueId w = b.constant("w", Tensor(DType::F32, {3, 4}));
  const ValueId y = b.linear(x, w, std::nullopt, "proj");
  const ValueId z = b.softmax(y, "probs");
  b.output("probs", z);
  Graph g = std::move(b).finish();
  ASSERT_EQ(g.nodes().size(), 4u);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    EXPECT_EQ(g.nodes()[i].output.index, static_cast<int32_t>(i));
    for (ValueId v : g.nodes()[i].inputs) EXPECT_LT(v.index, static_cast<int32_t>(i));
  }
  ASSERT_EQ(g.inputs().size(), 1u);
  EXPECT_EQ(g.node(g.inputs()[0]).name, "x");
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0].first, "probs");
  EXPECT_EQ(g.find("nothing"), nullptr);
  EXPECT_THROW(g.add_output("probs", y), Error);

  const std::string text = to_string(g);
  EXPECT_NE(text.find("%2 = linear(%0, %1) : f32[2, 3]  proj"), std::string::npos) << text;
  EXPECT_NE(text.find("%3 = softmax(%2) : f32[2, 3]  probs  {axis=1}"), std::string::npos) << text;
  EXPECT_NE(text.find("output probs = %3"), std::string::npos) << text;

  const GraphStats stats = graph_stats(g);
  EXPECT_EQ(stats.op_counts.at(OpKind::Linear), 1);
  EXPECT_EQ(stats.op_counts.at(OpKind::Input), 1);
  EXPECT_EQ(stats.constant_elements, 12);
  EXPECT_EQ(stats.constant_bytes, 48);
  EXPECT_NE(to_string(stats).find("linear 1"), std::string::npos);
}

}  // namespace
}  // namespace l2n::graph
