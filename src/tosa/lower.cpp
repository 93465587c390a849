#include "tosa/lower.h"

#include <fmt/format.h>

#include <map>
#include <functional>
#include <numeric>

#include "core/error.h"

namespace l2n::tosa {
namespace {

using graph::Node;
using graph::OpKind;
using graph::ValueId;

std::vector<int32_t> dims32(const Shape& s) {
  std::vector<int32_t> d;
  for (int64_t v : s) d.push_back(static_cast<int32_t>(v));
  return d;
}

// Product of dims [from, to) (clamped to the rank); 1 when the range is empty.
int64_t product(const Shape& s, size_t from = 0, size_t to = SIZE_MAX) {
  const size_t end = std::min(to, s.size());
  if (from >= end) return 1;
  return std::accumulate(s.begin() + static_cast<std::ptrdiff_t>(from), s.begin() + static_cast<std::ptrdiff_t>(end),
                         int64_t{1}, std::multiplies<>());
}

std::vector<int64_t> int_values(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
      case l2n::DType::I8: v[i] = t.data<int8_t>()[i]; break;
      case l2n::DType::I16: v[i] = t.data<int16_t>()[i]; break;
      case l2n::DType::I32: v[i] = t.data<int32_t>()[i]; break;
      case l2n::DType::I64: v[i] = t.data<int64_t>()[i]; break;
      default: fail("internal: constant of {} in an integer delegate", dtype_name(t.dtype()));
    }
  }
  return v;
}

// A graph value as a TOSA tensor: its name and the shape it has there (which may differ
// from the graph shape when the producer works in another rank, e.g. CONV2D's NHWC).
struct Placed {
  std::string name;
  Shape shape;
};

class Lowering {
 public:
  explicit Lowering(const graph::Graph& g) : g_(g) {
    for (const auto& [name, v] : g.outputs()) out_name_[v.index] = name;
  }

  TosaGraph run() {
    for (const Node& n : g_.nodes()) {
      switch (n.op) {
        case OpKind::Input:
          b_.add_tensor(n.name, tosa_type_of(n.dtype), dims32(n.shape));
          b_.inputs.push_back(n.name);
          placed_[n.output.index] = {n.name, n.shape};
          in_graph_shape_[n.output.index] = n.name;
          break;
        case OpKind::Constant: break;  // emitted where used, in the shape the use needs
        default: lower(n);
      }
    }
    for (const auto& [name, v] : g_.outputs()) {
      const std::string t = graph_shaped(v);
      if (t != name) fail("internal: delegate output '{}' was lowered as '{}'", name, t);
      b_.outputs.push_back(t);
    }
    return TosaGraph::from_block(std::move(b_));
  }

