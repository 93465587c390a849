// A tiny valid Hugging Face checkpoint for the targets that fuzz one file of a checkpoint
// directory while the others stay valid: dim 4, hidden 6, 1 layer, 2 heads, 1 kv head,
// vocab 5, F32 weights.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace l2n::fuzz {

inline const char* kTinyConfigJson =
    R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4, "intermediate_size": 6, )"
    R"("num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 5, )"
    R"("max_position_embeddings": 64, "rms_norm_eps": 1e-06, "tie_word_embeddings": true})";

inline std::vector<std::pair<std::string, std::vector<int64_t>>> tiny_tensor_shapes() {
  return {{"model.embed_tokens.weight", {5, 4}},
          {"model.norm.weight", {4}},
          {"model.layers.0.input_layernorm.weight", {4}},
          {"model.layers.0.post_attention_layernorm.weight", {4}},
          {"model.layers.0.self_attn.q_proj.weight", {4, 4}},
          {"model.layers.0.self_attn.k_proj.weight", {2, 4}},
          {"model.layers.0.self_attn.v_proj.weight", {2, 4}},
          {"model.layers.0.self_attn.o_proj.weight", {4, 4}},
          {"model.layers.0.mlp.gate_proj.weight", {6, 4}},
          {"model.layers.0.mlp.up_proj.weight", {6, 4}},
          {"model.layers.0.mlp.down_proj.weight", {4, 6}}};
}

// The safetensors file holding every tiny tensor (values 0.25).
inline std::string tiny_safetensors() {
  std::string header = "{";
  std::string data;
  for (const auto& [name, shape] : tiny_tensor_shapes()) {
    int64_t n = 1;
    std::string dims;
    for (int64_t d : shape) {
      n *= d;
      if (!dims.empty()) dims += ',';
      dims += std::to_string(d);
    }
    const size_t begin = data.size();
    for (int64_t i = 0; i < n; ++i) {
      const float v = 0.25f;
      data.append(reinterpret_cast<const char*>(&v), 4);
    }
    if (header.size() > 1) header += ",";
    header += "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + dims + "],\"data_offsets\":[" +
              std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  }
  header += "}";
  std::string out(8, '\0');
  const uint64_t len = header.size();
  std::memcpy(out.data(), &len, 8);
  return out + header + data;
}

}  // namespace l2n::fuzz
