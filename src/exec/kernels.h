// FP32 reference kernels, one function per graph op (see graph::OpKind for the semantics).
//
// Contract: every kernel returns a new tensor and never writes to its operands. Shapes
// are checked ("internal: ..." errors; the graph already guarantees them), data-dependent
// conditions (a gather index or cache position out of range) throw l2n::Error saying so.
// `*_reference` kernels are plain loops kept as the oracle; linear() and matmul() are the
// same computations through OpenBLAS, equal to the reference within float rounding.
// Loops and GEMMs run on the OpenMP threads (omp_set_num_threads / OMP_NUM_THREADS).
// Reductions accumulate in double. exp (also inside silu and softmax) is a vectorizable
// polynomial within 2e-7 relative of std::exp (fast_exp.h).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace l2n::exec {

// linear.cpp: x [..., in], w [out, in], bias [out] or nullptr -> [..., out]
Tensor linear_reference(const Tensor& x, const Tensor& w, const Tensor* bias);
Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias);

// matmul.cpp: a [B..., M, K], b [B..., K, N] -> [B..., M, N]
Tensor matmul_reference(const Tensor& a, const Tensor& b);
Tensor matmul(const Tensor& a, const Tensor& b);
// matmul(a, transpose(x, perm)) without materialising the transpose, for the permutations of
// a 3-D x = [S, H, D] that attention applies to its KV cache: {1, 2, 0} (b = [H, D, S], e.g.
// Kᵀ) and {1, 0, 2} (b = [H, S, D], e.g. V). Same values as the two-step form; whether a
// permutation qualifies is matmul_permuted_b_supported.
bool matmul_permuted_b_supported(const Shape& x_shape, const std::vector<int64_t>& perm);
Tensor matmul_permuted_b(const Tensor& a, const Tensor& x, const std::vector<int64_t>& perm);

// elementwise.cpp: binary ops broadcast numpy-style
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor reciprocal(const Tensor& x);

// reduce.cpp: reduce over one axis, keeping it with size 1
Tensor reduce_sum(const Tensor& x, int64_t axis);
Tensor reduce_mean(const Tensor& x, int64_t axis);
Tensor reduce_max(const Tensor& x, int64_t axis);

// softmax.cpp: over the last axis, max-subtracted
Tensor softmax(const Tensor& x);

// data_movement.cpp: any dtype
Tensor reshape(const Tensor& x, const Shape& shape);  // shares x's buffer
Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm);
Tensor slice(const Tensor& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& size);
Tensor concat(const std::vector<Tensor>& parts, int64_t axis);
Tensor gather(const Tensor& table, const Tensor& indices);  // indices i32
Tensor cache_update(const Tensor& cache, const Tensor& rows, const Tensor& pos);  // pos i32[1]
// The same, writing the rows into `cache` itself (its holder's buffer, shared with no one).
Tensor cache_update_in_place(Tensor cache, const Tensor& rows, const Tensor& pos);

}  // namespace l2n::exec
