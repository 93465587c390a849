// The partition report: what each delegate holds and what stays on the CPU and why.
// Built at export time, stored in the program (as JSON) and printed by `inspect PROGRAM`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "partition/partitioner.h"

namespace l2n::partition {

struct TensorSummary {
  std::string name;
  std::string dtype;
  Shape shape;
  int64_t bytes = 0;
};

struct DelegateSummary {
  std::string name;
  std::map<std::string, int64_t> op_counts;  // by op name
  int64_t op_count = 0;
  int64_t constant_bytes = 0;
  std::vector<TensorSummary> inputs, outputs;
};

struct CpuOpSummary {
  std::string name, op, dtype, reason;
};

struct MethodPartitionReport {
  std::string method;  // "forward" / "decode"
  std::string target;
  std::vector<DelegateSummary> delegates;
  std::vector<CpuOpSummary> cpu_ops;

  nlohmann::json to_json() const;
  static MethodPartitionReport from_json(const nlohmann::json& j);  // throws l2n::Error on a bad document
  // verbose: every CPU op (else grouped by op and reason); list_delegates: one block per
  // delegate (else one line for all of them).
  std::string to_text(bool verbose, bool list_delegates = true) const;
};

MethodPartitionReport make_report(const graph::Graph& graph, const Partition& partition, std::string method,
                                  std::string target);

}  // namespace l2n::partition
