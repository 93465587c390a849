// llama2.c tokenizer .bin: int32 max_token_length, then per token float32 score, int32
// byte length and the bytes, all little-endian, until the end of the file (llama2.c takes
// the count from the model; standalone, the file must end exactly after an entry).
// Pieces have "▁" written as a space; they are stored here with "▁" again so the file
// behaves exactly like the SentencePiece model it was exported from. "<unk>", "\n<s>\n"
// and "\n</s>\n" are control tokens (BOS and EOS); encoding uses scores, like run.c.
#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "tokenizer/spm_bpe.h"
#include "tokenizer/tokenizer_impl.h"

namespace l2n::tokenizer {

namespace {

template <typename T>
T read_le(std::string_view bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

// "<s>", "\n<s>\n" and the like -> "<s>"; anything else unchanged.
std::string_view control_name(std::string_view piece) {
  while (!piece.empty() && piece.front() == '\n') piece.remove_prefix(1);
  while (!piece.empty() && piece.back() == '\n') piece.remove_suffix(1);
  return piece;
}

}  // namespace

std::unique_ptr<Tokenizer> load_llama2c_bin(const std::filesystem::path& path, std::string_view bytes) {
  static_assert(sizeof(float) == 4 && std::endian::native == std::endian::little);
  const std::string name = path.string();
  if (bytes.size() < 4) fail("{}: {} bytes is too short for a llama2.c tokenizer", name, bytes.size());
  constexpr int32_t kMaxTokenLength = 1 << 16;
  const auto max_len = read_le<int32_t>(bytes, 0);
  if (max_len < 1 || max_len > kMaxTokenLength)
    fail("{}: not a llama2.c tokenizer (max_token_length {} is not in 1..{})", name, max_len, kMaxTokenLength);

  SpmBpeConfig c;
  size_t offset = 4;
  while (offset < bytes.size()) {
    const size_t id = c.pieces.size();
    if (bytes.size() - offset < 8)
      fail("{}: truncated llama2.c tokenizer: token {} at byte {} has no complete header", name, id, offset);
    const auto score = read_le<float>(bytes, offset);
    const auto len = read_le<int32_t>(bytes, offset + 4);
    offset += 8;
    if (len < 0 || len > max_len)
      fail("{}: corrupt llama2.c tokenizer: token {} has length {} (max_token_length is {})", name, id, len, max_len);
    if (static_cast<size_t>(len) > bytes.size() - offset)
      fail("{}: truncated llama2.c tokenizer: token {} needs {} bytes, {} left", name, id, len, bytes.size() - offset);
    if (!std::isfinite(score)) fail("{}: corrupt llama2.c tokenizer: token {} has score {}", name, id, score);
    const std::string_view raw = bytes.substr(offset, static_cast<size_t>(len));
    offset += static_cast<size_t>(len);
    std::string p;
    for (const char ch : raw) {
      if (ch == ' ') p += kSpmSpace;
      else p += ch;
    }
    c.pieces.push_back(std::move(p));
    c.scores.push_back(score);
  }
  if (c.pieces.empty()) fail("{}: llama2.c tokenizer has no tokens", name);

  c.special.assign(c.pieces.size(), 0);
  for (size_t id = 0; id < c.pieces.size(); ++id) {
    const std::string_view control = control_name(c.pieces[id]);
    const auto i = static_cast<int32_t>(id);
    int32_t* slot = control == "<unk>" ? &c.unk_id : control == "<s>" ? &c.bos_id : control == "</s>" ? &c.eos_id : nullptr;
    if (slot && *slot < 0) {
      *slot = i;
      c.special[id] = 1;
    }
  }
  // llama2.c's run.c hard-codes BOS 1 and EOS 2.
  if (c.bos_id < 0 && c.pieces.size() > 1) c.bos_id = 1;
  if (c.eos_id < 0 && c.pieces.size() > 2) c.eos_id = 2;
  c.add_bos = true;
  c.add_space_prefix = true;
  c.strip_leading_space = true;
  return std::make_unique<SpmBpeTokenizer>(std::move(c));
}

}  // namespace l2n::tokenizer
