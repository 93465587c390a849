// Writing random-weight Hugging Face checkpoints (llm2npu make-model), streaming.
//
// Contract:
//  * random_weight_specs() lists the tensors of a Llama checkpoint under their Hugging Face
//    names, in file order: embedding, per layer (norms, attention, MLP), final norm, and
//    lm_head unless the embeddings are tied. Projections and embeddings are N(0, 0.02²) as in
//    HF's init (initializer_range 0.02); RMSNorm weights are 1.
//  * The values depend only on (seed, tensor name, element index): each tensor draws from
//    its own stream, cut into fixed blocks with their own splitmix64 seeds, so the result is
//    the same whatever the thread count, tensor order or dtype, and does not depend on the
//    standard library's random engines (Box-Muller over our own PRNG).
//  * write_random_safetensors() writes the header, then each tensor in bounded chunks, so
//    memory stays O(chunk) even for a 4.4 GB file. The bytes go through AtomicFileWriter
//    (core/atomic_file.h): a temporary file renamed over `path` when complete, removed on
//    any error or on SIGINT/SIGTERM/SIGHUP. The same specs, dtype and seed give a
//    byte-identical file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "model/model.h"

namespace l2n::model {

struct RandomWeightSpec {
  std::string name;  // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  Shape shape;
  float stddev = 0.02f;  // 0: all ones (norm weights)
};

std::vector<RandomWeightSpec> random_weight_specs(const ModelConfig& config);

// Fills `out` with elements [first, first + out.size()) of the N(0, stddev²) stream of
// `tensor_seed` (a stream is addressed by element index, see the contract above).
void fill_random_normal(std::span<float> out, uint64_t tensor_seed, uint64_t first, float stddev);

// The stream seed of one tensor of a model made with `seed`.
uint64_t tensor_stream_seed(uint64_t seed, const std::string& name);

// F32, F16 or BF16 (round to nearest even). `progress` (may be empty) is called with the
// bytes written so far and the total.
void write_random_safetensors(const std::filesystem::path& path, const std::vector<RandomWeightSpec>& specs,
                              DType dtype, uint64_t seed,
                              const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace l2n::model
