#include "model/presets.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_text.h"

namespace l2n::model {
namespace {

ModelConfig llama(int64_t dim, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads, int64_t vocab,
                  int64_t max_seq, double theta, bool tied, int32_t bos, int32_t eos) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.source_format = "huggingface";
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = dim / heads;
  c.vocab_size = vocab;
  c.max_seq_len = max_seq;
  c.rope_theta = theta;
  c.rope_layout = RopeLayout::RotateHalf;
  c.norm_eps = 1e-5;
  c.tied_embeddings = tied;
  c.bos_id = bos;
  c.eos_id = eos;
  return c;
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  // Values from the checkpoints' own config.json: HuggingFaceTB/SmolLM2-135M,
  // TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T, and the stories260K conversion in
  // ../shared/data/models/stories260K-hf (tied, head_dim 8). SmolLM2's BOS and EOS are
  // both <|endoftext|> (id 0); the Llama-2 vocabularies have <unk>, <s>, </s> at 0, 1, 2.
  static const std::vector<ModelPreset> presets = {
      {"smollm2-135m", llama(576, 1536, 30, 9, 3, 49152, 8192, 100000.0, true, 0, 0), {"<|endoftext|>"}},
      {"tinyllama-1.1b", llama(2048, 5632, 22, 32, 4, 32000, 2048, 10000.0, false, 1, 2), {"<unk>", "<s>", "</s>"}},
      {"stories260k", llama(64, 172, 5, 8, 4, 512, 512, 10000.0, true, 1, 2), {"<unk>", "<s>", "</s>"}},
  };
  return presets;
}

std::string preset_names() {
  std::string names;
  for (const auto& p : model_presets()) names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

const ModelPreset& model_preset(std::string_view name) {
  for (const auto& p : model_presets())
    if (p.name == name) return p;
  fail_usage("unknown model preset '{}'; choose one of {}", name, preset_names());
}

std::string preset_config_json(const ModelConfig& c, std::string_view torch_dtype) {
  nlohmann::ordered_json j;
  j["architectures"] = {c.architecture};
  j["model_type"] = "llama";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_seq_len;
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  j["tie_word_embeddings"] = c.tied_embeddings;
  j["bos_token_id"] = c.bos_id;
  j["eos_token_id"] = c.eos_id;
  j["torch_dtype"] = std::string(torch_dtype);
  j["initializer_range"] = 0.02;
  // Tells readers what this is: random weights, for benchmarks only.
  j["llm2npu_synthetic"] = "random weights from llm2npu make-model; for benchmarks, never for accuracy";
  return json_text(j, 2) + "\n";
}

}  // namespace l2n::model
