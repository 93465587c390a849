#include "config/llm_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

#include "config/key_bindings.h"
#include "core/error.h"
#include "target/closest_name.h"
#include "target/ethosu_hardware.h"

namespace l2n::config {

namespace {

constexpr std::array<std::string_view, 5> kQuantModeNames = {"tosa_8a8w", "ethosu_8a8w", "ethosu_16a8w", "vgf_8a8w",
                                                             "vgf_16a8w"};
constexpr std::array<std::string_view, 2> kScopeNames = {"full", "linear"};
constexpr std::array<std::string_view, 3> kDTypeNames = {"fp32", "fp16", "bf16"};
constexpr std::array<std::string_view, 1> kCalibrationTasks = {"wikitext"};
// The Ethos-U names come from the target stage's tables, so the documentation of the keys
// cannot drift from what resolve() accepts.
template <typename Table>
std::vector<std::string_view> names_of(const Table& table, bool with_default) {
  std::vector<std::string_view> names;
  if (with_default) names.push_back("default");
  for (const auto& entry : table) names.push_back(entry.name);
  return names;
}
const std::vector<std::string_view> kTargetNames = names_of(target::accelerator_configs(), false);
const std::vector<std::string_view> kSystemConfigNames = names_of(target::system_configs(), true);
const std::vector<std::string_view> kMemoryModeNames = names_of(target::memory_modes(), true);

// Other ExecuTorch pt2e_quantize values, each with the backend it belongs to.
constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kForeignQuantModes = {{
    {"xnnpack_dynamic", "XNNPACK"},
    {"xnnpack_dynamic_qc4", "XNNPACK"},
    {"openvino_4wo", "OpenVINO"},
    {"openvino_8wo", "OpenVINO"},
    {"qnn_8a8w", "Qualcomm QNN"},
    {"qnn_16a16w", "Qualcomm QNN"},
    {"qnn_16a4w", "Qualcomm QNN"},
    {"coreml_c4w", "Core ML"},
    {"coreml_8a_c8w", "Core ML"},
    {"coreml_8a_c4w", "Core ML"},
    {"coreml_baseline_8a_c8w", "Core ML"},
    {"coreml_baseline_8a_c4w", "Core ML"},
    {"vulkan_8w", "Vulkan"},
}};

using V = ValueKind;
const std::span<const std::string_view> kNone;

// clang-format off
const auto kKeys = std::to_array<KeyInfo>({
    {"base.checkpoint", V::OptionalString, "null", kNone,
     "The checkpoint to export: a Hugging Face directory (config.json + *.safetensors), a llama2.c .bin or a .gguf file."},
    {"base.tokenizer_path", V::OptionalString, "null", kNone,
     "Tokenizer file (tokenizer.json, llama2.c tokenizer .bin, SentencePiece .model); null uses the one found with the checkpoint."},
    {"base.model_class", V::OptionalString, "null", kNone,
     "Name of the model, used for the output file name; null takes the checkpoint's file or directory name."},
    {"model.use_kv_cache", V::Bool, "false", kNone,
     "Export a single-token decode step with a KV cache instead of a full-window forward pass."},
    {"model.enable_dynamic_shape", V::Bool, "false", kNone,
     "Dynamic sequence length. Must stay false: TOSA 1.0 delegates need static shapes."},
    {"model.quantize_kv_cache", V::Bool, "false", kNone,
     "ExecuTorch's dynamic per-token int8 KV cache. Not supported (no Arm backend can run it); use static_quantize_kv_cache."},
    {"model.static_quantize_kv_cache", V::Bool, "false", kNone,
     "Store the KV cache as int8 with one calibrated scale per head-dim channel."},
    {"model.static_quantize_kv_cache_scale", V::Number, "0.007874015748031496", kNone,
     "Fixed int8 KV-cache scale (1/127) used when no calibration data is given."},
    {"model.dtype_override", V::Choice, "fp32", kDTypeNames, "Floating-point type of the model's non-quantized parts."},
    {"export.max_seq_length", V::Integer, "128", kNone, "Longest input sequence (tokens per call)."},
    {"export.max_context_length", V::Integer, "128", kNone,
     "KV-cache capacity and RoPE table length; at least max_seq_length."},
    {"export.output_dir", V::String, "\".\"", kNone, "Directory the exported program is written to."},
    {"export.output_name", V::OptionalString, "null", kNone,
     "Output file name; null derives it from base.model_class."},
    {"quantization.pt2e_quantize", V::OptionalChoice, "null", kQuantModeNames,
     "Quantization mode; its prefix names the backend it is for. null keeps the model in floating point."},
    {"quantization.quantize_scope", V::Choice, "full", kScopeNames,
     "full quantizes every supported operator; linear quantizes only the linear layers (the validated Ethos-U path)."},
    {"quantization.calibration_data", V::String, "\"Once upon a time\"", kNone,
     "Prompt the model continues greedily during calibration."},
    {"quantization.calibration_tasks", V::OptionalStringList, "null", kCalibrationTasks,
     "Named calibration data sets, run after calibration_data."},
    {"quantization.calibration_files", V::StringList, "[]", kNone,
     "Text files used as calibration data, like calibration_tasks (llm2npu addition)."},
    {"quantization.calibration_limit", V::OptionalInteger, "null", kNone,
     "Number of documents taken from calibration_tasks / calibration_files; null takes all."},
    {"quantization.calibration_seq_length", V::OptionalInteger, "null", kNone,
     "Tokens per calibration sequence. Real calibration runs only when this is set."},
    {"backend.tosa.enabled", V::Bool, "false", kNone, "Export generic TOSA delegates."},
    {"backend.tosa.version", V::String, "TOSA-1.0+INT", kNone, "TOSA specification for the TOSA backend."},
    {"backend.ethosu.enabled", V::Bool, "false", kNone, "Export for an Arm Ethos-U NPU (compiled by Vela)."},
    {"backend.ethosu.target", V::String, "ethos-u85-128", kTargetNames, "Ethos-U accelerator configuration."},
    {"backend.ethosu.system_config", V::String, "default", kSystemConfigNames,
     "Vela system config (clocks, memories); default picks the target family's."},
    {"backend.ethosu.memory_mode", V::String, "default", kMemoryModeNames,
     "Vela memory mode (where weights, arena and cache live); default picks the target family's."},
    {"backend.ethosu.extra_flags", V::StringList, "[]", kNone, "Extra Vela flags, placed before llm2npu's own."},
    {"backend.vgf.enabled", V::Bool, "false", kNone, "Export a VGF (Vulkan graph file) delegate."},
    {"backend.vgf.compile_spec", V::OptionalString, "TOSA-1.0+INT", kNone,
     "TOSA specification for VGF; null means VGF's own default, TOSA-1.0+FP+INT+int4+int16."},
    {"backend.vgf.compiler_flags", V::StringList, "[]", kNone, "Flags passed to model-converter."},
    {"backend.vgf.quantize_scope", V::Choice, "full", kScopeNames,
     "VGF spelling of quantization.quantize_scope; setting both to different values is an error."},
    {"debug.verbose", V::Bool, "false", kNone, "Log each export step."},
    {"debug.generate_full_logits", V::Bool, "false", kNone,
     "Return logits for every position instead of only the last; needed to calibrate a model without KV cache."},
});
// clang-format on

constexpr std::array<std::string_view, 8> kSections = {"base",         "model",   "export",         "quantization",
                                                       "backend.tosa", "backend.ethosu", "backend.vgf", "debug"};

constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kUnsupportedUpstreamKeys = {{
    {"base.params", "llm2npu reads the model's shape from the checkpoint itself (config.json, the llama2.c header or "
                    "GGUF metadata); remove it"},
    {"base.checkpoint_dir", "point base.checkpoint at the checkpoint directory instead"},
    {"base.metadata", "the exported program records its metadata itself; remove it"},
    {"quantization.qmode", "llm2npu quantizes through quantization.pt2e_quantize only"},
    {"quantization.embedding_quantize", "the embedding stays in floating point on the CPU; remove it"},
    {"quantization.group_size", "Arm quantization is per channel, not grouped; remove it"},
    {"model.use_sdpa_with_kv_cache", "llm2npu has no custom SDPA operator; remove it"},
    {"model.local_global_attention", "sliding-window attention layouts are not supported; remove it"},
    {"model.use_attention_sink", "attention sinks are not supported; remove it"},
    {"export.so_library", "llm2npu's quantized kernels are built in, nothing needs loading; remove it"},
    {"export.export_only", "use the export command's own options to stop early"},
    {"debug.profile_memory", "not supported; remove it"},
}};

// ---- decoding YAML values -------------------------------------------------------------

std::string lowercase(std::string_view text) {
  std::string folded(text);
  for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return folded;
}

std::string shown(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsScalar()) return fmt::format("'{}'", node.Scalar());
  if (node.IsSequence()) return "a list";
  return "a mapping";
}

[[noreturn]] void wrong_type(const std::string& where, const YAML::Node& node, std::string_view expected) {
  fail_usage("{} must be {}, got {}", where, expected, shown(node));
}

const std::string& scalar_or_fail(const YAML::Node& node, const std::string& where, std::string_view expected) {
  if (!node.IsScalar()) wrong_type(where, node, expected);
  return node.Scalar();
}

void decode(const YAML::Node& node, const std::string& where, bool& out) {
  constexpr std::string_view kExpected = "true or false";
  const std::string text = lowercase(scalar_or_fail(node, where, kExpected));
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    out = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    out = false;
  } else {
    wrong_type(where, node, kExpected);
  }
}

