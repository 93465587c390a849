// llm2npu tokenize: ids and pieces of a text (or text of ids), to compare tokenizers.
#include <fmt/format.h>

#include <charconv>

#include "cli/common.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace l2n::cli {
namespace {

struct TokenizeArgs {
  ModelArgs model;
  std::string text;
  std::string file;
  std::string decode_ids;
  bool add_special = false;
  bool json = false;
};

std::vector<int32_t> parse_ids(const std::string& list) {
  std::vector<int32_t> ids;
  const char* p = list.data();
  const char* end = p + list.size();
  while (p < end) {
    if (*p == ',' || *p == ' ' || *p == '[' || *p == ']' || *p == '\n' || *p == '\t') {
      ++p;
      continue;
    }
    int32_t id = 0;
    auto [next, ec] = std::from_chars(p, end, id);
    if (ec != std::errc() || id < 0)
      fail_usage("--decode takes token ids separated by commas or spaces; '{}' is not one",
                 std::string(p, std::min<size_t>(12, static_cast<size_t>(end - p))));
    ids.push_back(id);
    p = next;
  }
  return ids;
}

std::unique_ptr<tokenizer::Tokenizer> load(const TokenizeArgs& args) {
  if (!args.model.model_path.empty()) return args.model.load_tokenizer(args.model.load());
  if (args.model.tokenizer_path.empty()) fail_usage("give --model PATH or --tokenizer PATH");
  return tokenizer::load_tokenizer(args.model.tokenizer_path);
}

void run_tokenize(const TokenizeArgs& args) {
  const auto tok = load(args);
  if (!args.decode_ids.empty()) {
    const auto ids = parse_ids(args.decode_ids);
    for (int32_t id : ids)
      if (id >= tok->vocab_size()) fail_usage("token id {} is outside the vocabulary of {}", id, tok->vocab_size());
    const std::string text = tok->decode(ids);
    if (args.json)
      print_json({{"ids", ids}, {"text", text}});
    else
      fmt::print("{}\n", text);
    return;
  }
  if (args.text.empty() && args.file.empty()) fail_usage("give --text TEXT, --file FILE or --decode IDS");
  const std::string text = args.file.empty() ? args.text : read_text_file(args.file);
  const auto ids = tok->encode(text, args.add_special && tok->bos_id() >= 0);
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (int32_t id : ids) pieces.push_back(tok->piece(id));
  if (args.json) {
    print_json({{"ids", ids}, {"pieces", pieces}, {"count", ids.size()}, {"tokenizer", tok->kind()}});
    return;
  }
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += fmt::format("{}{}", i ? " " : "", ids[i]);
  fmt::print("{}\n", line);
  for (size_t i = 0; i < ids.size(); ++i) fmt::print("{:>8}  {}\n", ids[i], pieces[i]);
  fmt::print("{} tokens\n", ids.size());
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Token ids and pieces of a text, or (--decode) the text of ids");
  args->model.add_to(*cmd, /*model_required=*/false);
  auto* text = cmd->add_option("--text", args->text, "Text to tokenize");
  auto* file = cmd->add_option("--file", args->file, "File whose contents to tokenize")->check(CLI::ExistingFile);
  text->excludes(file);
  cmd->add_option("--decode", args->decode_ids, "Ids to decode, e.g. \"1,403,407\"")->excludes(text)->excludes(file);
  cmd->add_flag("--add-special", args->add_special, "Prepend BOS as the model would");
  cmd->add_flag("--json", args->json, "Print one JSON object with ids and pieces");
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace l2n::cli
