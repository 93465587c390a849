#include "graph/graph.h"

#include <fmt/format.h>

#include <algorithm>

namespace l2n::graph {

std::string_view op_name(OpKind op) {
  switch (op) {
    case OpKind::Input: return "input";
    case OpKind::Constant: return "constant";
    case OpKind::Linear: return "linear";
    case OpKind::MatMul: return "matmul";
    case OpKind::Add: return "add";
    case OpKind::Sub: return "sub";
    case OpKind::Mul: return "mul";
    case OpKind::Neg: return "neg";
    case OpKind::Rsqrt: return "rsqrt";
    case OpKind::Silu: return "silu";
    case OpKind::Exp: return "exp";
    case OpKind::Reciprocal: return "reciprocal";
    case OpKind::ReduceSum: return "reduce_sum";
    case OpKind::ReduceMean: return "reduce_mean";
    case OpKind::ReduceMax: return "reduce_max";
    case OpKind::Softmax: return "softmax";
    case OpKind::Gather: return "gather";
    case OpKind::Reshape: return "reshape";
    case OpKind::Transpose: return "transpose";
    case OpKind::Slice: return "slice";
    case OpKind::Concat: return "concat";
    case OpKind::CacheUpdate: return "cache_update";
    case OpKind::Quantize: return "quantize";
    case OpKind::Dequantize: return "dequantize";
    case OpKind::Rescale: return "rescale";
    case OpKind::Table: return "table";
    case OpKind::IntLinear: return "int_linear";
    case OpKind::IntMatMul: return "int_matmul";
    case OpKind::Maximum: return "maximum";
    case OpKind::Minimum: return "minimum";
  }
  return "?";
}

namespace {

std::string type_str(DType dtype, const Shape& shape) {
  return fmt::format("{}{}", dtype_name(dtype), shape_str(shape));
}

std::string list_str(const std::vector<int64_t>& values) { return shape_str(values); }

// Shape inference for one node. `in` are the operand nodes; the result is written into
// `node` (dtype, shape, normalized attrs). Every failure names the node.
class Inference {
 public:
  Inference(Node& node, const std::vector<const Node*>& in) : node_(node), in_(in) {}

  void run() {
    switch (node_.op) {
      case OpKind::Input:
      case OpKind::Constant:
        error("inputs and constants are added with add_input/add_constant");
      case OpKind::Linear: return linear();
      case OpKind::MatMul: return matmul();
      case OpKind::Add:
      case OpKind::Sub:
      case OpKind::Mul:
      case OpKind::Maximum:
      case OpKind::Minimum: return broadcast_binary();
      case OpKind::Neg: return neg();
      case OpKind::Rsqrt:
      case OpKind::Silu:
      case OpKind::Exp:
      case OpKind::Reciprocal: return unary();
      case OpKind::ReduceSum:
      case OpKind::ReduceMean:
      case OpKind::ReduceMax: return reduce();
      case OpKind::Softmax: return softmax();
      case OpKind::Gather: return gather();
      case OpKind::Reshape: return reshape();
      case OpKind::Transpose: return transpose();
      case OpKind::Slice: return slice();
      case OpKind::Concat: return concat();
      case OpKind::CacheUpdate: return cache_update();
      case OpKind::Quantize: return quantize();
      case OpKind::Dequantize: return dequantize();
      case OpKind::Rescale: return rescale();
      case OpKind::Table: return table();
      case OpKind::IntLinear: return int_linear();
      case OpKind::IntMatMul: return int_matmul();
    }
  }

 private:
  template <typename... Args>
  [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
    std::string operands;
    for (size_t i = 0; i < in_.size(); ++i)
      operands += fmt::format("{}{} ('{}')", i ? ", " : "", type_str(in_[i]->dtype, in_[i]->shape), in_[i]->name);
    fail("internal: graph node '{}' ({}): {}; operands: {}", node_.name, op_name(node_.op),
         fmt::format(format, std::forward<Args>(args)...), operands.empty() ? "none" : operands);
  }

  void expect_operands(size_t low, size_t high) const {
    if (in_.size() < low || in_.size() > high) {
      if (low == high) error("expects {} operand(s), got {}", low, in_.size());
      error("expects {} to {} operands, got {}", low, high, in_.size());
    }
  }
  void expect_f32(size_t i) const {
    if (in_[i]->dtype != DType::F32) error("operand {} must be f32", i);
  }
  int64_t normalize_axis(int64_t axis, int64_t rank) const {
    const int64_t k = axis < 0 ? axis + rank : axis;
    if (k < 0 || k >= rank) error("axis {} out of range for rank {}", axis, rank);
    return k;
  }
  void set(DType dtype, Shape shape) {
    node_.dtype = dtype;
    node_.shape = std::move(shape);
  }

