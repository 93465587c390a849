#!/usr/bin/env bash
# Whole-command benchmarks of issue 7 on a random-weight SmolLM2-135M (make-model; never
# for accuracy), each figure beside its bound measured in the same run:
#   export 16a8w full / linear (8 × 64-token calibration): wall time, peak RSS
#   eval at ctx 512 (prefill tokens/s): FP32 vs the OpenBLAS sgemm time of the same linear
#     shapes (kernels bench), 16a8w programs (full and linear scope) vs FP32, 2 threads vs 1
#   generate, KV cache of 512 (decode tokens/s) vs the memory-bandwidth bound: weight bytes per token / the
#     streaming-read rate of the kernels bench
# Prints a markdown table and writes JSON.
#   bench/commands.sh [BUILD_DIR] [SHARED] [OUT_JSON]
# Environment: BENCH_THREADS (default nproc), BENCH_EVAL_CHUNKS (2), BENCH_DECODE_TOKENS (64),
# BENCH_DECODE_RUNS (3: a decode rate is the median of this many runs),
# BENCH_SKIP_KERNELS=1 reuses BUILD_DIR/bench-work/kernels.json.
set -euo pipefail
build=${1:-build-bench}
shared=${2:-../shared}
out_json=${3:-$build/bench.json}
cli=$build/llm2npu
kernels=$build/llm2npu_bench
threads=${BENCH_THREADS:-$(nproc)}
chunks=${BENCH_EVAL_CHUNKS:-2}
decode_tokens=${BENCH_DECODE_TOKENS:-64}
decode_runs=${BENCH_DECODE_RUNS:-3}
text=$shared/data/text/tinystories/tinystories_dev.txt
model=$build/bench-model/smollm2-135m
work=$build/bench-work
[[ $decode_runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_DECODE_RUNS must be a positive integer, it is '$decode_runs'" >&2; exit 2; }
for tool in jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run scripts/setup.sh" >&2; exit 2; }
done
[ -x "$cli" ] || { echo "bench: $cli is missing; build it first (make bench does)" >&2; exit 2; }
[ -f "$text" ] || { echo "bench: $text is missing; pass the shared data folder as the second argument" >&2; exit 2; }
mkdir -p "$work"
rows=$work/rows.jsonl
: >"$rows"

# A row: command, figure name, value, unit, bound, ratio (value/bound or bound/value, whichever
# is "higher is better"), target, note.
row() {
  jq -nc --arg command "$1" --arg figure "$2" --argjson value "$3" --arg unit "$4" --argjson bound "$5" \
    --argjson ratio "$6" --arg target "$7" --arg note "${8:-}" \
    '{command:$command, figure:$figure, value:$value, unit:$unit, bound:$bound, ratio:$ratio, target:$target, note:$note}' \
    >>"$rows"
}
# Runs a command under GNU time: $work/NAME.{out,err,time} ("wall_seconds max_rss_kb").
timed() {
  local name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err"
}
has_flag() { "$cli" "$1" --help 2>/dev/null | grep -q -- "$2"; }
# Runs a generate command (after NAME) decode_runs times and sets decode_rate to the median
# decode tokens/s and decode_rates to every run's rate: a run of a few dozen tokens is one or
# two seconds of decode, and on a shared host single runs of one binary moved 20-30 %.
decode_median() {
  local name=$1
  shift
  local rates=""
  for ((k = 1; k <= decode_runs; k++)); do
    timed "$name" "$@" || return 1
    rates="$rates $(jq '.decode_tokens_per_second' "$work/$name.out")"
  done
  decode_rate=$(echo "$rates" | jq -s 'sort | if length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end')
  decode_rates=$(echo "$rates" | jq -s -r 'map(. * 10 | round / 10) | join(", ")')
}

# 1. The model, made once and cached (its bytes depend only on the seed).
if [ ! -f "$model/config.json" ]; then
  echo "bench: making $model" >&2
  "$cli" make-model --preset smollm2-135m --random-seed 1 -o "$model" --force --no-progress
fi
cfg=$model/config.json
# Weights read per decoded token: every linear weight and the head (the embedding is a
# gather of one row).
weights_per_token=$(jq '.hidden_size as $d | .intermediate_size as $f | (.head_dim * .num_attention_heads) as $q
  | (.head_dim * .num_key_value_heads) as $kv
  | .num_hidden_layers * (2 * $d * $q + 2 * $d * $kv + 3 * $d * $f) + .vocab_size * $d' "$cfg")
fp32_weight_bytes=$(du -b "$model/model.safetensors" | cut -f1)

# 2. Kernels (Google Benchmark) — also the bounds: sgemm time and streaming-read bandwidth.
if [ "${BENCH_SKIP_KERNELS:-0}" != 1 ] || [ ! -f "$work/kernels.json" ]; then
  echo "bench: kernels ($threads threads)" >&2
  OMP_NUM_THREADS=$threads "$kernels" --benchmark_min_time=0.3 --benchmark_out="$work/kernels.json" \
    --benchmark_out_format=json | tee "$work/kernels.txt" >&2
fi
# Seconds OpenBLAS / exec need for the linear layers of one 512-token window:
# per layer q,o (d→d), k,v (d→kv), gate,up (d→f), down (f→d); once the head (d→vocab).
window_seconds() {
  jq --arg prefix "$1" --slurpfile cfg "$cfg" '
    ($cfg[0]) as $c | ($c.head_dim * $c.num_attention_heads) as $q | ($c.head_dim * $c.num_key_value_heads) as $kv
    | [.benchmarks[] | select(.name | startswith($prefix + "/rows:512/"))
       | {key: (.name | capture("in:(?<i>[0-9]+)/out:(?<o>[0-9]+)") | "\(.i)x\(.o)"), value: (.real_time / 1000)}]
    | from_entries as $t
    | $c.num_hidden_layers * (2 * $t["\($c.hidden_size)x\($q)"] + 2 * $t["\($c.hidden_size)x\($kv)"]
        + 2 * $t["\($c.hidden_size)x\($c.intermediate_size)"] + $t["\($c.intermediate_size)x\($c.hidden_size)"])
      + $t["\($c.hidden_size)x\($c.vocab_size)"]' "$work/kernels.json"
}
sgemm_window=$(window_seconds BM_Fp32Linear_OpenBlas)
exec_window=$(window_seconds BM_Fp32Linear_Exec)
sgemm_tps=$(jq -n "512 / $sgemm_window")
bandwidth=$(jq '[.benchmarks[] | select(.name | startswith("BM_StreamRead")) | .bytes_per_second] | max' "$work/kernels.json")
row "kernels: FP32 linears of a 512-token window through exec" "prefill bound (linears only)" \
  "$(jq -n "512 / $exec_window")" "tok/s" "$sgemm_tps" "$(jq -n "$sgemm_window / $exec_window")" "" \
  "OpenBLAS sgemm on the same shapes: $(printf %.3f "$sgemm_window") s per window"
row "kernels: streaming read (memory bandwidth)" "bandwidth" "$(jq -n "$bandwidth / 1e9")" "GB/s" null null "" \
  "decode bound = weight bytes per token / bandwidth"

# 3. Export, 16a8w full and linear, Ethos-U85, 8 × 64-token calibration, window 512 + decode.
export_args=(--checkpoint "$model" --pt2e_quantize ethosu_16a8w backend.ethosu.enabled=true
  backend.ethosu.target=ethos-u85-256 -kv --max_seq_length 512 --max_context_length 512
  "quantization.calibration_files=[$text]" --calibration_limit 8 --calibration_seq_length 64
  -t "$threads" --json --no-progress)
rss_bound_mb=$(jq -n "2 * $fp32_weight_bytes / 1e6")
for scope in full linear; do
  program=$work/smollm2_16a8w_$scope.l2n
  echo "bench: export 16a8w $scope" >&2
  if timed "export_$scope" "$cli" export "${export_args[@]}" quantization.quantize_scope=$scope -o "$program"; then
    read -r wall rss_kb <"$work/export_$scope.time"
    row "export smollm2-135m 16a8w $scope, 8×64 calibration" "wall time" "$wall" "s" 20 "$(jq -n "20 / $wall")" \
      "≤ 20 s" "bound = the target"
    row "export smollm2-135m 16a8w $scope, 8×64 calibration" "peak RSS" "$(jq -n "$rss_kb / 1000")" "MB" \
      "$rss_bound_mb" "$(jq -n "$rss_bound_mb / ($rss_kb / 1000)")" "≤ 2 × FP32 weights"
  else
    row "export smollm2-135m 16a8w $scope" "failed" null "" null null "" "$(tail -c 300 "$work/export_$scope.err")"
  fi
done

# 4. eval at ctx 512: FP32 with 2 threads and 1 (prefill scaling), then the exported program.
eval_tps() { jq -r '.tokens_per_second' "$work/$1.out"; }
echo "bench: eval FP32" >&2
fp32_tps=null
if timed eval_fp32 "$cli" eval --model "$model" --text "$text" --ctx 512 --max-chunks "$chunks" -t "$threads" \
  --json --no-progress; then
  fp32_tps=$(eval_tps eval_fp32)
  row "eval --model (FP32) ctx 512, $threads threads" "prefill" "$fp32_tps" "tok/s" "$sgemm_tps" \
    "$(jq -n "$fp32_tps / $sgemm_tps")" "≥ 60 % of sgemm" "bound: OpenBLAS sgemm time of the model's linears"
  if [ "$threads" -gt 1 ] && timed eval_fp32_t1 "$cli" eval --model "$model" --text "$text" --ctx 512 \
    --max-chunks "$chunks" -t 1 --json --no-progress; then
    t1=$(eval_tps eval_fp32_t1)
    row "eval --model (FP32) ctx 512, 1 thread" "prefill" "$t1" "tok/s" null null "" ""
    row "eval FP32: $threads threads vs 1" "speed-up" "$(jq -n "$fp32_tps / $t1")" "×" "$threads" \
      "$(jq -n "$fp32_tps / $t1 / $threads")" "≥ 1.6 ×" "bound: the thread count"
  fi
else
  row "eval --model (FP32) ctx 512" "failed" null "" null null "" "$(tail -c 300 "$work/eval_fp32.err")"
fi
# The exported programs (both scopes; a scope whose export failed is reported as such).
for scope in full linear; do
  program=$work/smollm2_16a8w_$scope.l2n
  if ! has_flag eval --program; then
    row "eval --program (16a8w $scope) ctx 512" "skipped" null "" null null "≥ 50 % of FP32" \
      "this build's eval has no --program yet"
  elif [ ! -f "$program" ]; then
    row "eval --program (16a8w $scope) ctx 512" "skipped" null "" null null "≥ 50 % of FP32" "export failed"
  elif timed "eval_program_$scope" "$cli" eval --program "$program" --text "$text" --ctx 512 --max-chunks "$chunks" \
    -t "$threads" --json --no-progress; then
    p_tps=$(eval_tps "eval_program_$scope")
    row "eval --program (16a8w $scope) ctx 512" "prefill" "$p_tps" "tok/s" "$fp32_tps" \
      "$(jq -n "if $fp32_tps == null then null else $p_tps / $fp32_tps end")" "≥ 50 % of FP32" "bound: FP32 eval"
  else
    row "eval --program (16a8w $scope) ctx 512" "failed" null "" null null "≥ 50 % of FP32" \
      "$(tail -c 300 "$work/eval_program_$scope.err")"
  fi
done

# 5. generate: decode tokens/s against weight bytes per token / bandwidth.
prompt="Once upon a time"
fp32_decode_bound=$(jq -n "$bandwidth / ($weights_per_token * 4)")
echo "bench: generate FP32" >&2
if decode_median gen_fp32 "$cli" generate --model "$model" --prompt "$prompt" -n "$decode_tokens" --temperature 0 \
  --context 512 -t "$threads" --json; then
  d=$decode_rate
  n=$(jq '.generated_ids | length' "$work/gen_fp32.out")
  row "generate --model (FP32), $n tokens" "decode" "$d" "tok/s" "$fp32_decode_bound" \
    "$(jq -n "$d / $fp32_decode_bound")" "≥ 50 % of bandwidth bound" \
    "median of $decode_runs runs ($decode_rates tok/s); bound: $(jq -n "$weights_per_token * 4 / 1e6 | floor") MB of weights per token"
  if [ "$threads" -gt 1 ] && timed gen_fp32_t1 "$cli" generate --model "$model" --prompt "$prompt" \
    -n "$decode_tokens" --temperature 0 --context 512 -t 1 --json; then
    d1=$(jq '.decode_tokens_per_second' "$work/gen_fp32_t1.out")
    row "generate --model (FP32), 1 thread" "decode" "$d1" "tok/s" "$fp32_decode_bound" \
      "$(jq -n "$d1 / $fp32_decode_bound")" "" "same bound (the bandwidth was measured with $threads threads)"
  fi
else
  row "generate --model (FP32)" "failed" null "" null null "" "$(tail -c 300 "$work/gen_fp32.err")"
fi
# A 16a8w program holds int8 weights: a quarter of the bytes per token.
q_decode_bound=$(jq -n "$bandwidth / $weights_per_token")
for scope in full linear; do
  program=$work/smollm2_16a8w_$scope.l2n
  if ! has_flag generate --program; then
    row "generate --program (16a8w $scope)" "skipped" null "" "$q_decode_bound" null "≥ 50 % of bandwidth bound" \
      "this build's generate has no --program yet"
  # No --context: a program's KV-cache capacity is fixed at export (--max_context_length 512).
  elif [ -f "$program" ] && decode_median "gen_program_$scope" "$cli" generate --program "$program" \
    --prompt "$prompt" -n "$decode_tokens" --temperature 0 -t "$threads" --json; then
    d=$decode_rate
    row "generate --program (16a8w $scope)" "decode" "$d" "tok/s" "$q_decode_bound" \
      "$(jq -n "$d / $q_decode_bound")" "≥ 50 % of bandwidth bound" \
      "median of $decode_runs runs ($decode_rates tok/s); bound: int8 weights, $(jq -n "$weights_per_token / 1e6 | floor") MB per token"
  else
    row "generate --program (16a8w $scope)" "failed" null "" "$q_decode_bound" null "≥ 50 % of bandwidth bound" \
      "$( [ -f "$program" ] || echo "export failed"; [ -f "$work/gen_program_$scope.err" ] && tail -c 300 "$work/gen_program_$scope.err")"
  fi
done

# 6. The table and the JSON.
mkdir -p "$(dirname "$out_json")"
jq -s --arg load "$(uptime)" --arg date "$(date -u +%FT%TZ)" --argjson threads "$threads" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  '{date:$date, threads:$threads, cpu:$cpu, uptime:$load, rows:.}' "$rows" >"$out_json"
echo
echo "| command | figure | value | bound | ratio | target | note |"
echo "|---|---|---|---|---|---|---|"
jq -r '[.command, .figure,
        (if .value == null then "—" else "\(.value * 100 | round / 100) \(.unit)" end),
        (if .bound == null then "—" else "\(.bound * 100 | round / 100)" end),
        (if .ratio == null then "—" else "\(.ratio * 100 | round) %" end),
        .target, .note] | "| " + join(" | ") + " |"' "$rows"
echo
echo "machine: $(uptime)"
echo "JSON: $out_json"
