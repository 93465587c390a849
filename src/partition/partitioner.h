// The partitioner: splits a converted graph into delegates (connected groups of nodes the
// target supports) and the CPU rest, and orders them into the steps a program runs.
//
// Contract:
//  * Every non-Input, non-Constant node is either in exactly one delegate or on the CPU with
//    the reason check_support() gave (or "would form an empty delegate" for a group of view
//    ops only). Constants are not placed: each step gets a copy of the constants it reads.
//  * Delegates are convex: no path leaves a delegate and comes back into it through another
//    step, so the steps can run in sequence. Groups grow in topological order and two groups
//    merge only when that keeps both convex; hence the whole integer decode step becomes ONE
//    delegate when the target supports every op in it.
//  * steps are in a valid execution order; consecutive CPU nodes form one CPU step.
//  * value_name(): the name a value carries between steps: the graph output name for values
//    the graph outputs (e.g. "logits"), the node name otherwise.
//  * extract_step_graph() turns the nodes of one step into a standalone graph::Graph whose
//    Input nodes are named after the values it reads, with the constants it uses copied in,
//    and whose outputs are the values other steps or the caller read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "target/capabilities.h"

namespace l2n::partition {

struct CpuNode {
  int32_t node = -1;
  std::string reason;
};

struct PartitionStep {
  bool delegate = false;
  int32_t delegate_index = -1;      // into Partition::delegates when delegate
  std::vector<int32_t> nodes;       // the step's nodes in graph order (constants excluded)
  std::vector<int32_t> inputs;      // values it reads that other steps or the caller produce
  std::vector<int32_t> outputs;     // values it produces that later steps or the caller read
};

struct Partition {
  std::vector<PartitionStep> steps;
  std::vector<int32_t> delegate_steps;  // index into steps, per delegate
  std::vector<CpuNode> cpu_nodes;       // in graph order

  int64_t delegate_count() const { return static_cast<int64_t>(delegate_steps.size()); }
};

Partition partition_graph(const graph::Graph& graph, const target::TargetCapabilities& caps);

std::string value_name(const graph::Graph& graph, int32_t value);

graph::Graph extract_step_graph(const graph::Graph& graph, const PartitionStep& step);

}  // namespace l2n::partition
