// llm2npu tosa run|dump: execute or print one standalone TOSA 1.0 file, so a delegate can be
// checked against any other TOSA implementation (inputs and outputs as NumPy .npy files,
// the format the TOSA reference model uses).
#include <fmt/format.h>

#include <filesystem>
#include <limits>
#include <map>

#include "cli/common.h"
#include "core/error.h"
#include "tosa/interpreter.h"
#include "tosa/npy.h"
#include "tosa/serialize.h"

namespace l2n::cli {
namespace {

namespace fs = std::filesystem;
using tosa::Attribute;
using tosa::Interpreter;
using tosa::NpyArray;
using tosa::NpyType;
using tosa::TosaBasicBlock;
using tosa::TosaGraph;
using tosa::TosaTensor;
using tosa::TosaValue;
using tosa::ValueMap;
using TosaDType = tosa::DType;
using tosa::dtype_name;
using tosa::nan_mode_name;
using tosa::npy_descr;
using tosa::op_name;
using tosa::read_npy_file;
using tosa::read_tosa_file;
using tosa::resize_mode_name;
using tosa::rounding_name;
using tosa::to_text;
using tosa::write_npy_file;

struct TosaRunArgs {
  std::string file;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::string output_dir;
  bool json = false;
};

struct TosaDumpArgs {
  std::string file;
  bool json = false;
};

// The .npy type a TOSA type is exchanged as (int48 as int64, like the reference model).
NpyType npy_type_for(TosaDType t) {
  switch (t) {
    case TosaDType::BOOL: return NpyType::Bool;
    case TosaDType::INT8: return NpyType::I8;
    case TosaDType::INT16: return NpyType::I16;
    case TosaDType::INT32: return NpyType::I32;
    case TosaDType::INT48: return NpyType::I64;
    case TosaDType::FP32: return NpyType::F32;
    default: fail("TOSA values of type {} cannot be exchanged as .npy", dtype_name(t));
  }
}

TosaValue value_from_npy(const NpyArray& a, const TosaTensor& declared, const std::string& path) {
  const NpyType want = npy_type_for(declared.type);
  if (a.type != want)
    fail("{}: input '{}' is {}, so the .npy must hold {} values, it holds {}", path, declared.name,
         dtype_name(declared.type), npy_descr(want), npy_descr(a.type));
  if (declared.type == TosaDType::INT48) {
    const int64_t* p = a.tensor.data<int64_t>();
    for (int64_t i = 0; i < a.tensor.numel(); ++i)
      if (p[i] < -(int64_t{1} << 47) || p[i] >= (int64_t{1} << 47))
        fail("{}: element {} = {} does not fit int48", path, i, p[i]);
  }
  return TosaValue{declared.type, a.tensor};
}

std::string file_name_for(const std::string& name) {
  std::string out;
  for (char c : name) out += (c == '/' || c == '\\' || c == '\0') ? '_' : c;
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out + ".npy";
}

void run_tosa(const TosaRunArgs& args) {
  const TosaGraph graph = read_tosa_file(args.file);
  const TosaBasicBlock& block = graph.main_block();
  std::map<std::string, std::string> given;
  for (const auto& spec : args.inputs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      fail_usage("--input '{}' must be NAME=FILE.npy", spec);
    const std::string name = spec.substr(0, eq);
    if (!given.emplace(name, spec.substr(eq + 1)).second) fail_usage("--input {} is given twice", name);
    if (std::find(block.inputs.begin(), block.inputs.end(), name) == block.inputs.end())
      fail_usage("--input {}: {} has no input of that name (its inputs: {})", name, args.file, fmt::join(block.inputs, ", "));
  }
  for (const auto& name : block.inputs)
    if (!given.count(name)) fail_usage("{} needs --input {}=FILE.npy", args.file, name);

  const Interpreter interp(graph);
  ValueMap inputs;
  for (const auto& [name, path] : given)
    inputs[name] = value_from_npy(read_npy_file(path), *block.find_tensor(name), path);
  const ValueMap outputs = interp.run(inputs);

  std::error_code ec;
  fs::create_directories(args.output_dir, ec);
  if (!fs::is_directory(args.output_dir)) fail("cannot create the output directory {}", args.output_dir);
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& name : block.outputs) {
    const TosaValue& v = outputs.at(name);
    const fs::path path = fs::path(args.output_dir) / file_name_for(name);
    write_npy_file(path, NpyArray{npy_type_for(v.type), v.tensor});
    if (args.json)
      doc.push_back({{"name", name}, {"type", dtype_name(v.type)}, {"shape", v.tensor.shape()}, {"file", path.string()}});
    else
      fmt::print("{} {} [{}] -> {}\n", name, dtype_name(v.type), fmt::join(v.tensor.shape(), ","), path.string());
  }
  if (args.json) print_json({{"file", args.file}, {"outputs", doc}});
}

nlohmann::json attribute_json(const Attribute& attribute) {
  struct Visitor {
    nlohmann::json operator()(const tosa::NoAttr&) const { return nlohmann::json::object(); }
    nlohmann::json operator()(const tosa::ConvAttr& a) const {
      return {{"pad", a.pad}, {"stride", a.stride}, {"dilation", a.dilation}, {"local_bound", a.local_bound},
              {"acc_type", dtype_name(a.acc_type)}};
    }
    nlohmann::json operator()(const tosa::TransposeConvAttr& a) const {
      return {{"out_pad", a.out_pad}, {"stride", a.stride}, {"local_bound", a.local_bound},
              {"acc_type", dtype_name(a.acc_type)}};
    }
    nlohmann::json operator()(const tosa::PoolAttr& a) const {
      return {{"kernel", a.kernel}, {"stride", a.stride}, {"pad", a.pad}, {"acc_type", dtype_name(a.acc_type)},
              {"nan_mode", nan_mode_name(a.nan_mode)}};
    }
    nlohmann::json operator()(const tosa::AxisAttr& a) const { return {{"axis", a.axis}, {"nan_mode", nan_mode_name(a.nan_mode)}}; }
    nlohmann::json operator()(const tosa::NanModeAttr& a) const { return {{"nan_mode", nan_mode_name(a.nan_mode)}}; }
    nlohmann::json operator()(const tosa::ClampAttr& a) const {
      return {{"min_val", a.min_val}, {"max_val", a.max_val}, {"nan_mode", nan_mode_name(a.nan_mode)}};
    }
    nlohmann::json operator()(const tosa::RightShiftAttr& a) const { return {{"round", a.round}}; }
    nlohmann::json operator()(const tosa::TransposeAttr& a) const { return {{"perms", a.perms}}; }
    nlohmann::json operator()(const tosa::ResizeAttr& a) const { return {{"mode", resize_mode_name(a.mode)}}; }
    nlohmann::json operator()(const tosa::RescaleAttr& a) const {
      return {{"scale32", a.scale32}, {"rounding_mode", rounding_name(a.rounding_mode)}, {"per_channel", a.per_channel},
              {"input_unsigned", a.input_unsigned}, {"output_unsigned", a.output_unsigned}};
    }
    nlohmann::json operator()(const tosa::FftAttr& a) const { return {{"inverse", a.inverse}, {"local_bound", a.local_bound}}; }
    nlohmann::json operator()(const tosa::CustomAttr& a) const {
      return {{"operator_name", a.operator_name}, {"domain_name", a.domain_name},
              {"implementation_attrs", a.implementation_attrs}};
    }
    nlohmann::json operator()(const tosa::GraphRefAttr& a) const { return {{"graphs", {a.first, a.second}}}; }
  };
  return std::visit(Visitor{}, attribute);
}

nlohmann::json graph_json(const TosaGraph& g) {
  nlohmann::json regions = nlohmann::json::array();
  for (const auto& region : g.regions) {
    nlohmann::json blocks = nlohmann::json::array();
    for (const auto& b : region.blocks) {
      nlohmann::json tensors = nlohmann::json::array(), shapes = nlohmann::json::array(), ops = nlohmann::json::array();
      for (const auto& t : b.tensors) {
        nlohmann::json j = {{"name", t.name}, {"type", dtype_name(t.type)}, {"shape", t.shape}};
        if (t.data) j["data_bytes"] = t.data->size();
        if (t.variable) j["variable"] = true;
        tensors.push_back(std::move(j));
      }
      for (const auto& s : b.shapes) {
        nlohmann::json j = {{"name", s.name}, {"rank", s.rank}};
        if (s.values) j["values"] = *s.values;
        shapes.push_back(std::move(j));
      }
      for (const auto& op : b.operators)
        ops.push_back({{"op", op_name(op.op)}, {"code", static_cast<uint32_t>(op.op)}, {"inputs", op.inputs},
                       {"outputs", op.outputs}, {"attribute", attribute_json(op.attribute)}});
      blocks.push_back({{"name", b.name}, {"inputs", b.inputs}, {"outputs", b.outputs}, {"tensors", tensors},
                        {"shapes", shapes}, {"operators", ops}});
    }
    regions.push_back({{"name", region.name}, {"blocks", blocks}});
  }
  return {{"version", {{"major", g.version.major}, {"minor", g.version.minor}, {"patch", g.version.patch},
                       {"draft", g.version.draft}}},
          {"regions", regions}};
}

void dump_tosa(const TosaDumpArgs& args) {
  const TosaGraph graph = read_tosa_file(args.file);
  if (args.json) print_json(graph_json(graph));
  else fmt::print("{}", to_text(graph));
}

}  // namespace

void register_tosa(CLI::App& app) {
  auto* tosa = app.add_subcommand("tosa", "Run or print a standalone TOSA 1.0 (.tosa) file");
  tosa->require_subcommand(1);

  auto run_args = std::make_shared<TosaRunArgs>();
  auto* run = tosa->add_subcommand("run", "Execute a .tosa file with the bit-exact integer interpreter");
  run->add_option("file", run_args->file, "The .tosa file")->required();
  run->add_option("--input", run_args->inputs, "A graph input as NAME=FILE.npy (repeat for each input)");
  run->add_option("--output-dir", run_args->output_dir, "Directory for the outputs, one NAME.npy each")->required();
  run->add_flag("--json", run_args->json, "Print one JSON object listing the outputs");
  run->callback([run_args] { run_tosa(*run_args); });

  auto dump_args = std::make_shared<TosaDumpArgs>();
  auto* dump = tosa->add_subcommand("dump", "Print a .tosa file readably");
  dump->add_option("file", dump_args->file, "The .tosa file")->required();
  dump->add_flag("--json", dump_args->json, "Print one JSON object instead of text");
  dump->callback([dump_args] { dump_tosa(*dump_args); });
}

}  // namespace l2n::cli
