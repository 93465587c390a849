// The in-memory TOSA 1.0 graph: what a .tosa file holds, as plain value types.
//
// Contract (facts: ../shared/docs/reference/tosa-1.0-flatbuffer-layout.md):
//  * The enums carry the TOSA 1.0 wire values (Op::CONV2D == 3, DType::INT48 == 6, ...).
//  * Every operator carries the attribute alternative of its op (attribute_kind(op)); the
//    writer refuses a mismatch, the reader refuses a file whose attribute type differs from
//    its op, so union code == op value on the wire as Vela and the reference model demand.
//  * Tensor data is kept exactly as the wire packs it (little-endian, INT48 in 6 bytes,
//    INT4 two per byte, SHAPE/TosaShape values as int64) without the trailing padding;
//    pack_*/unpack_* convert. A tensor without data is not a constant.
//  * Names are the links: operator inputs/outputs name a tensor or a shape of the block.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace l2n::tosa {

enum class DType : uint32_t {
  UNKNOWN = 0, BOOL = 1, INT4 = 2, INT8 = 3, INT16 = 4, INT32 = 5, INT48 = 6,
  FP32 = 7, FP16 = 8, BF16 = 9, SHAPE = 10, FP8E4M3 = 11, FP8E5M2 = 12,
};
constexpr uint32_t kDTypeCount = 13;

enum class Op : uint32_t {
  UNKNOWN = 0, ARGMAX, AVG_POOL2D, CONV2D, CONV3D, DEPTHWISE_CONV2D, FFT2D, MATMUL, MAX_POOL2D, RFFT2D,
  TRANSPOSE_CONV2D, CLAMP, ERF, SIGMOID, TANH, ADD, ARITHMETIC_RIGHT_SHIFT, BITWISE_AND, BITWISE_OR,
  BITWISE_XOR, INTDIV, LOGICAL_AND, LOGICAL_LEFT_SHIFT, LOGICAL_RIGHT_SHIFT, LOGICAL_OR, LOGICAL_XOR,
  MAXIMUM, MINIMUM, MUL, POW, SUB, TABLE, ABS, BITWISE_NOT, CEIL, CLZ, COS, EXP, FLOOR, LOG, LOGICAL_NOT,
  NEGATE, RECIPROCAL, RSQRT, SIN, SELECT, EQUAL, GREATER, GREATER_EQUAL, REDUCE_ALL, REDUCE_ANY,
  REDUCE_MAX, REDUCE_MIN, REDUCE_PRODUCT, REDUCE_SUM, CONCAT, PAD, RESHAPE, REVERSE, SLICE, TILE,
  TRANSPOSE, GATHER, SCATTER, RESIZE, CAST, RESCALE, CONST, IDENTITY, CUSTOM, COND_IF, WHILE_LOOP,
  VARIABLE, VARIABLE_WRITE, VARIABLE_READ, CONST_SHAPE,
};
constexpr uint32_t kOpCount = 76;
static_assert(static_cast<uint32_t>(Op::CONV2D) == 3 && static_cast<uint32_t>(Op::RESCALE) == 66 &&
              static_cast<uint32_t>(Op::CONST_SHAPE) == 75);

enum class RoundingMode : uint32_t { UNKNOWN = 0, SINGLE_ROUND = 1, INEXACT_ROUND = 2, DOUBLE_ROUND = 3 };
enum class NanMode : uint32_t { UNKNOWN = 0, PROPAGATE = 1, IGNORE = 2 };
enum class ResizeMode : uint32_t { UNKNOWN = 0, NEAREST = 1, BILINEAR = 2 };

std::string_view op_name(Op op);        // "CONV2D"; "OP_<n>" for values outside the enum
std::string_view dtype_name(DType t);   // "INT48"
std::string_view rounding_name(RoundingMode m);
std::string_view nan_mode_name(NanMode m);
std::string_view resize_mode_name(ResizeMode m);

