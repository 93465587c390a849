// Builds the Llama-family forward pass as a Graph from a loaded Model.
//
// Two shapes of graph, both static:
//  * full window:  inputs  "tokens"  i32[T]
//                  outputs "logits"  f32[T, vocab]         (causal attention over the window,
//                                                           positions 0..T-1)
//  * decode step:  inputs  "tokens"  i32[1], "input_pos" i32[1],
//                          "cache_k.N", "cache_v.N" f32[max_context, n_kv_heads, head_dim] per layer N
//                  outputs "logits"  f32[1, vocab],
//                          "cache_k.N.out", "cache_v.N.out" (the caches with row input_pos written)
//                  attention covers cache rows 0..input_pos (the rest masked).
// Weights become constant nodes converted to F32 once at build time.
#pragma once

#include <cstdint>
#include <string>

#include "graph/graph.h"
#include "model/model.h"

namespace l2n::graph {

Graph build_full_window(const model::Model& model, int64_t window);
Graph build_decode_step(const model::Model& model, int64_t max_context);

// The node holding the K (value=false) or V rows that layer `layer` writes into its KV cache,
// [T, n_kv_heads, head_dim] (K after RoPE). Both graph shapes have it under this name: the
// full window for every position, the decode step for the new row.
std::string kv_rows_name(int64_t layer, bool value);

}  // namespace l2n::graph