void decode(const YAML::Node& node, const std::string& where, int64_t& out) {
  constexpr std::string_view kExpected = "a whole number";
  const std::string& text = scalar_or_fail(node, where, kExpected);
  const char* begin = text.data() + (!text.empty() && text[0] == '+' ? 1 : 0);
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(begin, end, out);
  if (error == std::errc::result_out_of_range) fail_usage("{} is too large: {}", where, text);
  if (error != std::errc() || stop != end || begin == end) wrong_type(where, node, kExpected);
}

void decode(const YAML::Node& node, const std::string& where, double& out) {
  constexpr std::string_view kExpected = "a number";
  const std::string& text = scalar_or_fail(node, where, kExpected);
  const std::string folded = lowercase(text);
  if (folded == ".inf" || folded == "+.inf") {
    out = std::numeric_limits<double>::infinity();
    return;
  }
  if (folded == "-.inf") {
    out = -std::numeric_limits<double>::infinity();
    return;
  }
  if (folded == ".nan") {
    out = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  const char* begin = text.data() + (!text.empty() && text[0] == '+' ? 1 : 0);
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(begin, end, out);
  if (error != std::errc() || stop != end || begin == end) wrong_type(where, node, kExpected);
}

void decode(const YAML::Node& node, const std::string& where, std::string& out) {
  out = scalar_or_fail(node, where, "a string (use an optional key's null to unset it)");
}

void decode(const YAML::Node& node, const std::string& where, std::vector<std::string>& out) {
  constexpr std::string_view kExpected = "a list of strings, e.g. [\"a\", \"b\"]";
  out.clear();
  if (node.IsNull()) return;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return;
  }
  if (!node.IsSequence()) wrong_type(where, node, kExpected);
  for (const YAML::Node& item : node) {
    if (!item.IsScalar())
      fail_usage("{} must be {}, but one item is {}", where, kExpected, item.IsNull() ? "null" : shown(item));
    out.push_back(item.Scalar());
  }
}