  void linear() {
    expect_operands(2, 3);
    for (size_t i = 0; i < in_.size(); ++i) expect_f32(i);
    const Shape& x = in_[0]->shape;
    const Shape& w = in_[1]->shape;
    if (x.empty()) error("x must have rank >= 1");
    if (w.size() != 2) error("weight must be [out, in]");
    if (x.back() != w[1]) error("x has {} features but the weight expects {}", x.back(), w[1]);
    if (in_.size() == 3 && in_[2]->shape != Shape{w[0]}) error("bias must be [{}]", w[0]);
    Shape out = x;
    out.back() = w[0];
    set(DType::F32, out);
  }

  void matmul() {
    expect_operands(2, 2);
    expect_f32(0);
    expect_f32(1);
    const Shape& a = in_[0]->shape;
    const Shape& b = in_[1]->shape;
    if (a.size() < 2 || a.size() != b.size()) error("operands must have the same rank >= 2");
    if (!std::equal(a.begin(), a.end() - 2, b.begin())) error("batch dimensions differ");
    if (a[a.size() - 1] != b[b.size() - 2]) error("inner dimensions differ");
    Shape out = a;
    out.back() = b.back();
    set(DType::F32, out);
  }

  static bool is_int(DType d) { return d == DType::I8 || d == DType::I16 || d == DType::I32 || d == DType::I64; }
  void expect_dtype(size_t i, DType d) const {
    if (in_[i]->dtype != d) error("operand {} must be {}", i, dtype_name(d));
  }
  void expect_zp(size_t i, DType d) const {
    expect_dtype(i, d);
    if (in_[i]->shape != Shape{1}) error("operand {} (a zero point) must be [1]", i);
  }

  void broadcast_binary() {
    const bool integer = in_.size() >= 1 && in_[0]->dtype == DType::I32;
    if (!integer && (node_.op == OpKind::Maximum || node_.op == OpKind::Minimum)) error("operand 0 must be i32");
    if (integer) {
      // TOSA ADD/SUB/MUL of the INT profile: int32 only; MUL carries its shift operand.
      expect_operands(node_.op == OpKind::Mul ? 3 : 2, node_.op == OpKind::Mul ? 3 : 2);
      expect_dtype(1, DType::I32);
      if (node_.op == OpKind::Mul) expect_zp(2, DType::I8);
    } else {
      expect_operands(2, 2);
      expect_f32(0);
      expect_f32(1);
    }
    const Shape& a = in_[0]->shape;
    const Shape& b = in_[1]->shape;
    const size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (size_t k = 0; k < rank; ++k) {
      const int64_t da = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
      const int64_t db = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
      if (da != db && da != 1 && db != 1) error("shapes do not broadcast");
      out[k] = da == 1 ? db : da;
    }
    set(in_[0]->dtype, out);
  }

  void neg() {
    if (in_.size() == 3 && is_int(in_[0]->dtype)) {
      expect_zp(1, in_[0]->dtype);
      expect_zp(2, in_[0]->dtype);
      set(in_[0]->dtype, in_[0]->shape);
      return;
    }
    unary();
  }

  void quantize() {
    expect_operands(1, 1);
    expect_f32(0);
    const DType d = node_.attrs.dtype;
    if (d != DType::I8 && d != DType::I16 && d != DType::I32) error("quantize to {} is not supported", dtype_name(d));
    if (!(node_.attrs.scale > 0)) error("scale must be positive");
    set(d, in_[0]->shape);
  }

  void dequantize() {
    expect_operands(1, 1);
    if (!is_int(in_[0]->dtype)) error("operand must be an integer tensor");
    if (!(node_.attrs.scale > 0)) error("scale must be positive");
    set(DType::F32, in_[0]->shape);
  }

