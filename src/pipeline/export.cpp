#include "pipeline/export.h"

#include <fmt/format.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "config/render.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "graph/llama_builder.h"
#include "model/model.h"
#include "partition/partitioner.h"
#include "program/tokenizer_blob.h"
#include "target/capabilities.h"
#include "tokenizer/tokenizer.h"
#include "tosa/lower.h"
#include "tosa/serialize.h"
#include "core/json_text.h"

extern char** environ;

namespace l2n::pipeline {
namespace {

namespace fs = std::filesystem;

quant::QuantScope quant_scope_of(config::QuantizeScope scope) {
  return scope == config::QuantizeScope::Full ? quant::QuantScope::Full : quant::QuantScope::Linear;
}

// The wikitext task reads WikiText-2's raw test split; the path comes from the environment
// because llm2npu ships no data sets.
fs::path wikitext_path() {
  if (const char* p = std::getenv("LLM2NPU_WIKITEXT"); p && *p) return p;
  fail_usage(
      "quantization.calibration_tasks: the 'wikitext' task needs the WikiText-2 raw text; set LLM2NPU_WIKITEXT to "
      "the path of wiki.test.raw, or list the file in quantization.calibration_files instead");
}

struct Calibration {
  std::vector<std::vector<int32_t>> samples;
  std::string how;
};

Calibration calibration_samples(const config::ResolvedConfig& r, const model::Model& model,
                                const tokenizer::Tokenizer& tok) {
  const config::QuantizationOptions& q = r.config.quantization;
  Calibration c;
  std::vector<int32_t> prompt = tok.encode(q.calibration_data, true);
  if (prompt.empty()) prompt.push_back(tok.bos_id());
  if (!q.calibration_seq_length) {
    // Upstream's "dummy" calibration: one pass over the example input.
    c.samples.push_back(prompt);
    c.how = fmt::format("one pass over the prompt \"{}\" ({} tokens; quantization.calibration_seq_length is not set)",
                        q.calibration_data, prompt.size());
    return c;
  }
  const int64_t length = *q.calibration_seq_length;
  // One thread: the FP32 kernels' rounding depends on the thread count, and a different
  // continuation would give a different recipe (export must not depend on --threads).
  c.samples.push_back(quant::greedy_continuation(model, prompt, length, 1));
  c.how = fmt::format("greedy self-continuation of \"{}\" to {} tokens", q.calibration_data, c.samples[0].size());
  std::vector<std::string> files = q.calibration_files;
  if (q.calibration_tasks)
    for (const std::string& task : *q.calibration_tasks)
      if (task == "wikitext") files.push_back(wikitext_path().string());
  const int64_t limit = q.calibration_limit.value_or(INT64_MAX);
  int64_t taken = 0;
  for (const std::string& file : files) {
    if (taken >= limit) break;
    std::vector<int32_t> tokens = tok.encode(read_text_file(file), false);
    auto more = quant::calibration_samples_from_tokens(tokens, length, limit - taken, tok.bos_id());
    taken += static_cast<int64_t>(more.size());
    c.how += fmt::format(" + {} samples x {} tokens (BOS first) from {}", more.size(), length, file);
    for (auto& s : more) c.samples.push_back(std::move(s));
  }
  return c;
}

program::ValueSpec spec_of(const graph::Node& n, std::string name) { return {std::move(name), n.dtype, n.shape}; }

// Runs `program` with `arguments`, capturing stdout+stderr; returns the exit status.
int run_process(const fs::path& program, const std::vector<std::string>& arguments, std::string& output) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) fail("cannot create a pipe to run {}", program.string());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<std::string> argv_strings{program.string()};
  argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    fail("cannot run {}: {}", program.string(), std::strerror(rc));
  }
  char buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) output.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// Compiles one delegate with Vela; stores its output and its summary in `d`.
