# kiln: build, run the demo, test.
#
#   make run    build; compile and run the bundled examples (a Wasm sieve, and a
#               C wc built for WASI with clang, run sandboxed by `kiln run`)
#   make test   every test of the workspace, the WebAssembly spec suite included
#   make spec   the four spec suites alone (tests/tests/spec.rs), one line per script
#   make valgrind  the randomized externref and GC stress tests under valgrind
#   make bench-programs   real C programs under `kiln run` against native builds
#   make bench-gc  Wasm GC programs under `kiln run` against Wasmtime's collectors
#   make bench-instrumentation   their cost of --epoch-interruption and --fuel
#   make bench-compare   kiln against Wasmtime 48.0.8: the real programs, load,
#               instantiate and call micro-benchmarks, side by side (installs
#               Wasmtime's CLI into target/tools when missing: ~25 minutes)
#   make bench-base BASE=DIR   the real programs against another build's kilnc and kiln
#   make fuzz-diff N=100000   differential execution against wasmi on seeds
#               START..START+N (START=0), mismatches saved in tests/regressions/
#   make completions   shell completions of kilnc and kiln, in target/completions/SHELL/
#   make man    man pages of kilnc and kiln (kiln.1, kiln-run.1, ...), in target/man/

CARGO ?= cargo
RELEASE := target/release

.PHONY: all deps build run test spec valgrind valgrind-one bench-gc clean programs bench-programs bench-instrumentation bench-compare bench-base dist bench clis completions man

all: build

# The workspace includes kiln-runtime: target/release/libkiln_runtime.a,
# beside kilnc, which `kilnc --emit exe` links executables with.
build: deps
	$(CARGO) build --release --workspace

# Debian packages the build and tests need (the WASI toolchain, valgrind,
# what the containerd shim builds with) and containerd for the shim's test.
deps:
	@bash tests/install-deps.sh

run: build
	$(RELEASE)/kilnc tests/examples/sieve.wat -o target/example.o
	@printf 'primes below 1,000,000: '
	@$(RELEASE)/kiln run target/example.o --invoke main
	@# Compiled, then linked without -O, so that clang never runs wasm-opt on it.
	clang --target=wasm32-wasi --sysroot=/usr -O2 -c tests/examples/wc.c -o target/example-wc.wasm.o
	clang --target=wasm32-wasi --sysroot=/usr target/example-wc.wasm.o -o target/example-wc.wasm
	$(RELEASE)/kilnc target/example-wc.wasm -o target/example-wc.o
	$(RELEASE)/kiln run target/example-wc.o --dir tests/examples::/examples --env LIST=/examples \
		-- /examples/wc.c /examples/sieve.wat

# The CLI tests run target/release/kilnc and kiln, which `cargo test` alone
# builds only for crates with integration tests of their own; the real-program
# tests (tests/tests/programs.rs) need the C programs built for both sides,
# and the C API's test (loader/capi/tests/c_api.rs) runs under valgrind.
test: build programs completions man
	$(CARGO) test --release --workspace --no-fail-fast

# kilnc and kiln alone, for what needs only them.
clis:
	$(CARGO) build --release -p kilnc -p kiln-cli

# Completion scripts of both command lines for each shell, each where that
# shell looks for it once the directory is installed: bash-completion's
# completions/kilnc, zsh's fpath _kilnc, fish's kilnc.fish. Each file is
# written whole or not at all.
SHELLS := bash zsh fish elvish powershell
completions: clis
	@for shell in $(SHELLS); do \
		mkdir -p target/completions/$$shell || exit 1; \
		for cli in kilnc kiln; do \
			case $$shell in \
				bash) file=$$cli ;; zsh) file=_$$cli ;; fish) file=$$cli.fish ;; \
				elvish) file=$$cli.elv ;; powershell) file=$$cli.ps1 ;; \
			esac; \
			if [ $$cli = kilnc ]; then generate="--completion"; else generate="completion"; fi; \
			out=target/completions/$$shell/$$file; \
			$(RELEASE)/$$cli $$generate $$shell > $$out.tmp && mv $$out.tmp $$out || { rm -f $$out.tmp; exit 1; }; \
		done; \
	done
	@echo "completions in target/completions/{$$(echo $(SHELLS) | tr ' ' ,)}/"

