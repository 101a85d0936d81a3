# recruit: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
SWIFT ?= swift
CONFIG ?= debug
BIN_DIR = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path 2>/dev/null)
RECRUIT = $(BIN_DIR)/recruit
DEMO_DIR ?= demo

.PHONY: all prereqs build release demo test bench bench-load bench-cohort bench-scale clean help

help:
	@echo "make demo   - install prerequisites, build, and run the whole pipeline on a synthetic extract"
	@echo "make test   - install prerequisites, build, and run the tests against a throwaway PostgreSQL cluster"
	@echo "make build  - build the recruit command (CONFIG=release for an optimised build)"
	@echo "make bench  - benchmarks against the shared baseline (bench-load, bench-cohort; SIZE=100k for the small one)"
	@echo "make bench-scale - load and run at 100k, 1M and 5M patients on one node (SIZES=\"100k 1m\" for fewer)"

prereqs:
	@scripts/prereqs.sh

build: prereqs
	$(SWIFT) build -c $(CONFIG)
	@git rev-parse --short=12 HEAD > "$(BIN_DIR)/recruit.commit" 2>/dev/null || true

release:
	$(MAKE) build CONFIG=release

# The demo runs on the embedded cluster (./.recruit) unless a database is configured.
demo: build
	@scripts/demo.sh "$(RECRUIT)" "$(DEMO_DIR)"

# The report tests render HTML with headless Chromium (Debian's chromium).
test: build
	@scripts/prereqs.sh chromium
	$(SWIFT) build --build-tests
	@scripts/with-test-cluster.sh "$(RECRUIT)" $(SWIFT) test --skip-build

# Benchmarks against the shared baseline (../shared/bench): SIZE=1m (default) or SIZE=100k.
SIZE ?= 1m
bench: bench-load bench-cohort

bench-load:
	$(MAKE) release
	SIZE=$(SIZE) RECRUIT="$$($(SWIFT) build -c release --show-bin-path)/recruit" scripts/bench-load.sh

bench-cohort:
	$(MAKE) release
	SIZE=$(SIZE) RECRUIT="$$($(SWIFT) build -c release --show-bin-path)/recruit" scripts/bench-cohort.sh

# The cost curve on one node: load and run at 100k, 1M and 5M patients (SIZES="100k 1m 5m").
SIZES ?= 100k 1m 5m
bench-scale:
	$(MAKE) release
	SIZES="$(SIZES)" RECRUIT="$$($(SWIFT) build -c release --show-bin-path)/recruit" scripts/bench-scale.sh

clean:
	rm -rf .build

# Coverage-guided fuzzing of every parser of outside input (scripts/fuzz.sh;
# FUZZ_SECONDS per target, default 60).
.PHONY: fuzz fault-test scale-test
fuzz: prereqs
	@scripts/fuzz.sh

# Faults against a real throwaway cluster (scripts/fault-test.sh): SIGKILLed
# loads, immediate restarts, concurrent loads and runs, a full disk.
# An optimised build: the loads are large.
fault-test: prereqs
	$(SWIFT) build -c release --product recruit
	@scripts/fault-test.sh "$$($(SWIFT) build -c release --show-bin-path)/recruit"

# The same pipeline on a Citus cluster (coordinator + 2 workers, distributed by
# practice) and on one plain node, every output compared (scripts/scale-test.sh;
# builds Citus from ../shared/vendor/citus if needed; SCALE_PATIENTS, default 100000).
scale-test: prereqs
	$(SWIFT) build -c release --product recruit
	@scripts/scale-test.sh "$$($(SWIFT) build -c release --show-bin-path)/recruit"
