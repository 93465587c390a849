// Hugging Face checkpoint directories: config.json plus model.safetensors or a sharded
// model.safetensors.index.json. Weights keep their stored dtype and their rotate-half
// RoPE layout (transformers' Llama attention rotates (i, i + head_dim/2) pairs).
#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/json_depth.h"
#include "model/loaders.h"
#include "model/safetensors.h"
#include "model/weight_store.h"
#include "core/json_text.h"

namespace l2n::model::detail {
namespace {

using nlohmann::json;

constexpr const char* kSupportedArchitectures = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM";

// Typed access to config.json; a null value counts as absent, as transformers treats it.
class ConfigJson {
 public:
  ConfigJson(json j, std::string src) : j_(std::move(j)), src_(std::move(src)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const json& at(const char* key) const { return j_[key]; }

  std::optional<int64_t> get_int(const char* key) const {
    if (!has(key)) return std::nullopt;
    const json& v = j_[key];
    if (v.is_number_integer()) return v.get<int64_t>();
    // Some exporters write integers as 4096.0; accept those, but not 4096.5.
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::abs(d) < 9.0e15 && d == std::trunc(d)) return static_cast<int64_t>(d);
    }
    fail("{}: \"{}\" must be an integer, but it is {}; fix config.json", src_, key, json_text(v));
  }
  int64_t require_int(const char* key) const {
    auto v = get_int(key);
    if (!v) fail("{}: required key \"{}\" is missing; config.json is incomplete", src_, key);
    return *v;
  }
  double get_double(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number()) fail("{}: \"{}\" must be a number, but it is {}; fix config.json", src_, key, json_text(v));
    return v.get<double>();
  }
  bool get_bool(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_boolean()) fail("{}: \"{}\" must be true or false, but it is {}; fix config.json", src_, key, json_text(v));
    return v.get<bool>();
  }
  // bos/eos ids: an integer, or a list whose first entry is used (Llama 3 lists several EOS ids).
  int32_t get_token(const char* key) const {
    if (!has(key)) return -1;
    json v = j_[key];
    if (v.is_array()) {
      if (v.empty()) return -1;
      v = v[0];
    }
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      fail("{}: \"{}\" must be a token id or a list of token ids, but it is {}; fix config.json", src_, key,
           json_text(j_[key]));
    return static_cast<int32_t>(v.get<int64_t>());
  }

 private:
  json j_;
  std::string src_;
};

std::string architecture_of(const ConfigJson& cfg, const std::string& src) {
  if (cfg.has("architectures")) {
    const json& a = cfg.at("architectures");
    if (a.is_array() && !a.empty() && a[0].is_string()) return a[0].get<std::string>();
    if (a.is_string()) return a.get<std::string>();
    fail("{}: \"architectures\" must be a list of class names, but it is {}", src, json_text(a));
  }
  if (cfg.has("model_type") && cfg.at("model_type").is_string()) {
    const std::string type = cfg.at("model_type").get<std::string>();
    if (type == "llama") return "LlamaForCausalLM";
    if (type == "mistral") return "MistralForCausalLM";
    if (type == "qwen2") return "Qwen2ForCausalLM";
    fail("{}: model_type \"{}\" is not supported (supported architectures: {})", src, type,
         kSupportedArchitectures);
  }
  fail("{}: neither \"architectures\" nor \"model_type\" is set, so the architecture is unknown "
       "(supported: {}); add \"architectures\" to config.json",
       src, kSupportedArchitectures);
}

// Newer transformers releases write "rope_parameters" (rope_type, rope_theta and the
// scaling fields together) instead of "rope_scaling" + "rope_theta".
const char* rope_key(const ConfigJson& cfg) { return cfg.has("rope_scaling") ? "rope_scaling" : "rope_parameters"; }

