#include "partition/partitioner.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "core/error.h"
#include "partition/support.h"

namespace l2n::partition {
namespace {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::ValueId;

bool is_placed(const Node& n) { return n.op != OpKind::Input && n.op != OpKind::Constant; }

// Union-find over group ids; find() gives a group's current representative.
class Groups {
 public:
  int32_t make() {
    parent_.push_back(static_cast<int32_t>(parent_.size()));
    return parent_.back();
  }
  int32_t find(int32_t g) {
    while (parent_[g] != g) g = parent_[g] = parent_[parent_[g]];
    return g;
  }
  void merge_into(int32_t keep, int32_t gone) { parent_[find(gone)] = find(keep); }

 private:
  std::vector<int32_t> parent_;
};

// Grows delegate groups in topological order. external[v] holds the groups that reach value
// v along a path that leaves them (through a CPU node or another group); a node may join
// group G only if G is not in external[u] for any of its inputs u — else G → … → u → node
// would leave G and come back. reach_in[G] collects external[] of G's members, so that two
// groups can merge only when neither reaches the other from outside.
struct Grower {
  const Graph& g;
  std::vector<bool> supported;
  Groups groups;
  std::vector<int32_t> group_of;  // -1: CPU or not placed
  std::vector<std::set<int32_t>> external;
  std::map<int32_t, std::set<int32_t>> reach_in;

  std::set<int32_t> roots(const std::set<int32_t>& s) {
    std::set<int32_t> r;
    for (int32_t x : s) r.insert(groups.find(x));
    return r;
  }

  void run() {
    const auto& nodes = g.nodes();
    group_of.assign(nodes.size(), -1);
    external.assign(nodes.size(), {});
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      if (!is_placed(n)) continue;
      std::set<int32_t> ext_inputs;    // groups reaching an input from outside
      std::set<int32_t> input_groups;  // groups producing an input directly
      for (ValueId v : n.inputs) {
        for (int32_t x : roots(external[v.index])) ext_inputs.insert(x);
        if (group_of[v.index] >= 0) input_groups.insert(groups.find(group_of[v.index]));
      }
      if (supported[i]) {
        int32_t joined = -1;
        for (int32_t cand : input_groups) {
          if (ext_inputs.count(cand)) continue;
          if (joined < 0) {
            joined = cand;
            continue;
          }
          // Merge cand into joined when neither reaches the other from outside.
          const auto in_joined = roots(reach_in[joined]);
          const auto in_cand = roots(reach_in[cand]);
          if (in_joined.count(cand) || in_cand.count(joined)) continue;
          auto moved = std::move(reach_in[cand]);
          reach_in.erase(cand);
          groups.merge_into(joined, cand);
          reach_in[joined].insert(moved.begin(), moved.end());
        }
        if (joined < 0) {
          joined = groups.make();
          reach_in[joined];
        }
        joined = groups.find(joined);
        group_of[i] = joined;
        for (int32_t d : input_groups)
          if (groups.find(d) != joined) external[i].insert(groups.find(d));
        external[i].insert(ext_inputs.begin(), ext_inputs.end());
        reach_in[joined].insert(external[i].begin(), external[i].end());
      } else {
        external[i] = ext_inputs;
        external[i].insert(input_groups.begin(), input_groups.end());
      }
    }
  }
};

std::vector<std::vector<int32_t>> consumers_of(const Graph& g) {
  std::vector<std::vector<int32_t>> users(g.nodes().size());
  for (const Node& n : g.nodes())
    for (ValueId v : n.inputs) users[v.index].push_back(n.output.index);
  return users;
}

}  // namespace

std::string value_name(const Graph& graph, int32_t value) {
  for (const auto& [name, v] : graph.outputs())
    if (v.index == value) return name;
  return graph.nodes()[value].name;
}

