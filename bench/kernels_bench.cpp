// Kernel benchmarks (make bench): the project's kernels on SmolLM2-135M shapes beside the
// bounds they are judged against (docs/performance.md, issue 7):
//  * FP32 linear / matmul through exec (what eval runs) vs OpenBLAS sgemm called directly
//    with its own threads: the sgemm rate is the bound for FP32 prefill;
//  * exact integer GEMM/GEMV (int8×int8→int32, int16×int8→int48), TABLE, RESCALE through
//    quant's fast integer kernels, the same functions the integer executor calls;
//  * attention (QKᵀ, softmax, ·V) for one layer at ctx 512;
//  * a streaming read of a buffer far larger than the caches: the memory bandwidth that
//    bounds decode (weight bytes per token / bandwidth).
// Threads: --threads N is not a Google Benchmark flag; set OMP_NUM_THREADS (the exec and
// quant kernels use OpenMP) — the sgemm bound uses the same count.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "exec/kernels.h"
#include "quant/integer_elementwise.h"
#include "quant/integer_gemm.h"
#include "quant/integer_ops.h"

extern "C" void openblas_set_num_threads(int);

namespace {

using l2n::DType;
using l2n::Tensor;

// SmolLM2-135M: dim 576, FFN 1536, kv_dim 192, vocab 49152; 9 heads of 64; ctx 512.
constexpr int64_t kCtx = 512;
struct Shape2 {
  int64_t in, out;
};
// Registered as (rows, in, out): q/o 576→576, k/v 576→192, gate/up 576→1536, down 1536→576,
// head 576→49152.
const std::vector<Shape2> kShapes = {{576, 576}, {576, 192}, {576, 1536}, {1536, 576}, {576, 49152}};

// A small deterministic generator (bench inputs only need to be non-trivial).
uint32_t next(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<uint32_t>(s >> 33);
}

Tensor random_f32(l2n::Shape shape, uint64_t seed) {
  Tensor t(DType::F32, std::move(shape));
  float* p = t.mutable_data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = (static_cast<float>(next(seed) % 2001) - 1000.0f) * 2e-5f;
  return t;
}

template <typename T>
std::vector<T> random_ints(int64_t n, int lo, int hi, uint64_t seed) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(lo + static_cast<int>(next(seed) % static_cast<uint32_t>(hi - lo + 1)));
  return v;
}

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void add_shape_args(benchmark::internal::Benchmark* b) {
  for (int64_t rows : {kCtx, int64_t{1}})
    for (const auto& s : kShapes) b->Args({rows, s.in, s.out});
  b->ArgNames({"rows", "in", "out"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

// ---- FP32 -------------------------------------------------------------------------------

void BM_Fp32Linear_Exec(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const Tensor x = random_f32({rows, in}, 1), w = random_f32({out, in}, 2);
  for (auto _ : state) benchmark::DoNotOptimize(l2n::exec::linear(x, w, nullptr));
  set_flops(state, 2.0 * double(rows) * double(in) * double(out));
}
BENCHMARK(BM_Fp32Linear_Exec)->Apply(add_shape_args);

// The bound: OpenBLAS sgemm/sgemv on the same shapes with its own threads (as many as OpenMP).
void BM_Fp32Linear_OpenBlas(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const Tensor x = random_f32({rows, in}, 1), w = random_f32({out, in}, 2);
  Tensor y(DType::F32, {rows, out});
  openblas_set_num_threads(omp_get_max_threads());
  for (auto _ : state) {
    if (rows == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, int(out), int(in), 1.0f, w.data<float>(), int(in), x.data<float>(), 1,
                  0.0f, y.mutable_data<float>(), 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(out), int(in), 1.0f, x.data<float>(),
                  int(in), w.data<float>(), int(in), 0.0f, y.mutable_data<float>(), int(out));
    benchmark::ClobberMemory();
  }
  openblas_set_num_threads(1);  // exec's kernels expect single-threaded OpenBLAS (exec/gemm.h)
  set_flops(state, 2.0 * double(rows) * double(in) * double(out));
}
BENCHMARK(BM_Fp32Linear_OpenBlas)->Apply(add_shape_args);

// One layer's attention at ctx 512 (9 heads of 64): scores = Q·Kᵀ, softmax, ·V.
void BM_Fp32Attention_Exec(benchmark::State& state) {
  const int64_t heads = 9, hd = 64, t = kCtx;
  const Tensor q = random_f32({heads, t, hd}, 3), kt = random_f32({heads, hd, t}, 4), v = random_f32({heads, t, hd}, 5);
  for (auto _ : state) {
    const Tensor p = l2n::exec::softmax(l2n::exec::matmul(q, kt));
    benchmark::DoNotOptimize(l2n::exec::matmul(p, v));
  }
  set_flops(state, 4.0 * double(heads) * double(t) * double(t) * double(hd));
}
BENCHMARK(BM_Fp32Attention_Exec)->UseRealTime()->Unit(benchmark::kMillisecond);

// The softmax of one layer's causal scores at ctx 512 (the mask's -1e30 above the diagonal).
void BM_Fp32Softmax_Exec(benchmark::State& state) {
  const int64_t heads = 9, t = kCtx;
  Tensor scores = random_f32({heads, t, t}, 6);
  float* s = scores.mutable_data<float>();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = i + 1; j < t; ++j) s[(h * t + i) * t + j] = -1e30f;
  for (auto _ : state) benchmark::DoNotOptimize(l2n::exec::softmax(scores));
  state.SetItemsProcessed(state.iterations() * heads * t * t);
}
BENCHMARK(BM_Fp32Softmax_Exec)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- exact integer -----------------------------------------------------------------------

void set_ops(benchmark::State& state, double ops_per_iter) {
  state.counters["GOP/s"] = benchmark::Counter(ops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Int8Gemm(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const auto x = random_ints<int8_t>(rows * in, -128, 127, 6), w = random_ints<int8_t>(out * in, -127, 127, 7);
  std::vector<int32_t> y(static_cast<size_t>(rows * out));
  for (auto _ : state) {
    l2n::quant::gemm_i8(x.data(), w.data(), rows, out, in, -3, 0, y.data());
    benchmark::ClobberMemory();
  }
  set_ops(state, 2.0 * double(rows) * double(in) * double(out));
}
BENCHMARK(BM_Int8Gemm)->Apply(add_shape_args);

void BM_Int16Int8Gemm(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const auto x = random_ints<int16_t>(rows * in, -32768, 32767, 8);
  const auto w = random_ints<int8_t>(out * in, -127, 127, 9);
  std::vector<int64_t> y(static_cast<size_t>(rows * out));
  for (auto _ : state) {
    l2n::quant::gemm_i16_i8(x.data(), w.data(), rows, out, in, 0, y.data());
    benchmark::ClobberMemory();
  }
  set_ops(state, 2.0 * double(rows) * double(in) * double(out));
}
BENCHMARK(BM_Int16Int8Gemm)->Apply(add_shape_args);

// Integer attention scores and context as in full scope at 16a8w: int16 MATMULs (i48 acc).
void BM_Int16Attention_Matmul(benchmark::State& state) {
  const int64_t heads = 9, hd = 64, t = kCtx;
  const auto q = random_ints<int16_t>(heads * t * hd, -32768, 32767, 10);
  const auto kt = random_ints<int16_t>(heads * hd * t, -32768, 32767, 11);
  const auto p = random_ints<int16_t>(heads * t * t, 0, 32767, 12);
  const auto v = random_ints<int16_t>(heads * t * hd, -32768, 32767, 13);
  std::vector<int64_t> scores(static_cast<size_t>(heads * t * t)), ctx(static_cast<size_t>(heads * t * hd));
  for (auto _ : state) {
    l2n::quant::matmul_i16(q.data(), kt.data(), heads, t, hd, t, scores.data());
    l2n::quant::matmul_i16(p.data(), v.data(), heads, t, t, hd, ctx.data());
    benchmark::ClobberMemory();
  }
  set_ops(state, 4.0 * double(heads) * double(t) * double(t) * double(hd));
}
BENCHMARK(BM_Int16Attention_Matmul)->UseRealTime()->Unit(benchmark::kMillisecond);

// One layer of full-scope decode attention: 3 KV heads of 3 query heads each, one new token,
// scores and context read from [512, 3, 64] int16 caches in place (as the interpreter does).
// magnitudes:0 fills the query and the probabilities over the whole int16 range (the kernels'
// worst case); magnitudes:1 as the SmolLM2 full-scope program has them (measured in decode:
// |q| up to ~7000, Σ|q| over a head ~120 000; probabilities summing to ~4096).
void BM_Int16Attention_Decode(benchmark::State& state) {
  const int64_t kv = 3, group = 3, hd = 64, t = kCtx;
  const bool model_like = state.range(0) != 0;
  const auto q = random_ints<int16_t>(kv * group * hd, model_like ? -3500 : -32767, model_like ? 3500 : 32767, 20);
  const auto k_cache = random_ints<int16_t>(t * kv * hd, -32768, 32767, 21);
  const auto p = random_ints<int16_t>(kv * group * t, 0, model_like ? 16 : 32767, 22);
  const auto v_cache = random_ints<int16_t>(t * kv * hd, -32768, 32767, 23);
  std::vector<int64_t> scores(static_cast<size_t>(kv * group * t)), ctx(static_cast<size_t>(kv * group * hd));
  const l2n::quant::StridedI16 keys{k_cache.data(), hd, 1, kv * hd};      // Kᵀ: TRANSPOSE {1, 2, 0}
  const l2n::quant::StridedI16 values{v_cache.data(), hd, kv * hd, 1};    // V: TRANSPOSE {1, 0, 2}
  for (auto _ : state) {
    l2n::quant::matmul_i16(q.data(), keys, kv, group, hd, t, scores.data());
    l2n::quant::matmul_i16(p.data(), values, kv, group, t, hd, ctx.data());
    benchmark::ClobberMemory();
  }
  set_ops(state, 4.0 * double(kv * group) * double(t) * double(hd));
}
BENCHMARK(BM_Int16Attention_Decode)->ArgName("magnitudes")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

// TABLE over one FFN activation at ctx 512 (SiLU-like tables; the values do not matter).
void BM_TableI8(benchmark::State& state) {
  const int64_t n = kCtx * 1536;
  const auto x = random_ints<int8_t>(n, -128, 127, 14);
  std::vector<int8_t> y(static_cast<size_t>(n));
  l2n::quant::TableI8 table{};
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int8_t>(int(i) / 2 - 64);
  for (auto _ : state) {
    l2n::quant::table_i8_tensor(x.data(), y.data(), n, table);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_TableI8)->UseRealTime();

void BM_TableI16(benchmark::State& state) {
  const int64_t n = kCtx * 1536;
  const auto x = random_ints<int16_t>(n, -32768, 32767, 15);
  std::vector<int32_t> y(static_cast<size_t>(n));
  l2n::quant::TableI16 table{};
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int16_t>(int(i) * 64 - 16384);
  for (auto _ : state) {
    l2n::quant::table_i16_tensor(x.data(), y.data(), n, table);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_TableI16)->UseRealTime();

// RESCALE of one FFN accumulator at ctx 512: int32→int8 (8a8w) and int48→int16 (16a8w).
void BM_RescaleI32ToI8(benchmark::State& state) {
  const int64_t n = kCtx * 1536;
  const auto x = random_ints<int32_t>(n, -1000000, 1000000, 16);
  std::vector<int8_t> y(static_cast<size_t>(n));
  const l2n::quant::ScaleMultiplier m{1 << 30, 44};
  l2n::quant::RescaleAttrs a;
  a.in_dtype = l2n::quant::QDType::I32;
  a.out_dtype = l2n::quant::QDType::I8;
  a.output_zp = 3;
  for (auto _ : state) {
    l2n::quant::rescale_tensor<int32_t, int8_t>(x.data(), y.data(), n, std::span(&m, 1), a);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RescaleI32ToI8)->UseRealTime();

void BM_RescaleI48ToI16(benchmark::State& state) {
  const int64_t n = kCtx * 1536;
  const auto x = random_ints<int32_t>(n, -2000000000, 2000000000, 17);
  std::vector<int64_t> x48(x.begin(), x.end());
  for (auto& v : x48) v *= 1000;  // int48 magnitudes
  std::vector<int16_t> y(static_cast<size_t>(n));
  const l2n::quant::ScaleMultiplier m{1 << 14, 40};
  l2n::quant::RescaleAttrs a;
  a.in_dtype = l2n::quant::QDType::I48;
  a.out_dtype = l2n::quant::QDType::I16;
  a.scale32 = false;
  for (auto _ : state) {
    l2n::quant::rescale_tensor<int64_t, int16_t>(x48.data(), y.data(), n, std::span(&m, 1), a);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RescaleI48ToI16)->UseRealTime();

// The RESCALEs of the int16 models on [ctx, dim] activations, state.range(0) elements:
// int32 → int16 after the int8-weight linears, per-tensor and per-channel (576 channels
// innermost), and int48 → int16 per-channel; 576 elements is one decode row (no threads).
template <typename In, typename Out>
void rescale_bench(benchmark::State& state, const std::vector<In>& x, const std::vector<l2n::quant::ScaleMultiplier>& m,
                   const l2n::quant::RescaleAttrs& a) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<Out> y(x.size());
  for (auto _ : state) {
    l2n::quant::rescale_tensor<In, Out>(x.data(), y.data(), n, m, a);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

std::vector<l2n::quant::ScaleMultiplier> bench_multipliers(int64_t channels, bool scale32) {
  std::vector<l2n::quant::ScaleMultiplier> m;
  for (int64_t c = 0; c < channels; ++c)
    m.push_back(l2n::quant::compute_multiplier((scale32 ? 3e-4 : 3e-8) * (1.0 + static_cast<double>(c % 7)), scale32));
  return m;
}

// Per tensor (channels 1) and per channel (576), for a decode row and a window.
void BM_RescaleI32ToI16(benchmark::State& state) {
  l2n::quant::RescaleAttrs a;
  a.in_dtype = l2n::quant::QDType::I32;
  a.out_dtype = l2n::quant::QDType::I16;
  rescale_bench<int32_t, int16_t>(state, random_ints<int32_t>(state.range(0), -100000000, 100000000, 18),
                                  bench_multipliers(state.range(1), true), a);
}
BENCHMARK(BM_RescaleI32ToI16)
    ->ArgNames({"n", "channels"})
    ->Args({576, 1})
    ->Args({kCtx * 576, 1})
    ->Args({576, 576})
    ->Args({kCtx * 576, 576})
    ->UseRealTime();

void BM_RescaleI48ToI16PerChannel(benchmark::State& state) {
  std::vector<int64_t> x48;
  for (const int32_t v : random_ints<int32_t>(state.range(0), -1000000000, 1000000000, 20))
    x48.push_back(int64_t{v} * 1000);
  l2n::quant::RescaleAttrs a;
  a.in_dtype = l2n::quant::QDType::I48;
  a.out_dtype = l2n::quant::QDType::I16;
  a.scale32 = false;
  rescale_bench<int64_t, int16_t>(state, x48, bench_multipliers(576, false), a);
}
BENCHMARK(BM_RescaleI48ToI16PerChannel)->Arg(576)->Arg(kCtx * 576)->UseRealTime();

// ---- memory bandwidth ---------------------------------------------------------------------

// Sums a 512 MB buffer (far beyond the last-level cache) with all OpenMP threads: the
// streaming-read rate that bounds decode, where every weight is read once per token.
void BM_StreamRead(benchmark::State& state) {
  const int64_t n = int64_t{128} << 20;  // floats
  std::vector<float> buffer(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) buffer[static_cast<size_t>(i)] = float(i & 1023);  // first touch by the readers
  for (auto _ : state) {
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < n; i += 8) {
      float s = 0;
      for (int64_t k = 0; k < 8; ++k) s += buffer[static_cast<size_t>(i + k)];
      total += s;
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(state.iterations() * n * 4);
}
BENCHMARK(BM_StreamRead)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
