#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, only those missing.
# Safe to run repeatedly; uses sudo when not root.
#   scripts/setup.sh        what `make test`/`make demo` need
#   scripts/setup.sh fuzz   plus clang and its libFuzzer/sanitizer runtimes (`make fuzz`)
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libfmt-dev
  libflatbuffers-dev flatbuffers-compiler zlib1g-dev
  libpcre2-dev libopenblas-dev libsentencepiece-dev jq time
)
if [ "${1:-}" = fuzz ]; then
  # clang 14 (Debian 12; `clang` gives clang++): libclang-rt-14-dev has libFuzzer and the ASan/UBSan runtimes,
  # libomp-14-dev the OpenMP runtime clang links for the core stage.
  packages+=(clang clang-14 libclang-rt-14-dev libomp-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
