#!/usr/bin/env bash
# Wall time of each real program (tests/programs/build.sh) under `kiln run`
# against its native build on the same workload: the median of RUNS runs,
# each in a fresh directory whose setup is not timed; plus how long kilnc
# takes to compile each program (median of RUNS) and the sizes involved.
# Prints a Markdown table.
#
# `bench.sh instrumentation` measures instead what kilnc's run-time checks
# cost: each program compiled plain, with --epoch-interruption (run with a
# deadline: --timeout 1h) and with --fuel (run with u64::MAX fuel), the
# three run alternately, RUNS times each, and the medians compared.
#
# `bench.sh wasmtime` measures kiln against Wasmtime (WASMTIME names its
# CLI; `make bench-compare` installs 48.0.8 and passes it): each program
# compiled by kilnc (baseline CPU, and --cpu native, which is what
# `wasmtime compile` targets by default) and by `wasmtime compile`, the
# compile times and sizes, then the three run in turn, whole processes
# (`kiln run` against `wasmtime run --allow-precompiled`); plus `startup`,
# sqlite3 answering one `SELECT 1` (process start, load and instantiation).
#
# `bench.sh compare` measures this build against another: BASE names the
# release directory of another build of kiln (its `kilnc` and `kiln`, e.g.
# of an earlier commit); each program is compiled by both kilncs and run
# by both kilns, the two run alternately, RUNS times each.
#
# usage: tests/programs/bench.sh [instrumentation | compare | wasmtime]
#                                (`make bench-programs`,
#                                `make bench-instrumentation` and
#                                `make bench-base BASE=DIR` build first;
#                                `make bench-compare` runs the wasmtime mode)
#   RUNS=5  BENCH_SIZE=8388608 (bytes of text the compressors work on)
#   PROGRAMS="sqlite minigzip bzip2 lz4 zstdpipe" (which programs)
#   KILNC_FLAGS="--fuel" (more kilnc flags for the kiln artifacts of the
#                         first table, e.g. to time one instrumentation)
#   KILN_RUN_FLAGS="--fuel 1000000000000" (more `kiln run` flags for them)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${KILN_PROGRAMS_DIR:-$root/target/programs}"
release="$root/target/release"
runs="${RUNS:-5}"
size="${BENCH_SIZE:-8388608}"
programs="${PROGRAMS:-sqlite minigzip bzip2 lz4 zstdpipe}"
mode="${1:-native}"
case "$mode" in
native | instrumentation) ;;
compare)
    base="${BASE:-}"
    for f in "$base/kiln" "$base/kilnc"; do
        [ -x "$f" ] || { echo "error: BASE=$base has no $(basename "$f") to compare with" >&2; exit 1; }
    done
    ;;
wasmtime)
    wasmtime="${WASMTIME:-}"
    [ -x "$wasmtime" ] || { echo "error: WASMTIME=$wasmtime is not Wasmtime's CLI" >&2; exit 1; }
    ;;
*) echo "usage: $0 [instrumentation | compare | wasmtime]" >&2; exit 2 ;;
esac
read -r -a kilnc_flags <<<"${KILNC_FLAGS:-}"
read -r -a kiln_run_flags <<<"${KILN_RUN_FLAGS:-}"

for f in "$release/kiln" "$release/kilnc" "$out/gendata"; do
    [ -x "$f" ] || { echo "error: $f missing: run \`make bench-programs\`" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/objects" "$work/inputs"
"$out/gendata" "$size" "$work/inputs/data.txt"
cp "$here/sqlite/build.sql" "$work/inputs/"
echo "SELECT 1;" >"$work/inputs/one.sql"

now_ns() { date +%s%N; }

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The kilnc flags of a kiln SIDE's artifacts, and its `kiln run` flags.
side_kilnc_flags() {
    case "$1" in
    kiln) echo "${kilnc_flags[@]}" ;;
    epoch) echo --epoch-interruption ;;
    fuel) echo --fuel ;;
    native-cpu) echo --cpu native ;;
    base) ;;
    esac
}
side_run_flags() {
    case "$1" in
    kiln) echo "${kiln_run_flags[@]}" ;;
    epoch) echo --timeout 3600s ;;
    fuel) echo --fuel 18446744073709551615 ;;
    base) ;;
    esac
}

