// Hugging Face tokenizer.json (model type "BPE"), with the tokenizer_config.json and
// special_tokens_map.json found beside it.
//
// The file is byte-level BPE (GPT-2, Llama-3, SmolLM2, Qwen2) when its pre-tokenizer or
// decoder is ByteLevel, and SentencePiece-style BPE (Llama-2, Mistral, TinyLlama)
// otherwise. Supported pieces: normalizers Sequence, Prepend, Replace, Strip and NFC (taken
// as the identity: text is assumed to be NFC already); pre-tokenizers Sequence, ByteLevel,
// Split, Digits, Metaspace; anything else is refused with an error naming it.
//
// BOS/EOS: tokenizer_config.json, then special_tokens_map.json, then the post-processor's
// template; failing those, well-known names are guessed ("<s>"/"</s>",
// "<|begin_of_text|>"/"<|end_of_text|>", "<|endoftext|>" for both, as GPT-2 and SmolLM2
// use it) and the guess may be replaced by the model's config (tokenizer_for_model).
// BOS is added by default when tokenizer_config.json says add_bos_token, or else when the
// post-processor's template starts with a special token.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/json_depth.h"
#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/spm_bpe.h"
#include "tokenizer/tokenizer_impl.h"

namespace l2n::tokenizer {

namespace {

using nlohmann::json;

class JsonReader {
 public:
  explicit JsonReader(std::filesystem::path path) : path_(std::move(path)) {}

  [[noreturn]] void error(const std::string& what) const { fail("{}: {}", path_.string(), what); }

