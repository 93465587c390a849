// Float and double GEMM through OpenBLAS, parallelized with OpenMP: the exec stage's
// matmuls, and quant's exact int16 MATMUL (integers below 2^53 are exact in double).
//
// All of the executor's parallelism is OpenMP: OpenBLAS is switched to one thread on first
// use and each OpenMP thread calls it on its own block of the output. Two thread pools
// (OpenMP's and OpenBLAS's pthreads) spinning on the same cores cost several times the
// actual work on small machines.
#pragma once

#include <cstdint>

namespace l2n::exec::detail {

// For each of `batch` contiguous matrices: row-major c[m, n] = a[m, k] · b[k, n], or a · bᵀ
// with b stored [n, k] when b_transposed. One parallel region covers the whole batch.
void gemm(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, const float* b, bool b_transposed,
          float* c);

// Where the b operands of a batched GEMM are: matrix i starts at b + i·batch_stride, its rows
// (of the [k, n] matrix, or of the [n, k] one when transposed) are `ld` elements apart, the
// elements within a row contiguous. This lets a matmul read a permuted view of a tensor,
// e.g. one head's rows of a [S, heads, hd] KV cache, without materialising the permutation.
struct StridedB {
  bool transposed = false;
  int64_t ld = 0;
  int64_t batch_stride = 0;
  static StridedB dense(int64_t k, int64_t n, bool transposed);
};
void gemm(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, const float* b, const StridedB& layout,
          float* c);
void gemm(int64_t batch, int64_t m, int64_t n, int64_t k, const double* a, const double* b, bool b_transposed,
          double* c);

}  // namespace l2n::exec::detail
