# The commands a newcomer needs:
#   make run      set up, build, and run the bus on its embedded default (./govesb-data)
#   make cluster  set up, build, and run a 3-node cluster behind nginx on this machine
#                 (./govesb-cluster; the top of scripts/cluster says more)
#   make check    set up, build, and pass every test: `make test` (the suite on the optimised
#                 build), then `make test-asan`, `make test-tsan` and `make fuzz-smoke`
#   make package  set up, build, and make the Debian packages govesb and govesb-dev in
#                 build/packages (docs/install.md)
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DATA_DIR ?= ./govesb-data
LISTEN ?= 127.0.0.1:8443
# ccache (installed by setup) keys its cache on paths relative to the checkout, so that another
# clone of the project on the same machine (CI's) reuses what was compiled here.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

# A line with the time before each step of a long target, so that a log cut short (CI's limit)
# shows where the time went.
define stamp
@echo "== make $@: $(1) at $$(date -u +%H:%M:%S)"
endef

.PHONY: all setup build run cluster package test check test-asan test-tsan fuzz-build fuzz fuzz-smoke bench clean format

all: build

setup:
	@scripts/setup

build: setup
	$(call stamp,building $(BUILD_DIR))
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DGOVESB_WERROR=ON
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@DATA_DIR=$(DATA_DIR) LISTEN=$(LISTEN) scripts/demo $(BUILD_DIR)/apps/govesb/govesb

# Cluster mode on this machine: PostgreSQL, 3 NATS JetStream servers, 3 nodes, nginx in front.
CLUSTER_DIR ?= ./govesb-cluster
cluster: build
	@CLUSTER_DIR=$(CLUSTER_DIR) scripts/cluster $(BUILD_DIR)/apps/govesb/govesb

# The Debian packages (docs/install.md): govesb_VERSION_ARCH.deb (the bus as a systemd
# service) and govesb-dev_VERSION_ARCH.deb (the C++ SDK), binaries stripped.
PACKAGE_DIR ?= $(BUILD_DIR)/packages
package: build
	cd $(BUILD_DIR) && cpack -G DEB -B $(abspath $(PACKAGE_DIR))
	@ls -l $(PACKAGE_DIR)/*.deb

test: build
	$(call stamp,testing)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600

# Everything CI runs (.ci/run).
check: test test-asan test-tsan fuzz-smoke

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan; the test
# left out is named in README.md and CMakePresets.json).
test-asan: setup
	$(call stamp,building build-asan)
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	$(call stamp,testing)
	ctest --preset asan -j $(JOBS) --timeout 900

# The concurrency tests (labels concurrency and e2e) under ThreadSanitizer (build-tsan): only
# their targets are built.
TSAN_TARGETS = govesb_store_test govesb_delivery_test govesb_http_test govesb_evidence_test \
               govesb_registry_test govesb_e2e_test govesb_push_async_test \
               govesb_admin_e2e_test govesb_limits_test govesb_traffic_test \
               govesb_cluster_e2e_test govesb_test_postgres
test-tsan: setup
	$(call stamp,building build-tsan)
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS) --target $(TSAN_TARGETS)
	$(call stamp,testing)
	ctest --preset tsan -j $(JOBS) --timeout 900

# libFuzzer (fuzz/README.md), built with clang in build-fuzz. fuzz-smoke: every target a few
# seconds over its seeds, and every saved regression replayed; fails on any crash. fuzz: long
# runs, FUZZ_SECONDS per target (default 300), crashes saved to fuzz/crashes/.
fuzz-build: setup
	$(call stamp,building build-fuzz)
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)

fuzz-smoke: fuzz-build
	$(call stamp,fuzzing)
	fuzz/run smoke

fuzz: fuzz-build
	fuzz/run long

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz

# The benchmark (not a test): prints a table, writes bench/results/latest.json and
# docs/performance.md. DURATION=seconds per row (default 10).
bench: build
	@BUILD_DIR=$(BUILD_DIR) bench/run