RopeScaling parse_rope_scaling(const ConfigJson& cfg, const std::string& src) {
  RopeScaling rs;
  const char* key = rope_key(cfg);
  if (!cfg.has(key)) return rs;
  const json& j = cfg.at(key);
  if (!j.is_object()) fail("{}: \"{}\" must be an object or null, but it is {}", src, key, json_text(j));
  std::string type;
  for (const char* key : {"rope_type", "type"})
    if (j.contains(key) && j[key].is_string()) {
      type = j[key].get<std::string>();
      break;
    }
  if (type.empty() || type == "default") return rs;
  if (type != "llama3" && type != "linear")
    fail("{}: rope_scaling type \"{}\" is not supported (supported: llama3, linear, or none)", src, type);
  ConfigJson sub(j, fmt::format("{} ({})", src, key));
  rs.type = type;
  rs.factor = sub.get_double("factor", 1.0);
  if (type == "llama3") {
    rs.low_freq_factor = sub.get_double("low_freq_factor", rs.low_freq_factor);
    rs.high_freq_factor = sub.get_double("high_freq_factor", rs.high_freq_factor);
    rs.original_max_position_embeddings =
        sub.get_int("original_max_position_embeddings").value_or(rs.original_max_position_embeddings);
  }
  return rs;
}

ModelConfig parse_config(const std::filesystem::path& config_path) {
  const std::string src = config_path.string();
  json j;
  const std::string text = read_text_file(config_path);
  check_json_depth(text, src);
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("{} is not valid JSON ({}); fix or re-download config.json", src, e.what());
  }
  if (!j.is_object()) fail("{} must hold a JSON object, but it holds a {}", src, j.type_name());
  ConfigJson cfg(std::move(j), src);

  ModelConfig c;
  c.source_format = "huggingface";
  c.architecture = architecture_of(cfg, src);
  const bool llama = c.architecture == "LlamaForCausalLM";
  const bool mistral = c.architecture == "MistralForCausalLM";
  const bool qwen2 = c.architecture == "Qwen2ForCausalLM";
  if (!llama && !mistral && !qwen2)
    fail("{}: architecture \"{}\" is not supported; supported architectures are {}", src, c.architecture,
         kSupportedArchitectures);

  c.dim = cfg.require_int("hidden_size");
  c.hidden_dim = cfg.require_int("intermediate_size");
  c.n_layers = cfg.require_int("num_hidden_layers");
  c.n_heads = cfg.require_int("num_attention_heads");
  c.n_kv_heads = cfg.get_int("num_key_value_heads").value_or(c.n_heads);
  if (auto head_dim = cfg.get_int("head_dim")) {
    c.head_dim = *head_dim;
  } else {
    if (c.n_heads <= 0 || c.dim <= 0 || c.dim % c.n_heads != 0)
      fail("{}: num_attention_heads ({}) does not divide hidden_size ({}), and no head_dim is given; fix "
           "config.json",
           src, c.n_heads, c.dim);
    c.head_dim = c.dim / c.n_heads;
  }
  c.vocab_size = cfg.require_int("vocab_size");
  c.max_seq_len = cfg.get_int("max_position_embeddings").value_or(2048);
  c.rope_theta = cfg.get_double("rope_theta", 10000.0);
  if (!cfg.has("rope_theta") && cfg.has("rope_parameters") && cfg.at("rope_parameters").is_object())
    c.rope_theta = ConfigJson(cfg.at("rope_parameters"), src).get_double("rope_theta", c.rope_theta);
  c.rope_scaling = parse_rope_scaling(cfg, src);
  c.rope_layout = RopeLayout::RotateHalf;
  c.norm_eps = cfg.get_double("rms_norm_eps", 1e-6);
  c.tied_embeddings = cfg.get_bool("tie_word_embeddings", false);
  c.bos_id = cfg.get_token("bos_token_id");
  c.eos_id = cfg.get_token("eos_token_id");
  if (qwen2) c.qkv_bias = true;
  if (!qwen2 && cfg.get_bool("attention_bias", false))
    fail("{}: attention_bias is true, but biases on Llama/Mistral attention projections are not supported",
         src);
  if (cfg.get_bool("mlp_bias", false)) fail("{}: mlp_bias is true, but MLP biases are not supported", src);
  if (auto act = cfg.has("hidden_act") ? std::optional<json>(cfg.at("hidden_act")) : std::nullopt;
      act && !(act->is_string() && act->get<std::string>() == "silu"))
    fail("{}: hidden_act {} is not supported (only silu, as in Llama)", src, act->dump());
  if (mistral) {
    if (auto w = cfg.get_int("sliding_window")) c.sliding_window = *w;
  }
  if (qwen2 && cfg.get_bool("use_sliding_window", false)) {
    if (auto w = cfg.get_int("sliding_window")) c.sliding_window = *w;
  }
  return c;
}

