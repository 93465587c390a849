// export end to end on stories260K: partition shape per scope and target, the program run by
// the runtime (TOSA interpreter on the serialized delegates) against the in-memory
// quantized model, bit for bit, and the program file's round trip and determinism.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "config/resolve.h"
#include "config/sources.h"
#include "model/model.h"
#include "pipeline/export.h"
#include "program/program.h"
#include "runtime/program_session.h"
#include "runtime/session.h"
#include "scratch_dir.h"
#include "test_data.h"
#include "tosa/serialize.h"

namespace {

using namespace l2n;

constexpr int64_t kWindow = 32;

config::ResolvedConfig resolved(std::vector<std::string> settings) {
  std::vector<std::string> all{"base.checkpoint=" + l2n::testing::stories260k_bin().string(),
                               "export.max_seq_length=32", "export.max_context_length=32", "model.use_kv_cache=true",
                               "quantization.calibration_seq_length=32"};
  all.insert(all.end(), settings.begin(), settings.end());
  return config::resolve(config::load_config(std::nullopt, all));
}

pipeline::ExportResult run_export(std::vector<std::string> settings, int threads = 0) {
  pipeline::ExportOptions options;
  options.threads = threads;
  options.progress = false;
  return pipeline::export_program(resolved(std::move(settings)), options);
}

std::vector<int32_t> window_tokens() {
  std::vector<int32_t> t(std::begin(l2n::testing::kStories260kGreedy), std::end(l2n::testing::kStories260kGreedy));
  while (static_cast<int64_t>(t.size()) < kWindow) t.push_back(t[t.size() % 20]);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

const std::vector<std::string> kU85Linear16{"quantization.pt2e_quantize=ethosu_16a8w",
                                            "quantization.quantize_scope=linear", "backend.ethosu.enabled=true",
                                            "backend.ethosu.target=ethos-u85-256"};

TEST(Export, LinearScopeGivesOneDelegatePerLinearOnEthosU85) {
  const auto r = run_export(kU85Linear16);
  ASSERT_EQ(r.partitions.size(), 2u);
  for (const auto& p : r.partitions) {
    // 5 layers x (q, k, v, o, gate, up, down) + the output head.
    EXPECT_EQ(p.delegates.size(), 36u) << p.method;
    for (const auto& d : p.delegates) EXPECT_EQ(d.op_counts.at("int_linear"), 1) << d.name;
    for (const auto& c : p.cpu_ops) EXPECT_FALSE(c.reason.empty()) << c.name;
  }
}

const std::vector<std::string> kU85Full16{"quantization.pt2e_quantize=ethosu_16a8w", "quantization.quantize_scope=full",
                                          "backend.ethosu.enabled=true", "backend.ethosu.target=ethos-u85-256"};
const std::vector<std::string> kU55Full8{"quantization.pt2e_quantize=ethosu_8a8w", "quantization.quantize_scope=full",
                                         "backend.ethosu.enabled=true", "backend.ethosu.target=ethos-u55-128"};

TEST(Export, FullScopeOnEthosU85IsOneDelegateFromEmbeddingToLogits) {
  const auto r = run_export(kU85Full16);
  for (const auto& p : r.partitions) {
    EXPECT_EQ(p.delegates.size(), 1u) << p.method;
    // Only the float boundary after the logits stays on the CPU.
    ASSERT_EQ(p.cpu_ops.size(), 1u) << p.method;
    EXPECT_EQ(p.cpu_ops[0].op, "dequantize") << p.cpu_ops[0].name;
  }
}

TEST(Export, FullScopeOnEthosU55KeepsRefusedOpsOnTheCpuWithReasons) {
  const auto r = run_export(kU55Full8);
  bool gather_refused = false;
  for (const auto& p : r.partitions)
    for (const auto& c : p.cpu_ops) gather_refused = gather_refused || c.reason.find("no GATHER") != std::string::npos;
  EXPECT_TRUE(gather_refused);
}

class ExactProgram : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(ExactProgram, ComputesExactlyWhatTheQuantizedModelComputes) {
  const auto r = run_export(GetParam());
  ASSERT_TRUE(r.recipe.has_value());
  // Through the file format: encode, decode, run.
  auto program = std::make_shared<const program::Program>(program::decode_program(program::encode_program(r.program)));
  runtime::ProgramSession exported(program, {});
  const model::Model model = model::load_model(l2n::testing::stories260k_bin());
  runtime::Session reference(model, {0, kWindow, std::make_shared<const quant::QuantRecipe>(*r.recipe)});
  const auto tokens = window_tokens();
  EXPECT_TRUE(same_bytes(exported.forward_window(tokens), reference.forward_window(tokens)));
  for (int k = 0; k < 12; ++k) {
    const auto a = exported.decode(tokens[k]);
    const auto b = reference.decode(tokens[k]);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "step " << k;
  }
}

// With the static int8 KV cache, scales calibrated on text (in both scopes).
std::vector<std::string> with_static_kv(std::vector<std::string> settings) {
  settings.insert(settings.end(), {"model.static_quantize_kv_cache=true",
                                   "quantization.calibration_files=[" + l2n::testing::tinystories_text().string() + "]",
                                   "quantization.calibration_limit=2"});
  return settings;
}

INSTANTIATE_TEST_SUITE_P(Export, ExactProgram,
                         ::testing::Values(kU85Linear16, kU85Full16, kU55Full8, with_static_kv(kU85Linear16),
                                           with_static_kv(kU85Full16)));

TEST(Export, StaticKvCacheIsInt8StateOfTheDecodeMethod) {
  const auto r = run_export(with_static_kv(kU85Full16));
  ASSERT_TRUE(r.recipe.has_value());
  EXPECT_EQ(r.recipe->kv_cache_scales.size(), 2u * 5u);
  bool noted = false;
  for (const std::string& note : r.notes) noted = noted || note.find("static int8 KV cache: max|x|/127") != std::string::npos;
  EXPECT_TRUE(noted);
  int caches = 0;
  for (const auto& m : r.program.methods) {
    if (m.name != "decode") continue;
    for (const auto& in : m.inputs)
      if (in.name.rfind("cache_", 0) == 0) {
        EXPECT_EQ(in.dtype, DType::I8) << in.name;
        ++caches;
      }
  }
  EXPECT_EQ(caches, 10);
}

TEST(Export, DelegatesRoundTripThroughTheTosaReaderByteIdentically) {
  const auto r = run_export(kU85Linear16);
  ASSERT_FALSE(r.program.delegates.empty());
  for (const auto& d : r.program.delegates) {
    const tosa::TosaGraph g = tosa::read_tosa(d.tosa, d.name);
    EXPECT_EQ(tosa::write_tosa(g), d.tosa) << d.name;
  }
}

// flatc's own JSON view of a delegate: enum values and operand order as any TOSA consumer
// reads them, independent of our reader.
nlohmann::json flatc_json(const std::vector<uint8_t>& bytes) {
  const l2n::testing::ScratchDir dir("l2n_pipeline_flatc");
  const auto file = dir / "d.tosa";
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
  const std::string cmd = std::string(LLM2NPU_FLATC) + " --json --strict-json --raw-binary -o " + dir.path().string() + " " +
                          LLM2NPU_TOSA_SCHEMA + " -- " + file.string() + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / "d.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

TEST(Export, FullScopeDelegateDecodesWithFlatcAsTheLayoutFactsSay) {
  const auto r = run_export(kU85Full16);
  const program::Method* decode = r.program.find_method("decode");
  ASSERT_NE(decode, nullptr);
  const program::Delegate* delegate = nullptr;
  for (const auto& step : decode->steps)
    if (step.kind == program::Step::Kind::Delegate) delegate = &r.program.delegates[step.index];
  ASSERT_NE(delegate, nullptr);
  const auto doc = flatc_json(delegate->tosa);
  EXPECT_EQ(doc["version"]["_major"], 1);
  const auto& block = doc["regions"][0]["blocks"][0];
  std::map<std::string, std::string> type_of;
  for (const auto& t : block["tensors"]) type_of[t["name"]] = t.value("type", "UNKNOWN");
  std::map<std::string, int> count;
  for (const auto& op : block["operators"]) {
    const std::string name = op["op"];
    ++count[name];
    const auto& in = op["inputs"];
    if (name == "CONV2D") {
      ASSERT_EQ(in.size(), 5u);
      EXPECT_EQ(op["attribute_type"], "Conv2dAttribute");
      EXPECT_EQ(op["attribute"]["acc_type"], "INT48");  // int16 activations x int8 weights
      EXPECT_EQ(type_of[in[0]], "INT16");
      EXPECT_EQ(type_of[in[1]], "INT8");
      EXPECT_EQ(type_of[in[2]], "INT48");
      EXPECT_EQ(type_of[in[4]], "INT8");
    } else if (name == "GATHER") {
      ASSERT_EQ(in.size(), 2u);
      EXPECT_EQ(type_of[in[1]], "INT32");  // values, then indices
    } else if (name == "SCATTER") {
      ASSERT_EQ(in.size(), 3u);
      EXPECT_EQ(type_of[in[1]], "INT32");  // values_in, indices, input
      EXPECT_EQ(type_of[in[0]], type_of[in[2]]);
    } else if (name == "RESCALE") {
      ASSERT_EQ(in.size(), 5u);
      EXPECT_EQ(op["attribute_type"], "RescaleAttribute");
      if (type_of[in[0]] == "INT48") {
        EXPECT_EQ(type_of[in[1]], "INT16");  // 16-bit multipliers after int48
      }
    } else if (name == "TABLE") {
      ASSERT_EQ(in.size(), 2u);
    }
  }
  for (const char* op : {"CONV2D", "MATMUL", "RESCALE", "TABLE", "GATHER", "SCATTER", "REDUCE_SUM", "CONST_SHAPE"})
    EXPECT_GT(count[op], 0) << op;
}

TEST(Export, ProgramBytesDoNotDependOnThreadCount) {
  const auto one = program::encode_program(run_export(kU85Linear16, 1).program);
  const auto two = program::encode_program(run_export(kU85Linear16, 2).program);
  EXPECT_EQ(one, two);
}

TEST(Export, FloatExportRunsLikeTheCheckpoint) {
  const auto r = run_export({"backend.tosa.enabled=true", "backend.tosa.version=TOSA-1.0+FP"});
  EXPECT_TRUE(r.program.delegates.empty());
  auto program = std::make_shared<const program::Program>(r.program);
  runtime::ProgramSession exported(program, {});
  const model::Model model = model::load_model(l2n::testing::stories260k_bin());
  runtime::Session reference(model, {0, kWindow, nullptr});
  const auto tokens = window_tokens();
  EXPECT_TRUE(same_bytes(exported.forward_window(tokens), reference.forward_window(tokens)));
}

TEST(Export, WindowOfAnotherLengthIsRefusedWithTheSettingToChange) {
  auto program = std::make_shared<const program::Program>(run_export(kU85Linear16).program);
  runtime::ProgramSession exported(program, {});
  const std::vector<int32_t> short_window(8, 1);
  try {
    exported.forward_window(short_window);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("export.max_seq_length"), std::string::npos) << e.what();
  }
}

TEST(Export, MissingVelaIsOneNoteAndTosaIsStored) {
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  setenv("PATH", "/nonexistent", 1);
  const auto r = run_export(kU85Linear16);
  setenv("PATH", saved.c_str(), 1);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("vela not found"), std::string::npos);
  for (const auto& d : r.program.delegates) {
    EXPECT_TRUE(d.compiled.empty());
    EXPECT_FALSE(d.tosa.empty());
  }
}

}  // namespace
