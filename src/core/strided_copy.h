// Copies between a dense row-major tensor and a strided view of another buffer: the data
// movement under TRANSPOSE and SLICE of both executors (exec/ for graphs, tosa/ for TOSA).
//
// Contract: gather_strided writes out[index] = src[Σ_d index[d]·src_strides[d]] for every
// index of out_shape, in row-major order, elements of `elem_size` bytes (any size; 1, 2, 4
// and 8 take typed paths). src must hold every element the strides reach; out must not
// overlap src. An empty shape is a scalar (one element).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace l2n {

// The element strides of a dense row-major tensor of this shape.
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape);

void gather_strided(void* out, const std::vector<int64_t>& out_shape, const void* src,
                    const std::vector<int64_t>& src_strides, size_t elem_size);

}  // namespace l2n