// The HF name of a canonical weight.
std::string hf_name(const std::string& canonical) {
  static const std::map<std::string, std::string> globals = {
      {"embed", "model.embed_tokens.weight"}, {"final_norm", "model.norm.weight"}, {"output", "lm_head.weight"}};
  static const std::map<std::string, std::string> fields = {
      {"attn_norm", "input_layernorm.weight"},  {"ffn_norm", "post_attention_layernorm.weight"},
      {"wq", "self_attn.q_proj.weight"},        {"wk", "self_attn.k_proj.weight"},
      {"wv", "self_attn.v_proj.weight"},        {"wo", "self_attn.o_proj.weight"},
      {"bq", "self_attn.q_proj.bias"},          {"bk", "self_attn.k_proj.bias"},
      {"bv", "self_attn.v_proj.bias"},          {"w_gate", "mlp.gate_proj.weight"},
      {"w_up", "mlp.up_proj.weight"},           {"w_down", "mlp.down_proj.weight"}};
  if (auto it = globals.find(canonical); it != globals.end()) return it->second;
  int64_t layer;
  std::string field;
  if (split_layer_name(canonical, layer, field))
    if (auto it = fields.find(field); it != fields.end())
      return fmt::format("model.layers.{}.{}", layer, it->second);
  return canonical;
}

// The canonical name of an HF tensor, "" if it is not a weight we use.
std::string canonical_name(const std::string& name, const ModelConfig& c, const std::string& src) {
  static const std::map<std::string, std::string> globals = {
      {"model.embed_tokens.weight", "embed"}, {"model.norm.weight", "final_norm"}, {"lm_head.weight", "output"}};
  static const std::map<std::string, std::string> fields = {
      {"input_layernorm.weight", "attn_norm"},  {"post_attention_layernorm.weight", "ffn_norm"},
      {"self_attn.q_proj.weight", "wq"},        {"self_attn.k_proj.weight", "wk"},
      {"self_attn.v_proj.weight", "wv"},        {"self_attn.o_proj.weight", "wo"},
      {"self_attn.q_proj.bias", "bq"},          {"self_attn.k_proj.bias", "bk"},
      {"self_attn.v_proj.bias", "bv"},          {"mlp.gate_proj.weight", "w_gate"},
      {"mlp.up_proj.weight", "w_up"},           {"mlp.down_proj.weight", "w_down"}};
  if (auto it = globals.find(name); it != globals.end()) {
    // With tied embeddings transformers overwrites lm_head with the embedding, so a stored
    // copy is redundant.
    if (it->second == "output" && c.tied_embeddings) return "";
    return it->second;
  }
  constexpr std::string_view prefix = "model.layers.";
  if (name.compare(0, prefix.size(), prefix) == 0) {
    int64_t layer;
    std::string field;
    if (split_layer_name(name.substr(6), layer, field)) {
      if (field == "self_attn.rotary_emb.inv_freq") return "";  // a buffer, recomputed from rope_theta
      auto it = fields.find(field);
      if (it != fields.end()) {
        if (layer >= c.n_layers)
          fail("{} holds tensor '{}', but config.json says num_hidden_layers is {}; the checkpoint does not "
               "match its config",
               src, name, c.n_layers);
        if (!c.qkv_bias && (it->second == "bq" || it->second == "bk" || it->second == "bv"))
          fail("{} holds attention bias '{}', which a {} does not use; the checkpoint does not match its "
               "config.json architecture",
               src, name, c.architecture);
        return layer_weight(layer, it->second.c_str());
      }
    }
  }
  fail("{} holds tensor '{}', which is not part of a {} that this loader understands; the model probably "
       "uses a feature that is not supported",
       src, name, c.architecture);
}

