// .tosa files: the TOSA 1.0 flatbuffer writer and reader.
//
// Contract (facts: ../shared/docs/reference/tosa-1.0-flatbuffer-layout.md):
//  * write_tosa: file identifier "TOSA", the graph's version (write 1.0.0, draft false), every
//    data vector 8-byte aligned in the buffer and zero-padded to a multiple of 8 bytes; the
//    block's operators/tensors/inputs/outputs/shapes vectors and every operator's attribute
//    table are always present (Vela asserts them). Deterministic: the same graph always
//    gives the same bytes, and write_tosa(read_tosa(write_tosa(g))) == write_tosa(g).
//  * read_tosa: refuses with l2n::Error (naming `what`, the file) anything it cannot trust:
//    a buffer too short, a wrong identifier, a flatbuffer that fails the verifier (offsets
//    or vectors out of range), enum values outside TOSA 1.0, an attribute type that is not
//    its op's, tensor data shorter than shape × type needs, shape data that is not rank ×
//    int64, a shape whose element count overflows. It never reads outside the buffer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "tosa/tosa_graph.h"

namespace l2n::tosa {

std::vector<uint8_t> write_tosa(const TosaGraph& graph);
// Same bytes; frees each constant of `graph` as soon as it is copied, so that writing a
// delegate holds about one copy of its weights (plus the returned buffer), not two.
std::vector<uint8_t> write_tosa(TosaGraph&& graph);
TosaGraph read_tosa(std::span<const uint8_t> bytes, const std::string& what = "TOSA buffer");

// Files: writing goes through core/atomic_file.h (temporary file in the same directory, rename).
void write_tosa_file(const TosaGraph& graph, const std::filesystem::path& path);
TosaGraph read_tosa_file(const std::filesystem::path& path);

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace l2n::tosa
