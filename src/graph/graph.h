// The graph IR: a static-shape dataflow graph of small, unfused operators.
//
// Contract:
//  * A Graph is a list of Nodes in topological order. Node k produces exactly one value,
//    whose id is k (ValueId{k}); a node only reads values produced before it.
//  * Every value has a dtype and a fully static shape, inferred when its node is added;
//    an impossible node (mismatched shapes, wrong dtype, bad attribute) throws l2n::Error
//    "internal: ..." naming the node, so a builder bug surfaces where it is made.
//  * Input nodes are the named graph inputs (the node name is the input name); Constant
//    nodes hold a Tensor; graph outputs are (name, value) pairs. Node names are unique and
//    human-readable ("layers.3.attn.q_proj"); later stages report by them.
//  * Ops stay general and unfused so that each maps onto TOSA operators one by one, and the
//    quantizer can annotate each. A scalar operand (an epsilon, a scale) is a [1] Constant
//    broadcast by the elementwise op, not an attribute.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace l2n::graph {

enum class OpKind : uint8_t {
  Input,        // no operands; dtype/shape given
  Constant,     // no operands; holds Node::value
  Linear,       // (x [..., in], w [out, in], optional b [out]) -> [..., out]; x·wᵀ + b
  MatMul,       // (a [B..., M, K], b [B..., K, N]) -> [B..., M, N]; batch dims equal, no broadcast
  Add,          // (a, b) numpy broadcast; F32
  Sub,
  Mul,
  Neg,          // (x) elementwise; F32
  Rsqrt,
  Silu,         // x·sigmoid(x)
  Exp,
  Reciprocal,
  ReduceSum,    // (x) over attrs.axis, keeping it as size 1; F32
  ReduceMean,
  ReduceMax,
  Softmax,      // (x) over attrs.axis, which must be the last axis; F32
  Gather,       // (table [N, D...], indices i32[I...]) -> [I..., D...]; rows of the table
  Reshape,      // (x) -> attrs.shape (same element count)
  Transpose,    // (x) -> axis k of the result is axis perm[k] of x (numpy.transpose)
  Slice,        // (x) -> x[begin[k] : begin[k] + size[k]] on every axis; sizes >= 1
  Concat,       // (x0, x1, ...) joined along attrs.axis
  CacheUpdate,  // (cache [S, D...], rows [R, D...], pos i32[1]) -> cache with rows
                // pos..pos+R-1 replaced by rows (the input cache is not modified)

  // Integer ops, one per TOSA 1.0 operator of the INT profile, with TOSA's semantics
  // (quant/integer_ops.h); their kernels live in quant/integer_kernels. Zero points,
  // multipliers, shifts and tables are const operands, as in TOSA. "i48" values are I64.
  // Add/Sub/ReduceSum also take i32 operands (-> i32), ReduceMax i8/i16/i32, Mul i32
  // operands with a third operand shift i8[1] (TOSA MUL), Neg an int x with x_zp and
  // out_zp operands (TOSA NEGATE). Data-movement ops accept any dtype.
  Quantize,     // (x f32) -> attrs.dtype (I8/I16/I32); per tensor, attrs.scale/zero_point
  Dequantize,   // (q int) -> f32: (q - attrs.zero_point) * attrs.scale
  Rescale,      // (x, multiplier i32|i16 [C], shift i8 [C], x_zp [1] (x's dtype),
                //  out_zp [1] (attrs.dtype)) -> attrs.dtype; C = 1, or the last dimension
                //  of x with attrs.per_channel; attrs.scale32, attrs.rounding
  Table,        // (x i8, table i8[256]) -> i8; (x i16, table i16[513]) -> i32 (7 fraction bits)
  IntLinear,    // (x i8|i16 [..., in], w i8 [out, in], bias i32|i64 [out], x_zp [1], w_zp i8[1])
                //  -> i32 for i8 x, i64 (int48) for i16 x; a 1x1 CONV2D
  IntMatMul,    // (a, b, a_zp, b_zp) as MatMul; i8 x i8 -> i32, i16 x i16 -> i64 (int48)
  Maximum,      // (a i32, b i32) numpy broadcast -> i32; TOSA MAXIMUM (a clamp's lower side)
  Minimum,      // (a i32, b i32) numpy broadcast -> i32; TOSA MINIMUM
};

std::string_view op_name(OpKind op);

struct ValueId {
  int32_t index = -1;
  bool valid() const { return index >= 0; }
  auto operator<=>(const ValueId&) const = default;
};

