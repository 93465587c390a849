#include "model/model.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "model/loaders.h"
#include "model/weight_store.h"

namespace l2n::model {

std::string layer_weight(int64_t layer, const char* name) { return fmt::format("layers.{}.{}", layer, name); }

int64_t Model::parameter_count() const {
  if (!weights) return 0;
  int64_t total = 0;
  // A tied head has no "output" entry, so the shared embedding is counted once.
  for (const std::string& name : weights->names()) total += shape_numel(weights->info(name).shape);
  return total;
}

void validate_config(const ModelConfig& c, const std::filesystem::path& source) {
  const std::string src = source.string();
  auto check_range = [&](const char* what, int64_t value, int64_t max) {
    if (value <= 0)
      fail("invalid model config in {}: {} is {}, but it must be positive; the checkpoint header "
           "or config is corrupt",
           src, what, value);
    if (value > max)
      fail("invalid model config in {}: {} is {}, above the supported maximum {}; the checkpoint "
           "header or config is probably corrupt",
           src, what, value, max);
  };
  check_range("dim (hidden size)", c.dim, detail::kMaxWidth);
  check_range("hidden_dim (FFN size)", c.hidden_dim, detail::kMaxWidth);
  check_range("n_layers", c.n_layers, detail::kMaxLayers);
  check_range("n_heads", c.n_heads, detail::kMaxHeads);
  check_range("n_kv_heads", c.n_kv_heads, detail::kMaxHeads);
  check_range("head_dim", c.head_dim, detail::kMaxWidth);
  check_range("vocab_size", c.vocab_size, detail::kMaxVocab);
  check_range("max_seq_len (context length)", c.max_seq_len, detail::kMaxSeqLen);
  if (c.q_dim() > detail::kMaxWidth)
    fail("invalid model config in {}: n_heads * head_dim = {} * {} is above the supported maximum {}",
         src, c.n_heads, c.head_dim, detail::kMaxWidth);
  if (c.n_heads % c.n_kv_heads != 0)
    fail("invalid model config in {}: n_heads ({}) is not a multiple of n_kv_heads ({}); grouped-query "
         "attention needs every key/value head to serve the same number of query heads",
         src, c.n_heads, c.n_kv_heads);
  if (c.head_dim % 2 != 0)
    fail("invalid model config in {}: head_dim ({}) is odd; rotary embeddings rotate pairs of channels, "
         "so head_dim must be even",
         src, c.head_dim);
  if (!(c.norm_eps > 0) || !std::isfinite(c.norm_eps))
    fail("invalid model config in {}: rms norm epsilon is {}, but it must be a positive finite number", src,
         c.norm_eps);
  if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta))
    fail("invalid model config in {}: rope_theta is {}, but it must be a positive finite number", src,
         c.rope_theta);
  const RopeScaling& rs = c.rope_scaling;
  if (!rs.type.empty()) {
    if (rs.type != "llama3" && rs.type != "linear")
      fail("invalid model config in {}: rope scaling type '{}' is not supported (supported: llama3, linear)",
           src, rs.type);
    if (!(rs.factor > 0) || !std::isfinite(rs.factor))
      fail("invalid model config in {}: rope scaling factor is {}, but it must be positive", src, rs.factor);
    if (rs.type == "llama3") {
      if (!(rs.low_freq_factor > 0) || !(rs.high_freq_factor > rs.low_freq_factor))
        fail("invalid model config in {}: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor "
             "(got {} and {})",
             src, rs.low_freq_factor, rs.high_freq_factor);
      if (rs.original_max_position_embeddings <= 0 || rs.original_max_position_embeddings > detail::kMaxSeqLen)
        fail("invalid model config in {}: llama3 rope scaling original_max_position_embeddings is {}, "
             "but it must be in 1..{}",
             src, rs.original_max_position_embeddings, detail::kMaxSeqLen);
    }
  }
  if (c.sliding_window && *c.sliding_window <= 0)
    fail("invalid model config in {}: sliding_window is {}, but it must be positive", src, *c.sliding_window);
  auto check_token = [&](const char* what, int32_t id) {
    if (id < -1 || id >= c.vocab_size)
      fail("invalid model config in {}: {} is {}, outside the vocabulary (0..{})", src, what, id,
           c.vocab_size - 1);
  };
  check_token("bos_token_id", c.bos_id);
  check_token("eos_token_id", c.eos_id);
}

