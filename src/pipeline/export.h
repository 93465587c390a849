// export: the whole flow from a resolved configuration to a program —
//   load checkpoint → build the method graphs → calibrate + convert (when quantizing)
//   → partition per target → lower each delegate to TOSA 1.0 → (Vela, when present)
//   → assemble the program.
//
// Contract:
//  * Methods: "forward" (the full window of export.max_seq_length tokens, full logits) and,
//    with model.use_kv_cache, "decode" (one token at input_pos through caches of
//    export.max_context_length positions). Static shapes only.
//  * Calibration (quantization.*, as upstream, docs/configuration.md): with
//    calibration_seq_length set, the greedy self-continuation of calibration_data to that
//    length, then calibration_limit samples of that length from calibration_files (and the
//    wikitext task's file); without it, one pass over the encoded calibration_data prompt.
//    The recipe is calibrated on full-window graphs and converts every method.
//  * Deterministic: the same inputs and configuration give byte-identical programs whatever
//    options.threads is.
//  * Nothing is written here; the caller writes the program (atomically) and any extras.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/resolve.h"
#include "partition/report.h"
#include "program/program.h"
#include "quant/quantize.h"
#include "tosa/tosa_graph.h"

namespace l2n::pipeline {

struct ExportOptions {
  int threads = 0;                         // 0 = all cores
  bool progress = true;
  std::optional<std::filesystem::path> vela;  // --vela PATH; nullopt: look for `vela` on PATH
  bool quant_report = false;               // also compute the per-tensor SQNR report
  std::string producer = "llm2npu";
};

struct ExportResult {
  program::Program program;
  std::vector<partition::MethodPartitionReport> partitions;
  std::optional<quant::QuantRecipe> recipe;  // the calibrated recipe (nullopt for FP32)
  std::optional<quant::QuantReport> quant_report;
  std::string calibration;   // how the recipe was calibrated ("" when FP32)
  std::vector<std::string> notes;  // one-line messages for the user (e.g. Vela missing)
  double seconds = 0;
};

ExportResult export_program(const config::ResolvedConfig& resolved, const ExportOptions& options);

// export.output_dir / (export.output_name or "<model>_<mode>_<scope>_<target>") + ".l2n".
std::filesystem::path default_output_path(const config::ResolvedConfig& resolved);

// The target name used in reports and file names: the Ethos-U accelerator ("ethos-u85-256"),
// "vgf", or the TOSA spec string.
std::string target_name(const config::ResolvedConfig& resolved);

// Finds the Vela executable: `explicit_path` when given (must be executable), else `vela`
// on PATH; nullopt when there is none.
std::optional<std::filesystem::path> find_vela(const std::optional<std::filesystem::path>& explicit_path);

}  // namespace l2n::pipeline