// ---------------------------------------------------------------------------------------
// Attributes: one alternative per attribute-table layout; attribute_kind(op) says which.

struct NoAttr {  // ops whose attribute table is empty (ADD, MATMUL, TABLE, CONST, ...)
  bool operator==(const NoAttr&) const = default;
};
struct ConvAttr {  // CONV2D, CONV3D, DEPTHWISE_CONV2D
  std::vector<int32_t> pad, stride, dilation;  // CONV2D: [top,bottom,left,right], [y,x], [y,x]
  bool local_bound = false;
  DType acc_type = DType::UNKNOWN;
  bool operator==(const ConvAttr&) const = default;
};
struct TransposeConvAttr {  // TRANSPOSE_CONV2D
  std::vector<int32_t> out_pad, stride;
  bool local_bound = false;
  DType acc_type = DType::UNKNOWN;
  bool operator==(const TransposeConvAttr&) const = default;
};
struct PoolAttr {  // AVG_POOL2D (uses acc_type), MAX_POOL2D (uses nan_mode)
  std::vector<int32_t> kernel, stride, pad;
  DType acc_type = DType::UNKNOWN;
  NanMode nan_mode = NanMode::UNKNOWN;
  bool operator==(const PoolAttr&) const = default;
};
struct AxisAttr {  // ARGMAX, REDUCE_*, CONCAT, REVERSE; nan_mode only for ARGMAX/REDUCE_MAX/REDUCE_MIN
  int32_t axis = 0;
  NanMode nan_mode = NanMode::UNKNOWN;
  bool operator==(const AxisAttr&) const = default;
};
struct NanModeAttr {  // MAXIMUM, MINIMUM
  NanMode nan_mode = NanMode::UNKNOWN;
  bool operator==(const NanModeAttr&) const = default;
};
struct ClampAttr {  // raw little-endian bytes of one value of the input type
  std::vector<uint8_t> min_val, max_val;
  NanMode nan_mode = NanMode::UNKNOWN;
  bool operator==(const ClampAttr&) const = default;
};
struct RightShiftAttr {  // ARITHMETIC_RIGHT_SHIFT
  bool round = false;
  bool operator==(const RightShiftAttr&) const = default;
};
struct TransposeAttr {
  std::vector<int32_t> perms;
  bool operator==(const TransposeAttr&) const = default;
};
struct ResizeAttr {
  ResizeMode mode = ResizeMode::UNKNOWN;
  bool operator==(const ResizeAttr&) const = default;
};
struct RescaleAttr {
  bool scale32 = true;
  RoundingMode rounding_mode = RoundingMode::SINGLE_ROUND;
  bool per_channel = false;
  bool input_unsigned = false;
  bool output_unsigned = false;
  bool operator==(const RescaleAttr&) const = default;
};
struct FftAttr {  // FFT2D (inverse, local_bound), RFFT2D (local_bound only)
  bool inverse = false;
  bool local_bound = false;
  bool operator==(const FftAttr&) const = default;
};
struct CustomAttr {
  std::string operator_name, domain_name;
  std::vector<uint8_t> implementation_attrs;
  bool operator==(const CustomAttr&) const = default;
};
struct GraphRefAttr {  // COND_IF: then/else graph; WHILE_LOOP: cond/body graph
  std::string first, second;
  bool operator==(const GraphRefAttr&) const = default;
};

using Attribute = std::variant<NoAttr, ConvAttr, TransposeConvAttr, PoolAttr, AxisAttr, NanModeAttr, ClampAttr,
                               RightShiftAttr, TransposeAttr, ResizeAttr, RescaleAttr, FftAttr, CustomAttr,
                               GraphRefAttr>;

// The alternative of `op` with default values (UNKNOWN enums, empty vectors).
Attribute default_attribute(Op op);
// True when `attr` holds the alternative default_attribute(op) holds.
bool attribute_fits(Op op, const Attribute& attr);

// ---------------------------------------------------------------------------------------
// Graph

