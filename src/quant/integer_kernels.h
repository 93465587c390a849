// Host kernels for the integer graph ops (graph::OpKind Quantize .. IntMatMul, and the
// integer forms of Add/Sub/Mul/Neg/ReduceSum/ReduceMax), registered into the executor
// through exec::ExecOptions::extra_kernels.
//
// Contract: each kernel computes, element by element, the TOSA 1.0 operator it stands for,
// by the functions of quant/integer_ops.h (the one definition of the integer semantics) or
// the whole-tensor kernels of integer_gemm.h / integer_elementwise.h, which are tested to be
// bit-exact to them and report the same REQUIRE failures: no float arithmetic except in Quantize/Dequantize, which are the CPU
// boundary of a quantized island (qparams.h quantize_value/dequantize_value). Results are
// bit-exact and independent of the thread count (every element is computed on its own; no
// reduction is split across threads). A TOSA REQUIRE that fails throws "internal: ...".
#pragma once

#include <map>

#include "exec/executor.h"
#include "graph/graph.h"

namespace l2n::quant {

// The kernels of every integer op, keyed by op kind, ready for ExecOptions::extra_kernels.
const std::map<graph::OpKind, exec::Kernel>& integer_kernels();

// ExecOptions with the integer kernels registered.
exec::ExecOptions integer_exec_options(int threads = 0);

}  // namespace l2n::quant
