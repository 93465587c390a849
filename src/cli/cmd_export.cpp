// llm2npu export: checkpoint → program file. Takes the configuration arguments of
// `config show` (--config FILE, dotted overrides, export_llama flags) plus the options of
// this run (where to write, extra artifacts, Vela, threads).
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "config/resolve.h"
#include "config/sources.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "eval/perplexity.h"
#include "pipeline/export.h"
#include "program/program.h"
#include "program/tokenizer_blob.h"
#include "runtime/program_session.h"
#include "runtime/session.h"
#include "tosa/serialize.h"
#include "core/json_text.h"

namespace l2n::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  std::string config_file;
  std::string output;
  std::string emit_tosa_dir;
  std::string report_path;
  std::string report_text;
  int64_t report_max_chunks = 0;
  std::string vela;
  int threads = 0;
  bool json = false;
  bool no_progress = false;
};

constexpr const char* kExportFooter =
    "\nSettings, lowest precedence first: the defaults, --config FILE, then the arguments in the order given:\n"
    "  section.key=value        e.g. quantization.pt2e_quantize=ethosu_16a8w quantization.quantize_scope=full\n"
    "  export_llama flags       e.g. --checkpoint M.bin --pt2e_quantize ethosu_16a8w -kv --max_seq_length 512\n"
    "`llm2npu config show` with the same settings prints what export will use.\n"
    "Every key, its default, its allowed values and the rules between keys: docs/configuration.md\n"
    "The program file, partitioning and targets: docs/export.md";

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

fs::path output_path(const ExportArgs& args, const config::ResolvedConfig& resolved) {
  const fs::path fallback = pipeline::default_output_path(resolved);
  if (args.output.empty()) return fallback;
  fs::path out = args.output;
  // -o DIR (export_llama's meaning) puts the default file name in that directory.
  if (fs::is_directory(out) || args.output.back() == '/') return out / fallback.filename();
  return out;
}

void refuse_overwriting_inputs(const fs::path& out, const config::LlmConfig& c) {
  std::vector<std::pair<std::string, std::string>> inputs;
  if (c.base.checkpoint) inputs.emplace_back("base.checkpoint", *c.base.checkpoint);
  if (c.base.tokenizer_path) inputs.emplace_back("base.tokenizer_path", *c.base.tokenizer_path);
  for (const std::string& f : c.quantization.calibration_files) inputs.emplace_back("quantization.calibration_files", f);
  for (const auto& [key, path] : inputs)
    if (same_file(out, path))
      fail_usage("the output {} is an input of this export ({}); choose another -o", out.string(), key);
}

nlohmann::json perplexity_json(const eval::PerplexityResult& r) {
  return {{"perplexity", r.perplexity}, {"chunks", r.chunks}, {"tokens_scored", r.tokens_scored},
          {"tokens_per_second", r.tokens_per_second}};
}

