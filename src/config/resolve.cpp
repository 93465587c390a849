#include "config/resolve.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "config/key_bindings.h"
#include "core/error.h"
#include "target/closest_name.h"
#include "core/json_text.h"

namespace l2n::config {

namespace {

class Resolver {
 public:
  explicit Resolver(LlmConfig config) { resolved_.config = std::move(config); }

  ResolvedConfig run() {
    check_backend_choice();
    check_model();
    check_export();
    check_quantization();
    check_calibration();
    check_ignored_backend_settings();
    if (enabled_.size() == 1) {
      resolved_.backend = enabled_.front();
      switch (resolved_.backend) {
        case ArmBackend::Tosa: resolve_tosa(); break;
        case ArmBackend::EthosU: resolve_ethosu(); break;
        case ArmBackend::Vgf: resolve_vgf(); break;
      }
    }
    if (!problems_.empty()) throw_problems();
    return std::move(resolved_);
  }

 private:
  const LlmConfig& c() const { return resolved_.config; }

  // "key=value (origin)" — how a message points at a setting.
  std::string at(std::string_view key) const {
    const detail::KeyBinding* binding = detail::find_binding(key);
    const nlohmann::ordered_json value = binding->read(c());
    // Non-finite numbers have no JSON spelling; show them as the user would write them.
    const std::string text = value.is_string()         ? value.get<std::string>()
                             : value.is_number_float() ? fmt::format("{}", value.get<double>())
                                                       : json_text(value);
    return fmt::format("{}={} ({})", key, text, c().origin_of(key).to_string());
  }

  template <typename... Args>
  void problem(fmt::format_string<Args...> format, Args&&... args) {
    problems_.push_back(fmt::format(format, std::forward<Args>(args)...));
  }

  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) {
    resolved_.warnings.push_back(fmt::format(format, std::forward<Args>(args)...));
  }

  // Runs a target-stage check and files its message under `key`.
  template <typename Check>
  bool checked(std::string_view key, Check check) {
    try {
      check();
      return true;
    } catch (const Error& e) {
      problems_.push_back(fmt::format("{}: {}", at(key), e.what()));
      return false;
    }
  }

  [[noreturn]] void throw_problems() const {
    if (problems_.size() == 1) throw Error(problems_.front(), ErrorKind::Usage);
    std::string message = fmt::format("the export configuration has {} problems:", problems_.size());
    for (const std::string& text : problems_) message += "\n  - " + text;
    throw Error(message, ErrorKind::Usage);
  }

  std::optional<QuantMode> mode() const { return c().quantization.pt2e_quantize; }

  // ---- which backend --------------------------------------------------------------------

  void check_backend_choice() {
    const auto& b = c().backend;
    if (b.ethosu.enabled) enabled_.push_back(ArmBackend::EthosU);
    if (b.tosa.enabled) enabled_.push_back(ArmBackend::Tosa);
    if (b.vgf.enabled) enabled_.push_back(ArmBackend::Vgf);
    if (enabled_.empty()) {
      problem("no Arm backend is enabled; enable exactly one: backend.ethosu.enabled=true (Ethos-U NPU, compiled by "
              "Vela), backend.tosa.enabled=true (generic TOSA) or backend.vgf.enabled=true (VGF; flag --vgf)");
    } else if (enabled_.size() > 1) {
      std::string names;
      for (ArmBackend backend : enabled_)
        names += fmt::format("{}{}", names.empty() ? "" : ", ", at(backend_enabled_key(backend)));
      problem("{} Arm backends are enabled ({}), but an export targets exactly one; set enabled=false on all but "
              "the one you want",
              enabled_.size(), names);
    }

    if (const auto m = mode()) {
      const ArmBackend wanted = backend_of(*m);
      if (std::find(enabled_.begin(), enabled_.end(), wanted) == enabled_.end()) {
        std::string fix = fmt::format("set {}=true", backend_enabled_key(wanted));
        if (enabled_.size() == 1) {
          std::string modes;
          for (QuantMode other : quant_modes_for(enabled_.front()))
            modes += fmt::format("{}{}", modes.empty() ? "" : " or ", quant_mode_name(other));
          fix = fmt::format("for the enabled {} backend use {} instead", backend_title(enabled_.front()), modes);
        }
        problem("{} quantizes for the {} backend, which is not enabled; {}", at("quantization.pt2e_quantize"),
                backend_title(wanted), fix);
      }
    }
  }

  // ---- model ----------------------------------------------------------------------------

