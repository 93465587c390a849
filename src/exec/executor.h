// Runs a graph in FP32 on the host, node by node in graph order.
//
// Contract: run() checks that `inputs` holds exactly the graph's inputs with their dtypes
// and shapes (l2n::Error naming the input otherwise), frees each intermediate value after
// its last use, and returns the graph outputs by name. An input whose buffer the caller
// still shares is never modified; one handed over (moved in, shared with no one) may be
// updated in place by the CacheUpdate that reads it last (a KV cache). The
// executor keeps its own copy of the graph (constants share their buffers), so the graph
// passed in may go away. run() is const and may be called repeatedly.
// Side effect: the first Executor tunes glibc malloc (mallopt) for the process so that
// freed buffers up to 32 MB are reused instead of returned to the OS (see executor.cpp).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/graph.h"

namespace l2n::exec {

// A kernel supplied from outside exec: the integer ops live in a later stage (quant), which
// registers them here, so exec never depends on quant.
using Kernel = std::function<Tensor(const graph::Node& node, const std::vector<Tensor>& inputs)>;

struct ExecOptions {
  int threads = 0;        // OpenMP threads during run(); 0 = the OpenMP default
  bool use_blas = true;   // false: linear/matmul use the plain reference kernels
  // Used for the integer op kinds (Quantize .. IntMatMul) and for any other non-data-movement
  // node with an integer operand or result; a node that needs one and finds none throws.
  std::map<graph::OpKind, Kernel> extra_kernels = {};
};

// Called after each node with the node and the value it produced (calibration, debugging).
using NodeObserver = std::function<void(const graph::Node& node, const Tensor& value)>;

class Executor {
 public:
  explicit Executor(const graph::Graph& graph, ExecOptions options = {});

  std::map<std::string, Tensor> run(std::map<std::string, Tensor> inputs, const NodeObserver& observer = {}) const;

  const graph::Graph& graph() const { return graph_; }

 private:
  Tensor run_node(const graph::Node& node, const std::vector<Tensor>& values) const;

  // Which values to free after each node (after their last reader; outputs never).
  using ReleasePlan = std::vector<std::vector<int32_t>>;

  graph::Graph graph_;
  ExecOptions options_;
  ReleasePlan release_;  // every node runs (used with an observer: it sees every value)
  // Without an observer, a transpose of a KV cache that only feeds a matmul's b operand is
  // not materialised: the matmul reads its source through strides (matmul_permuted_b).
  std::vector<int32_t> permuted_b_source_;  // per MatMul node: the transposed value, or -1
  std::vector<bool> skipped_;               // per node: a transpose read through by a matmul
  ReleasePlan release_fused_;
  // Per node: a CacheUpdate that reads its cache last (and once), so it may write into it.
  std::vector<bool> may_take_cache_;
};

}  // namespace l2n::exec
