#include "tosa/tosa_graph.h"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace l2n::tosa {
namespace {

constexpr std::array<std::string_view, kOpCount> kOpNames = {
    "UNKNOWN", "ARGMAX", "AVG_POOL2D", "CONV2D", "CONV3D", "DEPTHWISE_CONV2D", "FFT2D", "MATMUL", "MAX_POOL2D",
    "RFFT2D", "TRANSPOSE_CONV2D", "CLAMP", "ERF", "SIGMOID", "TANH", "ADD", "ARITHMETIC_RIGHT_SHIFT", "BITWISE_AND",
    "BITWISE_OR", "BITWISE_XOR", "INTDIV", "LOGICAL_AND", "LOGICAL_LEFT_SHIFT", "LOGICAL_RIGHT_SHIFT", "LOGICAL_OR",
    "LOGICAL_XOR", "MAXIMUM", "MINIMUM", "MUL", "POW", "SUB", "TABLE", "ABS", "BITWISE_NOT", "CEIL", "CLZ", "COS",
    "EXP", "FLOOR", "LOG", "LOGICAL_NOT", "NEGATE", "RECIPROCAL", "RSQRT", "SIN", "SELECT", "EQUAL", "GREATER",
    "GREATER_EQUAL", "REDUCE_ALL", "REDUCE_ANY", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PRODUCT", "REDUCE_SUM",
    "CONCAT", "PAD", "RESHAPE", "REVERSE", "SLICE", "TILE", "TRANSPOSE", "GATHER", "SCATTER", "RESIZE", "CAST",
    "RESCALE", "CONST", "IDENTITY", "CUSTOM", "COND_IF", "WHILE_LOOP", "VARIABLE", "VARIABLE_WRITE",
    "VARIABLE_READ", "CONST_SHAPE"};

constexpr std::array<std::string_view, kDTypeCount> kDTypeNames = {
    "UNKNOWN", "BOOL", "INT4", "INT8", "INT16", "INT32", "INT48", "FP32", "FP16", "BF16", "SHAPE", "FP8E4M3", "FP8E5M2"};

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

template <typename T>
std::string list(const std::vector<T>& v) {
  return fmt::format("[{}]", fmt::join(v, ","));
}

std::string attr_text(const Attribute& attribute) {
  struct Visitor {
    std::string operator()(const NoAttr&) const { return ""; }
    std::string operator()(const ConvAttr& a) const {
      return fmt::format("pad={} stride={} dilation={} acc_type={}{}", list(a.pad), list(a.stride), list(a.dilation),
                         dtype_name(a.acc_type), a.local_bound ? " local_bound" : "");
    }
    std::string operator()(const TransposeConvAttr& a) const {
      return fmt::format("out_pad={} stride={} acc_type={}{}", list(a.out_pad), list(a.stride), dtype_name(a.acc_type),
                         a.local_bound ? " local_bound" : "");
    }
    std::string operator()(const PoolAttr& a) const {
      return fmt::format("kernel={} stride={} pad={} acc_type={} nan_mode={}", list(a.kernel), list(a.stride),
                         list(a.pad), dtype_name(a.acc_type), nan_mode_name(a.nan_mode));
    }
    std::string operator()(const AxisAttr& a) const {
      return a.nan_mode == NanMode::UNKNOWN ? fmt::format("axis={}", a.axis)
                                            : fmt::format("axis={} nan_mode={}", a.axis, nan_mode_name(a.nan_mode));
    }
    std::string operator()(const NanModeAttr& a) const { return fmt::format("nan_mode={}", nan_mode_name(a.nan_mode)); }
    std::string operator()(const ClampAttr& a) const {
      return fmt::format("min_val=0x{:02x} max_val=0x{:02x} nan_mode={}", fmt::join(a.min_val, ""),
                         fmt::join(a.max_val, ""), nan_mode_name(a.nan_mode));
    }
    std::string operator()(const RightShiftAttr& a) const { return fmt::format("round={}", a.round); }
    std::string operator()(const TransposeAttr& a) const { return fmt::format("perms={}", list(a.perms)); }
    std::string operator()(const ResizeAttr& a) const { return fmt::format("mode={}", resize_mode_name(a.mode)); }
    std::string operator()(const RescaleAttr& a) const {
      return fmt::format("scale32={} rounding_mode={} per_channel={} input_unsigned={} output_unsigned={}", a.scale32,
                         rounding_name(a.rounding_mode), a.per_channel, a.input_unsigned, a.output_unsigned);
    }
    std::string operator()(const FftAttr& a) const {
      return fmt::format("inverse={} local_bound={}", a.inverse, a.local_bound);
    }
    std::string operator()(const CustomAttr& a) const {
      return fmt::format("operator_name={} domain_name={} implementation_attrs={} bytes", a.operator_name,
                         a.domain_name, a.implementation_attrs.size());
    }
    std::string operator()(const GraphRefAttr& a) const { return fmt::format("graphs={},{}", a.first, a.second); }
  };
  return std::visit(Visitor{}, attribute);
}

template <typename T>
void put_le(std::vector<uint8_t>& out, T v, int bytes) {
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(u >> (8 * i)));
}

}  // namespace

