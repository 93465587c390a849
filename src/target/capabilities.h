// What a target's TOSA spec lets the partitioner delegate: the partition and quantization
// stages ask these questions instead of re-deriving them from spec strings.
#pragma once

#include "target/tosa_spec.h"

namespace l2n::target {

struct TargetCapabilities {
  bool integer = false;         // INT profile: quantized int8 ops
  bool floating_point = false;  // FP profile: float ops can stay in the delegate
  bool int16 = false;           // 16-bit activations (16x8)
  bool int4 = false;            // 4-bit weights
  bool bf16 = false;
  bool fp8 = false;             // either fp8 format
  bool control_flow = false;
  bool variables = false;
  bool int64 = false;
  bool symbolic_shapes = false;  // the 1.1 "shape" extension; without it shapes must be static
  bool level_8k = false;
  // Ethos-U55/U65 restrictions (the u55 subset): no GATHER, SCATTER, SELECT, comparisons,
  // bool tensors or int16 MATMUL.
  bool u55_subset = false;

  bool int16_matmul() const { return int16 && !u55_subset; }
  bool gather_scatter() const { return !u55_subset; }
  bool select_and_comparisons() const { return !u55_subset; }
  bool bool_tensors() const { return !u55_subset; }
};

TargetCapabilities capabilities_of(const TosaSpec& spec);

}  // namespace l2n::target
