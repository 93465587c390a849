#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "graph/llama_builder.h"
#include "graph_memory_weights.h"

namespace l2n::graph {
namespace {

using model::ModelConfig;
using model::RopeLayout;

const Node& find(const Graph& g, const std::string& name) {
  const Node* node = g.find(name);
  if (!node) throw std::runtime_error("no node " + name);
  return *node;
}

template <typename F>
void expect_error(F body, const char* fragment) {
  try {
    body();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(LlamaBuilder, FullWindowHasTheContractedInterfaceAndUnfusedOps) {
  ModelConfig c = testing::tiny_config();  // 4 heads, 2 kv heads, head_dim 8
  c.tied_embeddings = true;
  const Graph g = build_full_window(testing::random_model(c), 6);
  ASSERT_EQ(g.inputs().size(), 1u);
  const Node& tokens = g.node(g.inputs()[0]);
  EXPECT_EQ(tokens.name, "tokens");
  EXPECT_EQ(tokens.dtype, DType::I32);
  EXPECT_EQ(tokens.shape, (Shape{6}));
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0].first, "logits");
  EXPECT_EQ(g.node(g.outputs()[0].second).shape, (Shape{6, c.vocab_size}));

  // Attention is a batched matmul over kv heads: [n_kv, group*T, hd] x [n_kv, hd, T].
  EXPECT_EQ(find(g, "layers.0.attn.scores").op, OpKind::MatMul);
  EXPECT_EQ(find(g, "layers.0.attn.scores").shape, (Shape{2, 2 * 6, 6}));
  EXPECT_EQ(find(g, "layers.1.attn.context").shape, (Shape{2, 2 * 6, 8}));
  EXPECT_EQ(find(g, "layers.1.attn.probs").op, OpKind::Softmax);
  EXPECT_EQ(find(g, "attn.mask").shape, (Shape{6, 6}));
  EXPECT_EQ(find(g, "layers.0.attn.q_proj").op, OpKind::Linear);
  EXPECT_EQ(find(g, "layers.0.ffn.down_proj").shape, (Shape{6, c.dim}));
  EXPECT_EQ(find(g, "layers.1.ffn.gate_silu").op, OpKind::Silu);

  // RMSNorm, one op per step.
  EXPECT_EQ(find(g, "layers.0.attn_norm.square").op, OpKind::Mul);
  EXPECT_EQ(find(g, "layers.0.attn_norm.mean_square").op, OpKind::ReduceMean);
  EXPECT_EQ(find(g, "layers.0.attn_norm.add_eps").op, OpKind::Add);
  EXPECT_EQ(find(g, "layers.0.attn_norm.rsqrt").op, OpKind::Rsqrt);
  EXPECT_EQ(find(g, "final_norm.scale").op, OpKind::Mul);

  // RoPE from slice/neg/concat and the table multiplies.
  EXPECT_EQ(find(g, "layers.0.attn.q_rope.neg_second_half").op, OpKind::Neg);
  EXPECT_EQ(find(g, "layers.0.attn.k_rope.rotated").op, OpKind::Concat);
  EXPECT_EQ(find(g, "layers.0.attn.k_rope.out").op, OpKind::Add);

  // Tied head: lm_head reads the embedding constant, which exists once.
  const Node& head = find(g, "lm_head");
  EXPECT_EQ(g.node(head.inputs[1]).name, "embed");
  EXPECT_EQ(find(g, "embedding").inputs[0].index, head.inputs[1].index);

  const GraphStats stats = graph_stats(g);
  EXPECT_EQ(stats.op_counts.at(OpKind::Softmax), c.n_layers);
  EXPECT_EQ(stats.op_counts.at(OpKind::MatMul), 2 * c.n_layers);
  EXPECT_EQ(stats.op_counts.at(OpKind::Linear), 7 * c.n_layers + 1);
  EXPECT_EQ(stats.op_counts.at(OpKind::Rsqrt), 2 * c.n_layers + 1);
  for (const Node& node : g.nodes()) EXPECT_FALSE(node.name.empty());
  EXPECT_NE(to_string(g).find("layers.1.attn.o_proj"), std::string::npos);
}

TEST(LlamaBuilder, DecodeStepHasCachesInAndOut) {
  ModelConfig c = testing::tiny_config();
  c.tied_embeddings = false;
  const Graph g = build_decode_step(testing::random_model(c), 16);
  std::vector<std::string> inputs;
  for (ValueId v : g.inputs()) inputs.push_back(g.node(v).name);
  EXPECT_EQ(inputs,
            (std::vector<std::string>{"tokens", "input_pos", "cache_k.0", "cache_v.0", "cache_k.1", "cache_v.1"}));
  EXPECT_EQ(find(g, "input_pos").dtype, DType::I32);
  EXPECT_EQ(find(g, "input_pos").shape, (Shape{1}));
  EXPECT_EQ(find(g, "cache_v.1").shape, (Shape{16, c.n_kv_heads, c.head_dim}));
  std::vector<std::string> outputs;
  for (const auto& [name, v] : g.outputs()) outputs.push_back(name);
  EXPECT_EQ(outputs,
            (std::vector<std::string>{"logits", "cache_k.0.out", "cache_v.0.out", "cache_k.1.out", "cache_v.1.out"}));
  EXPECT_EQ(g.node(g.outputs()[0].second).shape, (Shape{1, c.vocab_size}));
  const Node& k_update = find(g, "layers.0.attn.k_cache_update");
  EXPECT_EQ(k_update.op, OpKind::CacheUpdate);
  EXPECT_EQ(g.node(k_update.inputs[1]).name, "layers.0.attn.k_rope.out");  // rotated keys are cached
  EXPECT_EQ(find(g, "layers.0.attn.scores").shape, (Shape{2, 2, 16}));
  EXPECT_EQ(find(g, "attn.mask").op, OpKind::Gather);
  EXPECT_EQ(find(g, "attn.mask").shape, (Shape{1, 16}));
  EXPECT_EQ(find(g, "rope.cos_row").op, OpKind::Gather);
  EXPECT_EQ(g.node(find(g, "lm_head").inputs[1]).name, "output");
}

TEST(LlamaBuilder, QkvBiasFeedsTheProjections) {
  ModelConfig c = testing::tiny_config();
  c.qkv_bias = true;
  const Graph g = build_full_window(testing::random_model(c), 3);
  for (const char* proj : {"q_proj", "k_proj", "v_proj"}) {
    const Node& n = find(g, std::string("layers.1.attn.") + proj);
    ASSERT_EQ(n.inputs.size(), 3u);
    EXPECT_EQ(g.node(n.inputs[2]).op, OpKind::Constant);
  }
  EXPECT_EQ(find(g, "layers.1.attn.o_proj").inputs.size(), 2u);
}

// The RoPE constant for the full window: [T, 1, head_dim], entry d of position p is
// cos(p * freq(pair of d)).
std::vector<float> rope_row(const Graph& g, const char* name, int64_t pos, int64_t hd) {
  const Tensor& t = find(g, name).value;
  return {t.data<float>() + pos * hd, t.data<float>() + (pos + 1) * hd};
}

TEST(LlamaBuilder, RopeTablesFollowTheLayoutAndScaling) {
  ModelConfig c = testing::tiny_config();
  c.rope_theta = 10000.0;
  c.rope_layout = RopeLayout::Interleaved;
  const int64_t hd = c.head_dim, pos = 5;
  auto freq = [&](int64_t pair) { return std::pow(10000.0, -2.0 * pair / hd); };
  {
    const Graph g = build_full_window(testing::random_model(c), 8);
    EXPECT_EQ(find(g, "rope.cos").shape, (Shape{8, 1, hd}));
    const std::vector<float> cos = rope_row(g, "rope.cos", pos, hd);
    const std::vector<float> sin = rope_row(g, "rope.sin", pos, hd);
    for (int64_t d = 0; d < hd; ++d) {
      EXPECT_FLOAT_EQ(cos[d], static_cast<float>(std::cos(pos * freq(d / 2))));
      EXPECT_FLOAT_EQ(sin[d], static_cast<float>(std::sin(pos * freq(d / 2))));
    }
  }
  c.rope_layout = RopeLayout::RotateHalf;
  {
    const Graph g = build_full_window(testing::random_model(c), 8);
    const std::vector<float> cos = rope_row(g, "rope.cos", pos, hd);
    for (int64_t d = 0; d < hd; ++d) EXPECT_FLOAT_EQ(cos[d], static_cast<float>(std::cos(pos * freq(d % (hd / 2)))));
  }
  // llama3: with theta 10000, head_dim 8 and original context 64, the wavelengths are
  // 6.3 (< 64/4: kept), 62.8 (blended), 628 and 6283 (> 64/1: divided by the factor).
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
  {
    const Graph g = build_full_window(testing::random_model(c), 8);
    const std::vector<float> cos = rope_row(g, "rope.cos", pos, hd);
    const double blended_wavelen = 2 * std::numbers::pi / freq(1);
    const double smooth = (64.0 / blended_wavelen - 1.0) / (4.0 - 1.0);
    const double blended = (1 - smooth) * freq(1) / 8.0 + smooth * freq(1);
    EXPECT_FLOAT_EQ(cos[0], static_cast<float>(std::cos(pos * freq(0))));
    EXPECT_FLOAT_EQ(cos[1], static_cast<float>(std::cos(pos * blended)));
    EXPECT_FLOAT_EQ(cos[2], static_cast<float>(std::cos(pos * freq(2) / 8.0)));
    EXPECT_FLOAT_EQ(cos[3], static_cast<float>(std::cos(pos * freq(3) / 8.0)));
  }
  c.rope_scaling = {"linear", 2.0, 1.0, 4.0, 8192};
  {
    const Graph g = build_full_window(testing::random_model(c), 8);
    EXPECT_FLOAT_EQ(rope_row(g, "rope.cos", pos, hd)[0], static_cast<float>(std::cos(pos / 2.0 * freq(0))));
  }
}

TEST(LlamaBuilder, MaskRowsHideTheFuture) {
  const Graph g = build_decode_step(testing::random_model(testing::tiny_config()), 4);
  const Tensor& table = find(g, "attn.mask_table").value;
  ASSERT_EQ(table.shape(), (Shape{4, 4}));
  for (int q = 0; q < 4; ++q)
    for (int k = 0; k < 4; ++k) {
      const float v = table.data<float>()[q * 4 + k];
      if (k <= q) EXPECT_EQ(v, 0.0f);
      else EXPECT_LE(v, -1e20f);
      EXPECT_TRUE(std::isfinite(v));
    }
}

TEST(LlamaBuilder, RejectsWhatItCannotBuild) {
  const ModelConfig c = testing::tiny_config();
  expect_error([&] { build_full_window(testing::random_model(c), 0); }, "at least one token");
  expect_error([&] { build_decode_step(testing::random_model(c), 0); }, "max_context");

  ModelConfig odd = c;
  odd.head_dim = 7;
  odd.n_heads = 4;
  expect_error([&] { build_full_window(testing::random_model(odd), 4); }, "even head_dim");

  ModelConfig yarn = c;
  yarn.rope_scaling.type = "yarn";
  expect_error([&] { build_full_window(testing::random_model(yarn), 4); }, "'yarn' is not supported");

  ModelConfig windowed = c;
  windowed.sliding_window = 8;
  EXPECT_NO_THROW(build_full_window(testing::random_model(windowed), 8));
  expect_error([&] { build_full_window(testing::random_model(windowed), 9); }, "sliding-window");

  model::Model missing = testing::random_model(c);
  auto store = std::make_shared<testing::MemoryWeightStore>();
  for (const std::string& name : missing.weights->names())
    if (name != "layers.1.w_up") store->set(name, missing.weights->load_f32(name));
  missing.weights = store;
  expect_error([&] { build_full_window(missing, 4); }, "no weight 'layers.1.w_up'");
  store->set("layers.1.w_up", Tensor(DType::F32, {c.hidden_dim, c.dim + 1}));
  expect_error([&] { build_full_window(missing, 4); }, "'layers.1.w_up' has shape");
}

}  // namespace
}  // namespace l2n::graph