# The release directory whose kilnc and kiln make and run SIDE's artifacts.
side_release() {
    case "$1" in
    base) echo "$base" ;;
    *) echo "$release" ;;
    esac
}

# Runs program NAME of SIDE (native, or kiln | epoch | fuel: its artifact
# plain, or as the first table's flags give it; with epoch checks; with
# fuel metering) with ARGS in the current directory.
prog() {
    local side="$1" name="$2"
    shift 2
    case "$side" in
    native) "$out/native/$name" "$@" ;;
    wasmtime) "$wasmtime" run --allow-precompiled --dir "$PWD::/" "$work/objects/$name.cwasm" "$@" ;;
    *)
        local run_flags
        read -r -a run_flags <<<"$(side_run_flags "$side")"
        "$(side_release "$side")/kiln" run "$work/objects/$name.$side.o" "${run_flags[@]}" --dir "$PWD::/" -- "$@"
        ;;
    esac
}

# The timed workload of each program; stdout is discarded, the exit status
# checked.
workload() {
    local side="$1" name="$2"
    case "$name" in
    sqlite) prog "$side" sqlite orders.db build.sql >/dev/null ;;
    startup) prog "$side" sqlite one.db one.sql >/dev/null ;;
    minigzip) prog "$side" minigzip -9 data.txt >/dev/null && prog "$side" minigzip -d data.txt.gz >/dev/null ;;
    bzip2) prog "$side" bzip2 -9 -k data.txt && prog "$side" bzip2 -d -c data.txt.bz2 >/dev/null ;;
    lz4) prog "$side" lz4 -q -9 data.txt data.lz4 && prog "$side" lz4 -q -d data.lz4 restored.txt ;;
    zstdpipe) prog "$side" zstdpipe -12 data.txt data.zst >/dev/null &&
        prog "$side" zstdpipe -d data.zst restored.txt >/dev/null ;;
    esac
}

describe() {
    case "$1" in
    sqlite) echo "sqlite3: build.sql (60k-row database, joins, FTS5, VACUUM)" ;;
    startup) echo "startup: sqlite3 answering SELECT 1" ;;
    minigzip) echo "zlib minigzip -9, then -d" ;;
    bzip2) echo "bzip2 -9, then -d" ;;
    lz4) echo "lz4 -9, then -d" ;;
    zstdpipe) echo "zstd level 12, then -d" ;;
    esac
}

# Milliseconds of one timed workload in a fresh directory, to 0.1 ms (the
# startup workload takes a few).
time_once() {
    local side="$1" name="$2" dir
    dir="$(mktemp -d "$work/run.XXXXXX")"
    cp "$work/inputs/"* "$dir/"
    local start end
    start="$(now_ns)"
    (cd "$dir" && workload "$side" "$name") || { echo "error: $name ($side) failed" >&2; exit 1; }
    end="$(now_ns)"
    rm -rf "$dir"
    awk -v ns="$((end - start))" 'BEGIN { printf "%.1f\n", ns / 1000000 }'
}

human() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MiB", b / 1048576; else printf "%.0f KiB", b / 1024 }'; }

