// llm2npu make-model: a Hugging Face checkpoint with the architecture of a real model and
// random weights, for benchmarks (never for accuracy claims).
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <filesystem>

#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/presets.h"
#include "model/safetensors_writer.h"
#include "tokenizer/synthetic_bpe.h"

namespace l2n::cli {
namespace {

struct MakeModelArgs {
  std::string preset;
  uint64_t seed = 0;
  std::string output;
  std::string dtype = "f32";
  bool force = false;
  bool json = false;
  bool no_progress = false;
  int threads = 0;
};

DType parse_dtype(const std::string& name) {
  if (name == "f32" || name == "float32") return DType::F32;
  if (name == "bf16" || name == "bfloat16") return DType::BF16;
  if (name == "f16" || name == "float16") return DType::F16;
  fail_usage("--dtype {} is not supported; choose f32, bf16 or f16", name);
}

const char* torch_dtype(DType dtype) {
  return dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
}

void run_make_model(const MakeModelArgs& args) {
  const model::ModelPreset& preset = model::model_preset(args.preset);
  const DType dtype = parse_dtype(args.dtype);
  const std::filesystem::path dir(args.output);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    if (!std::filesystem::is_directory(dir, ec))
      fail_usage("-o {}: this is a file, not a directory; choose a directory for the checkpoint", dir.string());
    if (!std::filesystem::is_empty(dir, ec) && !args.force)
      fail_usage("-o {}: the directory is not empty; choose an empty or new directory, or add --force to overwrite "
                 "config.json, model.safetensors and tokenizer.json there",
                 dir.string());
  } else if (!std::filesystem::create_directories(dir, ec) && ec) {
    fail("cannot create the directory {}: {}; check the path and permissions", dir.string(), ec.message());
  }
  if (args.threads > 0) omp_set_num_threads(args.threads);

  const auto start = std::chrono::steady_clock::now();
  const auto specs = model::random_weight_specs(preset.config);
  uint64_t parameters = 0;
  for (const auto& s : specs) parameters += static_cast<uint64_t>(shape_numel(s.shape));
  // The weights first and config.json last: a directory with a config.json is complete.
  {
    ProgressBar bar(fmt::format("make-model {}", preset.name),
                    static_cast<int64_t>(parameters * dtype_size(dtype)), !args.no_progress);
    model::write_random_safetensors(dir / "model.safetensors", specs, dtype, args.seed,
                                    [&](uint64_t done, uint64_t) { bar.update(static_cast<int64_t>(done)); });
    bar.finish();
  }
  write_file_atomic(dir / "tokenizer.json",
                    tokenizer::synthetic_bpe_tokenizer_json(preset.config.vocab_size, preset.special_tokens, args.seed));
  write_file_atomic(dir / "config.json", model::preset_config_json(preset.config, torch_dtype(dtype)));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t bytes = std::filesystem::file_size(dir / "model.safetensors");
  if (args.json) {
    print_json({{"preset", preset.name},
                {"seed", args.seed},
                {"dtype", std::string(dtype_name(dtype))},
                {"output", dir.string()},
                {"parameters", parameters},
                {"safetensors_bytes", bytes},
                {"seconds", seconds}});
  } else {
    fmt::print("{}: {} random parameters ({}, seed {}), {:.1f} MB, {:.1f} s -> {} (for benchmarks only)\n",
               preset.name, parameters, dtype_name(dtype), args.seed, static_cast<double>(bytes) / 1e6, seconds,
               dir.string());
  }
}

}  // namespace

void register_make_model(CLI::App& app) {
  auto args = std::make_shared<MakeModelArgs>();
  auto* cmd = app.add_subcommand(
      "make-model",
      "Write a Hugging Face checkpoint (config.json, model.safetensors, tokenizer.json) with a real model's "
      "architecture and random weights, for benchmarks only");
  cmd->add_option("--preset", args->preset, "Architecture: " + model::preset_names())->required();
  cmd->add_option("--random-seed,--seed", args->seed, "Seed of the weights and the tokenizer's merges (default 0)");
  cmd->add_option("-o,--output", args->output, "Output directory (new or empty, unless --force)")->required();
  cmd->add_option("--dtype", args->dtype, "Weight type in the safetensors file: f32 (default), bf16, f16");
  cmd->add_flag("--force", args->force, "Write into a non-empty directory, replacing the three files");
  cmd->add_option("--threads,-t", args->threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print the summary as JSON");
  cmd->add_flag("--no-progress", args->no_progress, "No progress bar");
  cmd->callback([args] { run_make_model(*args); });
}

}  // namespace l2n::cli
