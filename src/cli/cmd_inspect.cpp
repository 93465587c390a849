// llm2npu inspect: what a checkpoint is — architecture, shapes, parameters, tokenizer.
#include <fmt/format.h>

#include <map>

#include "cli/common.h"
#include "core/error.h"

namespace l2n::cli {
namespace {

struct InspectArgs {
  ModelArgs model;
  bool json = false;
};

std::string rope_layout_name(model::RopeLayout layout) {
  return layout == model::RopeLayout::Interleaved ? "interleaved" : "rotate-half";
}

void run_inspect(const InspectArgs& args) {
  const model::Model model = args.model.load();
  const auto& c = model.config;
  std::map<std::string, int64_t> dtype_counts;
  for (const auto& name : model.weights->names())
    dtype_counts[std::string(dtype_name(model.weights->info(name).dtype))] += 1;

  nlohmann::json tokenizer_info = nullptr;
  std::string tokenizer_error;
  try {
    const auto tok = args.model.load_tokenizer(model);
    tokenizer_info = {{"kind", tok->kind()}, {"vocab_size", tok->vocab_size()},
                      {"bos_id", tok->bos_id()}, {"eos_id", tok->eos_id()}};
  } catch (const Error& e) {
    tokenizer_error = e.what();
  }

  nlohmann::json doc = {
      {"path", model.path.string()},
      {"format", c.source_format},
      {"architecture", c.architecture},
      {"dim", c.dim},
      {"hidden_dim", c.hidden_dim},
      {"n_layers", c.n_layers},
      {"n_heads", c.n_heads},
      {"n_kv_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"vocab_size", c.vocab_size},
      {"max_seq_len", c.max_seq_len},
      {"rope_theta", c.rope_theta},
      {"rope_layout", rope_layout_name(c.rope_layout)},
      {"rope_scaling", c.rope_scaling.type.empty() ? "none" : c.rope_scaling.type},
      {"norm_eps", c.norm_eps},
      {"tied_embeddings", c.tied_embeddings},
      {"qkv_bias", c.qkv_bias},
      {"parameters", model.parameter_count()},
      {"weights", model.weights->names().size()},
      {"weight_dtypes", dtype_counts},
      {"tokenizer", tokenizer_info},
  };
  if (!tokenizer_error.empty()) doc["tokenizer_error"] = tokenizer_error;
  if (args.json) {
    print_json(doc);
    return;
  }
  fmt::print("model        {} ({})\n", model.path.string(), c.source_format);
  fmt::print("architecture {}\n", c.architecture);
  fmt::print("layers       {}  dim {}  ffn {}  heads {} (kv {})  head_dim {}\n", c.n_layers, c.dim, c.hidden_dim,
             c.n_heads, c.n_kv_heads, c.head_dim);
  fmt::print("vocab        {}  context {}\n", c.vocab_size, c.max_seq_len);
  fmt::print("rope         theta {}  layout {}  scaling {}\n", c.rope_theta, rope_layout_name(c.rope_layout),
             c.rope_scaling.type.empty() ? "none" : c.rope_scaling.type);
  fmt::print("norm eps     {}\n", c.norm_eps);
  fmt::print("embeddings   {}\n", c.tied_embeddings ? "tied (head reuses the embedding)" : "separate head");
  fmt::print("parameters   {} ({:.3f} M)\n", model.parameter_count(), model.parameter_count() / 1e6);
  std::string dtypes;
  for (const auto& [dtype, count] : dtype_counts) dtypes += fmt::format("{}{}×{}", dtypes.empty() ? "" : ", ", count, dtype);
  fmt::print("weights      {} tensors: {}\n", model.weights->names().size(), dtypes);
  if (tokenizer_info.is_null())
    fmt::print("tokenizer    none: {}\n", tokenizer_error);
  else
    fmt::print("tokenizer    {}  vocab {}  bos {}  eos {}\n", tokenizer_info["kind"].get<std::string>(),
               tokenizer_info["vocab_size"].get<int>(), tokenizer_info["bos_id"].get<int>(),
               tokenizer_info["eos_id"].get<int>());
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "Show a checkpoint's architecture, shapes, parameter count and tokenizer");
  args->model.add_to(*cmd);
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace l2n::cli
