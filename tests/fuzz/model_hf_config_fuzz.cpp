// Fuzzes config.json of a Hugging Face checkpoint (src/model/hf_checkpoint.cpp: JSON,
// architecture, integer/float/bool/token fields, rope scaling, validate_config); the
// weights beside it are a valid tiny model, so a config that matches them loads fully.
#include "fuzz_common.h"
#include "tiny_hf.h"

#include "core/error.h"
#include "model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = [] {
    l2n::fuzz::write_file("hf_config/model.safetensors", l2n::fuzz::tiny_safetensors());
    return l2n::fuzz::scratch_dir() / "hf_config";
  }();
  l2n::fuzz::write_file("hf_config/config.json", l2n::fuzz::as_view(data, size));
  try {
    const l2n::model::Model m = l2n::model::load_model(dir, l2n::model::LoadOptions{64});
    for (const auto& name : m.weights->names()) m.weights->load_f32(name);
  } catch (const l2n::Error&) {
  }
  return 0;
}