std::string_view op_name(Op op) {
  const auto i = static_cast<uint32_t>(op);
  return i < kOpCount ? kOpNames[i] : std::string_view("OP_?");
}

std::string_view dtype_name(DType t) {
  const auto i = static_cast<uint32_t>(t);
  return i < kDTypeCount ? kDTypeNames[i] : std::string_view("DTYPE_?");
}

std::string_view rounding_name(RoundingMode m) {
  switch (m) {
    case RoundingMode::UNKNOWN: return "UNKNOWN";
    case RoundingMode::SINGLE_ROUND: return "SINGLE_ROUND";
    case RoundingMode::INEXACT_ROUND: return "INEXACT_ROUND";
    case RoundingMode::DOUBLE_ROUND: return "DOUBLE_ROUND";
  }
  return "ROUNDING_?";
}

std::string_view nan_mode_name(NanMode m) {
  switch (m) {
    case NanMode::UNKNOWN: return "UNKNOWN";
    case NanMode::PROPAGATE: return "PROPAGATE";
    case NanMode::IGNORE: return "IGNORE";
  }
  return "NAN_MODE_?";
}

std::string_view resize_mode_name(ResizeMode m) {
  switch (m) {
    case ResizeMode::UNKNOWN: return "UNKNOWN";
    case ResizeMode::NEAREST: return "NEAREST";
    case ResizeMode::BILINEAR: return "BILINEAR";
  }
  return "RESIZE_MODE_?";
}

Attribute default_attribute(Op op) {
  switch (op) {
    case Op::CONV2D: case Op::CONV3D: case Op::DEPTHWISE_CONV2D: return ConvAttr{};
    case Op::TRANSPOSE_CONV2D: return TransposeConvAttr{};
    case Op::AVG_POOL2D: case Op::MAX_POOL2D: return PoolAttr{};
    case Op::ARGMAX: case Op::REDUCE_ALL: case Op::REDUCE_ANY: case Op::REDUCE_MAX: case Op::REDUCE_MIN:
    case Op::REDUCE_PRODUCT: case Op::REDUCE_SUM: case Op::CONCAT: case Op::REVERSE: return AxisAttr{};
    case Op::MAXIMUM: case Op::MINIMUM: return NanModeAttr{};
    case Op::CLAMP: return ClampAttr{};
    case Op::ARITHMETIC_RIGHT_SHIFT: return RightShiftAttr{};
    case Op::TRANSPOSE: return TransposeAttr{};
    case Op::RESIZE: return ResizeAttr{};
    case Op::RESCALE: return RescaleAttr{};
    case Op::FFT2D: case Op::RFFT2D: return FftAttr{};
    case Op::CUSTOM: return CustomAttr{};
    case Op::COND_IF: case Op::WHILE_LOOP: return GraphRefAttr{};
    default: return NoAttr{};
  }
}

bool attribute_fits(Op op, const Attribute& attr) { return default_attribute(op).index() == attr.index(); }

// ---------------------------------------------------------------------------------------

const TosaTensor* TosaBasicBlock::find_tensor(std::string_view n) const {
  for (const auto& t : tensors)
    if (t.name == n) return &t;
  return nullptr;
}

const TosaShape* TosaBasicBlock::find_shape(std::string_view n) const {
  for (const auto& s : shapes)
    if (s.name == n) return &s;
  return nullptr;
}

TosaTensor& TosaBasicBlock::add_tensor(std::string n, DType type, std::vector<int32_t> shape) {
  if (find_tensor(n) || find_shape(n)) fail("TOSA block '{}': the name '{}' is already used", name, n);
  tensors.push_back(TosaTensor{std::move(n), std::move(shape), type, std::nullopt, false, false, std::nullopt});
  return tensors.back();
}

TosaTensor& TosaBasicBlock::add_const(std::string n, DType type, std::vector<int32_t> shape,
                                      std::span<const int64_t> values) {
  if (static_cast<int64_t>(values.size()) != element_count(shape))
    fail("TOSA constant '{}': {} values for shape [{}]", n, values.size(), fmt::join(shape, ","));
  auto data = pack_ints(type, values);
  add_op(Op::CONST, {}, {n});
  TosaTensor& t = add_tensor(std::move(n), type, std::move(shape));
  t.data = std::move(data);
  return t;
}

