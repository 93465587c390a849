#include "exec/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <mutex>

namespace l2n::exec::detail {
namespace {

// Below this many multiply-adds one thread is faster than waking the others.
constexpr int64_t kParallelWork = 1 << 18;

void single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// The BLAS entry points per element type.
void blas_gemv(CBLAS_TRANSPOSE t, int m, int n, const float* a, int lda, const float* x, float* y) {
  cblas_sgemv(CblasRowMajor, t, m, n, 1.0f, a, lda, x, 1, 0.0f, y, 1);
}
void blas_gemv(CBLAS_TRANSPOSE t, int m, int n, const double* a, int lda, const double* x, double* y) {
  cblas_dgemv(CblasRowMajor, t, m, n, 1.0, a, lda, x, 1, 0.0, y, 1);
}
void blas_gemm(CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c,
               int ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void blas_gemm(CBLAS_TRANSPOSE tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb, double* c,
               int ldc) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

// One block: rows [r0, r1) and columns [c0, c1) of c.
template <typename T>
void gemm_block(int64_t r0, int64_t r1, int64_t c0, int64_t c1, int64_t n, int64_t k, const T* a, const T* b,
                bool b_transposed, int64_t ldb_elements, T* c) {
  const int rows = static_cast<int>(r1 - r0), cols = static_cast<int>(c1 - c0), depth = static_cast<int>(k);
  if (rows <= 0 || cols <= 0) return;
  const T* a_block = a + r0 * k;
  T* c_block = c + r0 * n + c0;
  const T* b_block = b_transposed ? b + c0 * ldb_elements : b + c0;
  const int ldb = static_cast<int>(ldb_elements);
  if (rows == 1) {
    // OpenBLAS's gemm does not forward a single row to the faster gemv. gemv computes
    // y = 0·y + A·x, and a scal by 0 may keep a NaN in y: the output can be uninitialised
    // memory (Tensor::uninitialized), so it is cleared first.
    std::fill_n(c_block, cols, T{0});
    if (b_transposed) {
      blas_gemv(CblasNoTrans, cols, depth, b_block, ldb, a_block, c_block);
    } else {
      blas_gemv(CblasTrans, depth, cols, b_block, ldb, a_block, c_block);
    }
    return;
  }
  blas_gemm(b_transposed ? CblasTrans : CblasNoTrans, rows, cols, depth, a_block, depth, b_block, ldb, c_block,
            static_cast<int>(n));
}

template <typename T>
void gemm_any(int64_t batch, int64_t m, int64_t n, int64_t k, const T* a, const T* b, const StridedB& layout, T* c) {
  const bool b_transposed = layout.transposed;
  single_threaded_blas();
  const int64_t threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || batch * m * n * k < kParallelWork) {
    for (int64_t i = 0; i < batch; ++i)
      gemm_block(0, m, 0, n, n, k, a + i * m * k, b + i * layout.batch_stride, b_transposed, layout.ld, c + i * m * n);
    return;
  }
  // Each matrix is cut into blocks: by rows when there are enough of them (prefill), else by
  // columns (decode); tasks are (matrix, block) pairs. Two tasks per thread, handed out
  // dynamically: with exactly one per thread, a thread that the (shared) machine deschedules
  // makes the others wait at the barrier for its whole share; smaller blocks would repack
  // the weight for each sgemm call once too often.
  const int64_t want = batch >= 2 * threads ? 1 : (2 * threads + batch - 1) / batch;
  const bool split_rows = m >= 4 * want;
  const int64_t extent = split_rows ? m : n;
  const int64_t align = split_rows ? 1 : 16;
  const int64_t chunk = ((extent + want - 1) / want + align - 1) / align * align;
  const int64_t splits = (extent + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast<int>(threads))
  for (int64_t task = 0; task < batch * splits; ++task) {
    const int64_t i = task / splits, part = task % splits;
    const int64_t begin = std::min(extent, part * chunk), end = std::min(extent, begin + chunk);
    const T* ai = a + i * m * k;
    const T* bi = b + i * layout.batch_stride;
    T* ci = c + i * m * n;
    if (split_rows) {
      gemm_block(begin, end, 0, n, n, k, ai, bi, b_transposed, layout.ld, ci);
    } else {
      gemm_block(0, m, begin, end, n, k, ai, bi, b_transposed, layout.ld, ci);
    }
  }
}

}  // namespace

StridedB StridedB::dense(int64_t k, int64_t n, bool transposed) { return {transposed, transposed ? k : n, k * n}; }

void gemm(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, const float* b, bool b_transposed,
          float* c) {
  gemm_any(batch, m, n, k, a, b, StridedB::dense(k, n, b_transposed), c);
}

void gemm(int64_t batch, int64_t m, int64_t n, int64_t k, const double* a, const double* b, bool b_transposed,
          double* c) {
  gemm_any(batch, m, n, k, a, b, StridedB::dense(k, n, b_transposed), c);
}

void gemm(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, const float* b, const StridedB& layout,
          float* c) {
  gemm_any(batch, m, n, k, a, b, layout, c);
}

}  // namespace l2n::exec::detail
