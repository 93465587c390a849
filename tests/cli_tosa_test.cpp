// llm2npu tosa run|dump through the built binary: .npy in, .npy out, the same numbers as the
// interpreter in process; usage errors exit 2, bad files exit 1.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "cli_run.h"

#include "tosa/interpreter.h"
#include "tosa/npy.h"
#include "tosa/serialize.h"
#include "tosa_test_graphs.h"

namespace {

namespace fs = std::filesystem;
using namespace l2n::tosa;

using l2n::testing::CliRun;
using l2n::testing::q;
using l2n::testing::run_cli;
using l2n::testing::ScratchDir;

NpyArray npy_i16(l2n::Shape shape, std::vector<int16_t> values) {
  NpyArray a{NpyType::I16, l2n::Tensor(l2n::DType::I16, std::move(shape))};
  std::copy(values.begin(), values.end(), a.tensor.mutable_data<int16_t>());
  return a;
}

TEST(CliTosa, RunWritesOutputsAsNpyMatchingTheInterpreter) {
  const ScratchDir dir("l2n_cli_tosa_run");
  const TosaGraph g = l2n::tosa::testing::linear_i16x8();
  write_tosa_file(g, dir / "linear.tosa");
  const NpyArray x = npy_i16({1, 1, 2, 4}, {1, 2, 3, 4, -32768, 32767, 100, -5});
  write_npy_file(dir / "x.npy", x);
  const CliRun r = run_cli("tosa run " + q(dir / "linear.tosa") + " --input x=" + q(dir / "x.npy") +
                           " --output-dir " + q(dir / "out") + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["outputs"].size(), 1u);
  EXPECT_EQ(doc["outputs"][0]["name"], "y");
  EXPECT_EQ(doc["outputs"][0]["type"], "INT16");
  const NpyArray y = read_npy_file(dir / "out" / "y.npy");
  EXPECT_EQ(y.type, NpyType::I16);
  const auto expected = Interpreter(g).run({{"x", TosaValue{DType::INT16, x.tensor}}}).at("y");
  ASSERT_EQ(y.tensor.shape(), expected.tensor.shape());
  for (int64_t i = 0; i < y.tensor.numel(); ++i)
    EXPECT_EQ(y.tensor.data<int16_t>()[i], expected.tensor.data<int16_t>()[i]) << i;
  EXPECT_EQ(y.tensor.data<int16_t>()[0], 32767);
  EXPECT_EQ(y.tensor.data<int16_t>()[2], 208);
}

TEST(CliTosa, Int48OutputsAreInt64Npy) {
  const ScratchDir dir("l2n_cli_tosa_mm");
  write_tosa_file(l2n::tosa::testing::matmuls(), dir / "mm.tosa");
  NpyArray a{NpyType::I8, l2n::Tensor(l2n::DType::I8, {1, 2, 3})};
  const int8_t av[] = {1, 2, 3, -128, 0, 127};
  std::copy(std::begin(av), std::end(av), a.tensor.mutable_data<int8_t>());
  write_npy_file(dir / "a.npy", a);
  write_npy_file(dir / "c.npy", npy_i16({1, 2, 3}, {1, 2, 3, 32767, -32768, -1}));
  const CliRun r = run_cli("tosa run " + q(dir / "mm.tosa") + " --input a=" + q(dir / "a.npy") + " --input c=" +
                           q(dir / "c.npy") + " --output-dir " + q(dir / "out"));
  ASSERT_EQ(r.status, 0) << r.err;
  const NpyArray cd = read_npy_file(dir / "out" / "cd.npy");
  EXPECT_EQ(cd.type, NpyType::I64);
  EXPECT_EQ(cd.tensor.data<int64_t>()[3], -983042770);
  const NpyArray ab = read_npy_file(dir / "out" / "ab.npy");
  EXPECT_EQ(ab.type, NpyType::I32);
  EXPECT_EQ(ab.tensor.data<int32_t>()[0], -26);
}

TEST(CliTosa, DumpPrintsTextAndJson) {
  const ScratchDir dir("l2n_cli_tosa_dump");
  write_tosa_file(l2n::tosa::testing::data_movement(), dir / "dm.tosa");
  const CliRun text = run_cli("tosa dump " + q(dir / "dm.tosa"));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("CONST_SHAPE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("shape shape64 rank 2 = [6,4]"), std::string::npos) << text.out;
  const CliRun json = run_cli("tosa dump --json " + q(dir / "dm.tosa"));
  ASSERT_EQ(json.status, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["version"]["major"], 1);
  bool saw = false;
  for (const auto& op : doc["regions"][0]["blocks"][0]["operators"])
    if (op["op"] == "TRANSPOSE") {
      saw = true;
      EXPECT_EQ(op["code"], 61);
      EXPECT_EQ(op["attribute"]["perms"], nlohmann::json({1, 0}));
    }
  EXPECT_TRUE(saw);
}

TEST(CliTosa, UsageErrorsExit2AndBadFilesExit1) {
  const ScratchDir dir("l2n_cli_tosa_errors");
  write_tosa_file(l2n::tosa::testing::linear_i16x8(), dir / "linear.tosa");
  write_npy_file(dir / "x.npy", npy_i16({1, 1, 2, 4}, {0, 0, 0, 0, 0, 0, 0, 0}));
  NpyArray wrong{NpyType::I32, l2n::Tensor(l2n::DType::I32, {1, 1, 2, 4})};
  write_npy_file(dir / "x32.npy", wrong);
  const std::string tosa = q(dir / "linear.tosa"), out = " --output-dir " + q(dir / "out");

  EXPECT_EQ(run_cli("tosa run " + tosa).status, 2);                                     // no --output-dir
  EXPECT_EQ(run_cli("tosa run " + tosa + out).status, 2);                               // x missing
  EXPECT_EQ(run_cli("tosa run " + tosa + " --input x" + out).status, 2);                // not NAME=FILE
  EXPECT_EQ(run_cli("tosa run " + tosa + " --input z=" + q(dir / "x.npy") + out).status, 2);  // no such input
  EXPECT_EQ(run_cli("tosa frob").status, 2);

  const CliRun dtype = run_cli("tosa run " + tosa + " --input x=" + q(dir / "x32.npy") + out);
  EXPECT_EQ(dtype.status, 1);
  EXPECT_NE(dtype.err.find("<i2"), std::string::npos) << dtype.err;

  std::ofstream(dir / "garbage.tosa") << "this is not a flatbuffer at all";
  const CliRun bad = run_cli("tosa dump " + q(dir / "garbage.tosa"));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("garbage.tosa"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());

  std::ofstream(dir / "garbage.npy") << "nope";
  EXPECT_EQ(run_cli("tosa run " + tosa + " --input x=" + q(dir / "garbage.npy") + out).status, 1);
  EXPECT_EQ(run_cli("tosa dump " + q(dir / "missing.tosa")).status, 1);

  // A REQUIRE violation inside the graph: exit 1 naming the operator.
  write_tosa_file(l2n::tosa::testing::gather_scatter(), dir / "gs.tosa");
  NpyArray ids{NpyType::I32, l2n::Tensor(l2n::DType::I32, {1, 2})};
  ids.tensor.mutable_data<int32_t>()[0] = 9;
  write_npy_file(dir / "ids.npy", ids);
  write_npy_file(dir / "cache.npy", NpyArray{NpyType::I8, l2n::Tensor(l2n::DType::I8, {1, 4, 3})});
  const CliRun req = run_cli("tosa run " + q(dir / "gs.tosa") + " --input ids=" + q(dir / "ids.npy") + " --input cache=" +
                             q(dir / "cache.npy") + out);
  EXPECT_EQ(req.status, 1);
  EXPECT_NE(req.err.find("GATHER"), std::string::npos) << req.err;
}

}  // namespace