void run_export(const ExportArgs& args, const std::vector<std::string>& settings) {
  std::optional<fs::path> file;
  if (!args.config_file.empty()) file = args.config_file;
  const config::ResolvedConfig resolved = config::resolve(config::load_config(file, settings));
  for (const std::string& warning : resolved.warnings) fmt::print(stderr, "warning: {}\n", warning);
  const fs::path out = output_path(args, resolved);
  refuse_overwriting_inputs(out, resolved.config);
  if (!out.parent_path().empty() && !fs::is_directory(out.parent_path()))
    fail_usage("the output directory {} does not exist; create it or choose another -o / export.output_dir",
               out.parent_path().string());
  if (!args.report_text.empty() && args.report_path.empty())
    fail_usage("--report-text needs --report FILE.json (where the perplexities are written)");

  pipeline::ExportOptions options;
  options.threads = args.threads;
  options.progress = !args.no_progress;
  if (!args.vela.empty()) options.vela = args.vela;
  options.quant_report = !args.report_path.empty();
  options.producer = "llm2npu";
  pipeline::ExportResult result = pipeline::export_program(resolved, options);

  program::write_program_file(result.program, out);
  const auto bytes = fs::file_size(out);
  if (!args.emit_tosa_dir.empty()) {
    fs::create_directories(args.emit_tosa_dir);
    for (const auto& d : result.program.delegates)
      write_file_atomic(fs::path(args.emit_tosa_dir) / (d.name + ".tosa"), d.tosa);
  }

  nlohmann::json report_doc;
  if (!args.report_path.empty()) {
    report_doc["program"] = out.string();
    report_doc["calibration"] = result.calibration;
    report_doc["quantization"] = result.quant_report ? nlohmann::json::parse(result.quant_report->to_json())
                                                     : nlohmann::json(nullptr);
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& p : result.partitions) parts.push_back(p.to_json());
    report_doc["partitions"] = parts;
    if (!args.report_text.empty()) {
      // FP32 (the checkpoint) vs the program just written, read back from disk.
      const config::LlmConfig& c = resolved.config;
      const int64_t ctx = c.export_.max_seq_length;
      auto program = std::make_shared<const program::Program>(program::read_program_file(out));
      const auto tok = program::load_tokenizer(*program);
      const std::vector<int32_t> tokens = tok->encode(read_text_file(args.report_text), true);
      eval::PerplexityOptions po;
      po.context = ctx;
      po.bos_id = tok->bos_id();
      po.max_chunks = args.report_max_chunks;
      po.progress = !args.no_progress;
      po.threads = args.threads;
      model::Model model = model::load_model(*c.base.checkpoint, {ctx});
      runtime::Session fp32(model, {args.threads, ctx, nullptr});
      const auto ref = eval::chunked_perplexity(fp32, tokens, po);
      runtime::ProgramSession exported(program, {args.threads});
      const auto got = eval::chunked_perplexity(exported, tokens, po);
      report_doc["perplexity"] = {{"text", args.report_text}, {"context", ctx}, {"fp32", perplexity_json(ref)},
                                  {"program", perplexity_json(got)},
                                  {"relative_change", got.perplexity / ref.perplexity - 1.0}};
    }
    const std::string text = json_text(report_doc, 1) + "\n";
    write_file_atomic(args.report_path, text);
  }

  if (args.json) {
    nlohmann::json doc{{"output", out.string()}, {"bytes", bytes}, {"seconds", result.seconds},
                       {"calibration", result.calibration}, {"notes", result.notes},
                       {"delegates", result.program.delegates.size()}};
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& p : result.partitions)
      parts.push_back({{"method", p.method}, {"target", p.target}, {"delegates", p.delegates.size()},
                       {"cpu_ops", p.cpu_ops.size()}});
    doc["methods"] = parts;
    if (report_doc.contains("perplexity")) doc["perplexity"] = report_doc["perplexity"];
    print_json(doc);
    return;
  }
  if (!result.calibration.empty()) fmt::print("calibration: {}\n", result.calibration);
  for (const auto& p : result.partitions) fmt::print("{}", p.to_text(false, false));
  fmt::print("(each delegate with its inputs and outputs: llm2npu inspect {})\n", out.string());
  if (result.quant_report) fmt::print("{}", result.quant_report->to_table());
  if (report_doc.contains("perplexity")) {
    const auto& pp = report_doc["perplexity"];
    fmt::print("perplexity on {} (ctx {}): fp32 {:.6f}  program {:.6f}  ({:+.3f} %)\n", args.report_text,
               pp["context"].get<int64_t>(), pp["fp32"]["perplexity"].get<double>(),
               pp["program"]["perplexity"].get<double>(), 100.0 * pp["relative_change"].get<double>());
  }
  for (const std::string& note : result.notes) fmt::print("note: {}\n", note);
  fmt::print("wrote {} ({} bytes, {} delegate(s)) in {:.1f} s\n", out.string(), bytes,
             result.program.delegates.size(), result.seconds);
}

}  // namespace

void register_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export",
      "Export a checkpoint to a program file (.l2n): quantize, partition for the target, lower the delegates to "
      "TOSA 1.0 (and Vela when installed)");
  cmd->add_option("--config", args->config_file, "YAML configuration file (docs/configuration.md)")
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", args->output,
                  "Program file to write (default: export.output_dir/<model>_<mode>_<scope>_<target>.l2n); a "
                  "directory puts the default name there");
  cmd->add_option("--emit-tosa", args->emit_tosa_dir, "Also write each delegate as DIR/<delegate>.tosa");
  cmd->add_option("--report", args->report_path,
                  "Write a JSON report: per quantized tensor its scale/zero point and SQNR against FP32 on the "
                  "calibration data, and the partition; a table is printed too");
  cmd->add_option("--report-text", args->report_text,
                  "With --report: also the perplexity of FP32 vs the written program on this text, at "
                  "export.max_seq_length")
      ->check(CLI::ExistingFile);
  cmd->add_option("--report-max-chunks", args->report_max_chunks, "Limit --report-text to N chunks (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--vela", args->vela, "Vela executable (default: `vela` on PATH; without it TOSA only is stored)");
  cmd->add_option("--threads,-t", args->threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print one JSON summary instead of text");
  cmd->add_flag("--no-progress", args->no_progress, "No progress bars on stderr");
  cmd->allow_extras();
  cmd->footer(kExportFooter);
  cmd->callback([cmd, args] { run_export(*args, cmd->remaining()); });
}

}  // namespace l2n::cli