  void check_model() {
    const ModelOptions& m = c().model;
    if (m.quantize_kv_cache) {
      if (!m.use_kv_cache)
        problem("{} quantizes a KV cache, but model.use_kv_cache is false; set model.use_kv_cache=true or drop "
                "model.quantize_kv_cache",
                at("model.quantize_kv_cache"));
      else if (m.static_quantize_kv_cache)
        problem("{} and model.static_quantize_kv_cache=true ask for two different int8 KV caches; keep only "
                "model.static_quantize_kv_cache",
                at("model.quantize_kv_cache"));
      else
        problem("{}: the dynamic per-token int8 KV cache cannot run on the Arm backends (Ethos-U rejects it) and "
                "llm2npu does not implement it; use model.static_quantize_kv_cache=true instead",
                at("model.quantize_kv_cache"));
    }
    if (m.static_quantize_kv_cache && !m.use_kv_cache)
      problem("{} quantizes the KV cache, but there is none: model.use_kv_cache is false; set "
              "model.use_kv_cache=true (flag -kv)",
              at("model.static_quantize_kv_cache"));
    else if (m.static_quantize_kv_cache && !mode())
      problem("{}: llm2npu stores the KV cache as int8 while it quantizes the model (the K/V scales are part of "
              "the quantization recipe), so it needs a quantization mode; set quantization.pt2e_quantize (e.g. "
              "ethosu_16a8w) or drop model.static_quantize_kv_cache",
              at("model.static_quantize_kv_cache"));
    if (!std::isfinite(m.static_quantize_kv_cache_scale) || m.static_quantize_kv_cache_scale <= 0)
      problem("{}: a quantization scale must be a positive, finite number; the default is 1/127 = "
              "0.007874015748031496",
              at("model.static_quantize_kv_cache_scale"));
    if (m.enable_dynamic_shape)
      problem("{}: TOSA 1.0 delegates need static shapes, so nothing with a dynamic sequence length could be "
              "delegated{}; set model.enable_dynamic_shape=false (the llm2npu default; flag --disable_dynamic_shape)",
              at("model.enable_dynamic_shape"),
              m.static_quantize_kv_cache ? ", and the static int8 KV cache needs static shapes as well" : "");
  }

  // ---- export ---------------------------------------------------------------------------

  void check_export() {
    const ExportOptions& e = c().export_;
    if (e.max_seq_length < 1)
      problem("{}: the sequence length must be at least 1 token", at("export.max_seq_length"));
    if (e.max_context_length < 1)
      problem("{}: the context length must be at least 1 token", at("export.max_context_length"));
    if (e.max_context_length >= 1 && e.max_seq_length >= 1 && e.max_context_length < e.max_seq_length)
      problem("{} is shorter than {}; the context (KV-cache capacity, the history the model can see) must hold at "
              "least one full input sequence, so raise export.max_context_length or lower export.max_seq_length",
              at("export.max_context_length"), at("export.max_seq_length"));
    if (e.output_dir.empty())
      problem("{}: the output directory is empty; use \".\" for the current directory", at("export.output_dir"));
    if (e.output_name && e.output_name->empty())
      problem("{}: the output name is empty; give a name or null to derive it from the model", at("export.output_name"));
    if (const auto& name = c().base.model_class) {
      const bool usable = !name->empty() && std::all_of(name->begin(), name->end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
      });
      if (!usable)
        problem("{}: the model name becomes part of the output file name, so use only letters, digits, '_', '-' "
                "and '.', e.g. smollm2",
                at("base.model_class"));
    }
  }

  // ---- quantization ---------------------------------------------------------------------

  void check_quantization() {
    const QuantizationOptions& q = c().quantization;
    const VgfBackendOptions& vgf = c().backend.vgf;
    const bool shared_set = c().is_set("quantization.quantize_scope");
    const bool vgf_set = c().is_set("backend.vgf.quantize_scope");
    if (shared_set && vgf_set && q.quantize_scope != vgf.quantize_scope)
      problem("{} and {} disagree; both choose what gets quantized, so set only quantization.quantize_scope (or "
              "give both the same value)",
              at("quantization.quantize_scope"), at("backend.vgf.quantize_scope"));

    resolved_.quantize_scope = q.quantize_scope;
    resolved_.quantize_scope_key = "quantization.quantize_scope";
    if (vgf_set && !shared_set) {
      if (vgf.enabled) {
        resolved_.quantize_scope = vgf.quantize_scope;
        resolved_.quantize_scope_key = "backend.vgf.quantize_scope";
      } else {
        warn("{} has no effect because the VGF backend is not enabled; use quantization.quantize_scope",
             at("backend.vgf.quantize_scope"));
      }
    }
    if (!mode() && shared_set && q.quantize_scope != QuantizeScope::Full)
      warn("{} has no effect without quantization.pt2e_quantize", at("quantization.quantize_scope"));

    if (mode() == QuantMode::EthosU16a8w && resolved_.quantize_scope == QuantizeScope::Full &&
        c().backend.ethosu.enabled) {
      const auto* accelerator = target::find_accelerator_config(c().backend.ethosu.target);
      if (accelerator && accelerator->family != target::EthosUFamily::U85)
        warn("ethosu_16a8w with the full scope on the {} ({}): these NPUs have no int16 MATMUL, so the attention "
             "matrix products stay on the CPU; quantization.quantize_scope=linear is the validated path",
             accelerator->name, target::family_name(accelerator->family));
    }
  }