TosaTensor& TosaBasicBlock::add_const_f32(std::string n, std::vector<int32_t> shape, std::span<const float> values) {
  if (static_cast<int64_t>(values.size()) != element_count(shape))
    fail("TOSA constant '{}': {} values for shape [{}]", n, values.size(), fmt::join(shape, ","));
  add_op(Op::CONST, {}, {n});
  TosaTensor& t = add_tensor(std::move(n), DType::FP32, std::move(shape));
  t.data = pack_f32(values);
  return t;
}

TosaShape& TosaBasicBlock::add_const_shape(std::string n, std::span<const int64_t> values) {
  if (find_tensor(n) || find_shape(n)) fail("TOSA block '{}': the name '{}' is already used", name, n);
  add_op(Op::CONST_SHAPE, {}, {n});
  shapes.push_back(TosaShape{std::move(n), static_cast<uint32_t>(values.size()),
                             std::vector<int64_t>(values.begin(), values.end())});
  return shapes.back();
}

TosaOperator& TosaBasicBlock::add_op(Op op, std::vector<std::string> ins, std::vector<std::string> outs,
                                     std::optional<Attribute> attr) {
  Attribute a = attr ? std::move(*attr) : default_attribute(op);
  if (!attribute_fits(op, a)) fail("TOSA operator {}: the attribute does not belong to this operator", op_name(op));
  operators.push_back(TosaOperator{op, std::move(a), std::move(ins), std::move(outs), std::nullopt});
  return operators.back();
}

const TosaBasicBlock& TosaGraph::main_block() const {
  if (regions.empty() || regions[0].blocks.empty()) fail("TOSA graph has no region with a basic block");
  for (const auto& b : regions[0].blocks)
    if (b.name == "main") return b;
  return regions[0].blocks[0];
}

TosaGraph TosaGraph::from_block(TosaBasicBlock block) {
  TosaGraph g;
  g.regions.push_back(TosaRegion{"main", {std::move(block)}});
  return g;
}

// ---------------------------------------------------------------------------------------

size_t data_bytes(DType type, int64_t count) {
  const auto n = static_cast<size_t>(count);
  switch (type) {
    case DType::BOOL: case DType::INT8: case DType::FP8E4M3: case DType::FP8E5M2: return n;
    case DType::INT4: return (n + 1) / 2;
    case DType::INT16: case DType::FP16: case DType::BF16: return 2 * n;
    case DType::INT32: case DType::FP32: return 4 * n;
    case DType::INT48: return 6 * n;
    case DType::SHAPE: return 8 * n;
    default: fail("TOSA tensor type {} has no data layout", dtype_name(type));
  }
}

int64_t element_count(std::span<const int32_t> shape) {
  int64_t n = 1;
  for (int32_t d : shape) {
    if (d < 0) fail("TOSA shape has a negative dimension {}", d);
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / 8 / d)
      fail("TOSA shape [{}] has too many elements", fmt::join(shape, ","));
    n *= d;
  }
  return n;
}

std::vector<uint8_t> pack_ints(DType type, std::span<const int64_t> values) {
  int64_t lo = 0, hi = 0;
  int width = 0;
  switch (type) {
    case DType::BOOL: lo = 0, hi = 1, width = 1; break;
    case DType::INT4: lo = -7, hi = 7, width = 0; break;
    case DType::INT8: lo = INT8_MIN, hi = INT8_MAX, width = 1; break;
    case DType::INT16: lo = INT16_MIN, hi = INT16_MAX, width = 2; break;
    case DType::INT32: lo = INT32_MIN, hi = INT32_MAX, width = 4; break;
    case DType::INT48: lo = -(int64_t{1} << 47), hi = (int64_t{1} << 47) - 1, width = 6; break;
    case DType::SHAPE: lo = INT64_MIN, hi = INT64_MAX, width = 8; break;
    default: fail("TOSA: cannot pack integers as {}", dtype_name(type));
  }
  std::vector<uint8_t> out;
  out.reserve(data_bytes(type, static_cast<int64_t>(values.size())));
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t v = values[i];
    if (v < lo || v > hi) fail("TOSA: value {} (element {}) does not fit {}", v, i, dtype_name(type));
    if (type == DType::INT4) {
      const auto nibble = static_cast<uint8_t>(v & 0xf);
      if (i % 2 == 0) out.push_back(nibble);
      else out.back() |= static_cast<uint8_t>(nibble << 4);
    } else {
      put_le(out, v, width);
    }
  }
  return out;
}

