// The .tosa writer and reader: byte-identical round trips, the wire layout checked
// generically (flatc --json with our schema, and raw vtable slots from the layout facts),
// and hostile inputs that must give a clear l2n::Error, never a crash.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tosa/serialize.h"
#include "tosa_generated.h"
#include "scratch_dir.h"
#include "tosa_test_graphs.h"

namespace l2n::tosa {
namespace {

namespace fs = std::filesystem;
using flatbuffers::Offset;
using flatbuffers::Table;
using flatbuffers::Vector;
using testing::V;

using l2n::testing::ScratchDir;

TEST(TosaSerialize, RoundTripIsByteIdentical) {
  for (const TosaGraph& g : testing::all_graphs()) {
    const auto bytes = write_tosa(g);
    const TosaGraph back = read_tosa(bytes);
    EXPECT_EQ(back, g);
    EXPECT_EQ(write_tosa(back), bytes);
    EXPECT_EQ(write_tosa(g), bytes) << "the writer must be deterministic";
  }
}

TEST(TosaSerialize, ConsumingWriterGivesTheSameBytesAndFreesTheConstants) {
  for (const TosaGraph& g : testing::all_graphs()) {
    TosaGraph consumed = g;
    int64_t constants = 0;
    for (const auto& region : consumed.regions)
      for (const auto& block : region.blocks)
        for (const auto& t : block.tensors) constants += t.data && !t.data->empty();
    EXPECT_EQ(write_tosa(std::move(consumed)), write_tosa(g));
    int64_t still_held = 0;
    for (const auto& region : consumed.regions)  // NOLINT(bugprone-use-after-move): its contract says what is left
      for (const auto& block : region.blocks)
        for (const auto& t : block.tensors) still_held += t.data && t.data->capacity() > 0;
    EXPECT_GT(constants, 0);
    EXPECT_EQ(still_held, 0) << "every constant's bytes are freed once written";
  }
}

TEST(TosaSerialize, FileRoundTripAndIdentifier) {
  const ScratchDir dir("l2n_tosa_ser");
  const fs::path path = dir / "linear.tosa";
  write_tosa_file(testing::linear_i16x8(), path);
  const auto bytes = read_file_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(std::string(bytes.begin() + 4, bytes.begin() + 8), "TOSA");
  EXPECT_EQ(read_tosa_file(path), testing::linear_i16x8());
  EXPECT_FALSE(fs::exists(path.string() + ".tmp" + std::to_string(::getpid())));
}

// --- raw wire checks, by the vtable offsets of the layout facts (no generated accessors) ---

template <typename T>
const T* ptr_field(const Table* t, uint16_t vt) {
  return t->GetPointer<const T*>(vt);
}

std::vector<std::string> raw_strings(const Vector<Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (v)
    for (const auto* s : *v) out.push_back(s->str());
  return out;
}

TEST(TosaSerialize, RawLayoutMatchesTheFacts) {
  const auto bytes = write_tosa(testing::linear_i16x8());
  std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const auto* buf = reinterpret_cast<const uint8_t*>(aligned.data());
  const Table* root = flatbuffers::GetRoot<Table>(buf);
  const Table* version = ptr_field<Table>(root, 4);
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(version->GetField<int32_t>(4, -1), 1);
  EXPECT_EQ(version->GetField<int32_t>(6, -1), 0);
  EXPECT_EQ(version->GetField<int32_t>(8, -1), 0);
  EXPECT_EQ(version->GetField<uint8_t>(10, 1), 0);
  const auto* regions = ptr_field<Vector<Offset<Table>>>(root, 6);
  ASSERT_EQ(regions->size(), 1u);
  EXPECT_EQ(ptr_field<flatbuffers::String>(regions->Get(0), 4)->str(), "main");
  const auto* blocks = ptr_field<Vector<Offset<Table>>>(regions->Get(0), 6);
  ASSERT_EQ(blocks->size(), 1u);
  const Table* block = blocks->Get(0);
  EXPECT_EQ(ptr_field<flatbuffers::String>(block, 4)->str(), "main");
  EXPECT_EQ(raw_strings(ptr_field<Vector<Offset<flatbuffers::String>>>(block, 10)), std::vector<std::string>{"x"});
  EXPECT_EQ(raw_strings(ptr_field<Vector<Offset<flatbuffers::String>>>(block, 12)), std::vector<std::string>{"y"});
  ASSERT_NE(ptr_field<Vector<Offset<Table>>>(block, 14), nullptr) << "shapes vector must be present";

  const auto* ops = ptr_field<Vector<Offset<Table>>>(block, 6);
  bool saw_conv = false, saw_rescale = false, saw_const = false;
  for (const Table* op : *ops) {
    const uint32_t code = op->GetField<uint32_t>(4, 0);
    EXPECT_EQ(op->GetField<uint8_t>(6, 0), code) << "attribute type must equal the op code";
    ASSERT_NE(ptr_field<Table>(op, 8), nullptr) << "every op carries its attribute table";
    const auto ins = raw_strings(ptr_field<Vector<Offset<flatbuffers::String>>>(op, 10));
    const auto outs = raw_strings(ptr_field<Vector<Offset<flatbuffers::String>>>(op, 12));
    if (code == 3) {  // CONV2D
      saw_conv = true;
      EXPECT_EQ(ins, (std::vector<std::string>{"x", "w", "bias", "x_zp", "w_zp"}));
      const Table* attr = ptr_field<Table>(op, 8);
      const auto* pad = ptr_field<Vector<int32_t>>(attr, 4);
      ASSERT_NE(pad, nullptr);
      EXPECT_EQ(pad->size(), 4u);
      EXPECT_EQ(ptr_field<Vector<int32_t>>(attr, 6)->size(), 2u);   // stride
      EXPECT_EQ(ptr_field<Vector<int32_t>>(attr, 8)->size(), 2u);   // dilation
      EXPECT_EQ(attr->GetField<uint32_t>(12, 0), 6u);               // acc_type INT48
    } else if (code == 66) {  // RESCALE
      saw_rescale = true;
      EXPECT_EQ(ins, (std::vector<std::string>{"acc", "mult", "shift", "acc_zp", "y_zp"}));
      const Table* attr = ptr_field<Table>(op, 8);
      EXPECT_EQ(attr->GetField<uint8_t>(4, 0), 0);    // scale32 false (the default, so omitted)
      EXPECT_EQ(attr->GetField<uint32_t>(6, 0), 1u);  // SINGLE_ROUND
      EXPECT_EQ(attr->GetField<uint8_t>(8, 0), 1);    // per_channel
    } else if (code == 67) {  // CONST
      saw_const = true;
      EXPECT_TRUE(ins.empty());
      EXPECT_EQ(outs.size(), 1u);
    }
  }
  EXPECT_TRUE(saw_conv && saw_rescale && saw_const);

  const auto* tensors = ptr_field<Vector<Offset<Table>>>(block, 8);
  for (const Table* t : *tensors) {
    const std::string name = ptr_field<flatbuffers::String>(t, 4)->str();
    const auto* data = ptr_field<Vector<uint8_t>>(t, 10);
    if (name == "bias") {
      EXPECT_EQ(t->GetField<uint32_t>(8, 0), 6u);  // INT48
      ASSERT_NE(data, nullptr);
      EXPECT_EQ(data->size(), 24u);  // 3 × 6 bytes, padded to 8
      // 5'000'000'000 = 0x012A05F200 in the low 6 bytes, little-endian
      const std::vector<uint8_t> first(data->begin(), data->begin() + 6);
      EXPECT_EQ(first, (std::vector<uint8_t>{0x00, 0xf2, 0x05, 0x2a, 0x01, 0x00}));
    }
    if (name == "x") {
      EXPECT_EQ(t->GetField<uint32_t>(8, 0), 4u);  // INT16
      EXPECT_EQ(data, nullptr);
    }
    if (data) {
      EXPECT_EQ((data->data() - buf) % 8, 0) << name << ": data must be 8-byte aligned";
      EXPECT_EQ(data->size() % 8, 0u) << name << ": data must be padded to 8";
    }
  }
}

TEST(TosaSerialize, ShapesAreInt64AndConstShapeIs75) {
  const auto bytes = write_tosa(testing::data_movement());
  std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const auto* buf = reinterpret_cast<const uint8_t*>(aligned.data());
  const Table* root = flatbuffers::GetRoot<Table>(buf);
  const Table* block = ptr_field<Vector<Offset<Table>>>(ptr_field<Vector<Offset<Table>>>(root, 6)->Get(0), 6)->Get(0);
  const auto* shapes = ptr_field<Vector<Offset<Table>>>(block, 14);
  ASSERT_EQ(shapes->size(), 3u);
  const Table* s = shapes->Get(0);
  EXPECT_EQ(ptr_field<flatbuffers::String>(s, 4)->str(), "shape64");
  EXPECT_EQ(s->GetField<uint32_t>(6, 0), 2u);
  const auto* data = ptr_field<Vector<uint8_t>>(s, 8);
  ASSERT_EQ(data->size(), 16u);
  EXPECT_EQ(data->Get(0), 6);
  EXPECT_EQ(data->Get(8), 4);
  int const_shapes = 0;
  for (const Table* op : *ptr_field<Vector<Offset<Table>>>(block, 6)) {
    const uint32_t code = op->GetField<uint32_t>(4, 0);
    if (code == 75) ++const_shapes;
    if (code == 57) {  // RESHAPE: input1, then the shape operand
      EXPECT_EQ(raw_strings(ptr_field<Vector<Offset<flatbuffers::String>>>(op, 10)),
                (std::vector<std::string>{"x", "shape64"}));
    }
    if (code == 59) {  // SLICE
      EXPECT_EQ(raw_strings(ptr_field<Vector<Offset<flatbuffers::String>>>(op, 10)),
                (std::vector<std::string>{"t", "start", "size"}));
    }
    if (code == 61) {  // TRANSPOSE: perms is an attribute
      const auto* perms = ptr_field<Vector<int32_t>>(ptr_field<Table>(op, 8), 4);
      ASSERT_NE(perms, nullptr);
      EXPECT_EQ(std::vector<int32_t>(perms->begin(), perms->end()), (std::vector<int32_t>{1, 0}));
    }
  }
  EXPECT_EQ(const_shapes, 3);
}

// --- generic decode with flatc ---

nlohmann::json flatc_json(const std::vector<uint8_t>& bytes, const std::string& stem) {
  const ScratchDir dir("l2n_tosa_ser");
  const fs::path file = dir / (stem + ".tosa");
  l2n::write_file_atomic(file, bytes);
  const std::string cmd = std::string(LLM2NPU_FLATC) + " --json --strict-json --raw-binary -o '" + dir.path().string() +
                          "' '" + LLM2NPU_TOSA_SCHEMA + "' -- '" + file.string() + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / (stem + ".json"));
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

TEST(TosaSerialize, FlatcDecodesEnumsAndOperandOrder) {
  const auto doc = flatc_json(write_tosa(testing::linear_i16x8()), "linear");
  EXPECT_EQ(doc["version"]["_major"], 1);
  EXPECT_FALSE(doc["version"].contains("_minor") && doc["version"]["_minor"] != 0);
  EXPECT_EQ(doc["version"]["_draft"], false);
  const auto& block = doc["regions"][0]["blocks"][0];
  EXPECT_EQ(block["name"], "main");
  std::map<std::string, nlohmann::json> by_op;
  for (const auto& op : block["operators"]) {
    const std::string name = op["op"];
    by_op[name] = op;
  }
  ASSERT_TRUE(by_op.count("CONV2D"));
  ASSERT_TRUE(by_op.count("RESCALE"));
  ASSERT_TRUE(by_op.count("CONST"));
  EXPECT_EQ(by_op["CONV2D"]["attribute_type"], "Conv2dAttribute");
  EXPECT_EQ(by_op["CONV2D"]["attribute"]["acc_type"], "INT48");
  EXPECT_EQ(by_op["CONV2D"]["inputs"], nlohmann::json({"x", "w", "bias", "x_zp", "w_zp"}));
  EXPECT_EQ(by_op["RESCALE"]["attribute_type"], "RescaleAttribute");
  EXPECT_EQ(by_op["RESCALE"]["attribute"]["rounding_mode"], "SINGLE_ROUND");
  EXPECT_EQ(by_op["RESCALE"]["attribute"]["per_channel"], true);
  EXPECT_EQ(by_op["RESCALE"]["inputs"], nlohmann::json({"acc", "mult", "shift", "acc_zp", "y_zp"}));
  EXPECT_EQ(by_op["CONST"]["attribute_type"], "ConstAttribute");
  for (const auto& t : block["tensors"]) {
    if (t["name"] == "bias") {
      EXPECT_EQ(t["type"], "INT48");
      EXPECT_EQ(t["data"].size(), 24u);
    }
    if (t["name"] == "mult") {
      EXPECT_EQ(t["type"], "INT16");
    }
  }
}

TEST(TosaSerialize, SchemaEnumNumbersMatchTheFacts) {
  // The generated code is our schema compiled by flatc: its numbers are the wire numbers.
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::CONV2D), 3u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::MATMUL), 7u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::TABLE), 31u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::REDUCE_SUM), 54u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::GATHER), 62u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::SCATTER), 63u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::RESCALE), 66u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::CONST), 67u);
  EXPECT_EQ(static_cast<uint32_t>(fb::Op::CONST_SHAPE), 75u);
  EXPECT_EQ(static_cast<uint32_t>(fb::DType::INT48), 6u);
  EXPECT_EQ(static_cast<uint32_t>(fb::DType::SHAPE), 10u);
  EXPECT_EQ(static_cast<uint32_t>(fb::DType::FP8E5M2), 12u);
  EXPECT_EQ(static_cast<uint8_t>(fb::Attribute::Conv2dAttribute), 3u);
  EXPECT_EQ(static_cast<uint8_t>(fb::Attribute::RescaleAttribute), 66u);
  EXPECT_EQ(static_cast<uint8_t>(fb::Attribute::ConstShapeAttribute), 75u);
  EXPECT_EQ(static_cast<uint32_t>(fb::RoundingMode::DOUBLE_ROUND), 3u);
  EXPECT_EQ(static_cast<uint32_t>(fb::NanPropagationMode::IGNORE), 2u);
  for (uint32_t i = 1; i < kOpCount; ++i) {
    // Union member names are the op's CamelCase name + "Attribute"; compare case-blind.
    std::string op(op_name(static_cast<Op>(i))), attr(fb::EnumNameAttribute(static_cast<fb::Attribute>(i)));
    std::string a, b;
    for (char c : op)
      if (c != '_') a += static_cast<char>(std::tolower(c));
    for (char c : attr.substr(0, attr.size() - 9)) b += static_cast<char>(std::tolower(c));
    EXPECT_EQ(a, b) << i;
    EXPECT_EQ(op, fb::EnumNameOp(static_cast<fb::Op>(i)));
  }
  EXPECT_EQ(fb::TosaGraphIdentifier(), std::string("TOSA"));
  EXPECT_EQ(fb::TosaGraphExtension(), std::string("tosa"));
}