  void rescale() {
    expect_operands(5, 5);
    const DType x = in_[0]->dtype, out = node_.attrs.dtype;
    if (!is_int(x)) error("input must be an integer tensor");
    if (out != DType::I8 && out != DType::I16 && out != DType::I32) error("output type {} is not supported", dtype_name(out));
    if (node_.attrs.scale32 && x == DType::I64) error("scale32 with an int48 input");
    if (node_.attrs.double_round && !node_.attrs.scale32) error("double rounding needs scale32");
    expect_dtype(1, node_.attrs.scale32 ? DType::I32 : DType::I16);
    expect_dtype(2, DType::I8);
    const int64_t channels = node_.attrs.per_channel ? (in_[0]->shape.empty() ? 1 : in_[0]->shape.back()) : 1;
    if (in_[1]->shape != Shape{channels} || in_[2]->shape != Shape{channels})
      error("multiplier and shift must be [{}]", channels);
    expect_zp(3, x);
    expect_zp(4, out);
    set(out, in_[0]->shape);
  }

  void table() {
    expect_operands(2, 2);
    if (in_[0]->dtype == DType::I8) {
      if (in_[1]->dtype != DType::I8 || in_[1]->shape != Shape{256}) error("an int8 table must be i8[256]");
      set(DType::I8, in_[0]->shape);
    } else if (in_[0]->dtype == DType::I16) {
      if (in_[1]->dtype != DType::I16 || in_[1]->shape != Shape{513}) error("an int16 table must be i16[513]");
      set(DType::I32, in_[0]->shape);
    } else {
      error("input must be i8 or i16");
    }
  }

  DType accumulator(DType x) const {
    if (x == DType::I8) return DType::I32;
    if (x == DType::I16) return DType::I64;
    error("input must be i8 or i16");
  }

  void int_linear() {
    expect_operands(5, 5);
    const DType acc = accumulator(in_[0]->dtype);
    expect_dtype(1, DType::I8);
    expect_dtype(2, acc);
    expect_zp(3, in_[0]->dtype);
    expect_zp(4, DType::I8);
    const Shape& x = in_[0]->shape;
    const Shape& w = in_[1]->shape;
    if (x.empty() || w.size() != 2 || x.back() != w[1]) error("x [..., in] does not match the weight [out, in]");
    if (in_[2]->shape != Shape{w[0]}) error("bias must be [{}]", w[0]);
    Shape out = x;
    out.back() = w[0];
    set(acc, out);
  }

  void int_matmul() {
    expect_operands(4, 4);
    const DType acc = accumulator(in_[0]->dtype);
    expect_dtype(1, in_[0]->dtype);
    expect_zp(2, in_[0]->dtype);
    expect_zp(3, in_[0]->dtype);
    const Shape& a = in_[0]->shape;
    const Shape& b = in_[1]->shape;
    if (a.size() < 2 || a.size() != b.size()) error("operands must have the same rank >= 2");
    if (!std::equal(a.begin(), a.end() - 2, b.begin())) error("batch dimensions differ");
    if (a[a.size() - 1] != b[b.size() - 2]) error("inner dimensions differ");
    Shape out = a;
    out.back() = b.back();
    set(acc, out);
  }

  void unary() {
    expect_operands(1, 1);
    expect_f32(0);
    set(DType::F32, in_[0]->shape);
  }

  void reduce() {
    expect_operands(1, 1);
    const DType d = in_[0]->dtype;
    const bool int_ok = (node_.op == OpKind::ReduceSum && d == DType::I32) ||
                        (node_.op == OpKind::ReduceMax && (d == DType::I8 || d == DType::I16 || d == DType::I32));
    if (!int_ok) expect_f32(0);
    Shape out = in_[0]->shape;
    node_.attrs.axis = normalize_axis(node_.attrs.axis, static_cast<int64_t>(out.size()));
    out[node_.attrs.axis] = 1;
    set(d, out);
  }

  void softmax() {
    expect_operands(1, 1);
    expect_f32(0);
    const int64_t rank = static_cast<int64_t>(in_[0]->shape.size());
    node_.attrs.axis = normalize_axis(node_.attrs.axis, rank);
    if (node_.attrs.axis != rank - 1) error("softmax is only defined over the last axis");
    set(DType::F32, in_[0]->shape);
  }

  void gather() {
    expect_operands(2, 2);
    const Shape& table = in_[0]->shape;
    if (table.empty()) error("table must have rank >= 1");
    if (in_[1]->dtype != DType::I32) error("indices must be i32");
    Shape out = in_[1]->shape;
    out.insert(out.end(), table.begin() + 1, table.end());
    set(in_[0]->dtype, out);
  }

