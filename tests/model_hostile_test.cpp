// Hostile checkpoints, beyond the error matrix of model_import_test.cpp: duplicate names,
// sharded indexes that lie, path traversal, nesting and UTF-8 attacks on the JSON readers,
// GGUF container tricks, and a check that tiny files declaring huge sizes are refused
// without allocating (under a low RLIMIT_AS). Each case names the error it expects.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz/tiny_hf.h"
#include "hostile_util.h"
#include "model/model.h"
#include "test_data.h"

namespace {

namespace fs = std::filesystem;
using l2n::testing::append_le;
using l2n::testing::expect_l2n_error;
using l2n::testing::ScratchDir;
using l2n::testing::nested_json_arrays;
using l2n::testing::write_file;
using namespace l2n::model;

std::string safetensors_with_header(const std::string& header, size_t data_bytes) {
  std::string out;
  append_le<uint64_t>(out, header.size());
  return out + header + std::string(data_bytes, '\0');
}

// A valid tiny HF directory (config.json + model.safetensors).
void write_tiny_hf(const fs::path& dir) {
  fs::create_directories(dir);
  write_file(dir / "config.json", l2n::fuzz::kTinyConfigJson);
  write_file(dir / "model.safetensors", l2n::fuzz::tiny_safetensors());
}

// A sharded tiny HF directory: every tensor in shard 1; the index is given.
void write_sharded(const fs::path& dir, const std::string& index) {
  fs::create_directories(dir);
  write_file(dir / "config.json", l2n::fuzz::kTinyConfigJson);
  write_file(dir / "model-00001-of-00001.safetensors", l2n::fuzz::tiny_safetensors());
  write_file(dir / "model.safetensors.index.json", index);
}

std::string index_json(const std::string& override_name = "", const std::string& override_shard = "") {
  std::string out = R"({"metadata": {}, "weight_map": {)";
  bool first = true;
  for (const auto& [name, shape] : l2n::fuzz::tiny_tensor_shapes()) {
    out += (first ? "" : ", ") + ("\"" + name + "\": \"") +
           (name == override_name ? override_shard : "model-00001-of-00001.safetensors") + "\"";
    first = false;
  }
  if (!override_name.empty() && override_name.rfind("model.", 0) != 0)
    out += ", \"" + override_name + "\": \"" + override_shard + "\"";
  return out + "}}";
}

// ---- GGUF built byte by byte ----

void gstr(std::string& out, const std::string& s) {
  append_le<uint64_t>(out, s.size());
  out += s;
}

std::string gguf_header(uint64_t tensors, uint64_t kvs) {
  std::string out = "GGUF";
  append_le<uint32_t>(out, 3);
  append_le(out, tensors);
  append_le(out, kvs);
  return out;
}

void kv_u32(std::string& out, const std::string& key, uint32_t v) {
  gstr(out, key);
  append_le<uint32_t>(out, 4);
  append_le(out, v);
}

void tensor_info(std::string& out, const std::string& name, std::vector<uint64_t> ne, uint32_t type,
                 uint64_t offset) {
  gstr(out, name);
  append_le<uint32_t>(out, static_cast<uint32_t>(ne.size()));
  for (uint64_t d : ne) append_le(out, d);
  append_le(out, type);
  append_le(out, offset);
}

std::string pad32(std::string s) {
  s.append((32 - s.size() % 32) % 32, '\0');
  return s;
}

class ModelHostile : public ::testing::Test {
 protected:
  const ScratchDir tmp{"l2n_hostile"};
  void expect_model_error(const fs::path& path, const std::vector<std::string>& keywords) {
    expect_l2n_error([&] { load_model(path); }, keywords);
  }
  void expect_gguf_error(const std::string& bytes, const std::vector<std::string>& keywords) {
    write_file(tmp / "t.gguf", bytes);
    expect_model_error(tmp / "t.gguf", keywords);
  }
};

// ======================= safetensors / Hugging Face =======================

TEST_F(ModelHostile, TinyFixtureLoads) {
  write_tiny_hf(tmp.path());
  EXPECT_EQ(load_model(tmp.path()).config.dim, 4);
}

TEST_F(ModelHostile, SafetensorsDuplicateTensorName) {
  write_tiny_hf(tmp.path());
  const std::string entry = R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})";
  write_file(tmp / "model.safetensors",
             safetensors_with_header(R"({"model.norm.weight":)" + entry + R"(,"model.norm.weight":)" + entry + "}", 16));
  expect_model_error(tmp.path(), {"model.norm.weight", "twice"});
}

