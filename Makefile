# Entry points: `make demo`, `make test`. Both install missing Debian packages first.
BUILD_DIR ?= build
SHARED ?= $(abspath ../shared)
JOBS ?= $(shell nproc)
MODEL ?= $(SHARED)/data/models/stories260K

.PHONY: all setup configure build test demo clean

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

clean:
	rm -rf $(BUILD_DIR)