  void reshape() {
    expect_operands(1, 1);
    const Shape& target = node_.attrs.shape;
    for (int64_t d : target)
      if (d < 0) error("target shape {} must be fully static", list_str(target));
    if (shape_numel(target) != shape_numel(in_[0]->shape))
      error("cannot reshape to {}: element counts differ", list_str(target));
    set(in_[0]->dtype, target);
  }

  void transpose() {
    expect_operands(1, 1);
    const Shape& x = in_[0]->shape;
    std::vector<int64_t>& perm = node_.attrs.perm;
    if (perm.size() != x.size()) error("perm {} does not match rank {}", list_str(perm), x.size());
    std::vector<bool> seen(x.size(), false);
    Shape out(x.size());
    for (size_t k = 0; k < perm.size(); ++k) {
      perm[k] = normalize_axis(perm[k], static_cast<int64_t>(x.size()));
      if (seen[perm[k]]) error("perm {} repeats an axis", list_str(perm));
      seen[perm[k]] = true;
      out[k] = x[perm[k]];
    }
    set(in_[0]->dtype, out);
  }

  void slice() {
    expect_operands(1, 1);
    const Shape& x = in_[0]->shape;
    const auto& begin = node_.attrs.begin;
    const auto& size = node_.attrs.size;
    if (begin.size() != x.size() || size.size() != x.size())
      error("begin {} and size {} must both have rank {}", list_str(begin), list_str(size), x.size());
    for (size_t k = 0; k < x.size(); ++k)
      if (begin[k] < 0 || size[k] < 1 || begin[k] + size[k] > x[k])
        error("begin {} size {} is out of bounds on axis {}", list_str(begin), list_str(size), k);
    set(in_[0]->dtype, size);
  }

  void concat() {
    expect_operands(1, 1u << 20);
    const Shape& first = in_[0]->shape;
    node_.attrs.axis = normalize_axis(node_.attrs.axis, static_cast<int64_t>(first.size()));
    const size_t axis = static_cast<size_t>(node_.attrs.axis);
    Shape out = first;
    out[axis] = 0;
    for (const Node* part : in_) {
      if (part->dtype != in_[0]->dtype) error("operands have different dtypes");
      if (part->shape.size() != first.size()) error("operands have different ranks");
      for (size_t k = 0; k < first.size(); ++k)
        if (k != axis && part->shape[k] != first[k]) error("operands differ on axis {}", k);
      out[axis] += part->shape[axis];
    }
    set(in_[0]->dtype, out);
  }

  void cache_update() {
    expect_operands(3, 3);
    const Shape& cache = in_[0]->shape;
    const Shape& rows = in_[1]->shape;
    if (in_[0]->dtype != in_[1]->dtype) error("cache and rows have different dtypes");
    if (cache.empty() || rows.size() != cache.size() || !std::equal(cache.begin() + 1, cache.end(), rows.begin() + 1))
      error("rows must be [R, ...] with the cache's trailing dimensions");
    if (rows[0] > cache[0]) error("more rows than the cache holds");
    if (in_[2]->dtype != DType::I32 || in_[2]->shape != Shape{1}) error("position must be i32[1]");
    set(in_[0]->dtype, cache);
  }

  Node& node_;
  const std::vector<const Node*>& in_;
};

}  // namespace

ValueId Graph::append(Node node) {
  if (node.name.empty()) fail("internal: graph node ({}) has no name", op_name(node.op));
  if (by_name_.count(node.name)) fail("internal: duplicate graph node name '{}'", node.name);
  const int32_t index = static_cast<int32_t>(nodes_.size());
  node.output = ValueId{index};
  by_name_.emplace(node.name, index);
  nodes_.push_back(std::move(node));
  return ValueId{index};
}

ValueId Graph::add_node(OpKind op, std::string name, std::vector<ValueId> inputs, Attrs attrs) {
  Node node;
  node.op = op;
  node.name = std::move(name);
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  std::vector<const Node*> operands;
  for (ValueId v : node.inputs) {
    if (v.index < 0 || v.index >= static_cast<int32_t>(nodes_.size()))
      fail("internal: graph node '{}' ({}) reads undefined value %{}", node.name, op_name(op), v.index);
    operands.push_back(&nodes_[v.index]);
  }
  Inference(node, operands).run();
  return append(std::move(node));
}

ValueId Graph::add_input(std::string name, DType dtype, Shape shape) {
  for (int64_t d : shape)
    if (d < 0) fail("internal: graph input '{}' has a negative dimension in {}", name, shape_str(shape));
  Node node;
  node.op = OpKind::Input;
  node.name = std::move(name);
  node.dtype = dtype;
  node.shape = std::move(shape);
  return append(std::move(node));
}

ValueId Graph::add_constant(std::string name, Tensor value) {
  if (!value.defined()) fail("internal: graph constant '{}' has no data", name);
  Node node;
  node.op = OpKind::Constant;
  node.name = std::move(name);
  node.dtype = value.dtype();
  node.shape = value.shape();
  node.value = std::move(value);
  return append(std::move(node));
}

void Graph::add_output(std::string name, ValueId value) {
  node(value);  // validates the id
  for (const auto& [existing, id] : outputs_)
    if (existing == name) fail("internal: duplicate graph output name '{}'", name);
  outputs_.emplace_back(std::move(name), value);
}

const Node& Graph::node(ValueId value) const {
  if (value.index < 0 || value.index >= static_cast<int32_t>(nodes_.size()))
    fail("internal: graph value %{} does not exist ({} nodes)", value.index, nodes_.size());
  return nodes_[value.index];
}

const Node* Graph::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &nodes_[it->second];
}

