#include "exec/executor.h"

#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "core/op_timer.h"
#include "exec/kernels.h"

namespace l2n::exec {
namespace {

using graph::Node;
using graph::OpKind;

// Sets the OpenMP thread count for the duration of one run (OpenBLAS runs single-threaded
// inside OpenMP threads, see gemm.h).
class ThreadScope {
 public:
  explicit ThreadScope(int threads) : threads_(threads) {
    if (threads_ <= 0) return;
    saved_ = omp_get_max_threads();
    omp_set_num_threads(threads_);
  }
  ~ThreadScope() {
    if (threads_ <= 0) return;
    omp_set_num_threads(saved_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int threads_;
  int saved_ = 0;
};

// Every node result is a fresh tensor, and a window's attention scores are several MB each.
// With glibc's defaults such buffers are mmap()ed and unmapped per node, and the page faults
// of touching them again cost more than the arithmetic (about 40% of a stories260K forward).
// Serving them from the heap and keeping freed memory lets each run reuse the last run's.
void keep_large_buffers_on_the_heap() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest value glibc accepts
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  });
}

std::string type_str(DType dtype, const Shape& shape) {
  return fmt::format("{}{}", dtype_name(dtype), shape_str(shape));
}

}  // namespace

Executor::Executor(const graph::Graph& graph, ExecOptions options) : graph_(graph), options_(options) {
  keep_large_buffers_on_the_heap();
  const auto& nodes = graph_.nodes();
  std::vector<int32_t> readers(nodes.size(), 0);
  for (const Node& node : nodes)
    for (graph::ValueId v : node.inputs) ++readers[v.index];
  std::vector<bool> is_output(nodes.size(), false);
  for (const auto& [name, value] : graph_.outputs()) is_output[value.index] = true;

  permuted_b_source_.assign(nodes.size(), -1);
  skipped_.assign(nodes.size(), false);
  if (options_.use_blas)
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& mm = nodes[i];
      if (mm.op != OpKind::MatMul || mm.dtype != DType::F32 || mm.inputs.size() != 2 ||
          nodes[mm.inputs[0].index].dtype != DType::F32)
        continue;
      const size_t t = mm.inputs[1].index;
      const Node& tr = nodes[t];
      if (tr.op != OpKind::Transpose || tr.dtype != DType::F32 || readers[t] != 1 || is_output[t]) continue;
      const Node& source = nodes[tr.inputs[0].index];
      if (source.dtype != DType::F32 || !matmul_permuted_b_supported(source.shape, tr.attrs.perm)) continue;
      permuted_b_source_[i] = static_cast<int32_t>(tr.inputs[0].index);
      skipped_[t] = true;
    }

  // A value is freed after the last node that reads it; an unread one right away.
  auto plan = [&](bool fused) {
    std::vector<int32_t> last(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      last[i] = static_cast<int32_t>(i);
      if (fused && skipped_[i]) continue;  // its source is read by the matmul instead
      for (graph::ValueId v : nodes[i].inputs) last[v.index] = static_cast<int32_t>(i);
      if (fused && permuted_b_source_[i] >= 0) last[static_cast<size_t>(permuted_b_source_[i])] = static_cast<int32_t>(i);
    }
    ReleasePlan release(nodes.size());
    for (size_t v = 0; v < nodes.size(); ++v)
      if (!is_output[v]) release[static_cast<size_t>(last[v])].push_back(static_cast<int32_t>(v));
    return release;
  };
  release_ = plan(false);
  release_fused_ = plan(true);
  // Both plans free the cache after the same reader (only transposes differ between them).
  may_take_cache_.assign(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    if (node.op != OpKind::CacheUpdate || node.inputs.empty()) continue;
    const int32_t cache = static_cast<int32_t>(node.inputs[0].index);
    const auto reads_last = [&](const ReleasePlan& release) {
      return std::find(release[i].begin(), release[i].end(), cache) != release[i].end();
    };
    may_take_cache_[i] = reads_last(release_) && reads_last(release_fused_) &&
                         std::count(node.inputs.begin(), node.inputs.end(), node.inputs[0]) == 1;
  }
}