template <typename Enum, std::size_t N>
Enum decode_choice(const YAML::Node& node, const std::string& where, const std::array<std::string_view, N>& names) {
  const std::string expected = fmt::format("one of {}", target::join_names(names));
  const std::string& text = scalar_or_fail(node, where, expected);
  const auto it = std::find(names.begin(), names.end(), text);
  if (it == names.end())
    fail_usage("{} must be {}, got '{}'{}", where, expected, text, target::did_you_mean(text, names));
  return static_cast<Enum>(it - names.begin());
}

void decode(const YAML::Node& node, const std::string& where, QuantizeScope& out) {
  out = decode_choice<QuantizeScope>(node, where, kScopeNames);
}

void decode(const YAML::Node& node, const std::string& where, DTypeOverride& out) {
  out = decode_choice<DTypeOverride>(node, where, kDTypeNames);
}

void decode(const YAML::Node& node, const std::string& where, QuantMode& out) {
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    for (const auto& [name, backend] : kForeignQuantModes)
      if (text == name)
        fail_usage("{}: '{}' is ExecuTorch's mode for the {} backend, but llm2npu exports for Arm backends only; "
                   "use one of {}",
                   where, text, backend, target::join_names(kQuantModeNames));
    if (text == "tosa_16a8w")
      fail_usage("{}: there is no tosa_16a8w; the TOSA backend quantizes with tosa_8a8w only, and 16-bit "
                 "activations come with ethosu_16a8w (Ethos-U) or vgf_16a8w (VGF)",
                 where);
  }
  out = decode_choice<QuantMode>(node, where, kQuantModeNames);
}

template <typename T>
void decode(const YAML::Node& node, const std::string& where, std::optional<T>& out) {
  if (node.IsNull()) {
    out.reset();
    return;
  }
  T value{};
  decode(node, where, value);
  out = std::move(value);
}

// ---- encoding to JSON --------------------------------------------------------------------

