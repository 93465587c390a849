// NumPy .npy files (format versions 1.0, 2.0 and 3.0), the exchange format of the TOSA
// reference model's inputs and outputs.
//
// Contract:
//  * Types: <i1/|i1 int8, <i2 int16, <i4 int32, <i8 int64, <f4 float32, |b1 bool (stored
//    as U8 0/1); C order only (Fortran order is accepted for rank <= 1, where it is the same).
//    Big-endian or other types are refused with an error naming the type.
//  * write_npy writes version 1.0 (2.0 when the header does not fit 64 KiB), the header
//    padded with spaces to a multiple of 64 bytes and ended by '\n', as numpy does.
//  * read_npy refuses with l2n::Error (naming `what`) a wrong magic, a header that is not a
//    dict with descr/fortran_order/shape, a negative or overflowing shape, and data whose
//    length differs from what the shape needs. It never reads outside the buffer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace l2n::tosa {

enum class NpyType : uint8_t { I8, I16, I32, I64, F32, Bool };

std::string_view npy_descr(NpyType t);  // "<i4", "|b1", ...

struct NpyArray {
  NpyType type = NpyType::F32;
  Tensor tensor;  // I8, I16, I32, I64, F32, or U8 (0/1) for Bool
};

// The tensor dtype that holds `t`.
l2n::DType npy_storage(NpyType t);

std::vector<uint8_t> write_npy(const NpyArray& array);
NpyArray read_npy(std::span<const uint8_t> bytes, const std::string& what = ".npy data");

void write_npy_file(const std::filesystem::path& path, const NpyArray& array);  // atomic
NpyArray read_npy_file(const std::filesystem::path& path);

}  // namespace l2n::tosa
