// LlmConfig: every export setting, grouped the way ExecuTorch's LLM export groups them
// (base, model, export, quantization, backend.tosa/ethosu/vgf, debug), with the default of
// each and where each value came from.
//
// Contract: an LlmConfig holds values of the right type but is not checked across keys;
// resolve() (config/resolve.h) applies every rule and derives the compile spec. Values
// reach it through config/sources.h (YAML file, dotted overrides, legacy export_llama
// flags). config_keys() is the single list of keys — lookup, messages, `config show` and
// docs/configuration.md all follow it. This stage knows nothing about models or graphs;
// the CLI hands the resolved config to the stages that do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace l2n::config {

// quantization.pt2e_quantize values for the Arm backends. (ExecuTorch's other values —
// xnnpack_*, qnn_*, coreml_*, … — are recognised only to explain that they are not ours.)
enum class QuantMode { Tosa8a8w, EthosU8a8w, EthosU16a8w, Vgf8a8w, Vgf16a8w };
enum class QuantizeScope { Full, Linear };
enum class DTypeOverride { Fp32, Fp16, Bf16 };
enum class ArmBackend { Tosa, EthosU, Vgf };

std::string_view quant_mode_name(QuantMode mode);  // "ethosu_16a8w"
std::string_view scope_name(QuantizeScope scope);   // "full", "linear"
std::string_view dtype_name(DTypeOverride dtype);   // "fp32"
std::string_view backend_name(ArmBackend backend);  // "tosa", "ethosu", "vgf"
std::string_view backend_title(ArmBackend backend); // "TOSA", "Ethos-U", "VGF"
std::string_view backend_enabled_key(ArmBackend backend);  // "backend.ethosu.enabled"
ArmBackend backend_of(QuantMode mode);
bool has_int16_activations(QuantMode mode);
std::vector<QuantMode> quant_modes_for(ArmBackend backend);

struct Origin {
  enum class Kind { Default, File, Override, Flag };
  Kind kind = Kind::Default;
  std::string detail;  // the file path, or the flag as the user spelled it

  static Origin file(std::string path) { return {Kind::File, std::move(path)}; }
  static Origin override_argument() { return {Kind::Override, {}}; }
  static Origin flag(std::string spelling) { return {Kind::Flag, std::move(spelling)}; }

  // "default", "file:PATH", "override", "flag:--max_seq_length"
  std::string to_string() const;
};

struct BaseOptions {
  std::optional<std::string> checkpoint;      // HF directory, llama2.c .bin or .gguf
  std::optional<std::string> tokenizer_path;  // nullopt: the tokenizer found with the checkpoint
  std::optional<std::string> model_class;     // names the output; nullopt: the checkpoint's name
};

struct ModelOptions {
  bool use_kv_cache = false;
  bool enable_dynamic_shape = false;  // upstream default is true; see docs/configuration.md
  bool quantize_kv_cache = false;     // recognised to explain it; not supported
  bool static_quantize_kv_cache = false;
  double static_quantize_kv_cache_scale = 1.0 / 127.0;
  DTypeOverride dtype_override = DTypeOverride::Fp32;
};

struct ExportOptions {
  int64_t max_seq_length = 128;
  int64_t max_context_length = 128;
  std::string output_dir = ".";
  std::optional<std::string> output_name;
};

struct QuantizationOptions {
  std::optional<QuantMode> pt2e_quantize;
  QuantizeScope quantize_scope = QuantizeScope::Full;
  std::string calibration_data = "Once upon a time";
  std::optional<std::vector<std::string>> calibration_tasks;
  std::vector<std::string> calibration_files;
  std::optional<int64_t> calibration_limit;
  std::optional<int64_t> calibration_seq_length;
};

struct TosaBackendOptions {
  bool enabled = false;
  std::string version = "TOSA-1.0+INT";
};

struct EthosUBackendOptions {
  bool enabled = false;
  std::string target = "ethos-u85-128";
  std::string system_config = "default";
  std::string memory_mode = "default";
  std::vector<std::string> extra_flags;
};

struct VgfBackendOptions {
  bool enabled = false;
  std::optional<std::string> compile_spec = "TOSA-1.0+INT";  // nullopt: VGF's own default spec
  std::vector<std::string> compiler_flags;
  QuantizeScope quantize_scope = QuantizeScope::Full;
};

struct BackendOptions {
  TosaBackendOptions tosa;
  EthosUBackendOptions ethosu;
  VgfBackendOptions vgf;
};

struct DebugOptions {
  bool verbose = false;
  bool generate_full_logits = false;
};

struct LlmConfig {
  BaseOptions base;
  ModelOptions model;
  ExportOptions export_;  // the "export" section ("export" is a C++ keyword)
  QuantizationOptions quantization;
  BackendOptions backend;
  DebugOptions debug;

  // Where each key's value came from; keys never set are absent and read as Default.
  std::map<std::string, Origin, std::less<>> origins;

  const Origin& origin_of(std::string_view key) const;
  // True when something other than the default set the key (even to the default value).
  bool is_set(std::string_view key) const { return origin_of(key).kind != Origin::Kind::Default; }
};

enum class ValueKind {
  Bool,
  Integer,
  OptionalInteger,
  Number,
  String,
  OptionalString,
  StringList,
  OptionalStringList,
  Choice,
  OptionalChoice,
};

// One documented key. `allowed` lists the accepted values where the set is fixed: Choice
// keys are checked against it when read, the others (Ethos-U names, calibration tasks) by
// resolve(). `default_text` is the default as it would be written on the command line.
struct KeyInfo {
  std::string_view key;  // "quantization.quantize_scope"
  ValueKind kind;
  std::string_view default_text;
  std::span<const std::string_view> allowed;
  std::string_view summary;
};

std::span<const KeyInfo> config_keys();
const KeyInfo* find_key(std::string_view key);
// The sections as they nest: "base", "model", …, "backend.tosa", "backend.ethosu", ….
std::span<const std::string_view> config_sections();

// ExecuTorch keys llm2npu deliberately does not have, with the reason (shown instead of a
// bare "unknown key").
std::optional<std::string_view> unsupported_upstream_key(std::string_view key);

}  // namespace l2n::config
