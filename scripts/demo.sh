#!/usr/bin/env bash
# The demo: FP32 generation and perplexity on stories260K (a real trained tiny Llama).
set -euo pipefail
cli=${1:-build/llm2npu}
shared=${2:-../shared}
model="$shared/data/models/stories260K"
text="$shared/data/text/tinystories/tinystories_dev.txt"

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
"$cli" eval --model "$model/stories260K.bin" --text "$text" --ctx 512