nlohmann::ordered_json encode(bool value) { return value; }
nlohmann::ordered_json encode(int64_t value) { return value; }
nlohmann::ordered_json encode(double value) { return value; }
nlohmann::ordered_json encode(const std::string& value) { return value; }
nlohmann::ordered_json encode(const std::vector<std::string>& value) { return value; }
nlohmann::ordered_json encode(QuantizeScope value) { return scope_name(value); }
nlohmann::ordered_json encode(DTypeOverride value) { return dtype_name(value); }
nlohmann::ordered_json encode(QuantMode value) { return quant_mode_name(value); }
template <typename T>
nlohmann::ordered_json encode(const std::optional<T>& value) {
  return value ? encode(*value) : nlohmann::ordered_json(nullptr);
}

// ---- the bindings --------------------------------------------------------------------

template <typename Access>
detail::KeyBinding bind(std::string_view key, Access access) {
  const KeyInfo* info = find_key(key);
  return {info,
          [access](LlmConfig& config, const YAML::Node& value, const std::string& where) {
            auto& field = access(config);
            std::remove_reference_t<decltype(field)> decoded = field;
            decode(value, where, decoded);
            field = std::move(decoded);
          },
          [access](const LlmConfig& config) { return encode(access(config)); }};
}

std::vector<detail::KeyBinding> make_bindings() {
  // clang-format off
  std::vector<detail::KeyBinding> bindings = {
      bind("base.checkpoint", [](auto& c) -> auto& { return c.base.checkpoint; }),
      bind("base.tokenizer_path", [](auto& c) -> auto& { return c.base.tokenizer_path; }),
      bind("base.model_class", [](auto& c) -> auto& { return c.base.model_class; }),
      bind("model.use_kv_cache", [](auto& c) -> auto& { return c.model.use_kv_cache; }),
      bind("model.enable_dynamic_shape", [](auto& c) -> auto& { return c.model.enable_dynamic_shape; }),
      bind("model.quantize_kv_cache", [](auto& c) -> auto& { return c.model.quantize_kv_cache; }),
      bind("model.static_quantize_kv_cache", [](auto& c) -> auto& { return c.model.static_quantize_kv_cache; }),
      bind("model.static_quantize_kv_cache_scale", [](auto& c) -> auto& { return c.model.static_quantize_kv_cache_scale; }),
      bind("model.dtype_override", [](auto& c) -> auto& { return c.model.dtype_override; }),
      bind("export.max_seq_length", [](auto& c) -> auto& { return c.export_.max_seq_length; }),
      bind("export.max_context_length", [](auto& c) -> auto& { return c.export_.max_context_length; }),
      bind("export.output_dir", [](auto& c) -> auto& { return c.export_.output_dir; }),
      bind("export.output_name", [](auto& c) -> auto& { return c.export_.output_name; }),
      bind("quantization.pt2e_quantize", [](auto& c) -> auto& { return c.quantization.pt2e_quantize; }),
      bind("quantization.quantize_scope", [](auto& c) -> auto& { return c.quantization.quantize_scope; }),
      bind("quantization.calibration_data", [](auto& c) -> auto& { return c.quantization.calibration_data; }),
      bind("quantization.calibration_tasks", [](auto& c) -> auto& { return c.quantization.calibration_tasks; }),
      bind("quantization.calibration_files", [](auto& c) -> auto& { return c.quantization.calibration_files; }),
      bind("quantization.calibration_limit", [](auto& c) -> auto& { return c.quantization.calibration_limit; }),
      bind("quantization.calibration_seq_length", [](auto& c) -> auto& { return c.quantization.calibration_seq_length; }),
      bind("backend.tosa.enabled", [](auto& c) -> auto& { return c.backend.tosa.enabled; }),
      bind("backend.tosa.version", [](auto& c) -> auto& { return c.backend.tosa.version; }),
      bind("backend.ethosu.enabled", [](auto& c) -> auto& { return c.backend.ethosu.enabled; }),
      bind("backend.ethosu.target", [](auto& c) -> auto& { return c.backend.ethosu.target; }),
      bind("backend.ethosu.system_config", [](auto& c) -> auto& { return c.backend.ethosu.system_config; }),
      bind("backend.ethosu.memory_mode", [](auto& c) -> auto& { return c.backend.ethosu.memory_mode; }),
      bind("backend.ethosu.extra_flags", [](auto& c) -> auto& { return c.backend.ethosu.extra_flags; }),
      bind("backend.vgf.enabled", [](auto& c) -> auto& { return c.backend.vgf.enabled; }),
      bind("backend.vgf.compile_spec", [](auto& c) -> auto& { return c.backend.vgf.compile_spec; }),
      bind("backend.vgf.compiler_flags", [](auto& c) -> auto& { return c.backend.vgf.compiler_flags; }),
      bind("backend.vgf.quantize_scope", [](auto& c) -> auto& { return c.backend.vgf.quantize_scope; }),
      bind("debug.verbose", [](auto& c) -> auto& { return c.debug.verbose; }),
      bind("debug.generate_full_logits", [](auto& c) -> auto& { return c.debug.generate_full_logits; }),
  };
  // clang-format on
  return bindings;
}

}  // namespace

