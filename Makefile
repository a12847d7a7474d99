# The two commands a newcomer needs:
#   make run    set up, build, and run the bus on its embedded default (./govesb-data)
#   make test   set up, build, and run every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DATA_DIR ?= ./govesb-data
LISTEN ?= 127.0.0.1:8443

.PHONY: all setup build run test bench clean format

all: build

setup:
	@scripts/setup

build: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DGOVESB_WERROR=ON
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@DATA_DIR=$(DATA_DIR) LISTEN=$(LISTEN) scripts/demo $(BUILD_DIR)/apps/govesb/govesb

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD_DIR)

# The benchmark (not a test): prints a table, writes bench/results/latest.json and
# docs/performance.md. DURATION=seconds per row (default 10).
bench: build
	@BUILD_DIR=$(BUILD_DIR) bench/run