# Compiles program NAME's artifact for SIDE.
compile_side() {
    local side="$1" name="$2" flags
    read -r -a flags <<<"$(side_kilnc_flags "$side")"
    "$(side_release "$side")/kilnc" "${flags[@]}" "$out/wasm/$name.wasm" -o "$work/objects/$name.$side.o"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

if [ "$mode" = compare ]; then
    echo "Each figure is the median of $runs runs, the two builds run in turn; text input $(human "$size"). $(nproc) CPUs."
    echo "base: $base ($("$base/kiln" --version 2>/dev/null || echo kiln)); this: $release."
    echo
    echo "| program (workload) | base | this | this / base |"
    echo "| --- | ---: | ---: | ---: |"
    for name in $programs; do
        [ -f "$out/wasm/$name.wasm" ] || { echo "error: $out/wasm/$name.wasm missing: run \`make programs\`" >&2; exit 1; }
        for side in base kiln; do
            compile_side "$side" "$name"
            : >"$work/$side.ms"
        done
        for _ in $(seq "$runs"); do
            for side in base kiln; do
                time_once "$side" "$name" >>"$work/$side.ms"
            done
        done
        base_ms="$(median <"$work/base.ms")"
        this_ms="$(median <"$work/kiln.ms")"
        printf '| %s | %s ms | %s ms | %s× |\n' "$(describe "$name")" "$base_ms" "$this_ms" "$(ratio "$this_ms" "$base_ms")"
    done
    exit 0
fi

if [ "$mode" = wasmtime ]; then
    echo "Each figure is the median of $runs runs, the sides run in turn; text input $(human "$size"). $(nproc) CPUs."
    echo "Wasmtime: $("$wasmtime" --version). kiln: kilnc at its baseline CPU, and with --cpu native (the host's"
    echo "features, as \`wasmtime compile\` uses by default)."
    echo
    echo "| program (workload) | wasmtime run | kiln run | kiln / wasmtime | kiln native | native / wasmtime | compile: wasmtime / kilnc | kilnc / wasmtime | .cwasm | kiln .o | .o / .cwasm |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    ratios=()
    for name in $programs startup; do
        # `startup` runs sqlite3's artifacts.
        art="$name"
        [ "$name" = startup ] && art=sqlite
        wasm="$out/wasm/$art.wasm"
        [ -f "$wasm" ] || { echo "error: $wasm missing: run \`make programs\`" >&2; exit 1; }
        : >"$work/compile.wasmtime.ms"
        : >"$work/compile.kiln.ms"
        for _ in $(seq "$runs"); do
            start="$(now_ns)"
            "$wasmtime" compile "$wasm" -o "$work/objects/$art.cwasm"
            echo $((($(now_ns) - start) / 1000000)) >>"$work/compile.wasmtime.ms"
            start="$(now_ns)"
            compile_side kiln "$art"
            echo $((($(now_ns) - start) / 1000000)) >>"$work/compile.kiln.ms"
        done
        compile_side native-cpu "$art"
        for side in wasmtime kiln native-cpu; do : >"$work/$side.ms"; done
        for _ in $(seq "$runs"); do
            for side in wasmtime kiln native-cpu; do
                time_once "$side" "$name" >>"$work/$side.ms"
            done
        done
        w_ms="$(median <"$work/wasmtime.ms")"
        k_ms="$(median <"$work/kiln.ms")"
        n_ms="$(median <"$work/native-cpu.ms")"
        wc_ms="$(median <"$work/compile.wasmtime.ms")"
        kc_ms="$(median <"$work/compile.kiln.ms")"
        cwasm_size="$(stat -c %s "$work/objects/$art.cwasm")"
        o_size="$(stat -c %s "$work/objects/$art.kiln.o")"
        [ "$name" = startup ] || ratios+=("$(ratio "$k_ms" "$w_ms")")
        printf '| %s | %s ms | %s ms | %s× | %s ms | %s× | %s / %s ms | %s× | %s | %s | %s× |\n' "$(describe "$name")" \
            "$w_ms" "$k_ms" "$(ratio "$k_ms" "$w_ms")" "$n_ms" "$(ratio "$n_ms" "$w_ms")" "$wc_ms" "$kc_ms" \
            "$(ratio "$kc_ms" "$wc_ms")" "$(human "$cwasm_size")" "$(human "$o_size")" "$(ratio "$o_size" "$cwasm_size")"
    done
    geomean="$(printf '%s\n' "${ratios[@]}" | awk '{ s += log($1) } END { printf "%.3f", exp(s / NR) }')"
    echo
    echo "Geometric mean of kiln run / wasmtime run over the programs (startup left out): ${geomean}×."
    exit 0
fi

if [ "$mode" = instrumentation ]; then
    echo "Each figure is the median of $runs runs, the three builds run in turn; text input $(human "$size"). $(nproc) CPUs."
    echo "epoch: kilnc --epoch-interruption, run with --timeout 3600s; fuel: kilnc --fuel, run with --fuel 2^64-1."
    echo
    echo "| program (workload) | plain | epoch | epoch / plain | fuel | fuel / plain | .o plain / epoch / fuel |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for name in $programs; do
        [ -f "$out/wasm/$name.wasm" ] || { echo "error: $out/wasm/$name.wasm missing: run \`make programs\`" >&2; exit 1; }
        for side in kiln epoch fuel; do
            compile_side "$side" "$name"
            : >"$work/$side.ms"
        done
        for _ in $(seq "$runs"); do
            for side in kiln epoch fuel; do
                time_once "$side" "$name" >>"$work/$side.ms"
            done
        done
        plain_ms="$(median <"$work/kiln.ms")"
        epoch_ms="$(median <"$work/epoch.ms")"
        fuel_ms="$(median <"$work/fuel.ms")"
        size_of() { human "$(stat -c %s "$work/objects/$name.$1.o")"; }
        printf '| %s | %s ms | %s ms | %s× | %s ms | %s× | %s / %s / %s |\n' "$(describe "$name")" "$plain_ms" \
            "$epoch_ms" "$(ratio "$epoch_ms" "$plain_ms")" "$fuel_ms" "$(ratio "$fuel_ms" "$plain_ms")" \
            "$(size_of kiln)" "$(size_of epoch)" "$(size_of fuel)"
    done
    exit 0
fi

echo "Each figure is the median of $runs runs; text input $(human "$size"). $(nproc) CPUs."
if [ -n "${KILNC_FLAGS:-}${KILN_RUN_FLAGS:-}" ]; then
    echo "kiln artifacts compiled with kilnc ${KILNC_FLAGS:-}, run with kiln run ${KILN_RUN_FLAGS:-}."
fi
echo
echo "| program (workload) | native | kiln run | kiln / native | kilnc compile | .wasm | kiln .o |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in $programs; do
    wasm="$out/wasm/$name.wasm"
    [ -f "$wasm" ] || { echo "error: $wasm missing: run \`make programs\`" >&2; exit 1; }
    compile_ms="$(for _ in $(seq "$runs"); do
        start="$(now_ns)"
        "$release/kilnc" "${kilnc_flags[@]}" "$wasm" -o "$work/objects/$name.kiln.o"
        echo $((($(now_ns) - start) / 1000000))
    done | median)"
    # Alternating the two sides spreads any drift of the machine over both.
    : >"$work/native.ms"
    : >"$work/kiln.ms"
    for _ in $(seq "$runs"); do
        time_once native "$name" >>"$work/native.ms"
        time_once kiln "$name" >>"$work/kiln.ms"
    done
    native_ms="$(median <"$work/native.ms")"
    kiln_ms="$(median <"$work/kiln.ms")"
    ratio="$(awk -v k="$kiln_ms" -v n="$native_ms" 'BEGIN { printf "%.2f", k / n }')"
    printf '| %s | %s ms | %s ms | %s× | %s ms | %s | %s |\n' "$(describe "$name")" "$native_ms" "$kiln_ms" \
        "$ratio" "$compile_ms" "$(human "$(stat -c %s "$wasm")")" "$(human "$(stat -c %s "$work/objects/$name.kiln.o")")"
done
