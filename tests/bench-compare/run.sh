#!/usr/bin/env bash
# `make bench-compare`: kiln against Wasmtime 48.0.8, side by side, as
# Markdown tables.
#
# 1. The real programs (tests/programs/bench.sh wasmtime): whole-process
#    `kiln run` against `wasmtime run --allow-precompiled`, compile time and
#    artifact size, and process startup.
# 2. The micro-benchmarks: load of the largest real program (sqlite3) and of
#    a small module, instantiation, a typed host→Wasm call and a Wasm→host
#    call. kiln's side is `kiln-micro` (tests/src/bin/kiln-micro.rs), built by
#    `make build`; Wasmtime's is the crate in wasmtime-side/, built here
#    against the `wasmtime` crate, outside the workspace (and so never by
#    `make test` or CI). Both run the modules in modules/.
#
# Every pair runs in turn, A B A B, RUNS times (default 5); a figure is the
# median of those runs, each itself the median of 21 rounds of its program.
#
# Wasmtime's CLI comes from WASMTIME, else from the tools directory
# (KILN_TOOLS, default target/tools), where it is installed with `cargo
# install wasmtime-cli@48.0.8 --locked` when missing (about 25 minutes on 2
# cores).
#
# usage: tests/bench-compare/run.sh   (after `make build programs`)
#   RUNS=5  PROGRAMS="sqlite minigzip bzip2 lz4 zstdpipe"  MICRO_ONLY=1
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
release="$root/target/release"
runs="${RUNS:-5}"
version=48.0.8
tools="${KILN_TOOLS:-$root/target/tools}"
wasmtime="${WASMTIME:-$tools/wasmtime-$version/bin/wasmtime}"

if [ ! -x "$wasmtime" ]; then
    echo "Wasmtime $version is not in $tools: installing it (cargo install, about 25 minutes)" >&2
    cargo install "wasmtime-cli@$version" --locked --root "$tools/wasmtime-$version" >&2
    wasmtime="$tools/wasmtime-$version/bin/wasmtime"
fi
have="$("$wasmtime" --version)"
case "$have" in
*" $version"*) ;;
*) echo "error: $wasmtime is $have, not $version" >&2; exit 1 ;;
esac

echo "Building Wasmtime's side of the micro-benchmarks" >&2
cargo build --release --quiet --manifest-path "$here/wasmtime-side/Cargo.toml" --target-dir "$root/target/bench-wasmtime"
wasmtime_micro="$root/target/bench-wasmtime/release/kiln-bench-wasmtime"
kiln_micro="$release/kiln-micro"
[ -x "$kiln_micro" ] || { echo "error: $kiln_micro missing: run \`make build\`" >&2; exit 1; }
sqlite="$root/target/programs/wasm/sqlite.wasm"
[ -f "$sqlite" ] || { echo "error: $sqlite missing: run \`make programs\`" >&2; exit 1; }

if [ -z "${MICRO_ONLY:-}" ]; then
    WASMTIME="$wasmtime" bash "$root/tests/programs/bench.sh" wasmtime
    echo
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Runs `SIDE_PROGRAM ARGS` and appends each `name value` line it prints to
# $work/SIDE.NAME.
collect() {
    local side="$1" program="$2"
    shift 2
    "$program" "$@" | while read -r name value; do
        echo "$value" >>"$work/$side.${name//\//_}"
    done
}

for _ in $(seq "$runs"); do
    for side in kiln wasmtime; do
        program="$kiln_micro"
        [ "$side" = wasmtime ] && program="$wasmtime_micro"
        collect "$side" "$program" micro "$here/modules"
        # `load` prints `load`; keep the two modules apart.
        collect "$side.sqlite" "$program" load "$sqlite"
        collect "$side.small" "$program" load "$here/modules/small.wat"
    done
done

row() {
    local what="$1" kiln_file="$2" wasmtime_file="$3" unit="$4" scale="$5"
    local k w
    k="$(median <"$work/$kiln_file")"
    w="$(median <"$work/$wasmtime_file")"
    awk -v what="$what" -v k="$k" -v w="$w" -v unit="$unit" -v scale="$scale" \
        'BEGIN { printf "| %s | %.1f %s | %.1f %s | %.2f× |\n", what, w / scale, unit, k / scale, unit, k / w }'
}

echo "Micro-benchmarks: each figure is the median of $runs runs of 21 rounds, kiln and Wasmtime in turn. $(nproc) CPUs."
echo
echo "| benchmark | wasmtime | kiln | kiln / wasmtime |"
echo "| --- | ---: | ---: | ---: |"
row "load sqlite3 ($(du -h "$sqlite" | cut -f1) of Wasm): Module::from_file / deserialize_file" \
    kiln.sqlite.load wasmtime.sqlite.load µs 1000
row "load a small module (modules/small.wat)" kiln.small.load wasmtime.small.load µs 1000
row "instantiate modules/small.wat from an InstancePre, fresh store" kiln.instantiate wasmtime.instantiate µs 1000
row "typed call host→Wasm (add)" kiln.call_typed wasmtime.call_typed ns 1
row "Wasm→host call, per call of 1000 in a loop" kiln.call_host wasmtime.call_host ns 1
row "host→Wasm→host round trip (call_log)" kiln.call_host_once wasmtime.call_host_once ns 1
