#include "graph/llama_builder.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

namespace l2n::graph {
namespace {

using model::ModelConfig;
using model::RopeLayout;

// Added to the scores of masked positions. Finite so that no inf/NaN ever appears, and so
// large that score + mask - rowmax underflows exp() to exactly 0 in FP32 for any score
// below ~1e22: masked positions contribute nothing to the softmax sum. The quantizer must
// treat the mask constants ("attn.mask", "attn.mask_table") specially (clamp or SELECT).
constexpr float kMaskedScore = -1e30f;

// Per-pair rotation frequencies (pair i rotates by pos * freq[i]), in double, including
// the checkpoint's rope scaling.
std::vector<double> rope_frequencies(const ModelConfig& config) {
  const int64_t half = config.head_dim / 2;
  const model::RopeScaling& scaling = config.rope_scaling;
  std::vector<double> freqs(half);
  for (int64_t i = 0; i < half; ++i)
    freqs[i] = std::pow(config.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(config.head_dim));
  if (scaling.type.empty() || scaling.type == "default" || scaling.type == "none") return freqs;
  if (scaling.factor <= 0) fail("rope scaling factor must be positive, got {}", scaling.factor);
  if (scaling.type == "linear") {
    for (double& f : freqs) f /= scaling.factor;  // = positions divided by the factor
    return freqs;
  }
  if (scaling.type == "llama3") {
    // Meta's Llama 3.1 rule: long wavelengths are slowed down by the factor, short ones
    // kept, and the band in between blended linearly in 1/wavelength.
    const double orig = static_cast<double>(scaling.original_max_position_embeddings);
    const double low = scaling.low_freq_factor, high = scaling.high_freq_factor;
    if (high <= low) fail("llama3 rope scaling needs high_freq_factor > low_freq_factor ({} <= {})", high, low);
    for (double& f : freqs) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen < orig / high) continue;
      if (wavelen > orig / low) {
        f /= scaling.factor;
      } else {
        const double smooth = (orig / wavelen - low) / (high - low);
        f = (1.0 - smooth) * f / scaling.factor + smooth * f;
      }
    }
    return freqs;
  }
  fail("rope scaling type '{}' is not supported (supported: linear, llama3)", scaling.type);
}

// cos or sin of pos * freq for positions 0..positions-1, as [positions, head_dim], with
// each entry d using the frequency of the pair that d belongs to in the given layout.
Tensor rope_table(const ModelConfig& config, int64_t positions, bool sine) {
  const std::vector<double> freqs = rope_frequencies(config);
  const int64_t hd = config.head_dim, half = hd / 2;
  Tensor table(DType::F32, {positions, hd});
  float* out = table.mutable_data<float>();
  for (int64_t pos = 0; pos < positions; ++pos) {
    for (int64_t d = 0; d < hd; ++d) {
      const int64_t pair = config.rope_layout == RopeLayout::Interleaved ? d / 2 : d % half;
      const double angle = static_cast<double>(pos) * freqs[pair];
      out[pos * hd + d] = static_cast<float>(sine ? std::sin(angle) : std::cos(angle));
    }
  }
  return table;
}

// Position q may attend to position k iff k <= q.
Tensor causal_mask(int64_t rows, int64_t cols) {
  Tensor mask(DType::F32, {rows, cols});
  float* out = mask.mutable_data<float>();
  for (int64_t q = 0; q < rows; ++q)
    for (int64_t k = 0; k < cols; ++k) out[q * cols + k] = k <= q ? 0.0f : kMaskedScore;
  return mask;
}

class LlamaGraphBuilder {
 public:
  explicit LlamaGraphBuilder(const model::Model& model) : model_(model), c_(model.config) {
    if (c_.head_dim % 2 != 0) fail("RoPE needs an even head_dim, got {}", c_.head_dim);
    if (c_.n_kv_heads <= 0 || c_.n_heads % c_.n_kv_heads != 0)
      fail("n_heads ({}) must be a multiple of n_kv_heads ({})", c_.n_heads, c_.n_kv_heads);
    if (!model_.weights) fail("model '{}' has no weights", model_.path.string());
  }

