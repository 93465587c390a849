// Fuzzes model.safetensors.index.json of a sharded Hugging Face checkpoint
// (src/model/hf_checkpoint.cpp: weight_map, shard names incl. path traversal, tensors
// missing from or duplicated across shards). Beside it: a valid config.json and two shards
// (model-00001-of-00002.safetensors holding every tiny tensor, model-00002-of-00002 holding
// a copy of one), so an index naming either can load or fail on a duplicate.
#include "fuzz_common.h"
#include "tiny_hf.h"

#include "core/error.h"
#include "model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = [] {
    l2n::fuzz::write_file("hf_index/config.json", l2n::fuzz::kTinyConfigJson);
    l2n::fuzz::write_file("hf_index/model-00001-of-00002.safetensors", l2n::fuzz::tiny_safetensors());
    const std::string one = R"({"model.norm.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
    std::string second(8, '\0');
    const uint64_t len = one.size();
    std::memcpy(second.data(), &len, 8);
    second += one + std::string(16, '\0');
    l2n::fuzz::write_file("hf_index/model-00002-of-00002.safetensors", second);
    return l2n::fuzz::scratch_dir() / "hf_index";
  }();
  l2n::fuzz::write_file("hf_index/model.safetensors.index.json", l2n::fuzz::as_view(data, size));
  try {
    const l2n::model::Model m = l2n::model::load_model(dir);
    for (const auto& name : m.weights->names()) m.weights->load_f32(name);
  } catch (const l2n::Error&) {
  }
  return 0;
}
