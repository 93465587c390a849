// Loading by content, embedded vocabularies, the model's tokenizer, streaming decode.
#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/spm_bpe.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace l2n::tokenizer {

namespace {

constexpr uintmax_t kMaxTokenizerFileBytes = uintmax_t{1} << 30;

std::vector<PreTokenizerOp> pre_tokenizer_for(const std::string& pre) {
  // GGUF tokenizer.ggml.pre names, as in llama.cpp, mapped to the HF pre-tokenizers.
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "smaug-bpe")
    return {split_op(kLlama3Pattern, PreTokenizerOp::Behavior::Isolated, false), byte_level_op(false, false)};
  if (pre == "qwen2")
    return {split_op(kQwen2Pattern, PreTokenizerOp::Behavior::Isolated, false), byte_level_op(false, false)};
  if (pre == "smollm") return {digits_op(true), byte_level_op(false, true)};
  return {byte_level_op(false, true)};  // "gpt2", "default", absent or unknown
}

// GGUF token types (llama.cpp): 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
enum TokenType : int32_t { kUnknown = 2, kControl = 3, kUserDefined = 4 };

int32_t type_of(const model::EmbeddedVocab& v, size_t id) {
  return id < v.token_types.size() ? v.token_types[id] : 1;
}

int32_t guess(const std::vector<std::string>& tokens, std::initializer_list<const char*> names) {
  for (const char* name : names)
    for (size_t id = 0; id < tokens.size(); ++id)
      if (tokens[id] == name) return static_cast<int32_t>(id);
  return -1;
}

std::unique_ptr<Tokenizer> spm_from_vocab(const model::EmbeddedVocab& v) {
  const size_t n = v.tokens.size();
  SpmBpeConfig c;
  c.pieces = v.tokens;
  if (v.scores.empty()) {
    // No scores: earlier pieces first, as SentencePiece numbers them by training order.
    c.scores.resize(n);
    for (size_t id = 0; id < n; ++id) c.scores[id] = -static_cast<float>(id);
  } else {
    c.scores = v.scores;
  }
  c.special.assign(n, 0);
  for (size_t id = 0; id < n; ++id) {
    const int32_t type = type_of(v, id);
    if (v.token_types.empty()) {
      if (v.tokens[id] == "<unk>" || v.tokens[id] == "<s>" || v.tokens[id] == "</s>") c.special[id] = 1;
    } else if (type == kUnknown || type == kControl) {
      c.special[id] = 1;
    }
    if (type == kUnknown || type == kControl || type == kUserDefined) c.split_tokens.push_back(static_cast<int32_t>(id));
  }
  c.unk_id = v.unk_id >= 0 ? v.unk_id : guess(v.tokens, {"<unk>"});
  c.bos_id = v.bos_id >= 0 ? v.bos_id : guess(v.tokens, {"<s>"});
  c.eos_id = v.eos_id >= 0 ? v.eos_id : guess(v.tokens, {"</s>"});
  c.special_ids_guessed = v.bos_id < 0 || v.eos_id < 0;
  c.add_bos = v.add_bos;
  c.add_space_prefix = v.add_space_prefix;
  c.strip_leading_space = v.add_space_prefix;
  return std::make_unique<SpmBpeTokenizer>(std::move(c));
}

std::unique_ptr<Tokenizer> byte_level_from_vocab(const model::EmbeddedVocab& v) {
  const size_t n = v.tokens.size();
  ByteLevelConfig c;
  c.pieces = v.tokens;
  c.special.assign(n, 0);
  c.added.assign(n, 0);
  VocabMap ids;
  ids.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    ids.emplace(v.tokens[id], static_cast<int32_t>(id));
    const int32_t type = type_of(v, id);
    if (type == kControl || type == kUserDefined) {
      c.added[id] = 1;
      c.special[id] = type == kControl;
      c.front.added_tokens.push_back(AddedToken{v.tokens[id], static_cast<int32_t>(id), type == kControl});
    }
  }
  c.merges.reserve(v.merges.size());
  for (const std::string& m : v.merges)
    if (auto pair = split_merge_string(m, ids)) c.merges.push_back(std::move(*pair));
  c.front.pre_tokenizer = pre_tokenizer_for(v.pre);
  c.unk_id = v.unk_id;
  c.bos_id = v.bos_id;
  c.eos_id = v.eos_id;
  if (c.bos_id < 0) c.bos_id = guess(v.tokens, {"<|begin_of_text|>", "<s>", "<|endoftext|>"});
  if (c.eos_id < 0) c.eos_id = guess(v.tokens, {"<|end_of_text|>", "</s>", "<|endoftext|>"});
  c.special_ids_guessed = v.bos_id < 0 || v.eos_id < 0;
  c.add_bos = v.add_bos;
  return std::make_unique<ByteLevelBpeTokenizer>(std::move(c));
}