void compile_with_vela(const fs::path& vela, const std::vector<std::string>& vela_args, program::Delegate& d) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("llm2npu-vela-{}-{}", getpid(), d.name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  const fs::path input = dir / (d.name + ".tosa");
  write_file_atomic(input, d.tosa);
  std::vector<std::string> args = vela_args;
  args.push_back(fmt::format("--output-dir={}", (dir / "out").string()));
  args.push_back(input.string());
  std::string log;
  const int status = run_process(vela, args, log);
  if (status != 0)
    fail("Vela failed on {} (exit status {}):\n{}\nThe TOSA file is reproducible with --emit-tosa; the Vela arguments "
         "are in `llm2npu config show`",
         d.name, status, log);
  std::vector<fs::path> outputs;
  if (fs::exists(dir / "out"))
    for (const auto& e : fs::directory_iterator(dir / "out"))
      if (e.is_regular_file() && e.path().extension() != ".csv") outputs.push_back(e.path());
  if (outputs.size() != 1)
    fail("Vela produced {} output files for {} (expected one command stream); its log:\n{}", outputs.size(), d.name,
         log);
  d.compiled = tosa::read_file_bytes(outputs[0]);
  d.compiler_log = log;
}

}  // namespace

std::string target_name(const config::ResolvedConfig& r) {
  if (r.ethosu) return std::string(r.ethosu->accelerator->name);
  if (r.backend == config::ArmBackend::Vgf) return fmt::format("vgf ({})", r.tosa_spec.to_string());
  return r.tosa_spec.to_string();
}

fs::path default_output_path(const config::ResolvedConfig& r) {
  const config::LlmConfig& c = r.config;
  std::string name;
  if (c.export_.output_name) {
    name = *c.export_.output_name;
  } else {
    std::string model = c.base.model_class.value_or("");
    if (model.empty() && c.base.checkpoint) model = fs::path(*c.base.checkpoint).filename().stem().string();
    if (model.empty()) model = "model";
    const std::string mode = c.quantization.pt2e_quantize
                                 ? std::string(config::quant_mode_name(*c.quantization.pt2e_quantize))
                                 : std::string("fp32");
    std::string target = r.ethosu ? std::string(r.ethosu->accelerator->name) : std::string(config::backend_name(r.backend));
    name = fmt::format("{}_{}_{}_{}", model, mode, config::scope_name(r.quantize_scope), target);
  }
  if (fs::path(name).extension() != ".l2n") name += ".l2n";
  return fs::path(c.export_.output_dir) / name;
}