 private:
  const Node& node(ValueId v) const { return g_.node(v); }

  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; b_.find_tensor(name) || b_.find_shape(name); ++k) name = fmt::format("{}.{}", base, k);
    return name;
  }

  // The name a value's graph-shaped tensor has: the output name for delegate outputs.
  std::string value_tensor_name(int32_t v) const {
    auto it = out_name_.find(v);
    return it != out_name_.end() ? it->second : g_.nodes()[v].name;
  }

  std::string constant(ValueId v, const Shape& shape) {
    const Node& c = node(v);
    auto key = std::make_pair(v.index, shape);
    if (auto it = consts_.find(key); it != consts_.end()) return it->second;
    const std::string name = fresh(shape == c.shape ? c.name : c.name + ".r");
    const l2n::DType storage = c.value.dtype();
    if (storage == c.dtype && (storage == l2n::DType::I8 || storage == l2n::DType::I16 || storage == l2n::DType::I32)) {
      // int8/16/32 wire bytes are the little-endian values, i.e. the tensor's own bytes: a
      // byte copy instead of an int64 round trip (8 bytes per weight element, ~226 MB for
      // SmolLM2's head).
      if (product(shape) != c.value.numel())
        fail("internal: constant '{}' of {} values placed as {}", c.name, c.value.numel(), shape_str(shape));
      b_.add_op(Op::CONST, {}, {name});
      TosaTensor& t = b_.add_tensor(name, tosa_type_of(storage), dims32(shape));
      const auto* bytes = static_cast<const uint8_t*>(c.value.raw());
      t.data = std::vector<uint8_t>(bytes, bytes + c.value.nbytes());
      return consts_[key] = name;
    }
    const auto values = int_values(c.value);
    b_.add_const(name, tosa_type_of(c.dtype), dims32(shape), values);
    return consts_[key] = name;
  }

  std::string shape_const(const std::vector<int64_t>& values, const std::string& base) {
    const std::string name = fresh(base);
    b_.add_const_shape(name, values);
    return name;
  }

  std::string reshape(const std::string& x, l2n::DType dtype, const Shape& to, const std::string& out) {
    const std::string shape = shape_const(to, out + ".shape");
    b_.add_tensor(out, tosa_type_of(dtype), dims32(to));
    b_.add_op(Op::RESHAPE, {x, shape}, {out});
    return out;
  }

  // The value as a tensor of exactly `shape` (same element count): a constant, or a
  // RESHAPE of wherever the value lives.
  std::string shaped(ValueId v, const Shape& shape) {
    const Node& n = node(v);
    if (n.op == OpKind::Constant) return constant(v, shape);
    const Placed& p = placed_.at(v.index);
    if (p.shape == shape) return p.name;
    if (shape == n.shape) return graph_shaped(v);
    return reshape(p.name, n.dtype, shape, fresh(n.name + ".r"));
  }

  std::string graph_shaped(ValueId v) {
    const Node& n = node(v);
    if (n.op == OpKind::Constant) return constant(v, n.shape);
    if (auto it = in_graph_shape_.find(v.index); it != in_graph_shape_.end()) return it->second;
    const Placed& p = placed_.at(v.index);
    return in_graph_shape_[v.index] = reshape(p.name, n.dtype, n.shape, value_tensor_name(v.index));
  }

  // Declares the output tensor of node n in `shape`: under the node's own name when that
  // is its graph shape, else under a helper name (graph_shaped() reshapes on use).
  std::string produce(const Node& n, const Shape& shape) {
    const bool graph_form = shape == n.shape;
    const std::string name = graph_form ? value_tensor_name(n.output.index) : fresh(n.name + ".t");
    b_.add_tensor(name, tosa_type_of(n.dtype), dims32(shape));
    placed_[n.output.index] = {name, shape};
    if (graph_form) in_graph_shape_[n.output.index] = name;
    return name;
  }

  // Operands of elementwise ops: at the node's rank, keeping size-1 broadcast dimensions.
  std::string at_rank(ValueId v, size_t rank) {
    Shape s = node(v).shape;
    while (s.size() < rank) s.insert(s.begin(), 1);
    return shaped(v, s);
  }

  void lower(const Node& n) {
    const auto& in = n.inputs;
    switch (n.op) {
      case OpKind::Rescale: {
        // Elementwise with per-channel multipliers on the last axis: it can run in whatever
        // shape its input lives in, as long as the last axis is the same.
        const Placed x = placed_or_graph(in[0]);
        const Shape shape = x.shape.back() == n.shape.back() ? x.shape : n.shape;
        const std::string xs = shape == x.shape ? x.name : graph_shaped(in[0]);
        RescaleAttr attr{n.attrs.scale32, n.attrs.double_round ? RoundingMode::DOUBLE_ROUND : RoundingMode::SINGLE_ROUND,
                         n.attrs.per_channel, false, false};
        const std::string out = produce(n, shape);
        b_.add_op(Op::RESCALE,
                  {xs, graph_shaped(in[1]), graph_shaped(in[2]), graph_shaped(in[3]), graph_shaped(in[4])}, {out},
                  attr);
        return;
      }
      case OpKind::Table: {
        const Placed x = placed_or_graph(in[0]);
        const std::string out = produce(n, x.shape);
        b_.add_op(Op::TABLE, {x.name, graph_shaped(in[1])}, {out});
        return;
      }
      case OpKind::IntLinear: {
        const Shape& xs = node(in[0]).shape;
        const int64_t n_in = xs.back(), rows = product(xs, 0, xs.size() - 1);
        const Shape& ws = node(in[1]).shape;  // [out, in]
        const std::string x = shaped(in[0], {1, rows, 1, n_in});
        const std::string w = constant_or_shaped(in[1], {ws[0], 1, 1, ws[1]});
        const bool wide = n.dtype == l2n::DType::I64;
        const std::string out = produce(n, {1, rows, 1, ws[0]});
        b_.add_op(Op::CONV2D, {x, w, graph_shaped(in[2]), graph_shaped(in[3]), graph_shaped(in[4])}, {out},
                  ConvAttr{{0, 0, 0, 0}, {1, 1}, {1, 1}, false, wide ? DType::INT48 : DType::INT32});
        return;
      }
      case OpKind::IntMatMul: {
        const Shape& as = node(in[0]).shape;
        const Shape& bs = node(in[1]).shape;
        const size_t r = as.size();
        const int64_t batch = product(as, 0, r - 2);
        const std::string a = shaped(in[0], {batch, as[r - 2], as[r - 1]});
        const std::string b = shaped(in[1], {batch, bs[r - 2], bs[r - 1]});
        const std::string out = produce(n, {batch, as[r - 2], bs[r - 1]});
        b_.add_op(Op::MATMUL, {a, b, graph_shaped(in[2]), graph_shaped(in[3])}, {out});
        return;
      }
      case OpKind::Add:
      case OpKind::Sub:
      case OpKind::Mul: {
        const size_t rank = n.shape.size();
        std::vector<std::string> ops{at_rank(in[0], rank), at_rank(in[1], rank)};
        if (n.op == OpKind::Mul) ops.push_back(graph_shaped(in[2]));
        const std::string out = produce(n, n.shape);
        b_.add_op(n.op == OpKind::Add ? Op::ADD : n.op == OpKind::Sub ? Op::SUB : Op::MUL, ops, {out});
        return;
      }
      case OpKind::Maximum:
      case OpKind::Minimum: {
        const size_t rank = n.shape.size();
        const std::string out = produce(n, n.shape);
        b_.add_op(n.op == OpKind::Maximum ? Op::MAXIMUM : Op::MINIMUM, {at_rank(in[0], rank), at_rank(in[1], rank)},
                  {out}, NanModeAttr{NanMode::PROPAGATE});
        return;
      }
      case OpKind::Neg: {
        const Placed x = placed_or_graph(in[0]);
        const std::string out = produce(n, x.shape);
        b_.add_op(Op::NEGATE, {x.name, graph_shaped(in[1]), graph_shaped(in[2])}, {out});
        return;
      }
      case OpKind::ReduceSum:
      case OpKind::ReduceMax: {
        const std::string out = produce(n, n.shape);
        const bool max = n.op == OpKind::ReduceMax;
        b_.add_op(max ? Op::REDUCE_MAX : Op::REDUCE_SUM, {graph_shaped(in[0])}, {out},
                  AxisAttr{static_cast<int32_t>(n.attrs.axis), max ? NanMode::PROPAGATE : NanMode::UNKNOWN});
        return;
      }
      case OpKind::Reshape: {
        const Placed x = placed_or_graph(in[0]);
        const std::string out = produce(n, n.shape);
        b_.add_op(Op::RESHAPE, {x.name, shape_const(n.shape, out + ".shape")}, {out});
        return;
      }
      case OpKind::Transpose: {
        std::vector<int32_t> perms;
        for (int64_t p : n.attrs.perm) perms.push_back(static_cast<int32_t>(p));
        const std::string x = graph_shaped(in[0]);
        const std::string out = produce(n, n.shape);
        b_.add_op(Op::TRANSPOSE, {x}, {out}, TransposeAttr{perms});
        return;
      }
      case OpKind::Slice: {
        const std::string x = graph_shaped(in[0]);
        const std::string out = produce(n, n.shape);
        b_.add_op(Op::SLICE, {x, shape_const(n.attrs.begin, out + ".start"), shape_const(n.attrs.size, out + ".size")},
                  {out});
        return;
      }
      case OpKind::Concat: {
        std::vector<std::string> parts;
        for (ValueId v : in) parts.push_back(graph_shaped(v));
        const std::string out = produce(n, n.shape);
        b_.add_op(Op::CONCAT, parts, {out}, AxisAttr{static_cast<int32_t>(n.attrs.axis), NanMode::UNKNOWN});
        return;
      }
      case OpKind::Gather: {
        const Shape& ts = node(in[0]).shape;
        const Shape& is = node(in[1]).shape;
        const int64_t rows = ts[0], width = product(ts, 1), count = product(is);
        const std::string table = constant_or_shaped(in[0], {1, rows, width});
        const std::string idx = shaped(in[1], {1, count});
        const std::string out = produce(n, {1, count, width});
        b_.add_op(Op::GATHER, {table, idx}, {out});
        return;
      }
      case OpKind::CacheUpdate: {
        const Shape& cs = node(in[0]).shape;
        const Shape& rs = node(in[1]).shape;
        const int64_t slots = cs[0], width = product(cs, 1), count = rs[0];
        const std::string cache = shaped(in[0], {1, slots, width});
        const std::string rows = shaped(in[1], {1, count, width});
        std::string indices;
        if (count == 1) {
          indices = shaped(in[2], {1, 1});
        } else {
          // Rows pos, pos+1, …: ADD of the position and a constant ramp.
          std::vector<int64_t> ramp(static_cast<size_t>(count));
          std::iota(ramp.begin(), ramp.end(), 0);
          const std::string ramp_name = fresh(n.name + ".ramp");
          b_.add_const(ramp_name, DType::INT32, {1, static_cast<int32_t>(count)}, ramp);
          const std::string pos = shaped(in[2], {1, 1});
          indices = fresh(n.name + ".rows");
          b_.add_tensor(indices, DType::INT32, {1, static_cast<int32_t>(count)});
          b_.add_op(Op::ADD, {pos, ramp_name}, {indices});
        }
        const std::string out = produce(n, {1, slots, width});
        b_.add_op(Op::SCATTER, {cache, indices, rows}, {out});
        return;
      }
      default:
        fail("internal: '{}' ({}) cannot be lowered to TOSA (the partitioner should have kept it on the CPU)",
             n.name, graph::op_name(n.op));
    }
  }

  Placed placed_or_graph(ValueId v) {
    if (node(v).op == OpKind::Constant) return {constant(v, node(v).shape), node(v).shape};
    return placed_.at(v.index);
  }

  std::string constant_or_shaped(ValueId v, const Shape& shape) { return shaped(v, shape); }

  const graph::Graph& g_;
  TosaBasicBlock b_;
  std::map<int32_t, Placed> placed_;
  std::map<int32_t, std::string> in_graph_shape_;
  std::map<int32_t, std::string> out_name_;
  std::map<std::pair<int32_t, Shape>, std::string> consts_;
};

}  // namespace

DType tosa_type_of(l2n::DType dtype) {
  switch (dtype) {
    case l2n::DType::I8: return DType::INT8;
    case l2n::DType::I16: return DType::INT16;
    case l2n::DType::I32: return DType::INT32;
    case l2n::DType::I64: return DType::INT48;
    case l2n::DType::F32: return DType::FP32;
    default: fail("internal: no TOSA type for {}", dtype_name(dtype));
  }
}

TosaGraph lower_to_tosa(const graph::Graph& delegate) { return Lowering(delegate).run(); }

}  // namespace l2n::tosa