  void check_calibration() {
    const QuantizationOptions& q = c().quantization;
    const ModelOptions& m = c().model;
    const bool quantizes = mode().has_value();
    const bool static_kv = m.static_quantize_kv_cache;
    const bool has_tasks = q.calibration_tasks && !q.calibration_tasks->empty();
    const bool has_files = !q.calibration_files.empty();

    if (q.calibration_limit && *q.calibration_limit < 1)
      problem("{}: the number of calibration documents must be at least 1, or null for all of them",
              at("quantization.calibration_limit"));
    if (q.calibration_seq_length && *q.calibration_seq_length < 1)
      problem("{}: calibration needs at least 1 token per sequence", at("quantization.calibration_seq_length"));
    if (q.calibration_tasks) {
      const auto known = find_key("quantization.calibration_tasks")->allowed;
      for (const std::string& task : *q.calibration_tasks)
        if (std::find(known.begin(), known.end(), task) == known.end())
          problem("{}: '{}' is not a calibration data set llm2npu knows{}; known: {}; for your own text use "
                  "quantization.calibration_files",
                  at("quantization.calibration_tasks"), task, target::did_you_mean(task, known),
                  target::join_names(known));
    }
    for (const std::string& file : q.calibration_files)
      if (file.empty())
        problem("{}: one of the file names is empty; remove it", at("quantization.calibration_files"));

    if (!quantizes && !static_kv) {
      for (std::string_view key : {"quantization.calibration_tasks", "quantization.calibration_files",
                                   "quantization.calibration_limit", "quantization.calibration_seq_length"})
        if (c().is_set(key))
          warn("{} has no effect: nothing is quantized (set quantization.pt2e_quantize or "
               "model.static_quantize_kv_cache)",
               at(key));
      return;
    }

    if (!q.calibration_seq_length) {
      for (std::string_view key : {"quantization.calibration_tasks", "quantization.calibration_files",
                                   "quantization.calibration_limit"})
        if (c().is_set(key) &&
            (key != "quantization.calibration_tasks" || has_tasks) &&
            (key != "quantization.calibration_files" || has_files))
          problem("{} is set, but calibration only runs when quantization.calibration_seq_length says how many "
                  "tokens to use; set it (e.g. to export.max_seq_length) or drop {}",
                  at(key), key);
      if (quantizes)
        warn("quantization.calibration_seq_length is not set, so quantization ranges come from one pass over "
             "example inputs instead of real text; set it (e.g. to {}) for usable accuracy",
             c().export_.max_seq_length);
    }
    resolved_.calibrates = q.calibration_seq_length.has_value();

    if (q.calibration_seq_length && m.use_kv_cache && *q.calibration_seq_length > c().export_.max_context_length)
      problem("{} is longer than {}; with a KV cache every calibration token takes a cache slot, so lower "
              "calibration_seq_length or raise export.max_context_length",
              at("quantization.calibration_seq_length"), at("export.max_context_length"));

    if (quantizes && resolved_.calibrates && !m.use_kv_cache && !m.enable_dynamic_shape && !c().debug.generate_full_logits)
      problem("{}: calibrating a model without KV cache runs right-padded prefixes, and the next token must be read "
              "at the last real position, which needs every position's logits; set "
              "debug.generate_full_logits=true or model.use_kv_cache=true",
              at("debug.generate_full_logits"));

    if (q.calibration_limit && !has_tasks && !has_files)
      warn("{} has no effect: it limits calibration_tasks / calibration_files, and neither is set",
           at("quantization.calibration_limit"));
    if ((has_tasks || has_files) && !q.calibration_limit && q.calibration_seq_length)
      warn("quantization.calibration_limit is not set, so calibration runs over the whole of "
           "calibration_tasks / calibration_files, which can take long");
    if (static_kv && !has_tasks && !has_files)
      warn("model.static_quantize_kv_cache has no calibration data (calibration_tasks / calibration_files), so the "
           "KV cache uses the fixed scale {} for every channel",
           c().model.static_quantize_kv_cache_scale);
  }

  // Keys of a disabled backend that were set on purpose do nothing; say so.
  void check_ignored_backend_settings() {
    for (ArmBackend backend : {ArmBackend::Tosa, ArmBackend::EthosU, ArmBackend::Vgf}) {
      if (std::find(enabled_.begin(), enabled_.end(), backend) != enabled_.end()) continue;
      const std::string prefix = fmt::format("backend.{}.", backend_name(backend));
      for (const KeyInfo& info : config_keys()) {
        if (info.key.substr(0, prefix.size()) != prefix || info.key == backend_enabled_key(backend)) continue;
        if (info.key == "backend.vgf.quantize_scope") continue;  // reported with the scope rules
        if (c().is_set(info.key))
          warn("{} has no effect because {} is false", at(info.key), backend_enabled_key(backend));
      }
    }
  }

