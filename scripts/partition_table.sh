#!/usr/bin/env bash
# Exports stories260K for every mode x scope x target and prints the markdown table of
# docs/export.md: delegates and CPU ops per method, or the reason export refuses.
#   scripts/partition_table.sh [LLM2NPU] [SHARED]
set -euo pipefail
cli=${1:-build/llm2npu}
shared=${2:-../shared}
command -v jq >/dev/null || { echo "partition_table.sh needs jq (apt-get install jq)" >&2; exit 2; }
model="$shared/data/models/stories260K/stories260K.bin"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
targets=("ethos-u55-128" "ethos-u85-256" "TOSA-1.0+INT+int16" "VGF")
backend_args() {
  case "$1" in
    ethos-u*) echo "backend.ethosu.enabled=true backend.ethosu.target=$1" ;;
    TOSA*) echo "backend.tosa.enabled=true backend.tosa.version=$1" ;;
    VGF) echo "backend.vgf.enabled=true backend.vgf.compile_spec=TOSA-1.0+INT+int16" ;;
  esac
}
echo "| mode | scope | target | forward: delegates / CPU ops | decode: delegates / CPU ops |"
echo "|---|---|---|---|---|"
for mode in tosa_8a8w ethosu_8a8w ethosu_16a8w vgf_8a8w vgf_16a8w; do
  for scope in linear full; do
    for target in "${targets[@]}"; do
      # shellcheck disable=SC2046
      if "$cli" export --checkpoint "$model" --max_seq_length 64 --max_context_length 64 -kv \
          --calibration_seq_length 64 --pt2e_quantize "$mode" quantization.quantize_scope="$scope" \
          $(backend_args "$target") -o "$out/p.l2n" --json --no-progress >"$out/o.json" 2>"$out/e.txt"; then
        row=$(jq -r '[.methods[] | "\(.delegates) / \(.cpu_ops)"] | join(" | ")' "$out/o.json")
        echo "| $mode | $scope | $target | $row |"
      else
        reason=$(grep -m1 '^error:' "$out/e.txt" | sed 's/^error: //; s/|/\\|/g' | cut -c1-160)
        echo "| $mode | $scope | $target | refused: $reason | |"
      fi
    done
  done
done
