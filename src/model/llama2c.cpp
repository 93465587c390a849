// llama2.c legacy (version 0) checkpoints: seven little-endian int32 header fields, then
// every weight as f32, stacked over layers, in a fixed order. The file carries no names
// and no magic, so the only protection against a wrong or damaged file is checking that
// its size matches the header exactly.
#include <algorithm>
#include <cstring>
#include <regex>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/loaders.h"
#include "model/weight_store.h"

namespace l2n::model::detail {
namespace {

constexpr int64_t kHeaderBytes = 7 * 4;
// llama2.c's newer export formats (version 1 and 2) start with this magic ("ak42").
constexpr uint32_t kLlama2cVersionedMagic = 0x616b3432;

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// tok*.bin beside the model (preferring tok<vocab>.bin when there are several), else
// tok*.model by the same rule.
std::optional<std::filesystem::path> find_tokenizer(const std::filesystem::path& model_path, int64_t vocab) {
  const std::filesystem::path dir = model_path.has_parent_path() ? model_path.parent_path() : ".";
  for (const char* ext : {".bin", ".model"}) {
    std::vector<std::filesystem::path> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("tok", 0) == 0 && entry.path().extension() == ext && entry.is_regular_file(ec))
        found.push_back(entry.path());
    }
    const std::string preferred = "tok" + std::to_string(vocab) + ext;
    for (const auto& p : found)
      if (p.filename() == preferred) return p;
    if (found.size() == 1) return found.front();
  }
  return std::nullopt;
}

}  // namespace

Model load_llama2c(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  const std::string src = path.string();
  if (file->size() < static_cast<size_t>(kHeaderBytes))
    fail("{} is {} bytes, too small for a llama2.c checkpoint (the header alone is {} bytes); the file is "
         "truncated or not a model",
         src, file->size(), kHeaderBytes);
  Header h;
  std::memcpy(&h, file->data(), sizeof(h));
  uint32_t first_word;
  std::memcpy(&first_word, file->data(), 4);
  if (first_word == kLlama2cVersionedMagic)
    fail("{} is a llama2.c version 1/2 export (magic \"ak42\"); only the legacy version 0 layout is "
         "supported; re-export it with llama2.c's export.py --version 0",
         src);

  const int64_t abs_vocab = h.vocab_size < 0 ? -static_cast<int64_t>(h.vocab_size) : h.vocab_size;
  auto check_field = [&](const char* what, int64_t value, int64_t max) {
    if (value <= 0 || value > max)
      fail("{} is not a valid llama2.c checkpoint: header field {} is {}, but it must be in 1..{}; the "
           "file is corrupt or not a llama2.c .bin (for GGUF or Hugging Face checkpoints pass the .gguf "
           "file or the directory)",
           src, what, value, max);
  };
  check_field("dim", h.dim, kMaxWidth);
  check_field("hidden_dim", h.hidden_dim, kMaxWidth);
  check_field("n_layers", h.n_layers, kMaxLayers);
  check_field("n_heads", h.n_heads, kMaxHeads);
  check_field("n_kv_heads", h.n_kv_heads, kMaxHeads);
  check_field("|vocab_size|", abs_vocab, kMaxVocab);
  check_field("seq_len", h.seq_len, kMaxSeqLen);
  if (h.dim % h.n_heads != 0)
    fail("{} is not a valid llama2.c checkpoint: n_heads ({}) does not divide dim ({})", src, h.n_heads, h.dim);
  if (h.n_heads % h.n_kv_heads != 0)
    fail("{} is not a valid llama2.c checkpoint: n_kv_heads ({}) does not divide n_heads ({})", src,
         h.n_kv_heads, h.n_heads);

  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.source_format = "llama2c";
  c.dim = h.dim;
  c.hidden_dim = h.hidden_dim;
  c.n_layers = h.n_layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.head_dim = h.dim / h.n_heads;
  c.vocab_size = abs_vocab;
  c.max_seq_len = h.seq_len;
  c.rope_theta = 10000.0;
  c.rope_layout = RopeLayout::Interleaved;
  c.norm_eps = 1e-5;
  c.tied_embeddings = h.vocab_size > 0;
  c.bos_id = 1;
  c.eos_id = 2;
  validate_config(c, path);

  // The bounds above keep every product below 2^62.
  const int64_t L = c.n_layers, D = c.dim, F = c.hidden_dim, KV = c.kv_dim(), Q = c.q_dim();
  const int64_t freq_floats = 2 * c.max_seq_len * (c.head_dim / 2);
  const int64_t floats = c.vocab_size * D + L * D + L * Q * D + 2 * L * KV * D + L * D * Q + L * D +
                         3 * L * F * D + D + freq_floats + (c.tied_embeddings ? 0 : c.vocab_size * D);
  const int64_t expected = kHeaderBytes + 4 * floats;
  if (static_cast<int64_t>(file->size()) != expected)
    fail("{} is {} bytes, but a llama2.c checkpoint with this header (dim {}, hidden_dim {}, {} layers, "
         "{} heads, {} kv heads, vocab {}{}, seq_len {}) must be exactly {} bytes; the file is {} or not a "
         "llama2.c legacy .bin",
         src, file->size(), D, F, L, c.n_heads, c.n_kv_heads, c.vocab_size,
         c.tied_embeddings ? " shared with the classifier" : " with a separate classifier", c.max_seq_len,
         expected, static_cast<int64_t>(file->size()) < expected ? "truncated" : "longer than expected");

  auto store = std::make_shared<MappedWeightStore>();
  const uint8_t* cursor = file->data() + kHeaderBytes;
  // Adds one stacked block [L, rows, cols] (or [rows, cols] for a global) as per-layer weights.
  auto take = [&](const char* file_name, const char* canonical, bool per_layer, Shape shape) {
    const int64_t n = shape_numel(shape);
    const int64_t copies = per_layer ? L : 1;
    for (int64_t l = 0; l < copies; ++l) {
      StoredTensor t;
      t.dtype = DType::F32;
      t.shape = shape;
      t.data = cursor + 4 * n * l;
      t.file = file;
      t.file_name = per_layer ? fmt::format("{}[{}]", file_name, l) : file_name;
      store->add(per_layer ? layer_weight(l, canonical) : std::string(canonical), std::move(t));
    }
    cursor += 4 * n * copies;
  };
  take("token_embedding_table", "embed", false, {c.vocab_size, D});
  take("rms_att_weight", "attn_norm", true, {D});
  take("wq", "wq", true, {Q, D});
  take("wk", "wk", true, {KV, D});
  take("wv", "wv", true, {KV, D});
  take("wo", "wo", true, {D, Q});
  take("rms_ffn_weight", "ffn_norm", true, {D});
  take("w1", "w_gate", true, {F, D});
  take("w2", "w_down", true, {D, F});
  take("w3", "w_up", true, {F, D});
  take("rms_final_weight", "final_norm", false, {D});
  cursor += 4 * freq_floats;  // RoPE tables: recomputed from theta, not needed.
  if (!c.tied_embeddings) take("wcls", "output", false, {c.vocab_size, D});

  Model model;
  model.config = c;
  model.weights = store;
  model.path = path;
  model.tokenizer_path = find_tokenizer(path, c.vocab_size);
  check_weights(model, [](const std::string& name) { return name; });
  return model;
}

}  // namespace l2n::model::detail