std::filesystem::path shard_path(const std::filesystem::path& dir, const std::string& shard,
                                 const std::string& index_src) {
  const std::filesystem::path rel(shard);
  if (shard.empty() || rel.is_absolute() || rel.has_parent_path())
    fail("{}: weight_map names shard \"{}\", which is not a plain file name in the checkpoint directory", index_src,
         shard);
  return dir / rel;
}

}  // namespace

Model load_huggingface(const std::filesystem::path& dir) {
  ModelConfig c = parse_config(dir / "config.json");
  validate_config(c, dir / "config.json");

  // Collect the tensors of every weight file, refusing a name stored twice.
  std::map<std::string, StoredTensor> tensors;
  auto add_file = [&](const std::filesystem::path& file) {
    for (auto& [name, t] : read_safetensors(file)) {
      auto [it, inserted] = tensors.emplace(name, t);
      if (!inserted)
        fail("tensor '{}' is stored twice, in {} and in {}; remove the duplicate shard", name,
             it->second.file->path().string(), file.string());
    }
  };
  const std::filesystem::path single = dir / "model.safetensors";
  const std::filesystem::path index = dir / "model.safetensors.index.json";
  std::string weights_src;
  if (std::filesystem::exists(single)) {
    weights_src = single.string();
    add_file(single);
  } else if (std::filesystem::exists(index)) {
    weights_src = index.string();
    json j;
    const std::string text = read_text_file(index);
    check_json_depth(text, weights_src);
    try {
      j = json::parse(text);
    } catch (const json::exception& e) {
      fail("{} is not valid JSON ({}); fix or re-download it", weights_src, e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      fail("{} has no \"weight_map\" object mapping tensor names to shard files", weights_src);
    std::map<std::string, std::string> weight_map;
    std::set<std::string> shards;
    for (const auto& [name, shard] : j["weight_map"].items()) {
      if (!shard.is_string())
        fail("{}: weight_map entry for '{}' must be a shard file name, but it is {}", weights_src, name,
             json_text(shard));
      weight_map[name] = shard.get<std::string>();
      shards.insert(shard.get<std::string>());
    }
    for (const std::string& shard : shards) add_file(shard_path(dir, shard, weights_src));
    for (const auto& [name, shard] : weight_map) {
      auto it = tensors.find(name);
      if (it == tensors.end() || it->second.file->path().filename() != shard)
        fail("{} says tensor '{}' is in {}, but that shard does not hold it; the checkpoint is incomplete or "
             "the index is stale",
             weights_src, name, shard);
    }
  } else if (std::filesystem::exists(dir / "pytorch_model.bin") ||
             std::filesystem::exists(dir / "pytorch_model.bin.index.json")) {
    fail("{} holds PyTorch pickle weights (pytorch_model.bin), which are not supported; convert them to "
         "safetensors (e.g. save_pretrained(..., safe_serialization=True))",
         dir.string());
  } else {
    fail("{} has no model.safetensors or model.safetensors.index.json; the Hugging Face checkpoint has no "
         "weights",
         dir.string());
  }

  auto store = std::make_shared<MappedWeightStore>();
  for (auto& [name, t] : tensors) {
    const std::string canonical = canonical_name(name, c, weights_src);
    if (!canonical.empty()) store->add(canonical, std::move(t));
  }

  Model model;
  model.config = c;
  model.weights = store;
  model.path = dir;
  for (const char* tok : {"tokenizer.json", "tokenizer.model"})
    if (std::filesystem::is_regular_file(dir / tok)) {
      model.tokenizer_path = dir / tok;
      break;
    }
  check_weights(model, hf_name);
  return model;
}

}  // namespace l2n::model::detail
