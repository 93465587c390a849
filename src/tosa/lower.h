// Lowering of one delegate (an integer graph::Graph extracted by the partitioner) to a TOSA
// 1.0 graph, operator by operator.
//
// Contract (facts: executorch-arm-llm.md §5, tosa-1.0-facts.md):
//  * Input nodes become block inputs and graph outputs block outputs, under the same names
//    and in the same order, with their graph shapes; values keep their node names.
//  * Each integer op maps to its TOSA operator with TOSA's operand order and zero points as
//    tensors: IntLinear → CONV2D 1×1 on [1, rows, 1, in] NHWC with an OHWI weight (acc
//    INT32 for int8 input, INT48 for int16); IntMatMul → MATMUL on rank 3; Rescale →
//    RESCALE; Table → TABLE; Add/Sub/Mul → ADD/SUB/MUL (shift operand); Neg → NEGATE;
//    Maximum/Minimum → MAXIMUM/MINIMUM;
//    ReduceSum/ReduceMax → REDUCE_SUM/REDUCE_MAX; Reshape/Transpose/Slice/Concat → the same
//    (shapes through CONST_SHAPE); Gather → GATHER on [1, N, D]; CacheUpdate → SCATTER at rows
//    pos.. of [1, S, D]. RESHAPEs are added only where TOSA needs another rank.
//  * The result computes exactly what the integer kernels compute on the graph (the
//    interpreter and the kernels share quant/integer_ops.h); tests check it bit for bit.
//  * A node that is not an integer op of this list throws "internal: ..." (the partitioner
//    must not have delegated it).
#pragma once

#include "graph/graph.h"
#include "tosa/tosa_graph.h"

namespace l2n::tosa {

TosaGraph lower_to_tosa(const graph::Graph& delegate);

// The TOSA type of an integer graph dtype (I64 stands for int48 in integer graphs).
DType tosa_type_of(l2n::DType dtype);

}  // namespace l2n::tosa