std::vector<int64_t> unpack_ints(DType type, std::span<const uint8_t> bytes, int64_t count) {
  const size_t need = data_bytes(type, count);
  if (bytes.size() < need)
    fail("TOSA: {} {} values need {} bytes, the data has {}", count, dtype_name(type), need, bytes.size());
  std::vector<int64_t> out(static_cast<size_t>(count));
  const uint8_t* p = bytes.data();
  auto load = [&](size_t i, int width) {
    uint64_t u = 0;
    for (int b = 0; b < width; ++b) u |= static_cast<uint64_t>(p[i * width + b]) << (8 * b);
    const int shift = 64 - 8 * width;  // sign-extend from the top bit of the stored width
    return shift == 0 ? static_cast<int64_t>(u) : static_cast<int64_t>(u << shift) >> shift;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    switch (type) {
      case DType::BOOL: out[i] = p[i] != 0; break;
      case DType::INT4: {
        const int nibble = (p[i / 2] >> (4 * (i % 2))) & 0xf;
        out[i] = nibble >= 8 ? nibble - 16 : nibble;
        break;
      }
      case DType::INT8: out[i] = load(i, 1); break;
      case DType::INT16: out[i] = load(i, 2); break;
      case DType::INT32: out[i] = load(i, 4); break;
      case DType::INT48: out[i] = load(i, 6); break;
      case DType::SHAPE: out[i] = load(i, 8); break;
      default: fail("TOSA: cannot unpack {} as integers", dtype_name(type));
    }
  }
  return out;
}

std::vector<uint8_t> pack_f32(std::span<const float> values) {
  std::vector<uint8_t> out;
  out.reserve(4 * values.size());
  for (float f : values) put_le(out, std::bit_cast<uint32_t>(f), 4);
  return out;
}

std::vector<float> unpack_f32(std::span<const uint8_t> bytes, int64_t count) {
  const size_t need = data_bytes(DType::FP32, count);
  if (bytes.size() < need) fail("TOSA: {} FP32 values need {} bytes, the data has {}", count, need, bytes.size());
  std::vector<float> out(static_cast<size_t>(count));
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b) u |= static_cast<uint32_t>(bytes[4 * i + b]) << (8 * b);
    out[i] = std::bit_cast<float>(u);
  }
  return out;
}

// ---------------------------------------------------------------------------------------

std::string to_text(const TosaGraph& graph) {
  std::string out = fmt::format("TOSA {}.{}.{}{}\n", graph.version.major, graph.version.minor, graph.version.patch,
                                graph.version.draft ? " (draft)" : "");
  for (const auto& region : graph.regions) {
    out += fmt::format("region {}\n", region.name);
    for (const auto& block : region.blocks) {
      out += fmt::format("  block {}: {} operators, {} tensors, {} shapes\n", block.name, block.operators.size(),
                         block.tensors.size(), block.shapes.size());
      out += fmt::format("    inputs:  {}\n", join(block.inputs));
      out += fmt::format("    outputs: {}\n", join(block.outputs));
      for (const auto& t : block.tensors) {
        std::string extra;
        if (t.data) {
          const int64_t n = element_count(t.shape);
          std::string preview;
          if (t.type == DType::FP32) {
            const auto v = unpack_f32(*t.data, std::min<int64_t>(n, 8));
            preview = fmt::format("{}", fmt::join(v, ", "));
          } else if (t.type != DType::FP16 && t.type != DType::BF16 && t.type != DType::FP8E4M3 &&
                     t.type != DType::FP8E5M2 && t.type != DType::UNKNOWN) {
            const auto v = unpack_ints(t.type, *t.data, std::min<int64_t>(n, 8));
            preview = fmt::format("{}", fmt::join(v, ", "));
          }
          extra = fmt::format(" const {} bytes [{}{}]", t.data->size(), preview, n > 8 ? ", ..." : "");
        }
        if (t.variable) extra += " variable";
        out += fmt::format("    tensor {} {} [{}]{}\n", t.name, dtype_name(t.type), fmt::join(t.shape, ","), extra);
      }
      for (const auto& s : block.shapes) {
        out += fmt::format("    shape {} rank {}", s.name, s.rank);
        if (s.values) out += fmt::format(" = [{}]", fmt::join(*s.values, ","));
        out += "\n";
      }
      for (size_t i = 0; i < block.operators.size(); ++i) {
        const auto& op = block.operators[i];
        const std::string attrs = attr_text(op.attribute);
        out += fmt::format("    #{} {} ({}) -> ({}){}{}\n", i, op_name(op.op), join(op.inputs), join(op.outputs),
                           attrs.empty() ? "" : "  ", attrs);
      }
    }
  }
  return out;
}

}  // namespace l2n::tosa