  Graph full_window(int64_t window) {
    if (window < 1) fail("the window must hold at least one token, got {}", window);
    check_sliding_window(window);
    const ValueId tokens = b_.input("tokens", DType::I32, {window});
    const Shape table_shape{window, 1, c_.head_dim};  // broadcast over heads
    rope_cos_ = b_.constant("rope.cos", rope_table(c_, window, false).reshaped(table_shape));
    rope_sin_ = b_.constant("rope.sin", rope_table(c_, window, true).reshaped(table_shape));
    mask_ = b_.constant("attn.mask", causal_mask(window, window));
    ValueId x = embed(tokens);
    for (int64_t layer = 0; layer < c_.n_layers; ++layer) {
      const KV kv = key_values(layer, x);
      x = layer_body(layer, x, kv.q, kv.k, kv.v, window);
    }
    b_.output("logits", head(x));
    return std::move(b_).finish();
  }

  Graph decode_step(int64_t max_context) {
    if (max_context < 1) fail("max_context must be at least 1, got {}", max_context);
    check_sliding_window(max_context);
    const ValueId tokens = b_.input("tokens", DType::I32, {1});
    const ValueId pos = b_.input("input_pos", DType::I32, {1});
    std::vector<ValueId> cache_k, cache_v;
    for (int64_t layer = 0; layer < c_.n_layers; ++layer) {
      const Shape cache_shape{max_context, c_.n_kv_heads, c_.head_dim};
      cache_k.push_back(b_.input(fmt::format("cache_k.{}", layer), DType::F32, cache_shape));
      cache_v.push_back(b_.input(fmt::format("cache_v.{}", layer), DType::F32, cache_shape));
    }
    const ValueId cos_table = b_.constant("rope.cos_table", rope_table(c_, max_context, false));
    const ValueId sin_table = b_.constant("rope.sin_table", rope_table(c_, max_context, true));
    rope_cos_ = b_.reshape(b_.gather(cos_table, pos, "rope.cos_row"), {1, 1, c_.head_dim}, "rope.cos");
    rope_sin_ = b_.reshape(b_.gather(sin_table, pos, "rope.sin_row"), {1, 1, c_.head_dim}, "rope.sin");
    const ValueId mask_table = b_.constant("attn.mask_table", causal_mask(max_context, max_context));
    mask_ = b_.gather(mask_table, pos, "attn.mask");  // [1, max_context]

    ValueId x = embed(tokens);
    std::vector<std::pair<std::string, ValueId>> cache_outputs;
    for (int64_t layer = 0; layer < c_.n_layers; ++layer) {
      const KV kv = key_values(layer, x);
      const std::string p = prefix(layer);
      const ValueId k_all = b_.cache_update(cache_k[layer], kv.k, pos, p + "attn.k_cache_update");
      const ValueId v_all = b_.cache_update(cache_v[layer], kv.v, pos, p + "attn.v_cache_update");
      cache_outputs.emplace_back(fmt::format("cache_k.{}.out", layer), k_all);
      cache_outputs.emplace_back(fmt::format("cache_v.{}.out", layer), v_all);
      x = layer_body(layer, x, kv.q, k_all, v_all, max_context);
    }
    b_.output("logits", head(x));
    for (auto& [name, value] : cache_outputs) b_.output(name, value);
    return std::move(b_).finish();
  }

 private:
  struct KV {
    ValueId q, k, v;  // q [T, n_heads, hd], k/v [T, n_kv, hd]; q and k rotated
  };

  static std::string prefix(int64_t layer) { return fmt::format("layers.{}.", layer); }

  void check_sliding_window(int64_t context) const {
    if (c_.sliding_window && *c_.sliding_window < context)
      fail("sliding-window attention (window {}) is not supported for a context of {} tokens", *c_.sliding_window,
           context);
  }

  // A weight as an F32 constant named by its canonical name; each weight is loaded once.
  ValueId weight(const std::string& name, const Shape& expected) {
    if (auto it = weights_.find(name); it != weights_.end()) return it->second;
    if (!model_.weights->has(name)) fail("model '{}' has no weight '{}'", model_.path.string(), name);
    Tensor value = model_.weights->load_f32(name);
    if (value.shape() != expected)
      fail("model '{}': weight '{}' has shape {}, expected {}", model_.path.string(), name, shape_str(value.shape()),
           shape_str(expected));
    const ValueId id = b_.constant(name, std::move(value));
    weights_.emplace(name, id);
    return id;
  }
  ValueId layer_weight(int64_t layer, const char* name, const Shape& expected) {
    return weight(model::layer_weight(layer, name), expected);
  }