std::map<std::string, Tensor> Executor::run(std::map<std::string, Tensor> inputs, const NodeObserver& observer) const {
  const auto& nodes = graph_.nodes();
  std::vector<Tensor> values(nodes.size());

  size_t matched = 0;
  for (const Node& node : nodes) {
    if (node.op != OpKind::Input) continue;
    auto it = inputs.find(node.name);
    if (it == inputs.end()) fail("graph input '{}' ({}) was not given", node.name, type_str(node.dtype, node.shape));
    const Tensor& given = it->second;
    if (given.dtype() != node.dtype || given.shape() != node.shape)
      fail("graph input '{}' must be {}, got {}", node.name, type_str(node.dtype, node.shape),
           type_str(given.dtype(), given.shape()));
    ++matched;
  }
  if (matched != inputs.size()) {
    std::string expected;
    for (graph::ValueId v : graph_.inputs()) expected += (expected.empty() ? "" : ", ") + graph_.node(v).name;
    for (const auto& [name, tensor] : inputs)
      if (!graph_.find(name) || graph_.find(name)->op != OpKind::Input)
        fail("'{}' is not an input of this graph (its inputs are: {})", name, expected);
  }

  ThreadScope thread_scope(options_.threads);
  const bool fused = !observer;
  const ReleasePlan& release = fused ? release_fused_ : release_;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    if (fused && skipped_[i]) {
      // read through by its matmul
    } else if (node.op == OpKind::Input) {
      values[i] = std::move(inputs.at(node.name));
    } else if (node.op == OpKind::Constant) {
      values[i] = node.value;
    } else {
      const OpTimerScope timer(graph::op_name(node.op));
      if (fused && permuted_b_source_[i] >= 0) {
        const Node& transpose = nodes[node.inputs[1].index];
        values[i] = matmul_permuted_b(values[node.inputs[0].index],
                                      values[static_cast<size_t>(permuted_b_source_[i])], transpose.attrs.perm);
      } else if (may_take_cache_[i] && values[node.inputs[0].index].sole_owner()) {
        // A KV cache nobody else holds: the new rows go into its own buffer, no copy.
        values[i] = cache_update_in_place(std::move(values[node.inputs[0].index]), values[node.inputs[1].index],
                                          values[node.inputs[2].index]);
      } else {
        values[i] = run_node(node, values);
      }
      if (values[i].dtype() != node.dtype || values[i].shape() != node.shape)
        fail("internal: node '{}' ({}) produced {} where the graph says {}", node.name, graph::op_name(node.op),
             type_str(values[i].dtype(), values[i].shape()), type_str(node.dtype, node.shape));
    }
    if (observer) observer(node, values[i]);
    for (const int32_t v : release[i]) values[static_cast<size_t>(v)] = Tensor();
  }

  std::map<std::string, Tensor> outputs;
  for (const auto& [name, value] : graph_.outputs()) outputs.emplace(name, values[value.index]);
  return outputs;
}

namespace {

bool is_data_movement(OpKind op) {
  return op == OpKind::Gather || op == OpKind::Reshape || op == OpKind::Transpose || op == OpKind::Slice ||
         op == OpKind::Concat || op == OpKind::CacheUpdate;
}

bool needs_extra_kernel(const Node& node, const std::vector<Tensor>& values) {
  if (node.op >= OpKind::Quantize) return true;
  if (is_data_movement(node.op)) return false;
  if (node.dtype != DType::F32) return true;
  for (graph::ValueId v : node.inputs)
    if (values[v.index].dtype() != DType::F32) return true;
  return false;
}

}  // namespace

Tensor Executor::run_node(const Node& node, const std::vector<Tensor>& values) const {
  auto in = [&](size_t k) -> const Tensor& { return values[node.inputs[k].index]; };
  const graph::Attrs& attrs = node.attrs;
  if (needs_extra_kernel(node, values)) {
    auto it = options_.extra_kernels.find(node.op);
    if (it == options_.extra_kernels.end())
      fail("internal: node '{}' ({}, {}) needs an integer kernel and none was registered", node.name,
           graph::op_name(node.op), dtype_name(node.dtype));
    std::vector<Tensor> operands;
    operands.reserve(node.inputs.size());
    for (size_t k = 0; k < node.inputs.size(); ++k) operands.push_back(in(k));
    return it->second(node, operands);
  }
  switch (node.op) {
    case OpKind::Input:
    case OpKind::Constant: break;
    case OpKind::Linear: {
      const Tensor* bias = node.inputs.size() > 2 ? &in(2) : nullptr;
      return options_.use_blas ? linear(in(0), in(1), bias) : linear_reference(in(0), in(1), bias);
    }
    case OpKind::MatMul: return options_.use_blas ? matmul(in(0), in(1)) : matmul_reference(in(0), in(1));
    case OpKind::Add: return add(in(0), in(1));
    case OpKind::Sub: return sub(in(0), in(1));
    case OpKind::Mul: return mul(in(0), in(1));
    case OpKind::Neg: return neg(in(0));
    case OpKind::Rsqrt: return rsqrt(in(0));
    case OpKind::Silu: return silu(in(0));
    case OpKind::Exp: return exp(in(0));
    case OpKind::Reciprocal: return reciprocal(in(0));
    case OpKind::ReduceSum: return reduce_sum(in(0), attrs.axis);
    case OpKind::ReduceMean: return reduce_mean(in(0), attrs.axis);
    case OpKind::ReduceMax: return reduce_max(in(0), attrs.axis);
    case OpKind::Softmax: return softmax(in(0));
    case OpKind::Gather: return gather(in(0), in(1));
    case OpKind::Reshape: return reshape(in(0), attrs.shape);
    case OpKind::Transpose: return transpose(in(0), attrs.perm);
    case OpKind::Slice: return slice(in(0), attrs.begin, attrs.size);
    case OpKind::Concat: {
      std::vector<Tensor> parts;
      for (size_t k = 0; k < node.inputs.size(); ++k) parts.push_back(in(k));
      return concat(parts, attrs.axis);
    }
    case OpKind::CacheUpdate: return cache_update(in(0), in(1), in(2));
    default: break;
  }
  fail("internal: node '{}' has no kernel for op {}", node.name, graph::op_name(node.op));
}

}  // namespace l2n::exec
