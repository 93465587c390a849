// The graph::Graph <-> flatbuffers codec and the enum mappings of the program file.
#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstring>
#include <set>

#include "core/error.h"
#include "program/codec_internal.h"

namespace l2n::program::detail {

// Constant data is stored as the bytes of the tensor in memory, and the file is defined
// little-endian (program.fbs); a big-endian host would need byte swapping here.
static_assert(std::endian::native == std::endian::little, "the program codec assumes a little-endian host");

namespace {

// Position k of each list is the schema's enum value k. The static_asserts catch a C++
// enum growing without the schema (or the reverse).
constexpr std::array kDTypes = {DType::F32, DType::F16, DType::BF16, DType::I8,
                                DType::U8,  DType::I16, DType::I32,  DType::I64};
static_assert(kDTypes.size() == static_cast<size_t>(fb::DType::MAX) + 1);

using graph::OpKind;
constexpr std::array kOps = {
    OpKind::Input,     OpKind::Constant,   OpKind::Linear,    OpKind::MatMul,      OpKind::Add,      OpKind::Sub,
    OpKind::Mul,       OpKind::Neg,        OpKind::Rsqrt,     OpKind::Silu,        OpKind::Exp,      OpKind::Reciprocal,
    OpKind::ReduceSum, OpKind::ReduceMean, OpKind::ReduceMax, OpKind::Softmax,     OpKind::Gather,   OpKind::Reshape,
    OpKind::Transpose, OpKind::Slice,      OpKind::Concat,    OpKind::CacheUpdate, OpKind::Quantize, OpKind::Dequantize,
    OpKind::Rescale,   OpKind::Table,      OpKind::IntLinear, OpKind::IntMatMul,   OpKind::Maximum,  OpKind::Minimum};
static_assert(kOps.size() == static_cast<size_t>(fb::OpKind::MAX) + 1);
static_assert(kOps.back() == OpKind::Minimum, "a new graph::OpKind needs a value in program.fbs");

template <typename Fb, typename Cpp, size_t N>
Fb encode_enum(const std::array<Cpp, N>& values, Cpp value, const char* kind) {
  for (size_t k = 0; k < N; ++k)
    if (values[k] == value) return static_cast<Fb>(k);
  fail("internal: {} {} has no value in the program file schema", kind, static_cast<int>(value));
}

// The elements of a [long] vector. The flatbuffers verifier checks the 4-byte alignment of
// a vector's length but not the 8-byte alignment of its elements, so a hostile payload can
// misalign them: copy them out bytewise instead of through the typed accessor.
std::vector<int64_t> read_longs(const flatbuffers::Vector<int64_t>& values) {
  std::vector<int64_t> out(values.size());
  if (!out.empty()) std::memcpy(out.data(), values.Data(), out.size() * sizeof(int64_t));
  return out;
}

// Every list in the file is bounded by kMaxExtent magnitudes (see codec_internal.h).
std::vector<int64_t> read_indices(const flatbuffers::Vector<int64_t>* values, const std::string& where,
                                  const char* field) {
  std::vector<int64_t> out;
  if (!values) return out;
  if (values->size() > kMaxRank)
    fail("{}: attribute {} has {} entries (at most {})", where, field, values->size(), kMaxRank);
  out = read_longs(*values);
  for (const int64_t v : out)
    if (v < -kMaxExtent || v > kMaxExtent) fail("{}: attribute {} value {} is out of range", where, field, v);
  return out;
}

flatbuffers::Offset<flatbuffers::Vector<int64_t>> longs(flatbuffers::FlatBufferBuilder& b,
                                                        const std::vector<int64_t>& v) {
  return v.empty() ? 0 : b.CreateVector(v);
}

flatbuffers::Offset<fb::Attrs> encode_attrs(flatbuffers::FlatBufferBuilder& b, const graph::Attrs& a) {
  const auto perm = longs(b, a.perm);
  const auto shape = longs(b, a.shape);
  const auto begin = longs(b, a.begin);
  const auto size = longs(b, a.size);
  fb::AttrsBuilder ab(b);
  ab.add_axis(a.axis);
  ab.add_perm(perm);
  ab.add_shape(shape);
  ab.add_begin(begin);
  ab.add_size(size);
  ab.add_dtype(to_fb(a.dtype));
  ab.add_scale(a.scale);
  ab.add_zero_point(a.zero_point);
  ab.add_qmin(a.qmin);
  ab.add_qmax(a.qmax);
  ab.add_scale32(a.scale32);
  ab.add_double_round(a.double_round);
  ab.add_per_channel(a.per_channel);
  return ab.Finish();
}

graph::Attrs decode_attrs(const fb::Attrs* a, const std::string& where) {
  graph::Attrs out;
  if (!a) return out;
  if (a->axis() < -kMaxExtent || a->axis() > kMaxExtent) fail("{}: axis {} is out of range", where, a->axis());
  out.axis = a->axis();
  out.perm = read_indices(a->perm(), where, "perm");
  out.shape = read_indices(a->shape(), where, "shape");
  out.begin = read_indices(a->begin(), where, "begin");
  out.size = read_indices(a->size(), where, "size");
  out.dtype = from_fb(a->dtype(), where);
  out.scale = a->scale();
  out.zero_point = a->zero_point();
  out.qmin = a->qmin();
  out.qmax = a->qmax();
  out.scale32 = a->scale32();
  out.double_round = a->double_round();
  out.per_channel = a->per_channel();
  return out;
}

std::string type_string(DType dtype, const Shape& shape) {
  return fmt::format("{}{}", dtype_name(dtype), shape_str(shape));
}

}  // namespace

fb::DType to_fb(DType dtype) { return encode_enum<fb::DType>(kDTypes, dtype, "dtype"); }

DType from_fb(fb::DType dtype, const std::string& where) {
  const auto k = static_cast<size_t>(dtype);
  if (k >= kDTypes.size())
    fail("{}: unknown dtype {} (this build knows {} dtypes; the file may come from a newer llm2npu)", where, k,
         kDTypes.size());
  return kDTypes[k];
}

fb::OpKind to_fb(graph::OpKind op) { return encode_enum<fb::OpKind>(kOps, op, "graph op"); }

graph::OpKind from_fb(fb::OpKind op, const std::string& where) {
  const auto k = static_cast<size_t>(op);
  if (k >= kOps.size())
    fail("{}: unknown graph op {} (this build knows {} ops; the file may come from a newer llm2npu)", where, k,
         kOps.size());
  return kOps[k];
}

Shape read_shape(const flatbuffers::Vector<int64_t>* dims, const std::string& where) {
  Shape shape;
  if (!dims) return shape;
  if (dims->size() > kMaxRank) fail("{}: a shape of rank {} (at most {})", where, dims->size(), kMaxRank);
  int64_t elements = 1;
  for (const int64_t d : read_longs(*dims)) {
    if (d < 0 || d > kMaxExtent) fail("{}: shape dimension {} is out of range", where, d);
    shape.push_back(d);
    // Both factors are at most 2^40 only while the product is; stop multiplying at 0.
    if (elements != 0 && d != 0 && elements > kMaxExtent / d)
      fail("{}: shape {} has too many elements", where, shape_str(shape));
    elements *= d;
  }
  return shape;
}

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> aligned_bytes(flatbuffers::FlatBufferBuilder& builder,
                                                                const void* data, size_t size) {
  builder.ForceVectorAlignment(size, sizeof(uint8_t), 16);
  return builder.CreateVector(static_cast<const uint8_t*>(data), size);
}

uint64_t constant_bytes(const graph::Graph& graph) {
  uint64_t total = 0;
  for (const graph::Node& node : graph.nodes())
    if (node.op == graph::OpKind::Constant) total += node.value.nbytes();
  return total;
}

flatbuffers::Offset<fb::Graph> encode_graph(flatbuffers::FlatBufferBuilder& b, const graph::Graph& graph) {
  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  nodes.reserve(graph.nodes().size());
  for (const graph::Node& node : graph.nodes()) {
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> data = 0;
    if (node.op == graph::OpKind::Constant) {
      if (!node.value.defined()) fail("internal: graph constant '{}' has no data", node.name);
      data = aligned_bytes(b, node.value.raw(), node.value.nbytes());
    }
    const auto name = b.CreateString(node.name);
    std::vector<int32_t> input_ids;
    input_ids.reserve(node.inputs.size());
    for (const graph::ValueId v : node.inputs) input_ids.push_back(v.index);
    const auto inputs = input_ids.empty() ? 0 : b.CreateVector(input_ids);
    const auto shape = longs(b, node.shape);
    const auto attrs = encode_attrs(b, node.attrs);
    fb::NodeBuilder nb(b);
    nb.add_op(to_fb(node.op));
    nb.add_name(name);
    nb.add_inputs(inputs);
    nb.add_dtype(to_fb(node.dtype));
    nb.add_shape(shape);
    nb.add_attrs(attrs);
    nb.add_data(data);
    nodes.push_back(nb.Finish());
  }
  std::vector<flatbuffers::Offset<fb::GraphOutput>> outputs;
  for (const auto& [name, value] : graph.outputs())
    outputs.push_back(fb::CreateGraphOutput(b, b.CreateString(name), value.index));
  const auto node_vector = b.CreateVector(nodes);
  const auto output_vector = b.CreateVector(outputs);
  return fb::CreateGraph(b, node_vector, output_vector);
}

graph::Graph decode_graph(const fb::Graph& g, const std::string& where) {
  graph::Graph graph;
  if (g.nodes()) {
    for (flatbuffers::uoffset_t k = 0; k < g.nodes()->size(); ++k) {
      const fb::Node& n = *g.nodes()->Get(k);
      const std::string name = n.name()->str();  // required: the verifier checked it is there
      const std::string at = fmt::format("{}: node %{} ('{}')", where, k, name);
      const graph::OpKind op = from_fb(n.op(), at);
      const DType dtype = from_fb(n.dtype(), at);
      const Shape shape = read_shape(n.shape(), at);
      const size_t operand_count = n.inputs() ? n.inputs()->size() : 0;
      if (op != graph::OpKind::Constant && n.data())
        fail("{}: a {} node carries constant data", at, graph::op_name(op));
      try {
        graph::ValueId id;
        if (op == graph::OpKind::Input || op == graph::OpKind::Constant) {
          if (operand_count != 0) fail("{}: a {} node has {} operands", at, graph::op_name(op), operand_count);
        }
        if (op == graph::OpKind::Input) {
          id = graph.add_input(name, dtype, shape);
        } else if (op == graph::OpKind::Constant) {
          const size_t stored = n.data() ? n.data()->size() : 0;
          // read_shape() bounds the element count, so this product cannot overflow.
          const auto expected = static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dtype);
          if (stored != expected)
            fail("{}: constant {} needs {} bytes of data, the file has {}", at, type_string(dtype, shape), expected,
                 stored);
          Tensor value(dtype, shape);
          if (stored) std::memcpy(value.mutable_raw(), n.data()->data(), stored);
          id = graph.add_constant(name, std::move(value));
        } else {
          std::vector<graph::ValueId> operands;
          operands.reserve(operand_count);
          for (flatbuffers::uoffset_t i = 0; i < operand_count; ++i) {
            const int32_t operand = n.inputs()->Get(i);
            if (operand < 0 || static_cast<flatbuffers::uoffset_t>(operand) >= k)
              fail("{}: operand {} reads %{}, which is not produced before the node", at, i, operand);
            operands.push_back(graph::ValueId{operand});
          }
          id = graph.add_node(op, name, std::move(operands), decode_attrs(n.attrs(), at));
        }
        const graph::Node& rebuilt = graph.node(id);
        if (rebuilt.dtype != dtype || rebuilt.shape != shape)
          fail("{}: stored as {} but it rebuilds as {}", at, type_string(dtype, shape),
               type_string(rebuilt.dtype, rebuilt.shape));
      } catch (const Error& e) {
        // The IR's own messages say "internal:", which is not the case here: the file is bad.
        std::string_view message = e.what();
        if (message.starts_with(where)) throw;
        if (message.starts_with("internal: ")) message.remove_prefix(10);
        fail("{}: the graph does not rebuild: {}", at, message);
      }
    }
  }
  if (g.outputs()) {
    std::set<std::string, std::less<>> output_names;
    for (const fb::GraphOutput* output : *g.outputs()) {
      const int32_t value = output->value();
      const std::string name = output->name()->str();
      if (value < 0 || static_cast<size_t>(value) >= graph.nodes().size())
        fail("{}: output '{}' names value %{}, which does not exist", where, name, value);
      if (!output_names.insert(name).second) fail("{}: output '{}' is listed twice", where, name);
      graph.add_output(name, graph::ValueId{value});
    }
  }
  return graph;
}

}  // namespace l2n::program::detail