std::vector<ValueId> Graph::inputs() const {
  std::vector<ValueId> ids;
  for (const Node& n : nodes_)
    if (n.op == OpKind::Input) ids.push_back(n.output);
  return ids;
}

// ---- GraphBuilder -------------------------------------------------------------------------

ValueId GraphBuilder::input(std::string name, DType dtype, Shape shape) {
  return graph_.add_input(std::move(name), dtype, std::move(shape));
}
ValueId GraphBuilder::constant(std::string name, Tensor value) {
  return graph_.add_constant(std::move(name), std::move(value));
}
ValueId GraphBuilder::scalar(std::string name, float value) {
  return graph_.add_constant(std::move(name), Tensor::from_vector<float>({1}, {value}));
}
void GraphBuilder::output(std::string name, ValueId value) { graph_.add_output(std::move(name), value); }

ValueId GraphBuilder::linear(ValueId x, ValueId weight, std::optional<ValueId> bias, std::string name) {
  std::vector<ValueId> inputs{x, weight};
  if (bias) inputs.push_back(*bias);
  return graph_.add_node(OpKind::Linear, std::move(name), std::move(inputs));
}
ValueId GraphBuilder::matmul(ValueId a, ValueId b, std::string name) {
  return graph_.add_node(OpKind::MatMul, std::move(name), {a, b});
}
ValueId GraphBuilder::add(ValueId a, ValueId b, std::string name) {
  return graph_.add_node(OpKind::Add, std::move(name), {a, b});
}
ValueId GraphBuilder::sub(ValueId a, ValueId b, std::string name) {
  return graph_.add_node(OpKind::Sub, std::move(name), {a, b});
}
ValueId GraphBuilder::mul(ValueId a, ValueId b, std::string name) {
  return graph_.add_node(OpKind::Mul, std::move(name), {a, b});
}
ValueId GraphBuilder::neg(ValueId x, std::string name) { return graph_.add_node(OpKind::Neg, std::move(name), {x}); }
ValueId GraphBuilder::rsqrt(ValueId x, std::string name) {
  return graph_.add_node(OpKind::Rsqrt, std::move(name), {x});
}
ValueId GraphBuilder::silu(ValueId x, std::string name) { return graph_.add_node(OpKind::Silu, std::move(name), {x}); }
ValueId GraphBuilder::exp(ValueId x, std::string name) { return graph_.add_node(OpKind::Exp, std::move(name), {x}); }
ValueId GraphBuilder::reciprocal(ValueId x, std::string name) {
  return graph_.add_node(OpKind::Reciprocal, std::move(name), {x});
}

static Attrs axis_attrs(int64_t axis) {
  Attrs attrs;
  attrs.axis = axis;
  return attrs;
}
ValueId GraphBuilder::reduce_sum(ValueId x, std::string name) {
  return graph_.add_node(OpKind::ReduceSum, std::move(name), {x}, axis_attrs(-1));
}
ValueId GraphBuilder::reduce_mean(ValueId x, std::string name) {
  return graph_.add_node(OpKind::ReduceMean, std::move(name), {x}, axis_attrs(-1));
}
ValueId GraphBuilder::reduce_max(ValueId x, std::string name) {
  return graph_.add_node(OpKind::ReduceMax, std::move(name), {x}, axis_attrs(-1));
}
ValueId GraphBuilder::softmax(ValueId x, std::string name) {
  return graph_.add_node(OpKind::Softmax, std::move(name), {x}, axis_attrs(-1));
}
ValueId GraphBuilder::gather(ValueId table, ValueId indices, std::string name) {
  return graph_.add_node(OpKind::Gather, std::move(name), {table, indices});
}

