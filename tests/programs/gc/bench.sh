#!/bin/bash
# Wall time and peak memory of the Wasm GC programs under `kiln run`, side by
# side with Wasmtime's two collectors (copying and drc), alternating runs.
#
#   WASMTIME=/path/to/wasmtime RUNS=5 bash tests/programs/gc/bench.sh
#
# WASMTIME defaults to `wasmtime` on PATH (the anchor is Wasmtime 48.0.8:
# `cargo install wasmtime-cli@48.0.8 --locked --root DIR`). Without one, only
# kiln is measured. Each line: program, argument, engine, seconds, peak KiB.
set -euo pipefail
cd "$(dirname "$0")/../../.."
release=target/release
wasmtime=${WASMTIME:-$(command -v wasmtime || true)}
runs=${RUNS:-3}
out=target/gc-bench
mkdir -p "$out"

for prog in binary_trees cycles; do
  "$release/kilnc" "tests/programs/gc/$prog.wat" -o "$out/$prog.o"
  if [ -n "$wasmtime" ]; then
    for collector in copying drc; do
      "$wasmtime" compile -W gc=y,function-references=y -C collector=$collector \
        "tests/programs/gc/$prog.wat" -o "$out/$prog-$collector.cwasm"
    done
  fi
done

measure() { # label, command...
  local label=$1
  shift
  /usr/bin/time -f "$label %e %M" -o "$out/time.txt" "$@" >/dev/null 2>"$out/stderr.txt" \
    || { cat "$out/stderr.txt" >&2; exit 1; }
  cat "$out/time.txt"
}

for case in "binary_trees 14" "binary_trees 18" "cycles 3000000"; do
  set -- $case
  for _ in $(seq "$runs"); do
    measure "$1 $2 kiln" "$release/kiln" run --invoke run "$out/$1.o" "$2"
    if [ -n "$wasmtime" ]; then
      for collector in copying drc; do
        measure "$1 $2 wasmtime-$collector" "$wasmtime" run --allow-precompiled -W gc=y,function-references=y \
          -C collector=$collector --invoke run "$out/$1-$collector.cwasm" "$2"
      done
    fi
  done
done
