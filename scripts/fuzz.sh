#!/usr/bin/env bash
# Runs every libFuzzer target in a build dir for a fixed time each (make fuzz).
#   scripts/fuzz.sh BUILD_DIR SECONDS SHARED_DIR [TARGET...]
# Seeds: tests/fuzz/corpus/<target>/ (committed, small) plus files from SHARED_DIR/data,
# linked (never copied) into BUILD_DIR/fuzz/seeds/<target>/. New inputs go to
# BUILD_DIR/fuzz/corpus/<target>/, crashes to BUILD_DIR/fuzz/artifacts/. Prints one line
# per target (executions, corpus size, crashes) and exits 1 if any target crashed.
# FUZZ_SEED=N (environment) fixes libFuzzer's random seed: the same build and seeds then try
# the same inputs in the same order, so a run is reproducible and a clean run of T seconds
# vouches for every shorter run with that seed (CI uses it; exploration leaves it unset).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?build dir}
seconds=${2:-60}
shared=${3:-../shared}
shift 3 || shift $#
data="$shared/data"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/*_fuzz; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no fuzz targets in $build" >&2; exit 1; }

# Files from the shared data that seed each target (missing ones are skipped).
shared_seeds() {
  case "$1" in
    model_safetensors_fuzz) echo "$data/models/stories260K-hf/model.safetensors" ;;
    model_hf_config_fuzz) echo "$data/models/stories260K-hf/config.json" ;;
    model_gguf_fuzz) echo "$data/models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf" ;;
    model_llama2c_fuzz) echo "$data/models/stories260K/stories260K.bin" ;;
    tokenizer_json_fuzz) echo "$data/tokenizers/gpt2/tokenizer.json $data/tokenizers/llama2/tokenizer.json" \
                              "$data/tokenizers/smollm2/tokenizer.json" ;;
    tokenizer_llama2c_fuzz) echo "$data/models/stories260K/tok512.bin" ;;
    tokenizer_spm_fuzz) echo "$data/models/stories260K/tok512.model" ;;
    config_yaml_fuzz) ls configs/*.yaml examples/*.yaml 2>/dev/null ;;
  esac
}

failed=0
mkdir -p "$build/fuzz/artifacts"
printf '%-26s %12s %8s %8s\n' target executions corpus crashes
for t in "${targets[@]}"; do
  corpus="$build/fuzz/corpus/$t"
  seeds="$build/fuzz/seeds/$t"
  mkdir -p "$corpus" "$seeds"
  for f in $(shared_seeds "$t"); do [ -f "$f" ] && ln -sf "$(realpath "$f")" "$seeds/"; done
  committed="tests/fuzz/corpus/$t"
  [ -d "$committed" ] || committed=""
  log="$build/fuzz/$t.log"
  # -malloc_limit_mb: a single allocation above 512 MiB is a finding (no reader of a
  # small input should ask for that); -max_len keeps mutation fast.
  # The targets write their inputs to files under TMPDIR; keep those in the build dir.
  mkdir -p "$build/fuzz/tmp"
  TMPDIR="$(realpath "$build/fuzz/tmp")" \
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/$t" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$t-" \
    "$corpus" "$seeds" ${committed:+"$committed"} >"$log" 2>&1
  rc=$?
  rm -rf "$build/fuzz/tmp"
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(ls "$build/fuzz/artifacts/$t-"* 2>/dev/null | wc -l)
  printf '%-26s %12s %8s %8s\n' "$t" "${execs:-?}" "$(ls "$corpus" | wc -l)" "$crashes"
  if [ $rc -ne 0 ]; then
    failed=1
    echo "fuzz: $t failed (exit $rc); see $log" >&2
    grep -E '^(==|SUMMARY|.*ERROR)' "$log" | head -5 >&2
  fi
done
exit $failed
