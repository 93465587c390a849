#!/usr/bin/env bash
# The step-wise perplexity table of docs/export.md (issue 6): stories260K exported for
# ethos-u85-256 with the KV cache (window 64, cache 128), calibrated on the first 4 × 128
# tokens of WikiText-2 test (disjoint from the scored text), each program scored on 50
# prompts of 64 tokens from tinystories_dev.txt, BOS + prompt one token at a time.
#   scripts/stepwise_table.sh [LLM2NPU] [SHARED]
set -euo pipefail
cli=${1:-build/llm2npu}
shared=${2:-../shared}
command -v jq >/dev/null || { echo "stepwise_table.sh needs jq (apt-get install jq)" >&2; exit 2; }
data="$shared/data"
model="$data/models/stories260K/stories260K.bin"
text="$data/text/tinystories/tinystories_dev.txt"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
score=(--method stepwise --text "$text" --num-prompts 50 --prompt-tokens 64 --window 64 --json --no-progress)
export_args=(--checkpoint "$model" backend.ethosu.enabled=true backend.ethosu.target=ethos-u85-256 -kv
  --max_seq_length 64 --max_context_length 128 "quantization.calibration_files=[$data/text/wikitext-2/wiki.test.raw]"
  --calibration_limit 4 --calibration_seq_length 128 --no-progress)

"$cli" eval --model "$model" "${score[@]}" >"$out/fp32.json"
fp32=$(jq .perplexity "$out/fp32.json")
echo "| program | perplexity | vs FP32 | scored tokens |"
echo "|---|---|---|---|"
printf '| FP32 (checkpoint) | %.6f | – | %s |\n' "$fp32" "$(jq .tokens_scored "$out/fp32.json")"
row() {  # label, export settings...
  local label=$1
  shift
  "$cli" export "${export_args[@]}" "$@" -o "$out/p.l2n" >/dev/null
  "$cli" eval --program "$out/p.l2n" "${score[@]}" >"$out/p.json"
  jq -r --arg name "$label" --argjson fp32 "$fp32" \
    '"| \($name) | \(.perplexity * 1e6 | round / 1e6) | \((.perplexity / $fp32 - 1) * 1e4 | round / 100) % | \(.tokens_scored) |"' \
    "$out/p.json"
}
row "ethosu_16a8w linear" --pt2e_quantize ethosu_16a8w quantization.quantize_scope=linear
row "ethosu_16a8w linear + static int8 KV" --pt2e_quantize ethosu_16a8w quantization.quantize_scope=linear \
  model.static_quantize_kv_cache=true
row "ethosu_16a8w full" --pt2e_quantize ethosu_16a8w quantization.quantize_scope=full
row "ethosu_16a8w full + static int8 KV" --pt2e_quantize ethosu_16a8w quantization.quantize_scope=full \
  model.static_quantize_kv_cache=true
row "ethosu_8a8w linear" --pt2e_quantize ethosu_8a8w quantization.quantize_scope=linear