// --- hostile inputs ---

void expect_clean_error(std::span<const uint8_t> bytes, const std::string& what) {
  try {
    read_tosa(bytes, "hostile.tosa");
    ADD_FAILURE() << what << ": accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hostile.tosa"), std::string::npos) << e.what();
  }
}

TEST(TosaSerialize, TruncatedFilesAreRejected) {
  const auto bytes = write_tosa(testing::linear_i16x8());
  for (size_t n = 0; n < bytes.size(); ++n) expect_clean_error(std::span(bytes.data(), n), fmt::format("truncated to {}", n));
}

TEST(TosaSerialize, WrongIdentifierIsRejected) {
  auto bytes = write_tosa(testing::matmuls());
  bytes[4] = 'X';
  try {
    read_tosa(bytes, "x.tosa");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("identifier"), std::string::npos) << e.what();
  }
}

TEST(TosaSerialize, OffsetsOutOfRangeAreRejected) {
  auto bytes = write_tosa(testing::matmuls());
  bytes[0] = 0xf0, bytes[1] = 0xff, bytes[2] = 0xff, bytes[3] = 0x7f;
  expect_clean_error(bytes, "root offset");
}

TEST(TosaSerialize, HugeDeclaredVectorIsRejected) {
  auto bytes = write_tosa(testing::linear_i16x8());
  std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const auto* buf = reinterpret_cast<const uint8_t*>(aligned.data());
  const auto* g = fb::GetTosaGraph(buf);
  const fb::TosaTensor* w = nullptr;
  for (const auto* t : *g->regions()->Get(0)->blocks()->Get(0)->tensors())
    if (t->name()->str() == "w") w = t;
  ASSERT_NE(w, nullptr);
  const size_t len_at = static_cast<size_t>(w->data()->data() - buf) - 4;
  bytes[len_at] = 0xf0, bytes[len_at + 1] = 0xff, bytes[len_at + 2] = 0xff, bytes[len_at + 3] = 0x7f;
  expect_clean_error(bytes, "huge vector");
}

