// make-model's model stage: presets, the streaming safetensors writer, the random streams.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "model/model.h"
#include "model/presets.h"
#include "model/safetensors_writer.h"
#include "scratch_dir.h"

namespace l2n::model {
namespace {

namespace fs = std::filesystem;

using testing::ScratchDir;

// What make-model writes, minus the tokenizer (another stage), into `dir`.
const fs::path& make_checkpoint(const ScratchDir& dir, uint64_t seed, DType dtype = DType::F32) {
  const ModelPreset& p = model_preset("stories260k");
  write_random_safetensors(dir / "model.safetensors", random_weight_specs(p.config), dtype, seed);
  write_file_atomic(dir / "config.json", preset_config_json(p.config, "float32"));
  return dir.path();
}

TEST(MakeModel, PresetsMirrorTheRealConfigs) {
  const auto& smol = model_preset("smollm2-135m").config;
  EXPECT_EQ(smol.dim, 576);
  EXPECT_EQ(smol.hidden_dim, 1536);
  EXPECT_EQ(smol.n_layers, 30);
  EXPECT_EQ(smol.n_heads, 9);
  EXPECT_EQ(smol.n_kv_heads, 3);
  EXPECT_EQ(smol.vocab_size, 49152);
  EXPECT_TRUE(smol.tied_embeddings);
  EXPECT_EQ(smol.rope_theta, 100000.0);
  const auto& tiny = model_preset("tinyllama-1.1b").config;
  EXPECT_EQ(tiny.dim, 2048);
  EXPECT_EQ(tiny.hidden_dim, 5632);
  EXPECT_EQ(tiny.n_layers, 22);
  EXPECT_EQ(tiny.n_heads, 32);
  EXPECT_EQ(tiny.n_kv_heads, 4);
  EXPECT_EQ(tiny.vocab_size, 32000);
  EXPECT_FALSE(tiny.tied_embeddings);
  // Parameter counts of the real checkpoints.
  auto count = [](const ModelConfig& c) {
    int64_t n = 0;
    for (const auto& s : random_weight_specs(c)) n += shape_numel(s.shape);
    return n;
  };
  EXPECT_EQ(count(smol), 134515008);
  EXPECT_EQ(count(tiny), 1100048384);
  for (const auto& p : model_presets()) EXPECT_NO_THROW(validate_config(p.config, p.name)) << p.name;
  try {
    model_preset("llama-7b");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("stories260k"), std::string::npos) << e.what();
  }
}

TEST(MakeModel, Stories260kLoadsWithThePresetConfig) {
  const ScratchDir dir("l2n_make_model");
  const Model m = load_model(make_checkpoint(dir, 7));
  const ModelConfig& want = model_preset("stories260k").config;
  const ModelConfig& got = m.config;
  EXPECT_EQ(got.architecture, want.architecture);
  EXPECT_EQ(got.dim, want.dim);
  EXPECT_EQ(got.hidden_dim, want.hidden_dim);
  EXPECT_EQ(got.n_layers, want.n_layers);
  EXPECT_EQ(got.n_heads, want.n_heads);
  EXPECT_EQ(got.n_kv_heads, want.n_kv_heads);
  EXPECT_EQ(got.head_dim, want.head_dim);
  EXPECT_EQ(got.vocab_size, want.vocab_size);
  EXPECT_EQ(got.max_seq_len, want.max_seq_len);
  EXPECT_EQ(got.rope_theta, want.rope_theta);
  EXPECT_EQ(got.norm_eps, want.norm_eps);
  EXPECT_EQ(got.tied_embeddings, want.tied_embeddings);
  EXPECT_EQ(got.bos_id, want.bos_id);
  EXPECT_EQ(got.eos_id, want.eos_id);
  // Same as the real stories260K-hf conversion.
  const Model real = load_model(fs::path(LLM2NPU_SHARED_DIR) / "data/models/stories260K-hf");
  EXPECT_EQ(real.config.dim, got.dim);
  EXPECT_EQ(real.config.hidden_dim, got.hidden_dim);
  EXPECT_EQ(real.config.n_kv_heads, got.n_kv_heads);
  EXPECT_EQ(real.config.tied_embeddings, got.tied_embeddings);
  EXPECT_EQ(real.parameter_count(), m.parameter_count());
}

TEST(MakeModel, WeightsHaveHfInitStatistics) {
  const ScratchDir dir("l2n_make_model");
  const Model m = load_model(make_checkpoint(dir, 11));
  for (const char* name : {"embed", "layers.0.wq", "layers.4.w_down"}) {
    const Tensor t = m.weights->load_f32(name);
    const float* v = t.data<float>();
    const int64_t n = t.numel();
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += v[i];
      sq += double(v[i]) * v[i];
    }
    const double mean = sum / double(n), stddev = std::sqrt(sq / double(n) - mean * mean);
    EXPECT_NEAR(mean, 0.0, 0.002) << name;
    EXPECT_NEAR(stddev, 0.02, 0.001) << name << " (" << n << " values)";
  }
  for (const char* name : {"final_norm", "layers.2.attn_norm", "layers.3.ffn_norm"}) {
    const Tensor t = m.weights->load_f32(name);
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.data<float>()[i], 1.0f) << name;
  }
}

