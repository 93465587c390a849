#include "tosa/serialize.h"

#include <flatbuffers/flatbuffers.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tosa_generated.h"

namespace l2n::tosa {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using StringVec = flatbuffers::Vector<Offset<flatbuffers::String>>;

// ---------------------------------------------------------------------------------------
// Writing

Offset<flatbuffers::Vector<uint8_t>> aligned_bytes(FlatBufferBuilder& fbb, std::span<const uint8_t> bytes) {
  // Zero-pad to a multiple of 8 as the TOSA serialization library does, and put the first
  // byte on an 8-byte boundary (force_align: 8) so readers can alias the data.
  // The bytes go straight into the builder (no padded copy: a weight can be tens of MB).
  const size_t padded = (bytes.size() + 7) / 8 * 8;
  fbb.ForceVectorAlignment(padded, 1, 8);
  uint8_t* dst = nullptr;
  const auto vector = fbb.CreateUninitializedVector(padded, 1, &dst);
  // Filled at once: `dst` is only valid until the builder next grows.
  if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
  std::memset(dst + bytes.size(), 0, padded - bytes.size());
  return Offset<flatbuffers::Vector<uint8_t>>(vector);
}

Offset<flatbuffers::Vector<uint8_t>> aligned_raw(FlatBufferBuilder& fbb, std::span<const uint8_t> bytes) {
  fbb.ForceVectorAlignment(bytes.size(), 1, 8);
  return fbb.CreateVector(bytes.data(), bytes.size());
}

Offset<StringVec> strings(FlatBufferBuilder& fbb, const std::vector<std::string>& names) {
  return fbb.CreateVectorOfStrings(names);
}

Offset<flatbuffers::Vector<int32_t>> ints(FlatBufferBuilder& fbb, const std::vector<int32_t>& v) {
  return fbb.CreateVector(v);
}

Offset<void> empty_table(FlatBufferBuilder& fbb) { return Offset<void>(fbb.EndTable(fbb.StartTable())); }

fb::DType fd(DType t) { return static_cast<fb::DType>(t); }
fb::NanPropagationMode fn(NanMode m) { return static_cast<fb::NanPropagationMode>(m); }

Offset<void> write_attribute(FlatBufferBuilder& fbb, const TosaOperator& op) {
  if (!attribute_fits(op.op, op.attribute))
    fail("TOSA writer: operator {} carries an attribute of another operator", op_name(op.op));
  const Attribute& a = op.attribute;
  switch (op.op) {
    case Op::CONV2D: case Op::CONV3D: case Op::DEPTHWISE_CONV2D: {
      const auto& c = std::get<ConvAttr>(a);
      const auto pad = ints(fbb, c.pad), stride = ints(fbb, c.stride), dilation = ints(fbb, c.dilation);
      if (op.op == Op::CONV2D)
        return fb::CreateConv2dAttribute(fbb, pad, stride, dilation, c.local_bound, fd(c.acc_type)).Union();
      if (op.op == Op::CONV3D)
        return fb::CreateConv3dAttribute(fbb, pad, stride, dilation, c.local_bound, fd(c.acc_type)).Union();
      return fb::CreateDepthwiseConv2dAttribute(fbb, pad, stride, dilation, c.local_bound, fd(c.acc_type)).Union();
    }
    case Op::TRANSPOSE_CONV2D: {
      const auto& c = std::get<TransposeConvAttr>(a);
      const auto out_pad = ints(fbb, c.out_pad), stride = ints(fbb, c.stride);
      return fb::CreateTransposeConv2dAttribute(fbb, out_pad, stride, c.local_bound, fd(c.acc_type)).Union();
    }
    case Op::AVG_POOL2D: case Op::MAX_POOL2D: {
      const auto& p = std::get<PoolAttr>(a);
      const auto kernel = ints(fbb, p.kernel), stride = ints(fbb, p.stride), pad = ints(fbb, p.pad);
      if (op.op == Op::AVG_POOL2D) return fb::CreateAvgPool2dAttribute(fbb, kernel, stride, pad, fd(p.acc_type)).Union();
      return fb::CreateMaxPool2dAttribute(fbb, kernel, stride, pad, fn(p.nan_mode)).Union();
    }
    case Op::ARGMAX: {
      const auto& x = std::get<AxisAttr>(a);
      return fb::CreateArgMaxAttribute(fbb, x.axis, fn(x.nan_mode)).Union();
    }
    case Op::REDUCE_MAX: {
      const auto& x = std::get<AxisAttr>(a);
      return fb::CreateReduceMaxAttribute(fbb, x.axis, fn(x.nan_mode)).Union();
    }
    case Op::REDUCE_MIN: {
      const auto& x = std::get<AxisAttr>(a);
      return fb::CreateReduceMinAttribute(fbb, x.axis, fn(x.nan_mode)).Union();
    }
    case Op::REDUCE_ALL: return fb::CreateReduceAllAttribute(fbb, std::get<AxisAttr>(a).axis).Union();
    case Op::REDUCE_ANY: return fb::CreateReduceAnyAttribute(fbb, std::get<AxisAttr>(a).axis).Union();
    case Op::REDUCE_PRODUCT: return fb::CreateReduceProductAttribute(fbb, std::get<AxisAttr>(a).axis).Union();
    case Op::REDUCE_SUM: return fb::CreateReduceSumAttribute(fbb, std::get<AxisAttr>(a).axis).Union();
    case Op::CONCAT: return fb::CreateConcatAttribute(fbb, std::get<AxisAttr>(a).axis).Union();
    case Op::REVERSE: return fb::CreateReverseAttribute(fbb, std::get<AxisAttr>(a).axis).Union();
    case Op::MAXIMUM: return fb::CreateMaximumAttribute(fbb, fn(std::get<NanModeAttr>(a).nan_mode)).Union();
    case Op::MINIMUM: return fb::CreateMinimumAttribute(fbb, fn(std::get<NanModeAttr>(a).nan_mode)).Union();
    case Op::CLAMP: {
      const auto& c = std::get<ClampAttr>(a);
      // Exactly the value bytes (aligned, unpadded) so that reading gives back the same attribute.
      const auto mn = aligned_raw(fbb, c.min_val), mx = aligned_raw(fbb, c.max_val);
      return fb::CreateClampAttribute(fbb, mn, mx, fn(c.nan_mode)).Union();
    }
    case Op::ARITHMETIC_RIGHT_SHIFT:
      return fb::CreateArithmeticRightShiftAttribute(fbb, std::get<RightShiftAttr>(a).round).Union();
    case Op::TRANSPOSE: {
      const auto perms = ints(fbb, std::get<TransposeAttr>(a).perms);
      return fb::CreateTransposeAttribute(fbb, perms).Union();
    }
    case Op::RESIZE:
      return fb::CreateResizeAttribute(fbb, static_cast<fb::ResizeMode>(std::get<ResizeAttr>(a).mode)).Union();
    case Op::RESCALE: {
      const auto& r = std::get<RescaleAttr>(a);
      return fb::CreateRescaleAttribute(fbb, r.scale32, static_cast<fb::RoundingMode>(r.rounding_mode), r.per_channel,
                                        r.input_unsigned, r.output_unsigned)
          .Union();
    }
    case Op::FFT2D: {
      const auto& f = std::get<FftAttr>(a);
      return fb::CreateFFT2dAttribute(fbb, f.inverse, f.local_bound).Union();
    }
    case Op::RFFT2D: return fb::CreateRFFT2dAttribute(fbb, std::get<FftAttr>(a).local_bound).Union();
    case Op::CUSTOM: {
      const auto& c = std::get<CustomAttr>(a);
      const auto name = fbb.CreateString(c.operator_name), domain = fbb.CreateString(c.domain_name);
      const auto impl = fbb.CreateVector(c.implementation_attrs);
      return fb::CreateCustomAttribute(fbb, name, domain, impl).Union();
    }
    case Op::COND_IF: {
      const auto& g = std::get<GraphRefAttr>(a);
      const auto first = fbb.CreateString(g.first), second = fbb.CreateString(g.second);
      return fb::CreateCondIfAttribute(fbb, first, second).Union();
    }
    case Op::WHILE_LOOP: {
      const auto& g = std::get<GraphRefAttr>(a);
      const auto first = fbb.CreateString(g.first), second = fbb.CreateString(g.second);
      return fb::CreateWhileLoopAttribute(fbb, first, second).Union();
    }
    default: return empty_table(fbb);
  }
}

// A non-const `Block` is consumed: each constant's bytes are freed once they are in the
// builder (the block is then only good for destruction).
template <typename Block>
Offset<fb::TosaBasicBlock> write_block(FlatBufferBuilder& fbb, Block& block) {
  std::vector<Offset<fb::TosaOperator>> ops;
  for (const auto& op : block.operators) {
    if (op.op == Op::UNKNOWN || static_cast<uint32_t>(op.op) >= kOpCount)
      fail("TOSA writer: block '{}' has an operator with invalid code {}", block.name, static_cast<uint32_t>(op.op));
    const auto attr = write_attribute(fbb, op);
    const auto ins = strings(fbb, op.inputs), outs = strings(fbb, op.outputs);
    Offset<fb::OpLocation> loc = 0;
    if (op.location) loc = fb::CreateOpLocation(fbb, fbb.CreateString(*op.location));
    ops.push_back(fb::CreateTosaOperator(fbb, static_cast<fb::Op>(op.op), static_cast<fb::Attribute>(op.op), attr,
                                         ins, outs, loc));
  }
  std::vector<Offset<fb::TosaTensor>> tensors;
  for (auto& t : block.tensors) {
    const auto name = fbb.CreateString(t.name);
    const auto shape = ints(fbb, t.shape);
    Offset<flatbuffers::Vector<uint8_t>> data = 0;
    if (t.data) {
      const size_t need = data_bytes(t.type, element_count(t.shape));
      if (t.data->size() != need)
        fail("TOSA writer: tensor '{}' ({} [{}]) has {} data bytes, its shape and type need {}", t.name,
             dtype_name(t.type), fmt::join(t.shape, ","), t.data->size(), need);
      data = aligned_bytes(fbb, *t.data);
      if constexpr (!std::is_const_v<Block>) std::vector<uint8_t>().swap(*t.data);
    }
    Offset<flatbuffers::String> variable_name = 0;
    if (t.variable_name) variable_name = fbb.CreateString(*t.variable_name);
    tensors.push_back(
        fb::CreateTosaTensor(fbb, name, shape, fd(t.type), data, t.variable, t.is_unranked, variable_name));
  }
  std::vector<Offset<fb::TosaShape>> shapes;
  for (const auto& s : block.shapes) {
    const auto name = fbb.CreateString(s.name);
    Offset<flatbuffers::Vector<uint8_t>> data = 0;
    if (s.values) {
      if (s.values->size() != s.rank)
        fail("TOSA writer: shape '{}' has rank {} but {} values", s.name, s.rank, s.values->size());
      if (!s.values->empty()) data = aligned_raw(fbb, pack_ints(DType::SHAPE, *s.values));
    }
    shapes.push_back(fb::CreateTosaShape(fbb, name, s.rank, data));
  }
  const auto name = fbb.CreateString(block.name);
  const auto ops_vec = fbb.CreateVector(ops);
  const auto tensors_vec = fbb.CreateVector(tensors);
  const auto ins = strings(fbb, block.inputs), outs = strings(fbb, block.outputs);
  const auto shapes_vec = fbb.CreateVector(shapes);
  return fb::CreateTosaBasicBlock(fbb, name, ops_vec, tensors_vec, ins, outs, shapes_vec);
}

template <typename Graph>
std::vector<uint8_t> write_graph(Graph& graph) {
  // Sized for the constants up front, so that the builder does not grow by reallocation
  // (each step holds the old and the new buffer): the tables around them are small.
  size_t estimate = size_t{1} << 16;
  for (const auto& region : graph.regions)
    for (const auto& block : region.blocks) {
      estimate += 256 * (block.operators.size() + block.shapes.size());
      for (const auto& t : block.tensors) estimate += 128 + t.name.size() + (t.data ? t.data->size() + 16 : 0);
    }
  FlatBufferBuilder fbb(estimate);
  std::vector<Offset<fb::TosaRegion>> regions;
  for (auto& region : graph.regions) {
    std::vector<Offset<fb::TosaBasicBlock>> blocks;
    for (auto& block : region.blocks) blocks.push_back(write_block(fbb, block));
    const auto name = fbb.CreateString(region.name);
    const auto blocks_vec = fbb.CreateVector(blocks);
    regions.push_back(fb::CreateTosaRegion(fbb, name, blocks_vec));
  }
  const auto regions_vec = fbb.CreateVector(regions);
  const auto version = fb::CreateVersion(fbb, graph.version.major, graph.version.minor, graph.version.patch,
                                         graph.version.draft);
  const auto root = fb::CreateTosaGraph(fbb, version, regions_vec);
  fbb.Finish(root, fb::TosaGraphIdentifier());
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

// ---------------------------------------------------------------------------------------
// Reading

std::vector<std::string> read_strings(const StringVec* v) {
  std::vector<std::string> out;
  if (!v) return out;
  out.reserve(v->size());
  for (const auto* s : *v) out.emplace_back(s ? s->str() : std::string());
  return out;
}

std::vector<int32_t> read_ints(const flatbuffers::Vector<int32_t>* v) {
  return v ? std::vector<int32_t>(v->begin(), v->end()) : std::vector<int32_t>();
}

std::vector<uint8_t> read_bytes(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::vector<uint8_t>(v->begin(), v->end()) : std::vector<uint8_t>();
}

std::string read_string(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

class Reader {
 public:
  explicit Reader(const std::string& what) : what_(what) {}

  template <typename... Args>
  [[noreturn]] void bad(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{} is not a valid TOSA 1.0 file: {}", what_, fmt::format(format, std::forward<Args>(args)...));
  }

  DType dtype(fb::DType t, const std::string& where) const {
    const auto v = static_cast<uint32_t>(t);
    if (v >= kDTypeCount) bad("{} has unknown DType {}", where, v);
    return static_cast<DType>(v);
  }

  NanMode nan(fb::NanPropagationMode m, const std::string& where) const {
    const auto v = static_cast<uint32_t>(m);
    if (v > 2) bad("{} has unknown NanPropagationMode {}", where, v);
    return static_cast<NanMode>(v);
  }

  Attribute attribute(const fb::TosaOperator& o, Op op, const std::string& where) const {
    const auto code = static_cast<uint32_t>(o.attribute_type());
    if (code != static_cast<uint32_t>(op))
      bad("{} has attribute type {}, not the {}Attribute its op needs (code {})", where, code, op_name(op),
          static_cast<uint32_t>(op));
    if (!o.attribute()) bad("{} has no attribute table", where);
    switch (op) {
      case Op::CONV2D: {
        const auto* a = o.attribute_as_Conv2dAttribute();
        return ConvAttr{read_ints(a->pad()), read_ints(a->stride()), read_ints(a->dilation()), a->local_bound(),
                        dtype(a->acc_type(), where)};
      }
      case Op::CONV3D: {
        const auto* a = o.attribute_as_Conv3dAttribute();
        return ConvAttr{read_ints(a->pad()), read_ints(a->stride()), read_ints(a->dilation()), a->local_bound(),
                        dtype(a->acc_type(), where)};
      }
      case Op::DEPTHWISE_CONV2D: {
        const auto* a = o.attribute_as_DepthwiseConv2dAttribute();
        return ConvAttr{read_ints(a->pad()), read_ints(a->stride()), read_ints(a->dilation()), a->local_bound(),
                        dtype(a->acc_type(), where)};
      }
      case Op::TRANSPOSE_CONV2D: {
        const auto* a = o.attribute_as_TransposeConv2dAttribute();
        return TransposeConvAttr{read_ints(a->out_pad()), read_ints(a->stride()), a->local_bound(),
                                 dtype(a->acc_type(), where)};
      }
      case Op::AVG_POOL2D: {
        const auto* a = o.attribute_as_AvgPool2dAttribute();
        return PoolAttr{read_ints(a->kernel()), read_ints(a->stride()), read_ints(a->pad()),
                        dtype(a->acc_type(), where), NanMode::UNKNOWN};
      }
      case Op::MAX_POOL2D: {
        const auto* a = o.attribute_as_MaxPool2dAttribute();
        return PoolAttr{read_ints(a->kernel()), read_ints(a->stride()), read_ints(a->pad()), DType::UNKNOWN,
                        nan(a->nan_mode(), where)};
      }
      case Op::ARGMAX: {
        const auto* a = o.attribute_as_ArgMaxAttribute();
        return AxisAttr{a->axis(), nan(a->nan_mode(), where)};
      }
      case Op::REDUCE_MAX: {
        const auto* a = o.attribute_as_ReduceMaxAttribute();
        return AxisAttr{a->axis(), nan(a->nan_mode(), where)};
      }
      case Op::REDUCE_MIN: {
        const auto* a = o.attribute_as_ReduceMinAttribute();
        return AxisAttr{a->axis(), nan(a->nan_mode(), where)};
      }
      case Op::REDUCE_ALL: return AxisAttr{o.attribute_as_ReduceAllAttribute()->axis(), NanMode::UNKNOWN};
      case Op::REDUCE_ANY: return AxisAttr{o.attribute_as_ReduceAnyAttribute()->axis(), NanMode::UNKNOWN};
      case Op::REDUCE_PRODUCT: return AxisAttr{o.attribute_as_ReduceProductAttribute()->axis(), NanMode::UNKNOWN};
      case Op::REDUCE_SUM: return AxisAttr{o.attribute_as_ReduceSumAttribute()->axis(), NanMode::UNKNOWN};
      case Op::CONCAT: return AxisAttr{o.attribute_as_ConcatAttribute()->axis(), NanMode::UNKNOWN};
      case Op::REVERSE: return AxisAttr{o.attribute_as_ReverseAttribute()->axis(), NanMode::UNKNOWN};
      case Op::MAXIMUM: return NanModeAttr{nan(o.attribute_as_MaximumAttribute()->nan_mode(), where)};
      case Op::MINIMUM: return NanModeAttr{nan(o.attribute_as_MinimumAttribute()->nan_mode(), where)};
      case Op::CLAMP: {
        const auto* a = o.attribute_as_ClampAttribute();
        return ClampAttr{read_bytes(a->min_val()), read_bytes(a->max_val()), nan(a->nan_mode(), where)};
      }
      case Op::ARITHMETIC_RIGHT_SHIFT: return RightShiftAttr{o.attribute_as_ArithmeticRightShiftAttribute()->round()};
      case Op::TRANSPOSE: return TransposeAttr{read_ints(o.attribute_as_TransposeAttribute()->perms())};
      case Op::RESIZE: {
        const auto m = static_cast<uint32_t>(o.attribute_as_ResizeAttribute()->mode());
        if (m > 2) bad("{} has unknown ResizeMode {}", where, m);
        return ResizeAttr{static_cast<ResizeMode>(m)};
      }
      case Op::RESCALE: {
        const auto* a = o.attribute_as_RescaleAttribute();
        const auto m = static_cast<uint32_t>(a->rounding_mode());
        if (m > 3) bad("{} has unknown RoundingMode {}", where, m);
        return RescaleAttr{a->scale32(), static_cast<RoundingMode>(m), a->per_channel(), a->input_unsigned(),
                           a->output_unsigned()};
      }
      case Op::FFT2D: {
        const auto* a = o.attribute_as_FFT2dAttribute();
        return FftAttr{a->inverse(), a->local_bound()};
      }
      case Op::RFFT2D: return FftAttr{false, o.attribute_as_RFFT2dAttribute()->local_bound()};
      case Op::CUSTOM: {
        const auto* a = o.attribute_as_CustomAttribute();
        return CustomAttr{read_string(a->operator_name()), read_string(a->domain_name()),
                          read_bytes(a->implementation_attrs())};
      }
      case Op::COND_IF: {
        const auto* a = o.attribute_as_CondIfAttribute();
        return GraphRefAttr{read_string(a->then_graph()), read_string(a->else_graph())};
      }
      case Op::WHILE_LOOP: {
        const auto* a = o.attribute_as_WhileLoopAttribute();
        return GraphRefAttr{read_string(a->cond_graph()), read_string(a->body_graph())};
      }
      default: return NoAttr{};
    }
  }

  TosaBasicBlock block(const fb::TosaBasicBlock& b, size_t region, size_t index) const {
    TosaBasicBlock out;
    out.name = read_string(b.name());
    const std::string where = fmt::format("region {} block {} ('{}')", region, index, out.name);
    if (b.operators())
      for (flatbuffers::uoffset_t i = 0; i < b.operators()->size(); ++i) {
        const fb::TosaOperator* o = b.operators()->Get(i);
        const auto code = static_cast<uint32_t>(o->op());
        const std::string owhere = fmt::format("{} operator #{}", where, i);
        if (code == 0 || code >= kOpCount) bad("{} has unknown op code {}", owhere, code);
        const auto op = static_cast<Op>(code);
        TosaOperator t;
        t.op = op;
        t.attribute = attribute(*o, op, fmt::format("{} ({})", owhere, op_name(op)));
        t.inputs = read_strings(o->inputs());
        t.outputs = read_strings(o->outputs());
        if (o->location()) t.location = read_string(o->location()->text());
        out.operators.push_back(std::move(t));
      }
    if (b.tensors())
      for (flatbuffers::uoffset_t i = 0; i < b.tensors()->size(); ++i) {
        const fb::TosaTensor* x = b.tensors()->Get(i);
        TosaTensor t;
        t.name = read_string(x->name());
        const std::string twhere = fmt::format("{} tensor '{}'", where, t.name);
        t.shape = read_ints(x->shape());
        t.type = dtype(x->type(), twhere);
        for (int32_t d : t.shape)
          if (d < 0) bad("{} has a negative dimension {}", twhere, d);
        int64_t count = 0;
        try {
          count = element_count(t.shape);
        } catch (const Error&) {
          bad("{} has shape [{}], whose element count overflows", twhere, fmt::join(t.shape, ","));
        }
        if (x->data()) {
          if (t.type == DType::UNKNOWN) bad("{} has data but type UNKNOWN", twhere);
          const size_t need = data_bytes(t.type, count);
          if (x->data()->size() < need)
            bad("{} ({} [{}]) needs {} data bytes, the file has {}", twhere, dtype_name(t.type),
                fmt::join(t.shape, ","), need, x->data()->size());
          t.data = std::vector<uint8_t>(x->data()->begin(), x->data()->begin() + static_cast<std::ptrdiff_t>(need));
        }
        t.variable = x->variable();
        t.is_unranked = x->is_unranked();
        if (x->variable_name()) t.variable_name = x->variable_name()->str();
        out.tensors.push_back(std::move(t));
      }
    out.inputs = read_strings(b.inputs());
    out.outputs = read_strings(b.outputs());
    if (b.shapes())
      for (flatbuffers::uoffset_t i = 0; i < b.shapes()->size(); ++i) {
        const fb::TosaShape* x = b.shapes()->Get(i);
        TosaShape s;
        s.name = read_string(x->name());
        s.rank = x->rank();
        if (x->data()) {
          const uint64_t need = uint64_t{8} * s.rank;
          if (x->data()->size() < need)
            bad("{} shape '{}' of rank {} needs {} data bytes, the file has {}", where, s.name, s.rank, need,
                x->data()->size());
          s.values = unpack_ints(DType::SHAPE, std::span<const uint8_t>(x->data()->data(), need), s.rank);
        } else if (s.rank == 0) {
          s.values = std::vector<int64_t>{};
        }
        out.shapes.push_back(std::move(s));
      }
    return out;
  }

 private:
  std::string what_;
};

}  // namespace

std::vector<uint8_t> write_tosa(const TosaGraph& graph) { return write_graph(graph); }

std::vector<uint8_t> write_tosa(TosaGraph&& graph) { return write_graph(graph); }

TosaGraph read_tosa(std::span<const uint8_t> bytes, const std::string& what) {
  Reader r(what);
  if (bytes.size() < 8) r.bad("it has {} bytes, fewer than a flatbuffer header", bytes.size());
  if (bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) r.bad("it is larger than a flatbuffer can be");
  if (!flatbuffers::BufferHasIdentifier(bytes.data(), fb::TosaGraphIdentifier())) {
    std::string id;
    for (int i = 4; i < 8; ++i) id += (bytes[i] >= 0x20 && bytes[i] < 0x7f) ? static_cast<char>(bytes[i]) : '.';
    r.bad("the file identifier is '{}', not 'TOSA'", id);
  }
  // The verifier checks alignment relative to memory, so verify (and read) an 8-aligned copy.
  std::vector<uint64_t> storage((bytes.size() + 7) / 8);
  std::memcpy(storage.data(), bytes.data(), bytes.size());
  const auto* buf = reinterpret_cast<const uint8_t*>(storage.data());
  flatbuffers::Verifier verifier(buf, bytes.size(), /*max_depth=*/64, /*max_tables=*/100'000'000);
  if (!fb::VerifyTosaGraphBuffer(verifier))
    r.bad("the flatbuffer fails verification (an offset, vector or string lies outside the {} bytes, or a required "
          "field is missing)",
          bytes.size());
  const fb::TosaGraph* g = fb::GetTosaGraph(buf);
  TosaGraph out;
  const fb::Version* v = g->version();
  out.version = TosaVersion{v->_major(), v->_minor(), v->_patch(), v->_draft()};
  if (g->regions())
    for (flatbuffers::uoffset_t i = 0; i < g->regions()->size(); ++i) {
      const fb::TosaRegion* region = g->regions()->Get(i);
      TosaRegion reg;
      reg.name = read_string(region->name());
      if (region->blocks())
        for (flatbuffers::uoffset_t j = 0; j < region->blocks()->size(); ++j)
          reg.blocks.push_back(r.block(*region->blocks()->Get(j), i, j));
      out.regions.push_back(std::move(reg));
    }
  return out;
}

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open {}", path.string());
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) fail("cannot read {}", path.string());
  in.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (!in) fail("cannot read {}", path.string());
  return bytes;
}

void write_tosa_file(const TosaGraph& graph, const std::filesystem::path& path) {
  const auto bytes = write_tosa(graph);
  write_file_atomic(path, bytes);
}

TosaGraph read_tosa_file(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  return read_tosa(bytes, path.string());
}

}  // namespace l2n::tosa
