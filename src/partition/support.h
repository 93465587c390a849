// Which graph nodes a target can run inside a delegate, and why not when it cannot.
//
// Contract: check_support() looks at one node of a converted (quantized) graph and the
// target's capabilities and answers {supported, reason}. The rules are data in one table
// (support.cpp), one row per op kind, each refusal carrying the reason the partition report
// prints. Input and Constant nodes are not operators: they are never "supported" (constants
// travel with the delegate that reads them; inputs come from the caller).
//
// What is delegated: integer operators of the TOSA INT profile (facts:
// executorch-arm-llm.md §4). Float operators and the Quantize/Dequantize boundary stay on
// the CPU for every target: llm2npu lowers the INT profile only (a VGF or "+FP" spec does
// not change that yet, and the report says so).
#pragma once

#include <string>

#include "graph/graph.h"
#include "target/capabilities.h"

namespace l2n::partition {

struct OpSupport {
  bool supported = false;
  std::string reason;  // empty when supported
};

OpSupport check_support(const graph::Graph& graph, const graph::Node& node, const target::TargetCapabilities& caps);

// True for ops that lower to nothing but a change of view (RESHAPE/TRANSPOSE/SLICE): a
// delegate made only of these is refused, as upstream refuses "empty" partitions.
bool is_view_op(graph::OpKind op);

}  // namespace l2n::partition
