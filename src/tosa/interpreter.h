// The TOSA integer interpreter: executes the main block of a TosaGraph bit-exactly by the
// TOSA 1.0 pseudocode, with the integer semantics of quant/integer_ops.h (the single home of
// RESCALE, TABLE, MUL, accumulators).
//
// Contract:
//  * Values are l2n::Tensor with the storage type of their TOSA type (value_storage): BOOL
//    as U8 (0/1), INT8 I8, INT16 I16, INT32 I32, INT48 and SHAPE as I64 (INT48 values
//    within ±2^47), FP32 F32. INT4 constants are widened to I8 when loaded.
//  * Supported: CONST, CONST_SHAPE, IDENTITY, CONV2D (i8×i8→i32, i16×i8→i48, fp32), MATMUL
//    (i8→i32, i16→i48, fp32), RESCALE (all attributes; 32/16-bit multipliers, per channel,
//    unsigned in/out), TABLE (i8, i16→i32), ADD/SUB (i32, fp32), MUL (i8/i16/i32 with shift,
//    fp32), ARITHMETIC_RIGHT_SHIFT, CLAMP (i8/i16/fp32), MAXIMUM/MINIMUM (i32/fp32),
//    REDUCE_SUM (i32/fp32), REDUCE_MAX (i8/i16/i32/fp32), RESHAPE, TRANSPOSE, SLICE, CONCAT,
//    GATHER, SCATTER, CAST (bool/int↔int), plus EXP/RSQRT/RECIPROCAL/SIGMOID/TANH/NEGATE/ABS
//    on fp32. Anything else is refused when the Interpreter is built.
//  * Every ERROR_IF of an operator, every REQUIRE violation and every mismatch between a
//    computed result and the tensor the file declares (type or shape) throws l2n::Error
//    naming the operator (index, op, first output). Nothing is clamped silently.
//  * Construction validates the block (names resolve, each value is produced once before use,
//    ops are supported) and decodes constants once; run() may be called many times and is
//    const (safe from several threads). run() frees each intermediate value after its last
//    reader, so a window needs the memory of its live values, not of all of them. An int16
//    MATMUL reads the KV cache through a TRANSPOSE's strides instead of a transposed copy
//    when nothing else reads that copy (the same integers, the same checks).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "tosa/tosa_graph.h"

namespace l2n::tosa {

// The l2n::DType that holds values of `type`; throws for types the interpreter cannot hold.
l2n::DType value_storage(DType type);

struct TosaValue {
  DType type = DType::UNKNOWN;
  Tensor tensor;  // dtype value_storage(type)
};
using ValueMap = std::map<std::string, TosaValue>;

struct RescaleCache;  // interpreter.cpp: a RESCALE's checked parameters, kept across runs

// The type and shape an operator's output is declared with, compact (shapes up to rank 8).
struct DeclaredOutput {
  DType type = DType::UNKNOWN;
  bool unranked = false;
  bool compact = false;  // false: the rank is above 8 and only the TosaTensor holds the shape
  uint8_t rank = 0;
  std::array<int32_t, 8> dims{};
};

class Interpreter {
 public:
  explicit Interpreter(TosaGraph graph);

  const TosaBasicBlock& block() const;
  // Graph inputs: each must be present with the declared type and shape (checked). An input
  // whose buffer the caller hands over (moved in, shared with no one) may be updated in place
  // by the operator that reads it last (SCATTER into a KV cache); a buffer the caller still
  // shares is never written.
  ValueMap run(ValueMap inputs) const;

 private:
  // Where run() keeps each operator's operands and result: slots of one value table, so
  // that no operator looks a name up; `release_after` lists the values it reads last.
  struct OperatorSlots {
    std::vector<uint32_t> inputs;
    uint32_t output = 0;
    size_t declared = 0;  // index of its declared output in block().tensors
    // That tensor's type and shape, kept here: reading them from the TosaTensor to check each
    // result missed the cache on most operators of a decode step, whose weights evict all else.
    DeclaredOutput declared_output;
    std::vector<uint32_t> release_after;
    TosaValue constant;  // the value of a CONST / CONST_SHAPE, decoded once
    // An int16 MATMUL whose B is the result of a rank-3 TRANSPOSE read by nothing else reads
    // B in place from that transpose's input (b_transpose: the TRANSPOSE's index), and the
    // TRANSPOSE is skipped: decode attention then reads its KV cache without copying it.
    int64_t b_transpose = -1;
    bool skipped = false;
    // A SCATTER that is the last reader of its values_in (and reads it once) may write into
    // that buffer when no one else holds it.
    bool may_take_first_input = false;
    // A RESCALE whose multiplier, shift and zero points are constants checks them and lays
    // them out once, on its first run, instead of on every run.
    std::shared_ptr<RescaleCache> rescale_cache;
  };

  void read_transposes_in_place(const std::function<const TosaTensor*(const std::string&)>& find_tensor);

  TosaGraph graph_;
  std::vector<OperatorSlots> operators_;
  std::vector<uint32_t> input_slots_;   // of block().inputs, in order
  std::vector<uint32_t> output_slots_;  // of block().outputs, in order
  size_t slot_count_ = 0;
};

// Decodes a constant tensor's data into a value (INT4 widened to INT8).
TosaValue decode_constant(const TosaTensor& tensor);

}  // namespace l2n::tosa