  const json& object(const json& parent, const char* key, const char* where) const {
    const auto it = parent.find(key);
    if (it == parent.end() || !it->is_object()) error(fmt::format("{} has no \"{}\" object", where, key));
    return *it;
  }
  std::string string(const json& j, const char* key, const char* where) const {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) error(fmt::format("{} has no string \"{}\"", where, key));
    return it->get<std::string>();
  }
  bool flag(const json& j, const char* key, bool fallback) const {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) error(fmt::format("\"{}\" must be true or false", key));
    return it->get<bool>();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A {"String": ...} or {"Regex": ...} pattern as a PCRE2 pattern.
std::string pattern_of(const JsonReader& r, const json& j) {
  if (!j.is_object()) r.error("a pattern must be {\"String\": ...} or {\"Regex\": ...}");
  if (j.contains("Regex") && j["Regex"].is_string()) return j["Regex"].get<std::string>();
  if (j.contains("String") && j["String"].is_string()) return regex_escape(j["String"].get<std::string>());
  r.error("a pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

void parse_normalizer(const JsonReader& r, const json& j, std::vector<NormalizerOp>& ops) {
  if (j.is_null()) return;
  if (!j.is_object()) r.error("\"normalizer\" must be an object or null");
  const std::string type = r.string(j, "type", "a normalizer");
  if (type == "Sequence") {
    const auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array()) r.error("Sequence normalizer has no \"normalizers\" list");
    for (const json& sub : *it) parse_normalizer(r, sub, ops);
  } else if (type == "Prepend") {
    NormalizerOp op;
    op.kind = NormalizerOp::Kind::Prepend;
    op.text = r.string(j, "prepend", "Prepend normalizer");
    ops.push_back(std::move(op));
  } else if (type == "Replace") {
    NormalizerOp op;
    op.kind = NormalizerOp::Kind::Replace;
    op.text = r.string(j, "content", "Replace normalizer");
    const auto it = j.find("pattern");
    if (it == j.end()) r.error("Replace normalizer has no pattern");
    if (it->is_object() && it->contains("String") && (*it)["String"].is_string())
      op.literal = (*it)["String"].get<std::string>();
    else
      op.regex = std::make_shared<const Regex>(pattern_of(r, *it));
    ops.push_back(std::move(op));
  } else if (type == "Strip") {
    NormalizerOp op;
    op.kind = NormalizerOp::Kind::Strip;
    op.strip_left = r.flag(j, "strip_left", true);
    op.strip_right = r.flag(j, "strip_right", true);
    ops.push_back(std::move(op));
  } else if (type == "NFC") {
    ops.push_back(NormalizerOp{});
  } else {
    r.error(fmt::format("normalizer \"{}\" is not supported (supported: Sequence, Prepend, Replace, Strip, NFC)", type));
  }
}

PreTokenizerOp::Behavior behavior_of(const JsonReader& r, const std::string& name) {
  using B = PreTokenizerOp::Behavior;
  if (name == "Removed") return B::Removed;
  if (name == "Isolated") return B::Isolated;
  if (name == "MergedWithPrevious") return B::MergedWithPrevious;
  if (name == "MergedWithNext") return B::MergedWithNext;
  if (name == "Contiguous") return B::Contiguous;
  r.error(fmt::format("unknown Split behavior \"{}\"", name));
}

void parse_pre_tokenizer(const JsonReader& r, const json& j, std::vector<PreTokenizerOp>& ops) {
  if (j.is_null()) return;
  if (!j.is_object()) r.error("\"pre_tokenizer\" must be an object or null");
  const std::string type = r.string(j, "type", "a pre-tokenizer");
  if (type == "Sequence") {
    const auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array()) r.error("Sequence pre-tokenizer has no \"pretokenizers\" list");
    for (const json& sub : *it) parse_pre_tokenizer(r, sub, ops);
  } else if (type == "ByteLevel") {
    ops.push_back(byte_level_op(r.flag(j, "add_prefix_space", true), r.flag(j, "use_regex", true)));
  } else if (type == "Split") {
    const auto it = j.find("pattern");
    if (it == j.end()) r.error("Split pre-tokenizer has no pattern");
    ops.push_back(split_op(pattern_of(r, *it), behavior_of(r, r.string(j, "behavior", "Split pre-tokenizer")),
                           r.flag(j, "invert", false)));
  } else if (type == "Digits") {
    ops.push_back(digits_op(r.flag(j, "individual_digits", false)));
  } else if (type == "Metaspace") {
    std::string replacement = "\xE2\x96\x81";
    if (j.contains("replacement") && j["replacement"].is_string()) replacement = j["replacement"].get<std::string>();
    auto prepend = PreTokenizerOp::Prepend::Always;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      const std::string scheme = j["prepend_scheme"].get<std::string>();
      if (scheme == "first") prepend = PreTokenizerOp::Prepend::First;
      else if (scheme == "never") prepend = PreTokenizerOp::Prepend::Never;
      else if (scheme != "always") r.error(fmt::format("unknown Metaspace prepend_scheme \"{}\"", scheme));
    }
    if (!r.flag(j, "add_prefix_space", true)) prepend = PreTokenizerOp::Prepend::Never;
    ops.push_back(metaspace_op(replacement, prepend, r.flag(j, "split", true)));
  } else {
    r.error(fmt::format("pre-tokenizer \"{}\" is not supported (supported: Sequence, ByteLevel, Split, Digits, "
                        "Metaspace)",
                        type));
  }
}

// j[key] if j is an object holding a string there, else fallback (json::value() would throw
// a json::type_error for a member of another type).
std::string string_or(const json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool has_type(const json& j, const std::string& type) {
  if (j.is_object()) {
    if (j.contains("type") && j["type"] == type) return true;
    for (const auto& [key, value] : j.items())
      if (value.is_array() || value.is_object())
        if (has_type(value, type)) return true;
  } else if (j.is_array()) {
    for (const json& sub : j)
      if (has_type(sub, type)) return true;
  }
  return false;
}

// Does decode() drop the dummy-prefix space? (Strip decoder, or Metaspace that prepends.)
bool decoder_strips_space(const json& j) {
  if (j.is_object()) {
    const std::string type = string_or(j, "type", "");
    if (type == "Strip") {
      const auto start = j.find("start");
      return start != j.end() && start->is_number() && start->get<double>() > 0;
    }
    if (type == "Metaspace") {
      if (j.contains("add_prefix_space") && j["add_prefix_space"] == false) return false;
      return string_or(j, "prepend_scheme", "always") != "never";
    }
    if (type == "Sequence" && j.contains("decoders") && j["decoders"].is_array())
      for (const json& sub : j["decoders"])
        if (decoder_strips_space(sub)) return true;
  }
  return false;
}

// A token given as "text" or {"content": "text", ...}; "" if absent.
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return "";
}

// A companion file's JSON (null if the tokenizer came without it); `path` names it in errors.
json parse_sidecar(const std::filesystem::path& path, const TokenizerCompanions& companions) {
  const auto found = companions.find(path.filename().string());
  if (found == companions.end()) return json();
  const std::string& text = found->second;
  model::detail::check_json_depth(text, path.string());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
}

struct SpecialIds {
  int32_t bos = -1, eos = -1;
  bool add_bos = false;
  bool guessed = false;
};

SpecialIds find_special_ids(const JsonReader& r, const json& root, const VocabMap& ids, bool byte_level,
                            const TokenizerCompanions& companions) {
  const std::filesystem::path dir = r.path().parent_path();
  const json config = parse_sidecar(dir / "tokenizer_config.json", companions);
  const json special_map = parse_sidecar(dir / "special_tokens_map.json", companions);
  auto id_of = [&](const std::string& content) { return content.empty() ? -1 : find_id(ids, content).value_or(-1); };
  auto from_files = [&](const char* key) {
    for (const json* j : {&config, &special_map})
      if (j->is_object() && j->contains(key)) {
        const int32_t id = id_of(token_content((*j)[key]));
        if (id >= 0) return id;
      }
    return -1;
  };
  SpecialIds s;
  s.bos = from_files("bos_token");
  s.eos = from_files("eos_token");

  // The post-processor's single-sequence template: a special token before "A" is a BOS.
  bool template_bos = false;
  const json& post = root.contains("post_processor") ? root["post_processor"] : json();
  const json* templ = nullptr;
  if (string_or(post, "type", "") == "TemplateProcessing") templ = &post;
  if (string_or(post, "type", "") == "Sequence" && post.contains("processors"))
    for (const json& p : post["processors"])
      if (string_or(p, "type", "") == "TemplateProcessing") templ = &p;
  if (templ && templ->contains("single") && (*templ)["single"].is_array() && !(*templ)["single"].empty()) {
    const json& first = (*templ)["single"][0];
    if (first.is_object() && first.contains("SpecialToken")) {
      template_bos = true;
      if (s.bos < 0) s.bos = id_of(string_or(first["SpecialToken"], "id", ""));
    }
  }
  if (config.is_object() && config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
    s.add_bos = config["add_bos_token"].get<bool>();
  else
    s.add_bos = template_bos;

  if (s.bos < 0 || s.eos < 0) {
    s.guessed = true;
    const std::vector<std::string> bos_names =
        byte_level ? std::vector<std::string>{"<|begin_of_text|>", "<s>", "<|endoftext|>"} : std::vector<std::string>{"<s>"};
    const std::vector<std::string> eos_names =
        byte_level ? std::vector<std::string>{"<|end_of_text|>", "</s>", "<|endoftext|>"} : std::vector<std::string>{"</s>"};
    for (const auto& name : bos_names)
      if (s.bos < 0) s.bos = id_of(name);
    for (const auto& name : eos_names)
      if (s.eos < 0) s.eos = id_of(name);
  }
  return s;
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_json(const std::filesystem::path& path, const std::string& text,
                                        const TokenizerCompanions& companions) {
  const JsonReader r(path);
  json root;
  model::detail::check_json_depth(text, path.string());
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    r.error(fmt::format("not valid JSON: {}", e.what()));
  }
  if (!root.is_object()) r.error("a tokenizer.json must be a JSON object");
  const json& model = r.object(root, "model", "the tokenizer.json");
  if (model.contains("type") && !model["type"].is_string()) r.error("the model section's \"type\" must be a string");
  const std::string type = string_or(model, "type", "BPE");
  if (type != "BPE")
    r.error(fmt::format("model type \"{}\" is not supported; only BPE tokenizer.json files are", type));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
      r.error(fmt::format("BPE \"{}\" is not supported", key));

  // Vocabulary: model.vocab plus added tokens (which may extend it).
  const json& vocab_json = r.object(model, "vocab", "the model section");
  constexpr int64_t kMaxVocab = 1 << 24;
  std::vector<std::string> pieces;
  VocabMap ids;
  ids.reserve(vocab_json.size());
  // Ids are dense in real files (vocab 0..n-1, added tokens right after); an id far beyond
  // the number of entries would size the piece table from one number in a tiny file.
  const json* added_json = root.contains("added_tokens") ? &root["added_tokens"] : nullptr;
  const int64_t entries = static_cast<int64_t>(vocab_json.size()) +
                          (added_json && added_json->is_array() ? static_cast<int64_t>(added_json->size()) : 0);
  const int64_t max_id = std::min(kMaxVocab, 2 * entries + 1024);
  auto put = [&](const std::string& piece, int64_t id) {
    if (id < 0 || id >= max_id)
      r.error(fmt::format("token id {} of \"{}\" is out of range (the file has {} vocabulary entries)", id, piece,
                          entries));
    if (static_cast<size_t>(id) >= pieces.size()) pieces.resize(static_cast<size_t>(id) + 1);
    pieces[static_cast<size_t>(id)] = piece;
    ids[piece] = static_cast<int32_t>(id);
  };
  for (const auto& [piece, id] : vocab_json.items()) {
    if (!id.is_number_integer()) r.error(fmt::format("vocabulary entry \"{}\" has no integer id", piece));
    put(piece, id.get<int64_t>());
  }
  std::vector<AddedToken> added;
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    if (!root["added_tokens"].is_array()) r.error("\"added_tokens\" must be a list");
    for (const json& t : root["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer())
        r.error("an added token has no integer \"id\"");
      AddedToken a;
      a.content = r.string(t, "content", "an added token");
      const int64_t id = t["id"].get<int64_t>();
      if (id < 0 || id >= max_id)
        r.error(fmt::format("added token id {} is out of range (the file has {} vocabulary entries)", id, entries));
      a.id = static_cast<int32_t>(id);
      a.special = r.flag(t, "special", false);
      a.normalized = r.flag(t, "normalized", !a.special);
      a.lstrip = r.flag(t, "lstrip", false);
      a.rstrip = r.flag(t, "rstrip", false);
      a.single_word = r.flag(t, "single_word", false);
      if (a.content.empty()) continue;
      put(a.content, id);
      added.push_back(std::move(a));
    }
  }
  if (pieces.empty()) r.error("the vocabulary is empty");

  std::vector<std::pair<std::string, std::string>> merges;
  if (model.contains("merges") && !model["merges"].is_null()) {
    const json& list = model["merges"];
    if (!list.is_array()) r.error("\"merges\" must be a list");
    merges.reserve(list.size());
    for (const json& m : list) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        auto pair = split_merge_string(s, ids);
        if (!pair) r.error(fmt::format("merge \"{}\" is not two tokens separated by a space", s));
        merges.push_back(std::move(*pair));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        r.error("a merge must be \"a b\" or [\"a\", \"b\"]");
      }
    }
  }

