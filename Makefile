# The two commands: `make run` and `make test`. Everything else is a step they use.
.PHONY: run test setup build up down status clean fuzz capacity install bench

SWIFT_BUILD_FLAGS ?=

run: setup build
	scripts/stack.sh run

test: setup
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	scripts/test.sh

setup:
	scripts/setup.sh

build:
	swift build $(SWIFT_BUILD_FLAGS)

up: setup build
	scripts/stack.sh up

down:
	scripts/stack.sh down

status:
	scripts/stack.sh status

clean: down
	rm -rf .run .build

# Fuzz the request and message parsers with libFuzzer for FUZZ_SECONDS (not part of `make test`).
FUZZ_SECONDS ?= 600
fuzz: setup
	# --sanitize fuzzer alone links libFuzzer but does not instrument for coverage here: ask for it.
	cd Fuzz && swift build --sanitize fuzzer --sanitize address \
	  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --product RequestParsingFuzzer
	mkdir -p .run/fuzz-corpus && cp Fuzz/seeds/* .run/fuzz-corpus/ 2>/dev/null || true
	Fuzz/.build/debug/RequestParsingFuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 .run/fuzz-corpus

# 500 clients through nginx against a slow DashScope (needs `make up`; not part of `make test`).
capacity:
	bench/capacity.sh

# Release binaries, migrations, nginx snippets, docs and systemd units under PREFIX (docs/operations.md).
PREFIX ?= /usr/local
# Only the build prerequisites: never the development stack (MariaDB server, nginx, Chromium, the test broker).
install:
	scripts/setup.sh --build-only
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) deploy/install.sh

# W1–W5 side by side with the original design (bench/README.md); writes bench/results/. Uses its own
# stack state (.run/bench) on the same ports: stop `make run` first. About 20 minutes.
bench: build
	scripts/setup.sh --bench
	/usr/bin/python3 bench/run.py