Partition partition_graph(const Graph& g, const target::TargetCapabilities& caps) {
  const auto& nodes = g.nodes();
  Grower grower{g, std::vector<bool>(nodes.size(), false), {}, {}, {}, {}};
  std::vector<std::string> reasons(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!is_placed(nodes[i])) continue;
    OpSupport s = check_support(g, nodes[i], caps);
    grower.supported[i] = s.supported;
    reasons[i] = std::move(s.reason);
  }
  grower.run();

  // Groups of view ops only would lower to an empty delegate: they run on the CPU.
  std::map<int32_t, std::vector<int32_t>> members;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (grower.group_of[i] >= 0) members[grower.groups.find(grower.group_of[i])].push_back(static_cast<int32_t>(i));
  for (auto it = members.begin(); it != members.end();) {
    const bool compute = std::any_of(it->second.begin(), it->second.end(),
                                     [&](int32_t i) { return !is_view_op(nodes[i].op); });
    if (compute) {
      ++it;
      continue;
    }
    for (int32_t i : it->second) {
      grower.group_of[i] = -1;
      reasons[i] = "would form an empty delegate (only reshape/transpose/slice, which lower to no work)";
    }
    it = members.erase(it);
  }

  // Schedule: Kahn's algorithm over units (a CPU node, or a whole group), taking ready CPU
  // nodes first so that CPU work between delegates collapses into as few steps as possible.
  const auto users = consumers_of(g);
  std::map<int32_t, int32_t> unit_of_group;
  std::vector<int32_t> unit_of(nodes.size(), -1);
  std::vector<std::vector<int32_t>> unit_nodes;
  std::vector<bool> unit_is_group;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!is_placed(nodes[i])) continue;
    const int32_t grp = grower.group_of[i] >= 0 ? grower.groups.find(grower.group_of[i]) : -1;
    if (grp >= 0 && unit_of_group.count(grp)) {
      unit_of[i] = unit_of_group[grp];
    } else {
      unit_of[i] = static_cast<int32_t>(unit_nodes.size());
      unit_nodes.emplace_back();
      unit_is_group.push_back(grp >= 0);
      if (grp >= 0) unit_of_group[grp] = unit_of[i];
    }
    unit_nodes[unit_of[i]].push_back(static_cast<int32_t>(i));
  }
  const size_t unit_count = unit_nodes.size();
  std::vector<std::set<int32_t>> unit_succ(unit_count);
  std::vector<int32_t> indegree(unit_count, 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (unit_of[i] < 0) continue;
    for (int32_t u : users[i])
      if (unit_of[u] >= 0 && unit_of[u] != unit_of[i] && unit_succ[unit_of[i]].insert(unit_of[u]).second)
        ++indegree[unit_of[u]];
  }
  std::set<int32_t> ready_cpu, ready_group;  // ordered by first node, i.e. graph order
  for (size_t u = 0; u < unit_count; ++u)
    if (indegree[u] == 0) (unit_is_group[u] ? ready_group : ready_cpu).insert(static_cast<int32_t>(u));
  std::vector<int32_t> order;
  while (!ready_cpu.empty() || !ready_group.empty()) {
    auto& pool = !ready_cpu.empty() ? ready_cpu : ready_group;
    const int32_t u = *pool.begin();
    pool.erase(pool.begin());
    order.push_back(u);
    for (int32_t s : unit_succ[u])
      if (--indegree[s] == 0) (unit_is_group[s] ? ready_group : ready_cpu).insert(s);
  }
  if (order.size() != unit_count) fail("internal: the partition has a dependency cycle");

  Partition p;
  for (int32_t u : order) {
    if (!unit_is_group[u] && !p.steps.empty() && !p.steps.back().delegate) {
      auto& ns = p.steps.back().nodes;
      ns.insert(ns.end(), unit_nodes[u].begin(), unit_nodes[u].end());
      continue;
    }
    PartitionStep step;
    step.delegate = unit_is_group[u];
    step.nodes = unit_nodes[u];
    if (step.delegate) {
      step.delegate_index = static_cast<int32_t>(p.delegate_steps.size());
      p.delegate_steps.push_back(static_cast<int32_t>(p.steps.size()));
    }
    p.steps.push_back(std::move(step));
  }
  // Inputs/outputs of each step.
  std::vector<int32_t> step_of(nodes.size(), -1);
  for (size_t s = 0; s < p.steps.size(); ++s) {
    std::sort(p.steps[s].nodes.begin(), p.steps[s].nodes.end());
    for (int32_t i : p.steps[s].nodes) step_of[i] = static_cast<int32_t>(s);
  }
  std::set<int32_t> graph_outputs;
  for (const auto& [name, v] : g.outputs()) graph_outputs.insert(v.index);
  for (size_t s = 0; s < p.steps.size(); ++s) {
    std::set<int32_t> ins, outs;
    for (int32_t i : p.steps[s].nodes) {
      for (ValueId v : nodes[i].inputs)
        if (nodes[v.index].op != OpKind::Constant && step_of[v.index] != static_cast<int32_t>(s)) ins.insert(v.index);
      bool leaves = graph_outputs.count(i) > 0;
      for (int32_t u : users[i]) leaves = leaves || step_of[u] != static_cast<int32_t>(s);
      if (leaves) outs.insert(i);
    }
    p.steps[s].inputs.assign(ins.begin(), ins.end());
    p.steps[s].outputs.assign(outs.begin(), outs.end());
  }
  for (size_t i = 0; i < nodes.size(); ++i)
    if (unit_of[i] >= 0 && !unit_is_group[unit_of[i]]) p.cpu_nodes.push_back({static_cast<int32_t>(i), reasons[i]});
  return p;
}

graph::Graph extract_step_graph(const Graph& g, const PartitionStep& step) {
  const auto& nodes = g.nodes();
  Graph out;
  std::map<int32_t, ValueId> mapped;
  for (int32_t v : step.inputs) mapped[v] = out.add_input(value_name(g, v), nodes[v].dtype, nodes[v].shape);
  for (int32_t i : step.nodes) {
    const Node& n = nodes[i];
    std::vector<ValueId> inputs;
    for (ValueId v : n.inputs) {
      auto it = mapped.find(v.index);
      if (it == mapped.end()) {
        const Node& c = nodes[v.index];
        if (c.op != OpKind::Constant) fail("internal: step reads '{}' before it is produced", c.name);
        it = mapped.emplace(v.index, out.add_constant(c.name, c.value)).first;
      }
      inputs.push_back(it->second);
    }
    mapped[i] = out.add_node(n.op, n.name, inputs, n.attrs);
  }
  for (int32_t v : step.outputs) out.add_output(value_name(g, v), mapped.at(v));
  return out;
}

}  // namespace l2n::partition