# Man pages: kilnc.1, kiln.1 and one per kiln subcommand (kiln-run.1, ...).
man: clis
	@mkdir -p target/man
	$(RELEASE)/kilnc --man target/man
	$(RELEASE)/kiln man target/man
	@echo "man pages in target/man/ (read one with: man -l target/man/kiln-run.1)"

# Real C programs for wasm32-wasi and natively, into target/programs/; the
# install script adds the WASI toolchain when it is missing.
programs: deps
	bash tests/programs/build.sh

# Wall time of each program under `kiln run` against its native build.
bench-programs: build programs
	bash tests/programs/bench.sh

# The Wasm GC programs against Wasmtime's collectors (WASMTIME=path).
bench-gc: build
	bash tests/programs/gc/bench.sh

bench-instrumentation: build programs
	bash tests/programs/bench.sh instrumentation

# kiln against Wasmtime 48.0.8, side by side (tests/bench-compare/run.sh:
# WASMTIME=path uses that CLI, KILN_TOOLS=DIR installs it there, RUNS=5).
bench-compare: build programs
	bash tests/bench-compare/run.sh

# This build against another one: BASE=DIR, the release directory of a
# build of another commit (its kilnc and kiln).
bench-base: build programs
	BASE=$(BASE) bash tests/programs/bench.sh compare

# wasm-2.0 (plain, epoch checks, fuel, pooling), wasm-3.0 (its GC scripts
# reported apart), proposals/threads and legacy-exceptions; SPEC=NAME runs
# the tests whose names contain NAME (e.g. SPEC=threads).
spec: build
	$(CARGO) test --release -p kiln-tests --test spec -- --nocapture --test-threads 1 $(SPEC)

# The stress test exercises the GC's stack walk and every barrier; valgrind
# must report no error (invalid read or write, use of freed or uninitialised
# memory) anywhere in it. A first run without valgrind compiles the test's
# object, which the run under valgrind then reuses.
VALGRIND_TEST := stress_random_operations_keep_drop_counts_exact

valgrind:
	$(MAKE) valgrind-one TEST=externref_gc CASE=$(VALGRIND_TEST)
	$(MAKE) valgrind-one TEST=gc_leaks CASE=random_operations_under_valgrind

valgrind-one:
	$(CARGO) test --release -p kiln-tests --test $(TEST) --no-run
	bin=$$($(CARGO) test --release -p kiln-tests --test $(TEST) --no-run 2>&1 \
		| sed -n 's/^ *Executable .*(\(.*\))$$/\1/p'); \
	test -x "$$bin" || { echo "error: no $(TEST) test binary" >&2; exit 1; }; \
	"$$bin" --exact $(CASE) && \
	valgrind --error-exitcode=1 --errors-for-leak-kinds=definite --leak-check=full \
		"$$bin" --exact $(CASE) --test-threads=1

# The shipped loader, built for size (see [profile.dist] in Cargo.toml),
# without `kiln completion` and `kiln man` (feature docs): ship the files of
# `make completions man` beside it instead. Nor `kiln oci build` (feature
# oci): images are built where the release build is, not on the nodes.
dist:
	$(CARGO) build --profile dist -p kiln-cli --bin kiln --no-default-features --features wasi,verify,sign
	@ls -l target/dist/kiln

# Micro-benchmarks (criterion): load/instantiate speed and externref costs.
bench:
	$(CARGO) bench -p kiln-tests

# A differential campaign: wasm-smith modules of seeds START..START+N, run by
# kiln and by wasmi (tests/tests/differential.rs, test `campaign`), on every
# core; each mismatching module is saved as tests/regressions/SEED.wasm.
N ?= 100000
START ?= 0
.PHONY: fuzz-diff
fuzz-diff:
	KILN_DIFF_SEEDS=$(START)..$$(($(START) + $(N))) $(CARGO) test --release -p kiln-tests --test differential \
		-- --ignored --exact campaign --nocapture

clean:
	$(CARGO) clean