  ValueId embed(ValueId tokens) {
    return b_.gather(weight("embed", {c_.vocab_size, c_.dim}), tokens, "embedding");
  }

  // x · rsqrt(mean(x²) + eps) · weight, one op per step.
  ValueId rms_norm(ValueId x, ValueId weight, const std::string& name) {
    if (!norm_eps_.valid()) norm_eps_ = b_.scalar("norm_eps", static_cast<float>(c_.norm_eps));
    const ValueId square = b_.mul(x, x, name + ".square");
    const ValueId mean = b_.reduce_mean(square, name + ".mean_square");
    const ValueId shifted = b_.add(mean, norm_eps_, name + ".add_eps");
    const ValueId inv_rms = b_.rsqrt(shifted, name + ".rsqrt");
    const ValueId normalized = b_.mul(x, inv_rms, name + ".normalize");
    return b_.mul(normalized, weight, name + ".scale");
  }

  // x [T, heads, hd] -> x·cos + rotate(x)·sin, where rotate maps each pair (a, b) to
  // (-b, a); the layout decides which elements form a pair. The result is named name + ".out"
  // (kv_rows_name relies on it).
  ValueId rope(ValueId x, const std::string& name) {
    const Shape shape = b_.shape(x);
    const int64_t t = shape[0], heads = shape[1], hd = shape[2], half = hd / 2;
    ValueId rotated;
    if (c_.rope_layout == RopeLayout::Interleaved) {
      const ValueId pairs = b_.reshape(x, {t, heads, half, 2}, name + ".pairs");
      const ValueId even = b_.slice(pairs, {0, 0, 0, 0}, {t, heads, half, 1}, name + ".even");
      const ValueId odd = b_.slice(pairs, {0, 0, 0, 1}, {t, heads, half, 1}, name + ".odd");
      const ValueId neg_odd = b_.neg(odd, name + ".neg_odd");
      const ValueId swapped = b_.concat({neg_odd, even}, 3, name + ".swap");
      rotated = b_.reshape(swapped, {t, heads, hd}, name + ".rotated");
    } else {
      const ValueId first = b_.slice(x, {0, 0, 0}, {t, heads, half}, name + ".first_half");
      const ValueId second = b_.slice(x, {0, 0, half}, {t, heads, half}, name + ".second_half");
      const ValueId neg_second = b_.neg(second, name + ".neg_second_half");
      rotated = b_.concat({neg_second, first}, 2, name + ".rotated");
    }
    const ValueId x_cos = b_.mul(x, rope_cos_, name + ".mul_cos");
    const ValueId rot_sin = b_.mul(rotated, rope_sin_, name + ".mul_sin");
    return b_.add(x_cos, rot_sin, name + ".out");
  }

  KV key_values(int64_t layer, ValueId x) {
    const std::string p = prefix(layer);
    const int64_t t = b_.shape(x)[0];
    const ValueId norm_w = layer_weight(layer, "attn_norm", {c_.dim});
    const ValueId xn = rms_norm(x, norm_w, p + "attn_norm");
    auto projection = [&](const char* w, const char* bias, int64_t out, const char* name) {
      std::optional<ValueId> b;
      if (c_.qkv_bias) b = layer_weight(layer, bias, {out});
      return b_.linear(xn, layer_weight(layer, w, {out, c_.dim}), b, p + "attn." + name);
    };
    const ValueId q = projection("wq", "bq", c_.q_dim(), "q_proj");
    const ValueId k = projection("wk", "bk", c_.kv_dim(), "k_proj");
    const ValueId v = projection("wv", "bv", c_.kv_dim(), "v_proj");
    const ValueId q_heads = b_.reshape(q, {t, c_.n_heads, c_.head_dim}, p + "attn.q_heads");
    const ValueId k_heads = b_.reshape(k, {t, c_.n_kv_heads, c_.head_dim}, p + "attn.k_heads");
    const ValueId v_heads = b_.reshape(v, {t, c_.n_kv_heads, c_.head_dim}, kv_rows_name(layer, true));
    return {rope(q_heads, p + "attn.q_rope"), rope(k_heads, p + "attn.k_rope"), v_heads};
  }