// A tokenizer.json: the first character after a byte order mark and blanks is '{'.
bool looks_like_json(const std::string& bytes) {
  size_t first = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // UTF-8 byte order mark
  while (first < bytes.size() && (bytes[first] == ' ' || bytes[first] == '\n' || bytes[first] == '\r' ||
                                  bytes[first] == '\t'))
    ++first;
  return first < bytes.size() && bytes[first] == '{';
}

std::filesystem::path tokenizer_in_directory(const std::filesystem::path& dir) {
  for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir / name, ec)) return dir / name;
  }
  fail("{} is a directory without tokenizer.json or tokenizer.model", dir.string());
}

}  // namespace

TokenizerSource read_tokenizer_source(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return read_tokenizer_source(tokenizer_in_directory(path));
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail("cannot open tokenizer {}: {}", path.string(), ec.message());
  if (size > kMaxTokenizerFileBytes) fail("{}: {} bytes is too large for a tokenizer file", path.string(), size);
  TokenizerSource source;
  source.name = path;
  source.bytes = read_text_file(path);
  // Only a tokenizer.json reads its companions; the other formats are self-contained.
  if (looks_like_json(source.bytes)) {
    for (std::string_view companion : kTokenizerCompanionFiles) {
      const std::filesystem::path companion_path = path.parent_path() / companion;
      if (!std::filesystem::is_regular_file(companion_path, ec)) continue;
      const auto companion_size = std::filesystem::file_size(companion_path, ec);
      if (!ec && companion_size > kMaxTokenizerFileBytes)
        fail("{}: {} bytes is too large for a tokenizer file", companion_path.string(), companion_size);
      source.companions.emplace(std::string(companion), read_text_file(companion_path));
    }
  }
  return source;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path) {
  return load_tokenizer(read_tokenizer_source(path));
}

std::unique_ptr<Tokenizer> load_tokenizer_from_bytes(std::span<const uint8_t> bytes, const std::string& file_name) {
  if (bytes.size() > kMaxTokenizerFileBytes)
    fail("{}: {} bytes is too large for a tokenizer file", file_name, bytes.size());
  TokenizerSource source;
  source.name = file_name;
  source.bytes.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return load_tokenizer(source);
}

std::unique_ptr<Tokenizer> load_tokenizer(const TokenizerSource& source) {
  const std::filesystem::path& path = source.name;
  const std::string& bytes = source.bytes;
  if (bytes.empty()) fail("{}: the tokenizer file is empty", path.string());

  if (looks_like_json(bytes)) return load_hf_json(path, bytes, source.companions);
  if (bytes.compare(0, 4, "GGUF") == 0)
    fail("{} is a GGUF model; its vocabulary is loaded with the model, not as a tokenizer file", path.string());
  // A SentencePiece ModelProto starts with field 1 (the pieces), tag byte 0x0A. A llama2.c
  // .bin with max_token_length 10 starts with that byte too, so fall back to it.
  if (bytes[0] == '\x0A') {
    try {
      return load_sentencepiece_model(path, bytes);
    } catch (const Error& model_error) {
      try {
        return load_llama2c_bin(path, bytes);
      } catch (const Error& bin_error) {
        fail("{}: neither a SentencePiece model ({}) nor a llama2.c tokenizer ({})", path.string(),
             model_error.what(), bin_error.what());
      }
    }
  }
  try {
    return load_llama2c_bin(path, bytes);
  } catch (const Error& e) {
    fail("{}\n(the file is not tokenizer.json either; tokenizer files are a Hugging Face tokenizer.json, a "
         "SentencePiece .model or a llama2.c tokenizer .bin)",
         e.what());
  }
}

