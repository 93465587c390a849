# Entry points: `make demo`, `make test`. Both install missing Debian packages first.
BUILD_DIR ?= build
SHARED ?= $(abspath ../shared)
JOBS ?= $(shell nproc)
MODEL ?= $(SHARED)/data/models/stories260K

.PHONY: all setup configure build test demo clean test-sanitize fuzz bench

all: build

setup:
	@bash scripts/setup.sh

$(BUILD_DIR)/build.ninja: | setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLM2NPU_SHARED_DIR=$(SHARED)

configure: $(BUILD_DIR)/build.ninja

build: setup configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)/llm2npu $(SHARED)

# ASan + UBSan (g++, RelWithDebInfo) over the unit and small end-to-end tests; any report
# fails the test that triggered it. Excluded (a ctest -E pattern): the Release-size
# 512-token perplexity run over the whole dev text (~50 s in Release, many minutes under
# ASan); the kernels it uses run sanitized in the exec/eval unit tests.
SANITIZE_DIR ?= build-sanitize
SANITIZE_EXCLUDE ?= PerplexityMatchesLlamaCppF32
test-sanitize: setup
	cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ \
	  -DLLM2NPU_SANITIZE=ON -DLLM2NPU_SHARED_DIR=$(SHARED)
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(if $(SANITIZE_EXCLUDE),-E '$(SANITIZE_EXCLUDE)')

# libFuzzer targets (clang) for every reader of outside bytes, FUZZ_SECONDS each
# (docs/reliability.md). FUZZ_TARGETS narrows the run: make fuzz FUZZ_TARGETS=model_gguf_fuzz
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
# FUZZ_SEED=N makes the run reproducible (same inputs in the same order); empty: a new seed each run.
FUZZ_SEED ?=
fuzz:
	@bash scripts/setup.sh fuzz
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DLLM2NPU_FUZZ=ON -DLLM2NPU_SHARED_DIR=$(SHARED)
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_targets
	FUZZ_SEED=$(FUZZ_SEED) bash scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(SHARED) $(FUZZ_TARGETS)

# Benchmarks (bench/, docs/performance.md): Google Benchmark kernels, then export/eval/generate
# on a random-weight SmolLM2-135M (made once, cached in $(BENCH_DIR)/bench-model). Not part
# of build or test; results in $(BENCH_DIR)/bench.json.
BENCH_DIR ?= build-bench
bench: setup
	cmake -S . -B $(BENCH_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLM2NPU_SHARED_DIR=$(SHARED)
	cmake --build $(BENCH_DIR) -j $(JOBS) --target llm2npu llm2npu_bench
	bash bench/commands.sh $(BENCH_DIR) $(SHARED) $(BENCH_DIR)/bench.json

clean:
	rm -rf $(BUILD_DIR)