ValueId GraphBuilder::reshape(ValueId x, Shape shape, std::string name) {
  // Resolve a single -1 here so that the stored shape is fully static.
  int64_t known = 1;
  int inferred = -1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == -1 && inferred < 0) {
      inferred = static_cast<int>(k);
    } else {
      known *= shape[k];
    }
  }
  if (inferred >= 0 && known > 0) shape[inferred] = shape_numel(this->shape(x)) / known;
  Attrs attrs;
  attrs.shape = std::move(shape);
  return graph_.add_node(OpKind::Reshape, std::move(name), {x}, std::move(attrs));
}

ValueId GraphBuilder::transpose(ValueId x, std::vector<int64_t> perm, std::string name) {
  Attrs attrs;
  attrs.perm = std::move(perm);
  return graph_.add_node(OpKind::Transpose, std::move(name), {x}, std::move(attrs));
}

ValueId GraphBuilder::slice(ValueId x, std::vector<int64_t> begin, std::vector<int64_t> size, std::string name) {
  Attrs attrs;
  attrs.begin = std::move(begin);
  attrs.size = std::move(size);
  return graph_.add_node(OpKind::Slice, std::move(name), {x}, std::move(attrs));
}

ValueId GraphBuilder::concat(std::vector<ValueId> parts, int64_t axis, std::string name) {
  return graph_.add_node(OpKind::Concat, std::move(name), std::move(parts), axis_attrs(axis));
}

ValueId GraphBuilder::cache_update(ValueId cache, ValueId rows, ValueId pos, std::string name) {
  return graph_.add_node(OpKind::CacheUpdate, std::move(name), {cache, rows, pos});
}

// ---- Printing -----------------------------------------------------------------------------

static std::string attrs_str(const Node& node) {
  switch (node.op) {
    case OpKind::ReduceSum:
    case OpKind::ReduceMean:
    case OpKind::ReduceMax:
    case OpKind::Softmax:
    case OpKind::Concat: return fmt::format("  {{axis={}}}", node.attrs.axis);
    case OpKind::Transpose: return fmt::format("  {{perm={}}}", list_str(node.attrs.perm));
    case OpKind::Slice:
      return fmt::format("  {{begin={}, size={}}}", list_str(node.attrs.begin), list_str(node.attrs.size));
    case OpKind::Quantize:
    case OpKind::Dequantize: return fmt::format("  {{scale={}, zp={}}}", node.attrs.scale, node.attrs.zero_point);
    case OpKind::Rescale:
      return fmt::format("  {{scale32={}, rounding={}, per_channel={}}}", node.attrs.scale32,
                         node.attrs.double_round ? "double" : "single", node.attrs.per_channel);
    default: return "";
  }
}

std::string to_string(const Graph& graph) {
  std::string out;
  for (const Node& node : graph.nodes()) {
    std::string operands;
    for (size_t i = 0; i < node.inputs.size(); ++i)
      operands += fmt::format("{}%{}", i ? ", " : "", node.inputs[i].index);
    out += fmt::format("%{} = {}({}) : {}  {}{}\n", node.output.index, op_name(node.op), operands,
                       type_str(node.dtype, node.shape), node.name, attrs_str(node));
  }
  for (const auto& [name, value] : graph.outputs()) out += fmt::format("output {} = %{}\n", name, value.index);
  return out;
}

GraphStats graph_stats(const Graph& graph) {
  GraphStats stats;
  for (const Node& node : graph.nodes()) {
    ++stats.op_counts[node.op];
    if (node.op == OpKind::Constant) {
      stats.constant_elements += node.value.numel();
      stats.constant_bytes += static_cast<int64_t>(node.value.nbytes());
    }
  }
  return stats;
}

std::string to_string(const GraphStats& stats) {
  int64_t total = 0;
  std::string ops;
  for (const auto& [op, count] : stats.op_counts) {
    total += count;
    ops += fmt::format("{}{} {}", ops.empty() ? "" : ", ", op_name(op), count);
  }
  return fmt::format("{} nodes ({}); constants: {} elements, {} bytes", total, ops, stats.constant_elements,
                     stats.constant_bytes);
}

}  // namespace l2n::graph