std::unique_ptr<Tokenizer> tokenizer_from_vocab(const model::EmbeddedVocab& vocab) {
  if (vocab.tokens.empty()) fail("the embedded vocabulary has no tokens");
  if (!vocab.scores.empty() && vocab.scores.size() != vocab.tokens.size())
    fail("the embedded vocabulary has {} tokens but {} scores", vocab.tokens.size(), vocab.scores.size());
  if (!vocab.token_types.empty() && vocab.token_types.size() != vocab.tokens.size())
    fail("the embedded vocabulary has {} tokens but {} token types", vocab.tokens.size(), vocab.token_types.size());
  if (vocab.model == "llama") return spm_from_vocab(vocab);
  if (vocab.model == "gpt2") return byte_level_from_vocab(vocab);
  fail("embedded tokenizer model \"{}\" is not supported (supported: llama, gpt2); pass --tokenizer PATH",
       vocab.model);
}

std::unique_ptr<Tokenizer> tokenizer_for_model(const model::Model& model,
                                               const std::optional<std::filesystem::path>& override_path) {
  std::unique_ptr<Tokenizer> tok;
  if (override_path) tok = load_tokenizer(*override_path);
  else if (model.tokenizer_path) tok = load_tokenizer(*model.tokenizer_path);
  else if (model.embedded_vocab) tok = tokenizer_from_vocab(*model.embedded_vocab);
  else
    fail_usage("no tokenizer for {}: none was found beside it (tokenizer.json, tokenizer.model, tok*.bin) and the "
               "checkpoint embeds none; pass --tokenizer PATH",
               model.path.string());

  return fit_tokenizer_to_model(std::move(tok), model.config, model.path.string());
}

std::unique_ptr<Tokenizer> fit_tokenizer_to_model(std::unique_ptr<Tokenizer> tok, const model::ModelConfig& config,
                                                  const std::string& model_name) {
  const int64_t model_vocab = config.vocab_size;
  if (model_vocab > 0 && tok->vocab_size() > model_vocab)
    fail_usage("the tokenizer has {} tokens but {} has a vocabulary of {}; it belongs to another model (pass the "
               "matching --tokenizer PATH)",
               tok->vocab_size(), model_name, model_vocab);

  // BOS/EOS that the tokenizer files did not state are taken from the model's config.
  if (auto* base = dynamic_cast<TokenizerBase*>(tok.get()); base && base->special_ids_guessed()) {
    auto valid = [&](int32_t id) { return id >= 0 && id < tok->vocab_size(); };
    const int32_t bos = valid(config.bos_id) ? config.bos_id : base->bos_id();
    const int32_t eos = valid(config.eos_id) ? config.eos_id : base->eos_id();
    if (valid(config.bos_id) || valid(config.eos_id)) base->set_special_ids(bos, eos);
  }
  return tok;
}

std::string StreamingDecoder::push(int32_t id) {
  ids_.push_back(id);
  // Every decoder here is prefix-stable (decoding more ids only appends text), so the new
  // text is what lies beyond the bytes already emitted.
  const std::string text = tokenizer_.decode(ids_);
  std::string out;
  if (text.size() > emitted_bytes_) {
    std::string_view fresh(text);
    fresh.remove_prefix(emitted_bytes_);
    fresh.remove_suffix(utf8::incomplete_tail(fresh));
    out = fresh;
    emitted_bytes_ += fresh.size();
  }

  // Bound the work per push: forget old ids, keeping in front one whose text is not empty
  // so that the leading-space rule of decode() does not apply again to the rest. Done only
  // when the kept ids provably decode to the tail of the text.
  constexpr size_t kKeep = 32, kTrimAt = 128;
  if (ids_.size() >= kTrimAt) {
    const size_t cut = ids_.size() - kKeep;
    for (size_t anchor = cut; anchor-- > cut - kKeep;) {
      if (tokenizer_.decode(std::span(&ids_[anchor], 1)).empty()) continue;
      const std::string kept = tokenizer_.decode(std::span(ids_).subspan(anchor));
      const size_t removed = text.size() - std::min(text.size(), kept.size());
      if (kept.size() <= text.size() && std::string_view(text).ends_with(kept) && removed <= emitted_bytes_) {
        ids_.erase(ids_.begin(), ids_.begin() + static_cast<ptrdiff_t>(anchor));
        emitted_bytes_ -= removed;
      }
      break;
    }
  }
  return out;
}

std::string StreamingDecoder::flush() {
  const std::string text = tokenizer_.decode(ids_);
  std::string rest = text.size() > emitted_bytes_ ? text.substr(emitted_bytes_) : std::string();
  emitted_bytes_ = text.size();
  return rest;
}

}  // namespace l2n::tokenizer