  HfFrontEnd front;
  front.added_tokens = added;
  const json pre = root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json();
  try {
    parse_normalizer(r, root.contains("normalizer") ? root["normalizer"] : json(), front.normalizer);
    parse_pre_tokenizer(r, pre, front.pre_tokenizer);
  } catch (const Error& e) {
    // Regex compile errors do not know the file yet.
    if (std::string_view(e.what()).starts_with(path.string())) throw;
    r.error(e.what());
  }
  const json decoder = root.contains("decoder") ? root["decoder"] : json();
  const bool byte_level = has_type(pre, "ByteLevel") || has_type(decoder, "ByteLevel");

  int32_t unk_id = -1;
  if (model.contains("unk_token") && model["unk_token"].is_string())
    unk_id = find_id(ids, model["unk_token"].get<std::string>()).value_or(-1);
  const SpecialIds special_ids = find_special_ids(r, root, ids, byte_level, companions);

  std::vector<uint8_t> special(pieces.size(), 0), is_added(pieces.size(), 0);
  for (const AddedToken& a : added) {
    is_added[a.id] = 1;
    if (a.special) special[a.id] = 1;
  }

  if (byte_level) {
    ByteLevelConfig c;
    c.pieces = std::move(pieces);
    c.special = std::move(special);
    c.added = std::move(is_added);
    c.merges = std::move(merges);
    c.front = std::move(front);
    c.unk_id = unk_id;
    c.ignore_merges = r.flag(model, "ignore_merges", false);
    c.bos_id = special_ids.bos;
    c.eos_id = special_ids.eos;
    c.add_bos = special_ids.add_bos;
    c.special_ids_guessed = special_ids.guessed;
    return std::make_unique<ByteLevelBpeTokenizer>(std::move(c));
  }
  SpmBpeConfig c;
  c.pieces = std::move(pieces);
  c.special = std::move(special);
  c.use_ranks = true;
  c.merges = std::move(merges);
  c.byte_fallback = r.flag(model, "byte_fallback", false);
  c.unk_id = unk_id;
  c.fuse_unk = r.flag(model, "fuse_unk", false);
  c.ignore_merges = r.flag(model, "ignore_merges", false);
  c.bos_id = special_ids.bos;
  c.eos_id = special_ids.eos;
  c.add_bos = special_ids.add_bos;
  c.special_ids_guessed = special_ids.guessed;
  c.strip_leading_space = decoder_strips_space(decoder);
  c.hf = std::move(front);
  return std::make_unique<SpmBpeTokenizer>(std::move(c));
}

}  // namespace l2n::tokenizer