  // Grouped-query attention without repeating K/V: query head h uses kv head h / group, so
  // q is arranged as [n_kv, group*T, hd] and both matmuls are batched over the kv heads.
  ValueId attention(ValueId q, ValueId k_all, ValueId v_all, int64_t s, const std::string& p) {
    const int64_t t = b_.shape(q)[0];
    const int64_t kv = c_.n_kv_heads, group = c_.n_heads / c_.n_kv_heads, hd = c_.head_dim;
    if (!attn_scale_.valid())
      attn_scale_ = b_.scalar("attn.scale", static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd))));
    const ValueId q_grouped = b_.reshape(q, {t, kv, group, hd}, p + "q_grouped");
    const ValueId q_by_kv = b_.transpose(q_grouped, {1, 2, 0, 3}, p + "q_by_kv_head");
    const ValueId q_rows = b_.reshape(q_by_kv, {kv, group * t, hd}, p + "q_rows");
    const ValueId k_t = b_.transpose(k_all, {1, 2, 0}, p + "k_transposed");  // [kv, hd, S]
    const ValueId scores = b_.matmul(q_rows, k_t, p + "scores");                // [kv, group*T, S]
    const ValueId scaled = b_.mul(scores, attn_scale_, p + "scores_scaled");
    const ValueId scores4 = b_.reshape(scaled, {kv, group, t, s}, p + "scores_by_position");
    const ValueId masked = b_.add(scores4, mask_, p + "scores_masked");
    const ValueId probs = b_.softmax(masked, p + "probs");
    const ValueId prob_rows = b_.reshape(probs, {kv, group * t, s}, p + "prob_rows");
    const ValueId v_by_kv = b_.transpose(v_all, {1, 0, 2}, p + "v_by_kv_head");  // [kv, S, hd]
    const ValueId context = b_.matmul(prob_rows, v_by_kv, p + "context");        // [kv, group*T, hd]
    const ValueId context4 = b_.reshape(context, {kv, group, t, hd}, p + "context_grouped");
    const ValueId by_token = b_.transpose(context4, {2, 0, 1, 3}, p + "context_by_token");
    return b_.reshape(by_token, {t, c_.q_dim()}, p + "context_rows");
  }

  ValueId layer_body(int64_t layer, ValueId x, ValueId q, ValueId k_all, ValueId v_all, int64_t s) {
    const std::string p = prefix(layer);
    const ValueId context = attention(q, k_all, v_all, s, p + "attn.");
    const ValueId attn_out = b_.linear(context, layer_weight(layer, "wo", {c_.dim, c_.q_dim()}), std::nullopt,
                                       p + "attn.o_proj");
    const ValueId h = b_.add(x, attn_out, p + "attn.residual");

    const ValueId xn = rms_norm(h, layer_weight(layer, "ffn_norm", {c_.dim}), p + "ffn_norm");
    const Shape up_shape{c_.hidden_dim, c_.dim};
    const ValueId gate = b_.linear(xn, layer_weight(layer, "w_gate", up_shape), std::nullopt, p + "ffn.gate_proj");
    const ValueId activated = b_.silu(gate, p + "ffn.gate_silu");
    const ValueId up = b_.linear(xn, layer_weight(layer, "w_up", up_shape), std::nullopt, p + "ffn.up_proj");
    const ValueId gated = b_.mul(activated, up, p + "ffn.gated");
    const ValueId down = b_.linear(gated, layer_weight(layer, "w_down", {c_.dim, c_.hidden_dim}), std::nullopt,
                                   p + "ffn.down_proj");
    return b_.add(h, down, p + "ffn.residual");
  }

  ValueId head(ValueId x) {
    const ValueId xn = rms_norm(x, weight("final_norm", {c_.dim}), "final_norm");
    const ValueId w = weight(c_.tied_embeddings ? "embed" : "output", {c_.vocab_size, c_.dim});
    return b_.linear(xn, w, std::nullopt, "lm_head");
  }

  const model::Model& model_;
  const ModelConfig& c_;
  GraphBuilder b_;
  std::map<std::string, ValueId> weights_;
  ValueId rope_cos_, rope_sin_, mask_, norm_eps_, attn_scale_;
};

}  // namespace

std::string kv_rows_name(int64_t layer, bool value) {
  return fmt::format("layers.{}.attn.{}", layer, value ? "v_heads" : "k_rope.out");
}

Graph build_full_window(const model::Model& model, int64_t window) {
  return LlamaGraphBuilder(model).full_window(window);
}

Graph build_decode_step(const model::Model& model, int64_t max_context) {
  return LlamaGraphBuilder(model).decode_step(max_context);
}

}  // namespace l2n::graph