TEST_F(ModelHostile, SafetensorsDeeplyNestedHeader) {
  write_tiny_hf(tmp.path());
  write_file(tmp / "model.safetensors",
             safetensors_with_header(R"({"a":{"dtype":"F32","shape":)" + nested_json_arrays(200000) + "}}", 0));
  expect_model_error(tmp.path(), {"levels deep", "model.safetensors"});
}

TEST_F(ModelHostile, SafetensorsInvalidUtf8Name) {
  write_tiny_hf(tmp.path());
  write_file(tmp / "model.safetensors",
             safetensors_with_header("{\"bad\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
  expect_model_error(tmp.path(), {"not valid JSON"});
}

TEST_F(ModelHostile, SafetensorsTooManyDimensions) {
  write_tiny_hf(tmp.path());
  write_file(tmp / "model.safetensors",
             safetensors_with_header(R"({"x":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4));
  expect_model_error(tmp.path(), {"9 dimensions", "at most 8"});
}

TEST_F(ModelHostile, SafetensorsOverflowingShape) {
  write_tiny_hf(tmp.path());
  // 2^32 * 2^32 elements: the product overflows 64 bits; 2^64-1 is out of range.
  write_file(tmp / "model.safetensors",
             safetensors_with_header(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4));
  expect_model_error(tmp.path(), {"needs more than"});
  write_file(tmp / "model.safetensors",
             safetensors_with_header(R"({"x":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})", 4));
  expect_model_error(tmp.path(), {"too large"});
}

TEST_F(ModelHostile, SafetensorsWrongDtypeType) {
  write_tiny_hf(tmp.path());
  write_file(tmp / "model.safetensors",
             safetensors_with_header(R"({"x":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", 4));
  expect_model_error(tmp.path(), {"dtype is not a string"});
}

TEST_F(ModelHostile, ConfigJsonDeeplyNested) {
  write_tiny_hf(tmp.path());
  write_file(tmp / "config.json", R"({"architectures": )" + nested_json_arrays(100000) + "}");
  expect_model_error(tmp.path(), {"config.json", "levels deep"});
}

TEST_F(ModelHostile, ConfigJsonInvalidUtf8) {
  write_tiny_hf(tmp.path());
  write_file(tmp / "config.json", "{\"architectures\": [\"Llama\xc0\xaf" "ForCausalLM\"]}");
  expect_model_error(tmp.path(), {"config.json", "not valid JSON"});
}

TEST_F(ModelHostile, ConfigJsonNotAnObject) {
  write_tiny_hf(tmp.path());
  write_file(tmp / "config.json", "[1, 2, 3]");
  expect_model_error(tmp.path(), {"must hold a JSON object"});
}

TEST_F(ModelHostile, ConfigJsonHugeAndFractionalSizes) {
  write_tiny_hf(tmp.path());
  std::string c = l2n::fuzz::kTinyConfigJson;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = c;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  write_file(tmp / "config.json", with("\"hidden_size\": 4", "\"hidden_size\": 4611686018427387904"));
  expect_model_error(tmp.path(), {"above the supported maximum"});
  write_file(tmp / "config.json", with("\"hidden_size\": 4", "\"hidden_size\": 1e300"));
  expect_model_error(tmp.path(), {"hidden_size", "must be an integer"});
  write_file(tmp / "config.json", with("\"vocab_size\": 5", "\"vocab_size\": 4.5"));
  expect_model_error(tmp.path(), {"vocab_size", "must be an integer"});
  write_file(tmp / "config.json", with("\"num_hidden_layers\": 1", "\"num_hidden_layers\": -9223372036854775807"));
  expect_model_error(tmp.path(), {"n_layers", "positive"});
}

TEST_F(ModelHostile, ConfigJsonUnsupportedActivation) {
  write_tiny_hf(tmp.path());
  std::string c = l2n::fuzz::kTinyConfigJson;
  c.insert(1, "\"hidden_act\": \"gelu\", ");
  write_file(tmp / "config.json", c);
  expect_model_error(tmp.path(), {"hidden_act", "gelu", "not supported"});
}

TEST_F(ModelHostile, PickleWeightsAreRefused) {
  write_tiny_hf(tmp.path());
  fs::remove(tmp / "model.safetensors");
  write_file(tmp / "pytorch_model.bin", "PK\x03\x04 not really a zip");
  expect_model_error(tmp.path(), {"pickle", "safetensors"});
}

TEST_F(ModelHostile, IndexValidLoads) {
  write_sharded(tmp.path(), index_json());
  EXPECT_EQ(load_model(tmp.path()).config.n_layers, 1);
}

TEST_F(ModelHostile, IndexShardPathTraversal) {
  write_sharded(tmp.path(), index_json("model.norm.weight", "../../etc/passwd"));
  expect_model_error(tmp.path(), {"../../etc/passwd", "not a plain file name"});
  write_sharded(tmp.path(), index_json("model.norm.weight", "/etc/passwd"));
  expect_model_error(tmp.path(), {"/etc/passwd", "not a plain file name"});
}

TEST_F(ModelHostile, IndexNamesAMissingShard) {
  write_sharded(tmp.path(), index_json("model.norm.weight", "model-00002-of-00002.safetensors"));
  expect_model_error(tmp.path(), {"cannot open", "model-00002-of-00002.safetensors"});
}

TEST_F(ModelHostile, IndexPlacesATensorInTheWrongShard) {
  write_sharded(tmp.path(), index_json("model.norm.weight", "model-00002-of-00002.safetensors"));
  write_file(tmp / "model-00002-of-00002.safetensors",
             safetensors_with_header(R"({"other":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4));
  expect_model_error(tmp.path(), {"does not hold it", "model.norm.weight"});
}

TEST_F(ModelHostile, IndexTensorStoredInTwoShards) {
  write_sharded(tmp.path(), index_json("extra.weight", "model-00002-of-00002.safetensors"));
  write_file(tmp / "model-00002-of-00002.safetensors",
             safetensors_with_header(R"({"model.norm.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16));
  expect_model_error(tmp.path(), {"model.norm.weight", "stored twice"});
}

TEST_F(ModelHostile, IndexMalformed) {
  write_sharded(tmp.path(), "{\"weight_map\": ");
  expect_model_error(tmp.path(), {"index.json", "not valid JSON"});
  write_sharded(tmp.path(), "{\"weight_map\": [\"a\"]}");
  expect_model_error(tmp.path(), {"weight_map"});
  write_sharded(tmp.path(), "{\"weight_map\": {\"model.norm.weight\": 7}}");
  expect_model_error(tmp.path(), {"must be a shard file name"});
  write_sharded(tmp.path(), "{\"weight_map\": " + nested_json_arrays(100000) + "}");
  expect_model_error(tmp.path(), {"levels deep"});
}

// ======================= GGUF =======================

TEST_F(ModelHostile, GgufDuplicateTensorName) {
  std::string s = gguf_header(2, 0);
  tensor_info(s, "w", {4}, 0, 0);
  tensor_info(s, "w", {4}, 0, 32);
  expect_gguf_error(pad32(s) + std::string(64, '\0'), {"'w' appears twice"});
}

TEST_F(ModelHostile, GgufDuplicateMetadataKey) {
  std::string s = gguf_header(0, 2);
  kv_u32(s, "llama.block_count", 1);
  kv_u32(s, "llama.block_count", 2);
  expect_gguf_error(s, {"llama.block_count", "appears twice"});
}

TEST_F(ModelHostile, GgufBadAlignment) {
  std::string s = gguf_header(0, 1);
  kv_u32(s, "general.alignment", 3);
  expect_gguf_error(s, {"general.alignment", "power of two"});
}

TEST_F(ModelHostile, GgufMisalignedTensorOffset) {
  std::string s = gguf_header(1, 0);
  tensor_info(s, "w", {4}, 0, 4);
  expect_gguf_error(pad32(s) + std::string(64, '\0'), {"not a multiple of the alignment"});
}

TEST_F(ModelHostile, GgufTooManyDimensions) {
  std::string s = gguf_header(1, 0);
  tensor_info(s, "w", {1, 1, 1, 1, 1}, 0, 0);
  expect_gguf_error(pad32(s) + std::string(32, '\0'), {"5 dimensions"});
}

TEST_F(ModelHostile, GgufDeeplyNestedArrays) {
  std::string s = gguf_header(0, 1);
  gstr(s, "k");
  append_le<uint32_t>(s, 9);
  for (int i = 0; i < 10; ++i) {  // array of array of ... (one element each)
    append_le<uint32_t>(s, 9);
    append_le<uint64_t>(s, 1);
  }
  append_le<uint32_t>(s, 4);
  append_le<uint64_t>(s, 1);
  append_le<uint32_t>(s, 7);
  expect_gguf_error(s, {"nest"});
}

TEST_F(ModelHostile, GgufBoolOutOfRange) {
  std::string s = gguf_header(0, 1);
  gstr(s, "flag");
  append_le<uint32_t>(s, 7);
  s += '\x02';
  expect_gguf_error(s, {"bool with value 2"});
}

TEST_F(ModelHostile, GgufStringLengthPastTheEnd) {
  std::string s = gguf_header(0, 1);
  gstr(s, "general.name");
  append_le<uint32_t>(s, 8);
  append_le<uint64_t>(s, 1000);
  s += "short";
  expect_gguf_error(s, {"declares a length of 1000"});
}

// ======================= llama2.c =======================

TEST_F(ModelHostile, Llama2cMaximalHeaderInA40ByteFile) {
  std::string s;
  for (int32_t v : {1 << 20, 1 << 20, 1 << 12, 1 << 14, 1 << 14, 1 << 22, 1 << 24}) append_le(s, v);
  s.append(12, '\0');
  write_file(tmp / "m.bin", s);
  expect_model_error(tmp / "m.bin", {"40 bytes", "must be exactly"});
}

// ======================= allocation bounds =======================

// Tiny files that declare gigabytes: every reader must refuse them from the header alone.
// Run in a child process whose address space is capped at its current size + 256 MiB, so
// an allocation sized from the header fails (bad_alloc -> exit 3) instead of passing.
TEST_F(ModelHostile, TinyFilesDeclaringHugeSizesAllocateNothing) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan reserves terabytes of address space; RLIMIT_AS cannot be used";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "ASan reserves terabytes of address space; RLIMIT_AS cannot be used";
#endif
#endif
  std::vector<std::pair<fs::path, std::vector<std::string>>> cases;
  {  // GGUF: a 2^60-byte key, 2^62 tensors, 2^40-element array, extents past the file.
    std::string s = gguf_header(0, 1);
    append_le<uint64_t>(s, uint64_t{1} << 60);
    write_file(tmp / "a.gguf", s + "abcdefgh");
    cases.push_back({tmp / "a.gguf", {"declares a length"}});
    write_file(tmp / "b.gguf", gguf_header(uint64_t{1} << 62, 0) + std::string(16, '\0'));
    cases.push_back({tmp / "b.gguf", {"declares"}});
    s = gguf_header(0, 1);
    gstr(s, "k");
    append_le<uint32_t>(s, 9);
    append_le<uint32_t>(s, 8);
    append_le<uint64_t>(s, uint64_t{1} << 40);
    write_file(tmp / "c.gguf", s);
    cases.push_back({tmp / "c.gguf", {"declares"}});
    s = gguf_header(1, 0);
    tensor_info(s, "w", {uint64_t{1} << 40, uint64_t{1} << 20}, 0, 0);
    write_file(tmp / "d.gguf", s);
    cases.push_back({tmp / "d.gguf", {"exceeds the file size"}});
  }
  {  // safetensors: header length 2^63, a tensor of 2^40 floats.
    fs::create_directories(tmp / "e");
    write_file(tmp / "e" / "config.json", l2n::fuzz::kTinyConfigJson);
    std::string s;
    append_le<uint64_t>(s, uint64_t{1} << 63);
    write_file(tmp / "e" / "model.safetensors", s + "{}");
    cases.push_back({tmp / "e", {"header length"}});
    fs::create_directories(tmp / "f");
    write_file(tmp / "f" / "config.json", l2n::fuzz::kTinyConfigJson);
    write_file(tmp / "f" / "model.safetensors",
               safetensors_with_header(R"({"x":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4]}})", 4));
    cases.push_back({tmp / "f", {"needs more than"}});
  }
  {  // llama2.c: the largest header the bounds allow, 40 bytes long.
    std::string s;
    for (int32_t v : {1 << 20, 1 << 20, 1 << 12, 1 << 14, 1 << 14, 1 << 22, 1 << 24}) append_le(s, v);
    write_file(tmp / "g.bin", s + std::string(12, '\0'));
    cases.push_back({tmp / "g.bin", {"must be exactly"}});
  }
  // Warm up (first use of fmt, locale, exceptions) before capping the address space.
  expect_l2n_error([&] { load_model(cases.front().first); }, cases.front().second);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::ifstream statm("/proc/self/statm");
    uint64_t pages = 0;
    statm >> pages;
    const rlim_t cap = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) + (uint64_t{256} << 20);
    const rlimit limit{cap, cap};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) ::_exit(4);
    int code = 0;
    for (const auto& [path, keywords] : cases) {
      try {
        load_model(path);
        code = code ? code : 1;  // loaded: impossible for these files
      } catch (const l2n::Error& e) {
        for (const auto& k : keywords)
          if (std::string(e.what()).find(k) == std::string::npos) code = code ? code : 2;
      } catch (const std::bad_alloc&) {
        code = 3;
      } catch (...) {
        code = code ? code : 5;
      }
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of a signal";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: loaded, 2: wrong message, 3: out of memory (allocation sized from a "
                                       "header), 4: setrlimit failed, 5: non-l2n exception";
}

}  // namespace