struct TosaTensor {
  std::string name;
  std::vector<int32_t> shape;
  DType type = DType::UNKNOWN;
  std::optional<std::vector<uint8_t>> data;  // constants only, unpadded wire bytes
  bool variable = false;
  bool is_unranked = false;
  std::optional<std::string> variable_name;
  bool operator==(const TosaTensor&) const = default;
};

struct TosaShape {  // a shape_t value; CONST_SHAPE's output carries its values
  std::string name;
  uint32_t rank = 0;                           // number of values
  std::optional<std::vector<int64_t>> values;  // rank values when constant
  bool operator==(const TosaShape&) const = default;
};

struct TosaOperator {
  Op op = Op::UNKNOWN;
  Attribute attribute;
  std::vector<std::string> inputs;   // in the operand order of the spec
  std::vector<std::string> outputs;
  std::optional<std::string> location;
  bool operator==(const TosaOperator&) const = default;
};

struct TosaBasicBlock {
  std::string name = "main";
  std::vector<TosaOperator> operators;  // topological order
  std::vector<TosaTensor> tensors;
  std::vector<std::string> inputs, outputs;
  std::vector<TosaShape> shapes;

  const TosaTensor* find_tensor(std::string_view name) const;
  const TosaShape* find_shape(std::string_view name) const;

  // Building helpers (names must be new; they throw l2n::Error on a duplicate).
  TosaTensor& add_tensor(std::string name, DType type, std::vector<int32_t> shape);
  // A CONST operator and its tensor; values are packed with pack_ints.
  TosaTensor& add_const(std::string name, DType type, std::vector<int32_t> shape, std::span<const int64_t> values);
  TosaTensor& add_const_f32(std::string name, std::vector<int32_t> shape, std::span<const float> values);
  // A CONST_SHAPE operator and its TosaShape.
  TosaShape& add_const_shape(std::string name, std::span<const int64_t> values);
  // An operator with default_attribute(op) unless `attr` is given.
  TosaOperator& add_op(Op op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                       std::optional<Attribute> attr = std::nullopt);

  bool operator==(const TosaBasicBlock&) const = default;
};

struct TosaRegion {
  std::string name = "main";
  std::vector<TosaBasicBlock> blocks;
  bool operator==(const TosaRegion&) const = default;
};

struct TosaVersion {
  int32_t major = 1, minor = 0, patch = 0;
  bool draft = false;
  bool operator==(const TosaVersion&) const = default;
};

struct TosaGraph {
  TosaVersion version;
  std::vector<TosaRegion> regions;

  // regions[0].blocks named "main" (else blocks[0]); throws l2n::Error when there is none.
  const TosaBasicBlock& main_block() const;
  // A graph with one region "main" holding `block`.
  static TosaGraph from_block(TosaBasicBlock block);
  bool operator==(const TosaGraph&) const = default;
};

// ---------------------------------------------------------------------------------------
// Data packing (layout §5)

// Bytes that `count` elements of `type` occupy on the wire (INT4: ceil(count/2)); throws for
// UNKNOWN and for types whose width is unknown.
size_t data_bytes(DType type, int64_t count);
// Product of dims (1 for rank 0); throws l2n::Error on negative dims or overflow.
int64_t element_count(std::span<const int32_t> shape);

// Integer-like types (BOOL, INT4, INT8, INT16, INT32, INT48, SHAPE): each value must fit the
// type (BOOL: 0/1; INT4: -7..7), else l2n::Error.
std::vector<uint8_t> pack_ints(DType type, std::span<const int64_t> values);
std::vector<int64_t> unpack_ints(DType type, std::span<const uint8_t> bytes, int64_t count);
std::vector<uint8_t> pack_f32(std::span<const float> values);
std::vector<float> unpack_f32(std::span<const uint8_t> bytes, int64_t count);

// A readable listing of the graph (one line per tensor, shape and operator; constants are
// summarised, not printed in full).
std::string to_text(const TosaGraph& graph);

}  // namespace l2n::tosa