TEST(MakeModel, SameSeedSameBytesOtherSeedOtherBytes) {
  const ScratchDir da("l2n_make_model"), db("l2n_make_model"), dc("l2n_make_model");
  const auto a = make_checkpoint(da, 3), b = make_checkpoint(db, 3), c = make_checkpoint(dc, 4);
  const std::string fa = read_text_file(a / "model.safetensors");
  EXPECT_GT(fa.size(), 1000u);
  EXPECT_EQ(fa, read_text_file(b / "model.safetensors"));
  EXPECT_NE(fa, read_text_file(c / "model.safetensors"));
  EXPECT_EQ(fa.size(), read_text_file(c / "model.safetensors").size());
  for (const auto& d : {a, b, c}) {
    for (const auto& entry : fs::directory_iterator(d))  // no temporary file left behind
      EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST(MakeModel, StreamIsAddressedByElementIndex) {
  // Any chunking gives the same values (the writer's chunks, the threads' blocks).
  std::vector<float> whole(300000), part(70001);
  fill_random_normal(whole, 42, 0, 0.02f);
  fill_random_normal(part, 42, 65535, 0.02f);
  for (size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i], whole[65535 + i]) << i;
}

TEST(MakeModel, HalfPrecisionFilesRoundTheSameValues) {
  const ScratchDir d32("l2n_make_model"), dbf16("l2n_make_model"), d16("l2n_make_model");
  const auto f32 = make_checkpoint(d32, 5), bf16 = make_checkpoint(dbf16, 5, DType::BF16),
             f16 = make_checkpoint(d16, 5, DType::F16);
  const Tensor ref = load_model(f32).weights->load_f32("layers.1.wk");
  const Model mb = load_model(bf16), mh = load_model(f16);
  EXPECT_EQ(mb.weights->info("layers.1.wk").dtype, DType::BF16);
  EXPECT_EQ(mh.weights->info("layers.1.wk").dtype, DType::F16);
  const Tensor tb = mb.weights->load_f32("layers.1.wk"), th = mh.weights->load_f32("layers.1.wk");
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const float r = ref.data<float>()[i];
    ASSERT_LE(std::abs(tb.data<float>()[i] - r), std::abs(r) * (1.0f / 256)) << i;
    ASSERT_LE(std::abs(th.data<float>()[i] - r), std::max(std::abs(r) / 2048, 6e-8f)) << i;
  }
}

TEST(MakeModel, AFailedWriteLeavesNoFile) {
  const ScratchDir dir("l2n_make_model");
  const auto target = dir / "missing_subdir" / "model.safetensors";
  const auto specs = random_weight_specs(model_preset("stories260k").config);
  EXPECT_THROW(write_random_safetensors(target, specs, DType::F32, 1), Error);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace l2n::model
