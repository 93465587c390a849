// llm2npu inspect: what a checkpoint is — architecture, shapes, parameters, tokenizer.
#include <fmt/format.h>

#include <map>

#include "cli/common.h"
#include "core/error.h"
#include "partition/report.h"
#include "program/program.h"

namespace l2n::cli {
namespace {

struct InspectArgs {
  ModelArgs model;
  std::string program_path;
  bool json = false;
  bool verbose = false;
};

// inspect PROGRAM: what an exported program holds and how it was partitioned.
void run_inspect_program(const InspectArgs& args) {
  const program::Program p = program::read_program_file(args.program_path);
  std::vector<partition::MethodPartitionReport> reports;
  nlohmann::json parts = nlohmann::json::array();
  if (!p.partition_report_json.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(p.partition_report_json);
    } catch (const nlohmann::json::exception& e) {
      fail("program {}: its partition report is not JSON ({})", args.program_path, e.what());
    }
    if (!j.is_array()) fail("program {}: its partition report is not a list of methods", args.program_path);
    for (const auto& m : j) reports.push_back(partition::MethodPartitionReport::from_json(m));
    parts = j;
  }
  const auto& c = p.model_config;
  int64_t tosa_bytes = 0, compiled = 0;
  for (const auto& d : p.delegates) {
    tosa_bytes += static_cast<int64_t>(d.tosa.size());
    compiled += d.compiled.empty() ? 0 : 1;
  }
  if (args.json) {
    nlohmann::json methods = nlohmann::json::array();
    for (const auto& m : p.methods) {
      nlohmann::json ins = nlohmann::json::array(), outs = nlohmann::json::array();
      for (const auto& v : m.inputs) ins.push_back({{"name", v.name}, {"dtype", dtype_name(v.dtype)}, {"shape", v.shape}});
      for (const auto& v : m.outputs) outs.push_back({{"name", v.name}, {"dtype", dtype_name(v.dtype)}, {"shape", v.shape}});
      methods.push_back({{"name", m.name}, {"steps", m.steps.size()}, {"cpu_graphs", m.cpu_graphs.size()},
                         {"inputs", ins}, {"outputs", outs}});
    }
    nlohmann::json delegates = nlohmann::json::array();
    for (const auto& d : p.delegates)
      delegates.push_back({{"name", d.name}, {"target", d.target}, {"tosa_bytes", d.tosa.size()},
                           {"compiled_bytes", d.compiled.size()}, {"vela_summary", d.compiler_log}});
    print_json({{"path", args.program_path}, {"format_version", p.format_version}, {"producer", p.producer},
                {"architecture", c.architecture}, {"n_layers", c.n_layers}, {"dim", c.dim}, {"vocab_size", c.vocab_size},
                {"methods", methods}, {"delegates", delegates}, {"partitions", parts}});
    return;
  }
  fmt::print("program      {} (format {}, {})\n", args.program_path, p.format_version, p.producer);
  fmt::print("model        {}  layers {}  dim {}  vocab {}\n", c.architecture, c.n_layers, c.dim, c.vocab_size);
  for (const auto& m : p.methods) {
    std::string ins;
    for (const auto& v : m.inputs) ins += fmt::format("{}{} {}{}", ins.empty() ? "" : ", ", v.name, dtype_name(v.dtype), shape_str(v.shape));
    fmt::print("method       {}: {} step(s); inputs {}\n", m.name, m.steps.size(), ins);
  }
  fmt::print("delegates    {} ({} bytes of TOSA; {} compiled by Vela)\n", p.delegates.size(), tosa_bytes, compiled);
  for (const auto& r : reports) fmt::print("{}", r.to_text(args.verbose));
  if (args.verbose)
    for (const auto& d : p.delegates)
      if (!d.compiler_log.empty()) fmt::print("Vela on {}:\n{}\n", d.name, d.compiler_log);
}

std::string rope_layout_name(model::RopeLayout layout) {
  return layout == model::RopeLayout::Interleaved ? "interleaved" : "rotate-half";
}

void run_inspect(const InspectArgs& args) {
  if (!args.program_path.empty()) {
    if (!args.model.model_path.empty()) fail_usage("give either a PROGRAM or --model, not both");
    run_inspect_program(args);
    return;
  }
  if (args.model.model_path.empty())
    fail_usage("inspect needs a checkpoint (--model PATH) or a program file (llm2npu inspect PROGRAM.l2n)");
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
  auto* cmd = app.add_subcommand(
      "inspect",
      "Show a checkpoint's architecture, shapes, parameter count and tokenizer, or a program's methods and its "
      "partition: each delegate with its ops, inputs and outputs, each op left on the CPU with the reason");
  cmd->add_option("program", args->program_path, "A program file written by `llm2npu export`");
  args->model.add_to(*cmd, false);
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  cmd->add_flag("--verbose", args->verbose, "Programs: list every CPU op instead of grouping them by reason");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace l2n::cli
