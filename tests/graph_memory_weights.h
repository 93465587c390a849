// Test helper: a WeightStore held in memory, and a Model with random weights for any config.
#pragma once

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace l2n::testing {

class MemoryWeightStore final : public model::WeightStore {
 public:
  void set(const std::string& name, Tensor value) { tensors_[name] = std::move(value); }

  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [name, t] : tensors_) out.push_back(name);
    return out;
  }
  bool has(const std::string& name) const override { return tensors_.count(name) != 0; }
  model::TensorInfo info(const std::string& name) const override {
    const Tensor& t = get(name);
    return {t.dtype(), t.shape()};
  }
  Tensor load_f32(const std::string& name) const override { return get(name); }

 private:
  const Tensor& get(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) fail("memory weight store has no '{}'", name);
    return it->second;
  }
  std::map<std::string, Tensor> tensors_;
};

// A config small enough for fast tests: GQA with 2 query heads per kv head.
inline model::ModelConfig tiny_config() {
  model::ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.source_format = "memory";
  c.dim = 32;
  c.hidden_dim = 48;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 40;
  c.max_seq_len = 64;
  c.rope_layout = model::RopeLayout::RotateHalf;
  return c;
}

// Random weights with a scale that keeps activations O(1); norms around 1.
inline model::Model random_model(const model::ModelConfig& c, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  auto store = std::make_shared<MemoryWeightStore>();
  auto random = [&](Shape shape, float scale, float offset = 0.0f) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Tensor t(DType::F32, shape);
    float* p = t.mutable_data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = offset + scale * normal(rng);
    return t;
  };
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(c.dim));
  const float hidden_scale = 1.0f / std::sqrt(static_cast<float>(c.hidden_dim));
  store->set("embed", random({c.vocab_size, c.dim}, 1.0f));
  store->set("final_norm", random({c.dim}, 0.1f, 1.0f));
  if (!c.tied_embeddings) store->set("output", random({c.vocab_size, c.dim}, in_scale));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    auto name = [&](const char* w) { return model::layer_weight(l, w); };
    store->set(name("attn_norm"), random({c.dim}, 0.1f, 1.0f));
    store->set(name("ffn_norm"), random({c.dim}, 0.1f, 1.0f));
    store->set(name("wq"), random({c.q_dim(), c.dim}, in_scale));
    store->set(name("wk"), random({c.kv_dim(), c.dim}, in_scale));
    store->set(name("wv"), random({c.kv_dim(), c.dim}, in_scale));
    store->set(name("wo"), random({c.dim, c.q_dim()}, 1.0f / std::sqrt(static_cast<float>(c.q_dim()))));
    if (c.qkv_bias) {
      store->set(name("bq"), random({c.q_dim()}, 0.5f));
      store->set(name("bk"), random({c.kv_dim()}, 0.5f));
      store->set(name("bv"), random({c.kv_dim()}, 0.5f));
    }
    store->set(name("w_gate"), random({c.hidden_dim, c.dim}, in_scale));
    store->set(name("w_up"), random({c.hidden_dim, c.dim}, in_scale));
    store->set(name("w_down"), random({c.dim, c.hidden_dim}, hidden_scale));
  }
  model::Model m;
  m.config = c;
  m.weights = store;
  m.path = "memory";
  return m;
}

}  // namespace l2n::testing