std::optional<fs::path> find_vela(const std::optional<fs::path>& explicit_path) {
  if (explicit_path) {
    if (access(explicit_path->c_str(), X_OK) != 0)
      fail_usage("--vela {}: not an executable file; give the path of Vela's `vela` command", explicit_path->string());
    return explicit_path;
  }
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / "vela";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

ExportResult export_program(const config::ResolvedConfig& r, const ExportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const config::LlmConfig& c = r.config;
  if (!c.base.checkpoint)
    fail_usage("base.checkpoint is not set: say which model to export (--checkpoint PATH or base.checkpoint=PATH)");
  const int64_t window = c.export_.max_seq_length;
  const int64_t capacity = c.export_.max_context_length;
  model::Model model = model::load_model(*c.base.checkpoint, {std::max(window, capacity)});
  std::optional<fs::path> tokenizer_override;
  if (c.base.tokenizer_path) tokenizer_override = *c.base.tokenizer_path;
  const auto tok = tokenizer::tokenizer_for_model(model, tokenizer_override);

  ExportResult result;
  program::Program& p = result.program;
  p.producer = options.producer;
  p.config_yaml = config::render_yaml(r);
  p.model_config = model.config;
  p.tokenizer = program::make_tokenizer_blob(model, tokenizer_override);

  // Quantization recipe, calibrated once on full-window graphs.
  std::optional<quant::QuantRecipe> recipe;
  Calibration calibration;
  if (c.quantization.pt2e_quantize) {
    const quant::ModeConfig& mode = quant::find_quant_mode(config::quant_mode_name(*c.quantization.pt2e_quantize));
    calibration = calibration_samples(r, model, *tok);
    quant::CalibrationOptions co;
    co.seq_length = c.quantization.calibration_seq_length.value_or(window);
    co.threads = options.threads;
    co.progress = options.progress;
    if (c.model.static_quantize_kv_cache) {
      // As upstream: scales from calibration data when there is some, else the fixed scale.
      const bool has_data = !c.quantization.calibration_files.empty() ||
                            (c.quantization.calibration_tasks && !c.quantization.calibration_tasks->empty());
      co.kv_cache = has_data && c.quantization.calibration_seq_length ? quant::KvCacheCalibration::Observed
                                                                        : quant::KvCacheCalibration::Fixed;
      co.fixed_kv_scale = static_cast<float>(c.model.static_quantize_kv_cache_scale);
    }
    recipe = quant::calibrate(model, mode, quant_scope_of(r.quantize_scope), calibration.samples, co);
    recipe->calibration = calibration.how;
    result.calibration = calibration.how;
    if (!recipe->kv_cache_calibration.empty())
      result.notes.push_back("static int8 KV cache: " + recipe->kv_cache_calibration);
    malloc_trim(0);  // the calibration runs' activations (see below)
  }

  std::vector<std::pair<std::string, graph::Graph>> methods;
  methods.emplace_back("forward", graph::build_full_window(model, window));
  if (c.model.use_kv_cache) methods.emplace_back("decode", graph::build_decode_step(model, capacity));

  const target::TargetCapabilities caps = target::capabilities_of(r.tosa_spec);
  const std::string target = target_name(r);
  for (auto& [name, float_graph] : methods) {
    graph::Graph g = recipe ? quant::convert(float_graph, *recipe) : std::move(float_graph);
    // Past conversion the FP32 graph is dead weight (its rope/mask tables are owned copies),
    // and so are the checkpoint's pages that calibration and conversion read: what is still
    // needed (the FP32 embedding the CPU steps keep as a view) faults back in from the page
    // cache when the program is written.
    float_graph = graph::Graph();
    model.weights->release_resident_pages();
    const partition::Partition part = partition::partition_graph(g, caps);
    result.partitions.push_back(partition::make_report(g, part, name, target));
    program::Method m;
    m.name = name;
    for (graph::ValueId v : g.inputs()) m.inputs.push_back(spec_of(g.node(v), g.node(v).name));
    for (const auto& [out, v] : g.outputs()) m.outputs.push_back(spec_of(g.node(v), out));
    // The step graphs share the constants they use with `g`; once all are extracted, `g`
    // goes, so that each delegate's weights exist once in its step graph, then once in its
    // TosaGraph, then once in its flatbuffer (write_tosa frees the TosaGraph's copy as it goes).
    std::vector<graph::Graph> step_graphs;
    for (const partition::PartitionStep& step : part.steps) step_graphs.push_back(partition::extract_step_graph(g, step));
    g = graph::Graph();
    for (size_t i = 0; i < part.steps.size(); ++i) {
      const partition::PartitionStep& step = part.steps[i];
      graph::Graph sub = std::move(step_graphs[i]);
      if (!step.delegate) {
        m.steps.push_back({program::Step::Kind::Cpu, static_cast<uint32_t>(m.cpu_graphs.size())});
        m.cpu_graphs.push_back(std::move(sub));
        continue;
      }
      program::Delegate d;
      d.name = fmt::format("{}.delegate_{}", name, step.delegate_index);
      d.target = target;
      tosa::TosaGraph lowered = tosa::lower_to_tosa(sub);
      sub = graph::Graph();
      // The lowering's temporaries are freed; hand their pages back before the flatbuffer
      // (the executor keeps up to 512 MB of freed heap for its per-run buffers).
      malloc_trim(0);
      d.tosa = tosa::write_tosa(std::move(lowered));
      m.steps.push_back({program::Step::Kind::Delegate, static_cast<uint32_t>(p.delegates.size())});
      p.delegates.push_back(std::move(d));
    }
    p.methods.push_back(std::move(m));
    malloc_trim(0);
  }

  nlohmann::json reports = nlohmann::json::array();
  for (const auto& rep : result.partitions) reports.push_back(rep.to_json());
  p.partition_report_json = json_text(reports);

  if (recipe && options.quant_report) {
    std::vector<std::vector<int32_t>> report_samples;
    for (const auto& s : calibration.samples)
      if (s.size() >= 2) report_samples.push_back(s);
    if (!report_samples.empty()) {
      result.quant_report = quant::report(model, *recipe, report_samples, options.threads);
      p.quant_report_json = result.quant_report->to_json();
    }
  }

  if (r.ethosu && !p.delegates.empty()) {
    if (const auto vela = find_vela(options.vela)) {
      const std::vector<std::string> args = r.vela_arguments();
      for (program::Delegate& d : p.delegates) compile_with_vela(*vela, args, d);
      result.notes.push_back(fmt::format("compiled {} delegate(s) with {}", p.delegates.size(), vela->string()));
    } else {
      result.notes.push_back(
          "vela not found (on PATH or via --vela PATH): the program holds TOSA only; install Arm's Vela "
          "(pip install ethos-u-vela) to add Ethos-U command streams");
    }
  }
  result.recipe = std::move(recipe);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace l2n::pipeline
