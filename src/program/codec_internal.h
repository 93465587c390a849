// Internal to the program stage: the pieces of the flatbuffers codec shared by its .cpp
// files. Other stages use program.h; only tests include the generated schema code.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <string>

#include "graph/graph.h"
#include "program_generated.h"

namespace l2n::program::detail {

// Limits on what a file may describe, so that a hostile file cannot make shape
// arithmetic overflow int64 or claim absurd tensors: every dimension, attribute index
// and element count stays below 2^40 (a tensor of 2^40 elements is far beyond any model
// this format can hold, as a flatbuffer is limited to 2 GiB).
inline constexpr size_t kMaxRank = 16;
inline constexpr int64_t kMaxExtent = int64_t{1} << 40;

// Explicit enum mappings; from_fb() rejects values this build does not know, naming
// `where` and the value.
fb::DType to_fb(DType dtype);
DType from_fb(fb::DType dtype, const std::string& where);
fb::OpKind to_fb(graph::OpKind op);
graph::OpKind from_fb(fb::OpKind op, const std::string& where);

// A shape read from the file: at most kMaxRank dimensions, each in [0, kMaxExtent], with
// at most kMaxExtent elements.
Shape read_shape(const flatbuffers::Vector<int64_t>* dims, const std::string& where);

// A byte vector whose start is 16-byte aligned in the payload (see program.fbs).
flatbuffers::Offset<flatbuffers::Vector<uint8_t>> aligned_bytes(flatbuffers::FlatBufferBuilder& builder,
                                                                const void* data, size_t size);

// The graph codec. decode_graph() rebuilds the graph through Graph::add_input/add_constant/
// add_node/add_output, so every node is checked again by the IR's shape inference, and
// refuses a node whose re-inferred dtype/shape differs from the stored one. Errors name
// `where` (e.g. "program 'x.l2n': method 'decode' cpu graph 0").
flatbuffers::Offset<fb::Graph> encode_graph(flatbuffers::FlatBufferBuilder& builder, const graph::Graph& graph);
graph::Graph decode_graph(const fb::Graph& graph, const std::string& where);

// The bytes of all constant data of a graph (for the 2 GiB payload limit check).
uint64_t constant_bytes(const graph::Graph& graph);

}  // namespace l2n::program::detail
