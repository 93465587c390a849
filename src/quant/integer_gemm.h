// Fast exact integer GEMM / batched MATMUL: the CONV2D (1x1) and MATMUL inner products of
// quant/integer_ops.h (dot_i8, dot_i16_i8, dot_i16_i16) over whole matrices.
//
// Contract:
//  * Every output element equals, bit for bit, the per-element reference in integer_ops.h
//    (the oracle): the same accumulator type, the same TOSA REQUIREs. Before the fast loops
//    run, an exact bound (n·max|a − a_zp|·max|b − b_zp| within the accumulator) proves that
//    no partial sum can overflow, so no REQUIRE can fail and none is checked per partial sum;
//    when the bound does not hold, the checked reference (dot_*) computes the result and
//    reports a failing REQUIRE as it always did ("internal: ...").
//  * Results never depend on the thread count: the OpenMP loops (static schedules) split the
//    output elements among threads, never one reduction.
//  * Pointers are dense row-major buffers; outputs must not alias inputs. These functions do
//    not throw from inside a parallel region.
#pragma once

#include <cstdint>

namespace l2n::quant {

// out[r, o] = Σ_i (x[r, i] − x_zp)·(w[o, i] − w_zp) in int32 (dot_i8): x is [rows, n_in],
// w is [n_out, n_in] (one output channel per row), out is [rows, n_out]. With a bias
// ([n_out]), out[r, o] = add_bias_i32(that, bias[o]) (fused into the GEMM when a bound proves
// the add cannot overflow; otherwise add_bias_rows_i32 checks it).
void gemm_i8(const int8_t* x, const int8_t* w, int64_t rows, int64_t n_out, int64_t n_in, int32_t x_zp, int32_t w_zp,
             int32_t* out, const int32_t* bias = nullptr);

// out[r, o] = Σ_i x[r, i]·(w[o, i] − w_zp) in int48 held in int64 (dot_i16_i8); with a bias,
// add_bias_i48(that, bias[o]).
void gemm_i16_i8(const int16_t* x, const int8_t* w, int64_t rows, int64_t n_out, int64_t n_in, int32_t w_zp,
                 int64_t* out, const int64_t* bias = nullptr);

// For each of `batch` matrices: out[b, i, j] = Σ_k (a[b, i, k] − a_zp)·(bm[b, k, j] − b_zp)
// in int32 (dot_i8); a is [batch, m, k], bm is [batch, k, n] (NOT transposed), out
// [batch, m, n].
void matmul_i8(const int8_t* a, const int8_t* bm, int64_t batch, int64_t m, int64_t k, int64_t n, int32_t a_zp,
               int32_t b_zp, int32_t* out);

// As matmul_i8 for int16 operands with zero points 0, accumulated in int64 exactly as
// dot_i16_i16 (which checks partial sums against int48 only beyond 2^17 terms); storing an
// int48 (TOSA MATMUL) additionally needs require_i48 of each result, the caller's job.
void matmul_i16(const int16_t* a, const int16_t* bm, int64_t batch, int64_t m, int64_t k, int64_t n, int64_t* out);

// An int16 B read in place: element [b, r, j] is data[b·batch_stride + r·row_stride +
// j·col_stride], e.g. a transposed view of a KV cache that then needs no transposed copy.
struct StridedI16 {
  const int16_t* data;
  int64_t batch_stride, row_stride, col_stride;
};
// matmul_i16 with B given through strides; the same results, bit for bit.
void matmul_i16(const int16_t* a, const StridedI16& bm, int64_t batch, int64_t m, int64_t k, int64_t n, int64_t* out);

// acc[r, o] = add_bias_i32(acc[r, o], bias[bias_per_channel ? o : 0]) for [rows, n_out]; the
// first failing REQUIRE (in row-major order) throws exactly as add_bias_i32 does.
void add_bias_rows_i32(int32_t* acc, const int32_t* bias, int64_t rows, int64_t n_out, bool bias_per_channel = true);
// The same with add_bias_i48 (accumulator and bias must fit int48, and so must the sum).
void add_bias_rows_i48(int64_t* acc, const int64_t* bias, int64_t rows, int64_t n_out, bool bias_per_channel = true);

}  // namespace l2n::quant
