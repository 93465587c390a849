#include "partition/support.h"

#include <fmt/format.h>

#include <cstdlib>
#include <functional>
#include <map>

namespace l2n::partition {
namespace {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using target::TargetCapabilities;

bool is_integer(DType t) { return t == DType::I8 || t == DType::I16 || t == DType::I32 || t == DType::I64; }
bool is_int16(DType t) { return t == DType::I16; }

DType input_dtype(const Graph& g, const Node& n, size_t k) { return g.node(n.inputs[k]).dtype; }

// TOSA 1.0 MAX_RANK (level 8K) is 6; our graphs stay below it, but a refused rank is data too.
constexpr int kMaxRank = 6;
// Ethos-U55 (Vela) dimension limit for tensors it streams.
constexpr int64_t kU55MaxDim = 65536;

using Rule = std::function<OpSupport(const Graph&, const Node&, const TargetCapabilities&)>;

OpSupport ok() { return {true, {}}; }
OpSupport refuse(std::string reason) { return {false, std::move(reason)}; }

OpSupport int16_needs_extension(const Graph& g, const Node& n, const TargetCapabilities& caps) {
  bool wide = is_int16(n.dtype);
  for (size_t k = 0; k < n.inputs.size(); ++k) wide = wide || is_int16(input_dtype(g, n, k));
  if (wide && !caps.int16) return refuse("int16 tensors need the +int16 extension, which the TOSA spec lacks");
  return ok();
}

OpSupport linear_rule(const Graph& g, const Node& n, const TargetCapabilities& caps) {
  if (auto s = int16_needs_extension(g, n, caps); !s.supported) return s;
  if (caps.u55_subset && n.shape.back() > kU55MaxDim)
    return refuse(fmt::format("Ethos-U55 convolutions take at most {} output channels", kU55MaxDim));
  if (caps.u55_subset && g.node(n.inputs[1]).shape.back() > kU55MaxDim)
    return refuse(fmt::format("Ethos-U55 convolutions take at most {} input channels", kU55MaxDim));
  // 16x8 convolutions on Ethos-U keep their bias within int40 (Vela's accumulator path).
  const Node& bias = g.node(n.inputs[2]);
  if (caps.u55_subset && bias.dtype == DType::I64 && bias.op == OpKind::Constant) {
    const int64_t* b = bias.value.data<int64_t>();
    for (int64_t i = 0; i < bias.value.numel(); ++i)
      if (std::llabs(b[i]) >= (int64_t{1} << 39)) return refuse("a 16x8 convolution bias exceeds int40 (Ethos-U limit)");
  }
  return ok();
}

OpSupport matmul_rule(const Graph& g, const Node& n, const TargetCapabilities& caps) {
  if (is_int16(input_dtype(g, n, 0))) {
    if (caps.u55_subset) return refuse("Ethos-U55/U65 run MATMUL on int8 operands only (this one is int16)");
    if (!caps.int16) return refuse("int16 MATMUL needs the +int16 extension, which the TOSA spec lacks");
  }
  return ok();
}

OpSupport table_rule(const Graph& g, const Node& n, const TargetCapabilities& caps) {
  if (is_int16(input_dtype(g, n, 0))) {
    if (caps.u55_subset) return refuse("Ethos-U55/U65 support int8 TABLE only (this one is int16)");
    if (!caps.int16) return refuse("int16 TABLE needs the +int16 extension, which the TOSA spec lacks");
  }
  return ok();
}

OpSupport gather_scatter_rule(const Graph& g, const Node& n, const TargetCapabilities& caps) {
  if (!caps.gather_scatter())
    return refuse(n.op == OpKind::Gather ? "Ethos-U55/U65 have no GATHER (embedding and table lookups stay on the CPU)"
                                         : "Ethos-U55/U65 have no SCATTER (the KV-cache write stays on the CPU)");
  return int16_needs_extension(g, n, caps);
}

OpSupport reduce_rule(const Graph& g, const Node& n, const TargetCapabilities& caps) {
  if (caps.u55_subset) {
    const Shape& in = g.node(n.inputs[0]).shape;
    int64_t before = 1, after = 1;
    for (int64_t k = 0; k < static_cast<int64_t>(in.size()); ++k) {
      if (k < n.attrs.axis) before *= in[k];
      if (k > n.attrs.axis) after *= in[k];
    }
    if (in[n.attrs.axis] > kU55MaxDim || before > kU55MaxDim || after > kU55MaxDim)
      return refuse(fmt::format("Ethos-U55 reductions need each of the reduced dimension and the products before "
                                "and after it within {}",
                                kU55MaxDim));
  }
  return int16_needs_extension(g, n, caps);
}

const std::map<OpKind, Rule>& integer_rules() {
  static const std::map<OpKind, Rule> rules{
      {OpKind::IntLinear, linear_rule},
      {OpKind::IntMatMul, matmul_rule},
      {OpKind::Table, table_rule},
      {OpKind::Gather, gather_scatter_rule},
      {OpKind::CacheUpdate, gather_scatter_rule},
      {OpKind::ReduceSum, reduce_rule},
      {OpKind::ReduceMax, reduce_rule},
      {OpKind::Rescale, int16_needs_extension},
      {OpKind::Add, int16_needs_extension},
      {OpKind::Sub, int16_needs_extension},
      {OpKind::Mul, int16_needs_extension},
      {OpKind::Neg, int16_needs_extension},
      {OpKind::Maximum, int16_needs_extension},
      {OpKind::Minimum, int16_needs_extension},
      {OpKind::Reshape, int16_needs_extension},
      {OpKind::Transpose, int16_needs_extension},
      {OpKind::Slice, int16_needs_extension},
      {OpKind::Concat, int16_needs_extension},
  };
  return rules;
}

}  // namespace

bool is_view_op(OpKind op) { return op == OpKind::Reshape || op == OpKind::Transpose || op == OpKind::Slice; }

OpSupport check_support(const Graph& g, const Node& n, const TargetCapabilities& caps) {
  if (n.op == OpKind::Input || n.op == OpKind::Constant) return refuse("not an operator");
  if (n.op == OpKind::Quantize || n.op == OpKind::Dequantize)
    return refuse("float/integer boundary (Quantize/Dequantize) runs on the CPU, as upstream's boundary Q/DQ");
  if (!caps.integer) return refuse("the TOSA spec has no INT profile");
  bool integer = is_integer(n.dtype);
  for (size_t k = 0; k < n.inputs.size(); ++k) integer = integer && is_integer(input_dtype(g, n, k));
  if (!integer)
    return refuse(caps.floating_point ? "float op: llm2npu lowers the INT profile only, float ops run on the CPU"
                                      : "float op: not quantized in this scope, and the target is integer-only");
  if (static_cast<int>(n.shape.size()) > kMaxRank)
    return refuse(fmt::format("rank {} exceeds TOSA's maximum rank {}", n.shape.size(), kMaxRank));
  const auto& rules = integer_rules();
  auto it = rules.find(n.op);
  if (it == rules.end()) return refuse(fmt::format("no TOSA lowering for integer {}", graph::op_name(n.op)));
  return it->second(g, n, caps);
}

}  // namespace l2n::partition
