#include "model/safetensors_writer.h"

#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_text.h"

namespace l2n::model {
namespace {

// Elements per independently seeded block: small enough to spread a tensor over threads,
// large enough that seeding costs nothing. Part of the file format's determinism: changing
// it changes every model made.
constexpr uint64_t kBlock = 1 << 16;
// Elements generated and written per step: bounds memory (16 MB of F32).
constexpr uint64_t kChunk = 1 << 22;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// One block of N(0,1) values by Box-Muller. The first `skip` values are drawn and dropped
// so that any element range maps onto the same stream.
void normal_block(uint64_t block_seed, uint64_t skip, std::span<float> out, float stddev) {
  uint64_t state = block_seed;
  constexpr double kTwoPi = 6.283185307179586476925;
  constexpr double kInv53 = 1.0 / 9007199254740992.0;  // 2^-53
  uint64_t i = 0;
  const uint64_t end = skip + out.size();
  for (; i < end; i += 2) {
    const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * kInv53;  // (0, 1]
    const double u2 = static_cast<double>(splitmix64(state) >> 11) * kInv53;          // [0, 1)
    if (i + 1 < skip) continue;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double z[2] = {r * std::cos(kTwoPi * u2), r * std::sin(kTwoPi * u2)};
    for (uint64_t k = 0; k < 2; ++k)
      if (i + k >= skip && i + k < end) out[i + k - skip] = static_cast<float>(z[k] * stddev);
  }
}

uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to infinity
  if (a < 0x38800000u) {  // half subnormal or zero: value * 2^24, rounded to nearest even
    const float scaled = std::bit_cast<float>(a) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  uint32_t h = (((a >> 23) - 112u) << 10) | ((a >> 13) & 0x3FFu);
  const uint32_t rest = a & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
  return static_cast<uint16_t>(sign | h);
}

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    default: break;
  }
  fail_usage("make-model writes F32, F16 or BF16 weights, not {}; choose --dtype f32, f16 or bf16", dtype_name(dtype));
}

}  // namespace

std::vector<RandomWeightSpec> random_weight_specs(const ModelConfig& c) {
  std::vector<RandomWeightSpec> specs;
  specs.push_back({"model.embed_tokens.weight", {c.vocab_size, c.dim}});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    specs.push_back({p + "input_layernorm.weight", {c.dim}, 0.0f});
    specs.push_back({p + "self_attn.q_proj.weight", {c.q_dim(), c.dim}});
    specs.push_back({p + "self_attn.k_proj.weight", {c.kv_dim(), c.dim}});
    specs.push_back({p + "self_attn.v_proj.weight", {c.kv_dim(), c.dim}});
    specs.push_back({p + "self_attn.o_proj.weight", {c.dim, c.q_dim()}});
    specs.push_back({p + "post_attention_layernorm.weight", {c.dim}, 0.0f});
    specs.push_back({p + "mlp.gate_proj.weight", {c.hidden_dim, c.dim}});
    specs.push_back({p + "mlp.up_proj.weight", {c.hidden_dim, c.dim}});
    specs.push_back({p + "mlp.down_proj.weight", {c.dim, c.hidden_dim}});
  }
  specs.push_back({"model.norm.weight", {c.dim}, 0.0f});
  if (!c.tied_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, c.dim}});
  return specs;
}

uint64_t tensor_stream_seed(uint64_t seed, const std::string& name) {
  uint64_t state = seed ^ fnv1a64(name);
  return splitmix64(state);
}

void fill_random_normal(std::span<float> out, uint64_t tensor_seed, uint64_t first, float stddev) {
  const uint64_t begin_block = first / kBlock;
  const uint64_t end_block = (first + out.size() + kBlock - 1) / kBlock;
  const int64_t blocks = static_cast<int64_t>(end_block - begin_block);
// A parallel region costs more than one block of work (and much more on a loaded machine).
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const uint64_t block = begin_block + static_cast<uint64_t>(b);
    const uint64_t lo = std::max(first, block * kBlock);
    const uint64_t hi = std::min<uint64_t>(first + out.size(), (block + 1) * kBlock);
    uint64_t state = tensor_seed + block * 0xD1B54A32D192ED03ull;
    normal_block(splitmix64(state), lo - block * kBlock, out.subspan(lo - first, hi - lo), stddev);
  }
}

void write_random_safetensors(const std::filesystem::path& path, const std::vector<RandomWeightSpec>& specs,
                              DType dtype, uint64_t seed, const std::function<void(uint64_t, uint64_t)>& progress) {
  const char* st_dtype = safetensors_dtype(dtype);
  const uint64_t elem = dtype_size(dtype);
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& s : specs) {
    const uint64_t bytes = static_cast<uint64_t>(shape_numel(s.shape)) * elem;
    header[s.name] = {{"dtype", st_dtype}, {"shape", s.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  header["__metadata__"] = {{"format", "pt"}, {"llm2npu", "random weights (make-model), for benchmarks only"}};
  std::string text = json_text(header);
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as HF writes it
  const uint64_t total = offset;

  // Registered for interrupt cleanup: a SIGINT during a multi-GB write leaves nothing behind.
  AtomicFileWriter file(path);
  const uint64_t header_size = text.size();
  uint8_t size_le[8];
  for (int i = 0; i < 8; ++i) size_le[i] = static_cast<uint8_t>(header_size >> (8 * i));
  file.write(size_le, 8);
  file.write(text.data(), text.size());

  std::vector<float> values;
  std::vector<uint16_t> halves;
  uint64_t written = 0;
  for (const auto& s : specs) {
    const uint64_t n = static_cast<uint64_t>(shape_numel(s.shape));
    const uint64_t tensor_seed = tensor_stream_seed(seed, s.name);
    for (uint64_t at = 0; at < n; at += kChunk) {
      const uint64_t count = std::min(kChunk, n - at);
      values.resize(count);
      if (s.stddev == 0.0f)
        std::fill(values.begin(), values.end(), 1.0f);
      else
        fill_random_normal(values, tensor_seed, at, s.stddev);
      if (dtype == DType::F32) {
        file.write(values.data(), count * 4);  // little-endian hosts only (x86-64, AArch64)
      } else {
        halves.resize(count);
        for (uint64_t i = 0; i < count; ++i)
          halves[i] = dtype == DType::F16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
        file.write(halves.data(), count * 2);
      }
      written += count * elem;
      if (progress) progress(written, total);
    }
  }
  file.commit();
}

}  // namespace l2n::model