// Builds a one-tensor file by hand, bypassing the writer's own checks.
std::vector<uint8_t> raw_file(DType type, std::vector<int32_t> shape, std::vector<uint8_t> data, uint32_t op = 67,
                              uint8_t attr_type = 67) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto name = fbb.CreateString("t");
  const auto shp = fbb.CreateVector(shape);
  fbb.ForceVectorAlignment(data.size(), 1, 8);
  const auto dat = fbb.CreateVector(data);
  const auto tensor = fb::CreateTosaTensor(fbb, name, shp, static_cast<fb::DType>(type), dat);
  const auto attr = fbb.EndTable(fbb.StartTable());
  const auto outs = fbb.CreateVectorOfStrings({"t"});
  const auto oper = fb::CreateTosaOperator(fbb, static_cast<fb::Op>(op), static_cast<fb::Attribute>(attr_type),
                                           Offset<void>(attr), fbb.CreateVectorOfStrings({}), outs);
  const auto block = fb::CreateTosaBasicBlock(fbb, fbb.CreateString("main"), fbb.CreateVector(&oper, 1),
                                              fbb.CreateVector(&tensor, 1), fbb.CreateVectorOfStrings({}), outs);
  const auto region = fb::CreateTosaRegion(fbb, fbb.CreateString("main"), fbb.CreateVector(&block, 1));
  const auto root = fb::CreateTosaGraph(fbb, fb::CreateVersion(fbb, 1, 0, 0, false), fbb.CreateVector(&region, 1));
  fbb.Finish(root, "TOSA");
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

