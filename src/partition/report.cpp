#include "partition/report.h"

#include <fmt/format.h>

#include <set>

#include "core/error.h"

namespace l2n::partition {
namespace {

TensorSummary summarize(const graph::Graph& g, int32_t v) {
  const graph::Node& n = g.nodes()[v];
  int64_t count = 1;
  for (int64_t d : n.shape) count *= d;
  return {value_name(g, v), std::string(dtype_name(n.dtype)), n.shape,
          count * static_cast<int64_t>(dtype_size(n.dtype))};
}

nlohmann::json tensor_json(const TensorSummary& t) {
  return {{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"bytes", t.bytes}};
}

std::string shape_text(const Shape& s) {
  std::string out = "[";
  for (size_t k = 0; k < s.size(); ++k) out += fmt::format("{}{}", k ? ", " : "", s[k]);
  return out + "]";
}

}  // namespace

MethodPartitionReport make_report(const graph::Graph& g, const Partition& p, std::string method, std::string target) {
  MethodPartitionReport r;
  r.method = std::move(method);
  r.target = std::move(target);
  for (size_t d = 0; d < p.delegate_steps.size(); ++d) {
    const PartitionStep& step = p.steps[p.delegate_steps[d]];
    DelegateSummary s;
    s.name = fmt::format("delegate_{}", d);
    std::set<int32_t> constants;
    for (int32_t i : step.nodes) {
      const graph::Node& n = g.nodes()[i];
      ++s.op_counts[std::string(graph::op_name(n.op))];
      ++s.op_count;
      for (graph::ValueId v : n.inputs)
        if (g.nodes()[v.index].op == graph::OpKind::Constant) constants.insert(v.index);
    }
    for (int32_t c : constants) s.constant_bytes += static_cast<int64_t>(g.nodes()[c].value.nbytes());
    for (int32_t v : step.inputs) s.inputs.push_back(summarize(g, v));
    for (int32_t v : step.outputs) s.outputs.push_back(summarize(g, v));
    r.delegates.push_back(std::move(s));
  }
  for (const CpuNode& c : p.cpu_nodes) {
    const graph::Node& n = g.nodes()[c.node];
    r.cpu_ops.push_back({n.name, std::string(graph::op_name(n.op)), std::string(dtype_name(n.dtype)), c.reason});
  }
  return r;
}

nlohmann::json MethodPartitionReport::to_json() const {
  nlohmann::json ds = nlohmann::json::array();
  for (const DelegateSummary& d : delegates) {
    nlohmann::json ins = nlohmann::json::array(), outs = nlohmann::json::array();
    for (const auto& t : d.inputs) ins.push_back(tensor_json(t));
    for (const auto& t : d.outputs) outs.push_back(tensor_json(t));
    ds.push_back({{"name", d.name}, {"op_count", d.op_count}, {"op_counts", d.op_counts},
                  {"constant_bytes", d.constant_bytes}, {"inputs", ins}, {"outputs", outs}});
  }
  nlohmann::json cpu = nlohmann::json::array();
  for (const CpuOpSummary& c : cpu_ops) cpu.push_back({{"name", c.name}, {"op", c.op}, {"dtype", c.dtype}, {"reason", c.reason}});
  return {{"method", method}, {"target", target}, {"delegate_count", delegates.size()},
          {"cpu_op_count", cpu_ops.size()}, {"delegates", ds}, {"cpu_ops", cpu}};
}

MethodPartitionReport MethodPartitionReport::from_json(const nlohmann::json& j) {
  try {
    MethodPartitionReport r;
    r.method = j.at("method").get<std::string>();
    r.target = j.at("target").get<std::string>();
    for (const auto& d : j.at("delegates")) {
      DelegateSummary s;
      s.name = d.at("name").get<std::string>();
      s.op_count = d.at("op_count").get<int64_t>();
      s.op_counts = d.at("op_counts").get<std::map<std::string, int64_t>>();
      s.constant_bytes = d.at("constant_bytes").get<int64_t>();
      for (const auto& t : d.at("inputs"))
        s.inputs.push_back({t.at("name"), t.at("dtype"), t.at("shape").get<Shape>(), t.at("bytes")});
      for (const auto& t : d.at("outputs"))
        s.outputs.push_back({t.at("name"), t.at("dtype"), t.at("shape").get<Shape>(), t.at("bytes")});
      r.delegates.push_back(std::move(s));
    }
    for (const auto& c : j.at("cpu_ops")) r.cpu_ops.push_back({c.at("name"), c.at("op"), c.at("dtype"), c.at("reason")});
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail("the program's partition report is malformed ({})", e.what());
  }
}

std::string MethodPartitionReport::to_text(bool verbose, bool list_delegates) const {
  std::string s = fmt::format("method {} on {}: {} delegate(s), {} op(s) on the CPU\n", method, target,
                              delegates.size(), cpu_ops.size());
  if (!list_delegates && !delegates.empty()) {
    std::map<std::string, int64_t> ops;
    int64_t total = 0, bytes = 0;
    for (const DelegateSummary& d : delegates) {
      for (const auto& [op, n] : d.op_counts) ops[op] += n;
      total += d.op_count;
      bytes += d.constant_bytes;
    }
    s += fmt::format("  delegated: {} ops (", total);
    bool first = true;
    for (const auto& [op, n] : ops) {
      s += fmt::format("{}{} {}", first ? "" : ", ", n, op);
      first = false;
    }
    s += fmt::format("), constants {} bytes\n", bytes);
  }
  for (const DelegateSummary& d : delegates) {
    if (!list_delegates) break;
    s += fmt::format("  {}: {} ops (", d.name, d.op_count);
    bool first = true;
    for (const auto& [op, n] : d.op_counts) {
      s += fmt::format("{}{} {}", first ? "" : ", ", n, op);
      first = false;
    }
    s += fmt::format("), constants {} bytes\n", d.constant_bytes);
    for (const auto& t : d.inputs) s += fmt::format("    in  {} {}{} ({} bytes)\n", t.name, t.dtype, shape_text(t.shape), t.bytes);
    for (const auto& t : d.outputs)
      s += fmt::format("    out {} {}{} ({} bytes)\n", t.name, t.dtype, shape_text(t.shape), t.bytes);
  }
  if (cpu_ops.empty()) return s;
  s += "  on the CPU:\n";
  if (verbose) {
    for (const CpuOpSummary& c : cpu_ops) s += fmt::format("    {} ({} {}): {}\n", c.name, c.op, c.dtype, c.reason);
    return s;
  }
  std::map<std::pair<std::string, std::string>, int64_t> grouped;
  for (const CpuOpSummary& c : cpu_ops) ++grouped[{c.op, c.reason}];
  for (const auto& [key, n] : grouped) s += fmt::format("    {} x {}: {}\n", n, key.first, key.second);
  return s;
}

}  // namespace l2n::partition
