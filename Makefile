# kiln: build, run the demo, test.
#
#   make run    build, compile the bundled example with kilnc, run it with kiln
#   make test   every test of the workspace, the WebAssembly spec suite included
#   make spec   the spec suite alone, one line per script

CARGO ?= cargo
RELEASE := target/release
SUITE := $(or $(KILN_TESTSUITE),../shared/testsuite/wasm-2.0)
# The SIMD scripts are not part of kiln's supported feature set yet.
SPEC_SCRIPTS = $(filter-out $(SUITE)/simd_%,$(wildcard $(SUITE)/*.wast))

.PHONY: all build run test spec clean

all: build

build:
	$(CARGO) build --release --workspace

run: build
	$(RELEASE)/kilnc tests/examples/sieve.wat -o target/example.o
	@printf 'primes below 1,000,000: '
	@$(RELEASE)/kiln run target/example.o --invoke main

# The CLI tests run target/release/kilnc and kiln, which `cargo test` alone
# builds only for crates with integration tests of their own.
test: build
	$(CARGO) test --release --workspace

spec: build
	@test -n "$(SPEC_SCRIPTS)" || { echo "error: no scripts in $(SUITE)" >&2; exit 1; }
	$(RELEASE)/kiln-wast $(SPEC_SCRIPTS)

clean:
	$(CARGO) clean