TEST(TosaSerialize, DataLengthMustMatchShapeAndType) {
  EXPECT_NO_THROW(read_tosa(raw_file(DType::INT32, {4}, std::vector<uint8_t>(16)), "ok.tosa"));
  try {
    read_tosa(raw_file(DType::INT32, {4}, std::vector<uint8_t>(8)), "short.tosa");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 16 data bytes"), std::string::npos) << e.what();
  }
  expect_clean_error(raw_file(DType::INT48, {3}, std::vector<uint8_t>(16)), "int48 short");
  expect_clean_error(raw_file(DType::INT8, {65536, 65536, 65536, 65536}, std::vector<uint8_t>(8)), "overflow");
  expect_clean_error(raw_file(DType::INT8, {-1}, std::vector<uint8_t>(8)), "negative dim");
  expect_clean_error(raw_file(static_cast<DType>(99), {1}, std::vector<uint8_t>(8)), "unknown dtype");
  expect_clean_error(raw_file(DType::INT8, {1}, std::vector<uint8_t>(8), 200, 0), "unknown op");
  expect_clean_error(raw_file(DType::INT8, {1}, std::vector<uint8_t>(8), 67, 3), "attribute type of another op");
}

TEST(TosaSerialize, EveryFlippedByteGivesAGraphOrAnError) {
  const auto original = write_tosa(testing::data_movement());
  for (size_t i = 0; i < original.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      auto bytes = original;
      bytes[i] ^= mask;
      try {
        const TosaGraph g = read_tosa(bytes, "flipped.tosa");
        (void)to_text(g);
        (void)write_tosa(g);
      } catch (const Error&) {
      }
    }
  }
}