  // ---- per backend ----------------------------------------------------------------------

  // An integer-only spec delegates nothing from a float model; a quantized model needs INT.
  void check_profiles(const target::TosaSpec& spec, std::string_view spec_key, ArmBackend backend) {
    const std::string example = fmt::format("{}", quant_mode_name(quant_modes_for(backend).front()));
    if (mode() && !spec.integer())
      problem("{} has no INT profile, so the quantized operators of {} cannot be lowered; add +INT", at(spec_key),
              quant_mode_name(*mode()));
    if (!mode() && !spec.floating_point())
      problem("{} is integer-only, so a model that is not quantized would have nothing to delegate; set "
              "quantization.pt2e_quantize (e.g. {}) or add +FP to {}",
              at(spec_key), example, spec_key);
  }

  void resolve_tosa() {
    const std::string_view key = "backend.tosa.version";
    if (!checked(key, [&] { resolved_.tosa = target::TosaCompileSpec::create(c().backend.tosa.version); })) return;
    resolved_.tosa_spec = resolved_.tosa->tosa_spec;
    check_profiles(resolved_.tosa_spec, key, ArmBackend::Tosa);
  }

  void resolve_ethosu() {
    const EthosUBackendOptions& options = c().backend.ethosu;
    if (!mode())
      problem("quantization.pt2e_quantize is not set, but the Ethos-U NPU runs integer operators only, so nothing "
              "would be delegated; set quantization.pt2e_quantize=ethosu_8a8w or ethosu_16a8w");
    const target::AcceleratorConfig* accelerator = nullptr;
    if (!checked("backend.ethosu.target", [&] { accelerator = &target::require_accelerator_config(options.target); }))
      return;
    const bool system_ok = options.system_config == "default" ||
                           checked("backend.ethosu.system_config",
                                   [&] { target::require_system_config(options.system_config, *accelerator); });
    const bool memory_ok = options.memory_mode == "default" ||
                           checked("backend.ethosu.memory_mode",
                                   [&] { target::require_memory_mode(options.memory_mode, *accelerator); });
    const bool flags_ok =
        checked("backend.ethosu.extra_flags", [&] { target::check_vela_extra_flags(options.extra_flags); });
    if (!system_ok || !memory_ok || !flags_ok) return;
    resolved_.ethosu = target::EthosUCompileSpec::create(options.target, options.system_config, options.memory_mode,
                                                         options.extra_flags);
    resolved_.tosa_spec = resolved_.ethosu->tosa_spec;
  }

  void resolve_vgf() {
    const VgfBackendOptions& options = c().backend.vgf;
    const std::string_view key = "backend.vgf.compile_spec";
    const auto spec_text = options.compile_spec ? std::optional<std::string_view>(*options.compile_spec) : std::nullopt;
    if (!checked(key, [&] { resolved_.vgf = target::VgfCompileSpec::create(spec_text, options.compiler_flags); }))
      return;
    resolved_.tosa_spec = resolved_.vgf->tosa_spec;
    check_profiles(resolved_.tosa_spec, key, ArmBackend::Vgf);
    if (mode() == QuantMode::Vgf16a8w && !resolved_.tosa_spec.supports_extension("int16"))
      problem("{}: vgf_16a8w quantizes activations to int16, which needs the int16 extension; add +int16, e.g. "
              "TOSA-1.0+FP+INT+int16",
              at(key));
    if (c().model.static_quantize_kv_cache &&
        (mode() != QuantMode::Vgf16a8w || resolved_.quantize_scope != QuantizeScope::Linear))
      problem("{}: on VGF the static int8 KV cache works only together with 16-bit linear layers; set "
              "quantization.pt2e_quantize=vgf_16a8w and quantization.quantize_scope=linear",
              at("model.static_quantize_kv_cache"));
  }

  ResolvedConfig resolved_;
  std::vector<ArmBackend> enabled_;
  std::vector<std::string> problems_;
};

}  // namespace

target::CompileSpecEntries ResolvedConfig::compile_spec_entries() const {
  if (ethosu) return ethosu->entries();
  if (vgf) return vgf->entries();
  if (tosa) return tosa->entries();
  return {};
}

std::vector<std::string> ResolvedConfig::vela_arguments() const {
  return ethosu ? ethosu->vela_arguments() : std::vector<std::string>{};
}

ResolvedConfig resolve(LlmConfig config) { return Resolver(std::move(config)).run(); }

}  // namespace l2n::config
