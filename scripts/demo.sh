#!/usr/bin/env bash
# The demo on stories260K (a real trained tiny Llama): FP32 generation and perplexity, then
# export for Ethos-U85 with ethosu_16a8w in `linear` and `full` scope (KV cache), the
# partition of each program, its perplexity next to FP32's, and a story from each program.
# DEMO_CHUNKS limits the program perplexity runs (default 60 of the 418 chunks; 0 = all).
set -euo pipefail
cli=${1:-build/llm2npu}
shared=${2:-../shared}
chunks=${DEMO_CHUNKS:-60}
model="$shared/data/models/stories260K"
text="$shared/data/text/tinystories/tinystories_dev.txt"
calibration="$shared/data/text/wikitext-2/wiki.test.raw"
out=${DEMO_OUT:-build/demo}
mkdir -p "$out"

echo "== inspect $model"
"$cli" inspect --model "$model/stories260K.bin"
echo
echo "== generate (FP32, greedy, from BOS)"
"$cli" generate --model "$model/stories260K.bin" --temperature 0 --max-new-tokens 120
echo
echo "== generate (FP32, sampled: temperature 0.8, top-p 0.95, seed 7)"
"$cli" generate --model "$model/stories260K.bin" --prompt "Once upon a time, a little dog" --seed 7 --max-new-tokens 100
echo
echo "== eval (FP32 perplexity, llama.cpp method, ctx 512) on $(basename "$text")"
"$cli" eval --model "$model/stories260K.bin" --text "$text" --ctx 512 --max-chunks "$chunks"

for scope in linear full; do
  program="$out/stories260K_ethosu_16a8w_${scope}_u85.l2n"
  echo
  echo "== export ethosu_16a8w, $scope scope, ethos-u85-256, KV cache (calibration: 4 x 512 tokens of WikiText-2)"
  "$cli" export --checkpoint "$model/stories260K.bin" --pt2e_quantize ethosu_16a8w --quantize_scope "$scope" \
    backend.ethosu.enabled=true backend.ethosu.target=ethos-u85-256 -kv \
    --max_seq_length 512 --max_context_length 512 --calibration_seq_length 512 \
    "quantization.calibration_files=[$calibration]" --calibration_limit 4 -o "$program"
  echo
  echo "== eval the $scope program (ctx 512, TOSA delegates run by the interpreter)"
  "$cli" eval --program "$program" --text "$text" --ctx 512 --max-chunks "$chunks"
  echo
  echo "== generate from the $scope program (greedy, KV-cache decode step)"
  "$cli" generate --program "$program" --temperature 0 --max-new-tokens 120
done