std::string_view quant_mode_name(QuantMode mode) { return kQuantModeNames[static_cast<int>(mode)]; }
std::string_view scope_name(QuantizeScope scope) { return kScopeNames[static_cast<int>(scope)]; }
std::string_view dtype_name(DTypeOverride dtype) { return kDTypeNames[static_cast<int>(dtype)]; }

std::string_view backend_name(ArmBackend backend) {
  switch (backend) {
    case ArmBackend::Tosa: return "tosa";
    case ArmBackend::EthosU: return "ethosu";
    case ArmBackend::Vgf: return "vgf";
  }
  return "";
}

std::string_view backend_title(ArmBackend backend) {
  switch (backend) {
    case ArmBackend::Tosa: return "TOSA";
    case ArmBackend::EthosU: return "Ethos-U";
    case ArmBackend::Vgf: return "VGF";
  }
  return "";
}

std::string_view backend_enabled_key(ArmBackend backend) {
  switch (backend) {
    case ArmBackend::Tosa: return "backend.tosa.enabled";
    case ArmBackend::EthosU: return "backend.ethosu.enabled";
    case ArmBackend::Vgf: return "backend.vgf.enabled";
  }
  return "";
}

ArmBackend backend_of(QuantMode mode) {
  switch (mode) {
    case QuantMode::Tosa8a8w: return ArmBackend::Tosa;
    case QuantMode::EthosU8a8w:
    case QuantMode::EthosU16a8w: return ArmBackend::EthosU;
    case QuantMode::Vgf8a8w:
    case QuantMode::Vgf16a8w: return ArmBackend::Vgf;
  }
  return ArmBackend::Tosa;
}

bool has_int16_activations(QuantMode mode) { return mode == QuantMode::EthosU16a8w || mode == QuantMode::Vgf16a8w; }

std::vector<QuantMode> quant_modes_for(ArmBackend backend) {
  std::vector<QuantMode> modes;
  for (std::size_t i = 0; i < kQuantModeNames.size(); ++i)
    if (backend_of(static_cast<QuantMode>(i)) == backend) modes.push_back(static_cast<QuantMode>(i));
  return modes;
}

std::string Origin::to_string() const {
  switch (kind) {
    case Kind::Default: return "default";
    case Kind::File: return "file:" + detail;
    case Kind::Override: return "override";
    case Kind::Flag: return "flag:" + detail;
  }
  return "";
}

const Origin& LlmConfig::origin_of(std::string_view key) const {
  static const Origin kDefault;
  const auto it = origins.find(key);
  return it == origins.end() ? kDefault : it->second;
}

std::span<const KeyInfo> config_keys() { return kKeys; }

const KeyInfo* find_key(std::string_view key) {
  const auto it = std::find_if(kKeys.begin(), kKeys.end(), [&](const KeyInfo& info) { return info.key == key; });
  return it == kKeys.end() ? nullptr : &*it;
}

std::span<const std::string_view> config_sections() { return kSections; }

std::optional<std::string_view> unsupported_upstream_key(std::string_view key) {
  for (const auto& [name, reason] : kUnsupportedUpstreamKeys)
    if (name == key) return reason;
  static constexpr std::array<std::string_view, 7> kForeignBackends = {"xnnpack", "coreml", "mps",     "qnn",
                                                                       "vulkan",  "openvino", "torchao"};
  for (std::string_view backend : kForeignBackends) {
    const std::string prefix = fmt::format("backend.{}", backend);
    if (key == prefix || key.substr(0, prefix.size() + 1) == prefix + ".")
      return "llm2npu exports for the Arm backends only (backend.ethosu, backend.tosa, backend.vgf)";
  }
  return std::nullopt;
}

namespace detail {

const KeyBinding* find_binding(std::string_view key) {
  static const std::vector<KeyBinding> bindings = make_bindings();
  const auto it = std::find_if(bindings.begin(), bindings.end(), [&](const KeyBinding& b) { return b.info->key == key; });
  return it == bindings.end() ? nullptr : &*it;
}

std::string describe(std::string_view key, const Origin& origin) {
  return fmt::format("{} ({})", key, origin.to_string());
}

}  // namespace detail

}  // namespace l2n::config