namespace detail {

bool split_layer_name(const std::string& canonical, int64_t& layer, std::string& field) {
  constexpr std::string_view prefix = "layers.";
  if (canonical.compare(0, prefix.size(), prefix) != 0) return false;
  const size_t dot = canonical.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return false;
  layer = 0;
  for (size_t i = prefix.size(); i < dot; ++i) {
    const char ch = canonical[i];
    if (ch < '0' || ch > '9' || layer > kMaxLayers) return false;
    layer = layer * 10 + (ch - '0');
  }
  field = canonical.substr(dot + 1);
  return true;
}

void check_weights(const Model& model, const SourceNamer& source_name) {
  const ModelConfig& c = model.config;
  std::vector<std::pair<std::string, Shape>> expected;
  expected.emplace_back("embed", Shape{c.vocab_size, c.dim});
  expected.emplace_back("final_norm", Shape{c.dim});
  if (!c.tied_embeddings) expected.emplace_back("output", Shape{c.vocab_size, c.dim});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    expected.emplace_back(layer_weight(l, "attn_norm"), Shape{c.dim});
    expected.emplace_back(layer_weight(l, "ffn_norm"), Shape{c.dim});
    expected.emplace_back(layer_weight(l, "wq"), Shape{c.q_dim(), c.dim});
    expected.emplace_back(layer_weight(l, "wk"), Shape{c.kv_dim(), c.dim});
    expected.emplace_back(layer_weight(l, "wv"), Shape{c.kv_dim(), c.dim});
    expected.emplace_back(layer_weight(l, "wo"), Shape{c.dim, c.q_dim()});
    if (c.qkv_bias) {
      expected.emplace_back(layer_weight(l, "bq"), Shape{c.q_dim()});
      expected.emplace_back(layer_weight(l, "bk"), Shape{c.kv_dim()});
      expected.emplace_back(layer_weight(l, "bv"), Shape{c.kv_dim()});
    }
    expected.emplace_back(layer_weight(l, "w_gate"), Shape{c.hidden_dim, c.dim});
    expected.emplace_back(layer_weight(l, "w_up"), Shape{c.hidden_dim, c.dim});
    expected.emplace_back(layer_weight(l, "w_down"), Shape{c.dim, c.hidden_dim});
  }
  const auto* store = dynamic_cast<const MappedWeightStore*>(model.weights.get());
  for (const auto& [name, shape] : expected) {
    if (!model.weights->has(name))
      fail("checkpoint {} is missing tensor '{}' (canonical weight '{}', expected shape {}), which a {} "
           "with this config needs; the checkpoint is incomplete or does not match its config",
           model.path.string(), source_name(name), name, shape_str(shape), c.architecture);
    const TensorInfo info = model.weights->info(name);
    if (info.shape != shape)
      fail("tensor {} has shape {}, but the config expects {} (canonical weight '{}'); the checkpoint "
           "does not match its config",
           store ? store->describe(name) : fmt::format("'{}'", source_name(name)), shape_str(info.shape),
           shape_str(shape), name);
  }
}

}  // namespace detail

namespace {

bool starts_with_gguf_magic(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  if (!in.read(magic, 4)) return false;
  return std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

Model load_model(const std::filesystem::path& path, const LoadOptions& options) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    fail("cannot load model: {} does not exist; pass a llama2.c .bin, a .gguf file or a Hugging Face "
         "checkpoint directory",
         path.string());
  Model model;
  if (std::filesystem::is_directory(status)) {
    if (!std::filesystem::exists(path / "config.json"))
      fail("cannot load model: directory {} has no config.json, so it is not a Hugging Face checkpoint; "
           "pass the checkpoint directory, or a .bin / .gguf file",
           path.string());
    model = detail::load_huggingface(path);
  } else {
    const std::string ext = path.extension().string();
    if (ext == ".safetensors" || path.filename() == "config.json" ||
        path.filename() == "model.safetensors.index.json")
      fail("cannot load model: {} is part of a Hugging Face checkpoint; pass its directory ({}) instead",
           path.string(), path.parent_path().string());
    if (starts_with_gguf_magic(path))
      model = detail::load_gguf(path);
    else
      model = detail::load_llama2c(path);
  }
  const ModelConfig& c = model.config;
  if (options.context_length > 0 && c.sliding_window && options.context_length > *c.sliding_window)
    fail("{} uses a sliding attention window of {} tokens, but a context length of {} was requested; "
         "sliding-window attention is not implemented, so run with a context length of at most {}",
         path.string(), *c.sliding_window, options.context_length, *c.sliding_window);
  return model;
}

}  // namespace l2n::model