// Operator parameters; only the fields the op uses (see OpKind) are set. Axes are stored
// normalized to [0, rank).
struct Attrs {
  int64_t axis = 0;             // ReduceSum/Mean/Max, Softmax, Concat
  std::vector<int64_t> perm;    // Transpose
  Shape shape;                  // Reshape: the target shape, fully static
  std::vector<int64_t> begin;   // Slice
  std::vector<int64_t> size;    // Slice
  DType dtype = DType::F32;     // Quantize, Rescale: the output type
  float scale = 1.0f;           // Quantize, Dequantize (per tensor)
  int32_t zero_point = 0;       // Quantize, Dequantize
  int64_t qmin = 0, qmax = 0;   // Quantize: the clamp range (both 0: the whole dtype)
  bool scale32 = true;          // Rescale: int32 multipliers (false: int16, after int48)
  bool double_round = false;    // Rescale: TOSA DOUBLE_ROUND (else SINGLE_ROUND)
  bool per_channel = false;     // Rescale: one multiplier per element of the last axis
};

struct Node {
  OpKind op = OpKind::Input;
  std::string name;
  std::vector<ValueId> inputs;
  ValueId output;
  DType dtype = DType::F32;
  Shape shape;
  Attrs attrs;
  Tensor value;  // Constant only
};

class Graph {
 public:
  // Appends a node, checking its operands and inferring its output dtype and shape.
  // Axes in attrs may be negative (counted from the end) and are stored normalized.
  ValueId add_node(OpKind op, std::string name, std::vector<ValueId> inputs, Attrs attrs = {});
  ValueId add_input(std::string name, DType dtype, Shape shape);
  ValueId add_constant(std::string name, Tensor value);
  void add_output(std::string name, ValueId value);

  const std::vector<Node>& nodes() const { return nodes_; }
  const Node& node(ValueId value) const;  // the producer of value
  const Node* find(std::string_view name) const;  // nullptr if no node has this name
  std::vector<ValueId> inputs() const;            // the Input nodes, in order
  const std::vector<std::pair<std::string, ValueId>>& outputs() const { return outputs_; }

 private:
  ValueId append(Node node);
  std::vector<Node> nodes_;
  std::map<std::string, int32_t, std::less<>> by_name_;
  std::vector<std::pair<std::string, ValueId>> outputs_;
};

// Typed construction of the ops, one call per node; names are full node names.
class GraphBuilder {
 public:
  ValueId input(std::string name, DType dtype, Shape shape);
  ValueId constant(std::string name, Tensor value);
  ValueId scalar(std::string name, float value);  // an F32 [1] constant
  void output(std::string name, ValueId value);

  ValueId linear(ValueId x, ValueId weight, std::optional<ValueId> bias, std::string name);
  ValueId matmul(ValueId a, ValueId b, std::string name);
  ValueId add(ValueId a, ValueId b, std::string name);
  ValueId sub(ValueId a, ValueId b, std::string name);
  ValueId mul(ValueId a, ValueId b, std::string name);
  ValueId neg(ValueId x, std::string name);
  ValueId rsqrt(ValueId x, std::string name);
  ValueId silu(ValueId x, std::string name);
  ValueId exp(ValueId x, std::string name);
  ValueId reciprocal(ValueId x, std::string name);
  // Reductions and softmax act on the last axis; reductions keep it with size 1.
  ValueId reduce_sum(ValueId x, std::string name);
  ValueId reduce_mean(ValueId x, std::string name);
  ValueId reduce_max(ValueId x, std::string name);
  ValueId softmax(ValueId x, std::string name);
  ValueId gather(ValueId table, ValueId indices, std::string name);
  ValueId reshape(ValueId x, Shape shape, std::string name);  // one dimension may be -1
  ValueId transpose(ValueId x, std::vector<int64_t> perm, std::string name);
  ValueId slice(ValueId x, std::vector<int64_t> begin, std::vector<int64_t> size, std::string name);
  ValueId concat(std::vector<ValueId> parts, int64_t axis, std::string name);
  ValueId cache_update(ValueId cache, ValueId rows, ValueId pos, std::string name);

  const Shape& shape(ValueId value) const { return graph_.node(value).shape; }
  DType dtype(ValueId value) const { return graph_.node(value).dtype; }
  const Graph& graph() const { return graph_; }
  Graph finish() && { return std::move(graph_); }

 private:
  Graph graph_;
};

// One line per node: "%7 = linear(%5, %6) : f32[4, 64]  layers.0.attn.q_proj  {attrs}".
std::string to_string(const Graph& graph);

struct GraphStats {
  std::map<OpKind, int64_t> op_counts;
  int64_t constant_elements = 0;
  int64_t constant_bytes = 0;
};
GraphStats graph_stats(const Graph& graph);
std::string to_string(const GraphStats& stats);

}  // namespace l2n::graph