TEST(TosaSerialize, WriterRefusesInconsistentGraphs) {
  TosaGraph g = testing::matmuls();
  g.regions[0].blocks[0].tensors[2].data->pop_back();
  EXPECT_THROW(write_tosa(g), Error);
  TosaGraph h = testing::matmuls();
  h.regions[0].blocks[0].operators[0].attribute = ConvAttr{};
  EXPECT_THROW(write_tosa(h), Error);
  TosaBasicBlock b;
  b.add_tensor("x", DType::INT8, {1});
  EXPECT_THROW(b.add_tensor("x", DType::INT8, {1}), Error);
  EXPECT_THROW(b.add_const("c", DType::INT8, {1}, V{300}), Error);
}

TEST(TosaSerialize, PackingFollowsTheLayout) {
  EXPECT_EQ(pack_ints(DType::INT48, V{-1}), (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(unpack_ints(DType::INT48, pack_ints(DType::INT48, V{-(int64_t{1} << 47), (int64_t{1} << 47) - 1}), 2),
            (V{-(int64_t{1} << 47), (int64_t{1} << 47) - 1}));
  EXPECT_EQ(pack_ints(DType::INT4, V{1, -2, 7}), (std::vector<uint8_t>{0xe1, 0x07}));
  EXPECT_EQ(unpack_ints(DType::INT4, std::vector<uint8_t>{0xe1, 0x07}, 3), (V{1, -2, 7}));
  EXPECT_THROW(pack_ints(DType::INT4, V{-8}), Error);
  EXPECT_EQ(pack_ints(DType::INT16, V{-2}), (std::vector<uint8_t>{0xfe, 0xff}));
  EXPECT_EQ(pack_ints(DType::SHAPE, V{3}).size(), 8u);
  EXPECT_THROW(unpack_ints(DType::INT32, std::vector<uint8_t>(3), 1), Error);
}

TEST(TosaSerialize, TextDumpNamesOpsAndTensors) {
  const std::string text = to_text(testing::linear_i16x8());
  EXPECT_NE(text.find("TOSA 1.0.0"), std::string::npos) << text;
  EXPECT_NE(text.find("CONV2D (x, w, bias, x_zp, w_zp) -> (acc)"), std::string::npos) << text;
  EXPECT_NE(text.find("acc_type=INT48"), std::string::npos) << text;
  EXPECT_NE(text.find("tensor bias INT48 [3] const"), std::string::npos) << text;
  EXPECT_NE(text.find("RESCALE"), std::string::npos) << text;
}

}  // namespace
}  // namespace l2n::tosa
