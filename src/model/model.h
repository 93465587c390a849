// A loaded checkpoint: the architecture (ModelConfig), lazily converted weights under
// canonical names (WeightStore), and whatever tokenizer data came with it.
//
// Contract of load_model(): detects the format from the path (a directory with
// config.json = Hugging Face; a file starting with "GGUF" = GGUF; otherwise a llama2.c
// .bin), validates every header field, size and offset against the file before touching
// data, checks that every weight the architecture needs is present with the right shape,
// and throws l2n::Error (naming the file and the problem) otherwise. Weights are
// memory-mapped; load_f32() converts one tensor on demand.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace l2n::model {

// Where RoPE pairs live inside a head: llama2.c/Meta/GGUF pair (2i, 2i+1); Hugging Face
// "rotate half" pairs (i, i + head_dim/2).
enum class RopeLayout { Interleaved, RotateHalf };

struct RopeScaling {
  std::string type;  // "" (none), "llama3", "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"
  std::string source_format; // "huggingface", "llama2c", "gguf"
  int64_t dim = 0;           // hidden size
  int64_t hidden_dim = 0;    // FFN intermediate size
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_seq_len = 0;   // trained context
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  RopeLayout rope_layout = RopeLayout::RotateHalf;
  double norm_eps = 1e-5;
  bool tied_embeddings = false;  // no "output" weight; the head reuses "embed"
  bool qkv_bias = false;         // Qwen2: "layers.N.bq/bk/bv" exist
  std::optional<int64_t> sliding_window;  // Mistral
  int32_t bos_id = -1;           // from the checkpoint's config, -1 if it says nothing
  int32_t eos_id = -1;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

// Canonical weight names (all row-major, linear weights [out, in] like torch.nn.Linear):
//   embed [vocab, dim]                        final_norm [dim]        output [vocab, dim] (absent if tied)
//   layers.N.attn_norm [dim]                  layers.N.ffn_norm [dim]
//   layers.N.wq [q_dim, dim]  wk/wv [kv_dim, dim]  wo [dim, q_dim]
//   layers.N.bq [q_dim]  bk/bv [kv_dim]       (only when qkv_bias)
//   layers.N.w_gate/w_up [hidden_dim, dim]    layers.N.w_down [dim, hidden_dim]
std::string layer_weight(int64_t layer, const char* name);

struct TensorInfo {
  DType dtype;   // as stored in the file
  Shape shape;
};

class WeightStore {
 public:
  virtual ~WeightStore() = default;
  virtual std::vector<std::string> names() const = 0;
  virtual bool has(const std::string& name) const = 0;
  virtual TensorInfo info(const std::string& name) const = 0;       // throws if absent
  // Converts to F32. The result may be a read-only view of the memory-mapped file (it keeps
  // the mapping alive); clone() it before writing.
  virtual Tensor load_f32(const std::string& name) const = 0;
  // Gives the resident pages of memory-mapped weights back to the OS; views stay valid
  // (they fault their pages back in when read). A no-op for stores that own their memory.
  virtual void release_resident_pages() const {}
};

// Tokenizer data embedded in a checkpoint (GGUF). Plain data: the tokenizer stage turns it
// into a Tokenizer.
struct EmbeddedVocab {
  std::string model;                 // "llama" (SentencePiece BPE) or "gpt2" (byte-level BPE)
  std::string pre;                   // GGUF tokenizer.ggml.pre, if any
  std::vector<std::string> tokens;
  std::vector<float> scores;         // may be empty
  std::vector<int32_t> token_types;  // may be empty (1 normal, 2 unknown, 3 control, 6 byte, ...)
  std::vector<std::string> merges;   // "a b", gpt2 only
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = true;
  bool add_space_prefix = true;
};

struct Model {
  ModelConfig config;
  std::shared_ptr<const WeightStore> weights;
  std::filesystem::path path;
  // A tokenizer file found with the checkpoint (tokenizer.json or tokenizer.model in an
  // HF directory; tok*.bin / tok*.model beside a llama2.c .bin), if any.
  std::optional<std::filesystem::path> tokenizer_path;
  std::optional<EmbeddedVocab> embedded_vocab;

  int64_t parameter_count() const;  // sum over weights, tied embedding counted once
};

struct LoadOptions {
  // Context the caller intends to run at; used for checks such as a Mistral sliding
  // window smaller than the context (0 = don't check).
  int64_t context_length = 0;
};

Model load_model(const std::filesystem::path& path, const LoadOptions& options = {});

// Throws l2n::Error if the config is impossible (non-positive sizes, heads that do not
// divide the width, kv heads that do not divide heads, ...). Called by every loader.
void validate_config(const ModelConfig& config, const std::filesystem::path& source);

}  // namespace l2n::model
