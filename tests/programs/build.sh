#!/usr/bin/env bash
# Builds the real C programs of the differential tests (tests/tests/programs.rs)
# twice from the same sources: for wasm32-wasi with clang, to be compiled by
# kilnc and run by `kiln run`, and natively with the host's cc, as the
# reference. The C sources come from crates (see sources/Cargo.toml); the small
# drivers for the crates that ship only a library live beside this script.
#
# Output, under target/programs/ (or $KILN_PROGRAMS_DIR):
#   wasm/NAME.wasm   native/NAME   gendata (the input generator, native)
# A program is rebuilt only when one of its inputs is newer than its output.
#
# usage: tests/programs/build.sh            needs tests/install-deps.sh first
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${KILN_PROGRAMS_DIR:-$root/target/programs}"
CARGO="${CARGO:-cargo}"
NATIVE_CC="${CC:-cc}"
WASI_CC=(clang --target=wasm32-wasi --sysroot=/usr)

die() {
    echo "error: $*" >&2
    exit 1
}

missing_toolchain() {
    die "$1; install the WASI toolchain with: bash tests/install-deps.sh"
}
command -v clang >/dev/null || missing_toolchain "clang not found"
[ -f /usr/lib/wasm32-wasi/libc.a ] || missing_toolchain "wasi-libc not found (/usr/lib/wasm32-wasi/libc.a)"
ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 ||
    missing_toolchain "compiler-rt builtins for wasm32 not found"
command -v "$NATIVE_CC" >/dev/null || die "no native C compiler ($NATIVE_CC)"

# Downloads the crates into cargo's registry cache (nothing is built) and
# finds where each was unpacked from `cargo metadata`'s manifest paths.
manifest="$here/sources/Cargo.toml"
"$CARGO" fetch --locked --manifest-path "$manifest" >&2
metadata="$("$CARGO" metadata --locked --format-version 1 --manifest-path "$manifest")"
crate_dir() {
    local path
    path="$(grep -o "\"manifest_path\":\"[^\"]*/$1-[0-9][^/\"]*/Cargo.toml\"" <<<"$metadata" | head -n1)"
    [ -n "$path" ] || die "crate $1 not found in the metadata of $manifest"
    path="${path#\"manifest_path\":\"}"
    dirname "$path"
}
sqlite_src="$(crate_dir libsqlite3-sys)/sqlite3"
zlib_src="$(crate_dir libz-sys)/src/zlib"
bzip2_src="$(crate_dir bzip2-sys)/bzip2-1.0.8"
lz4_src="$(crate_dir lz4-sys)/liblz4"
zstd_src="$(crate_dir zstd-sys)/zstd/lib"
for d in "$sqlite_src" "$zlib_src" "$bzip2_src" "$lz4_src" "$zstd_src"; do
    [ -d "$d" ] || die "expected sources in $d"
done

mkdir -p "$out/wasm" "$out/native" "$out/logs"

# WASI has no signals, process clocks or chmod/chown; wasi-libc emulates the
# first two when asked, and common/wasi-compat.c stands in for the last.
wasi_emulation=(-D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS)
wasi_libs=("$here/common/wasi-compat.c" -lwasi-emulated-signal -lwasi-emulated-process-clocks)
# wasm-ld's default stack is 64 KiB, placed after the data: lz4's CLI outgrows
# it and silently overwrites libc's globals. The native default is 8 MiB; the
# same here, first in memory so that an overflow traps instead.
wasi_libs+=(-Wl,-z,stack-size=8388608 -Wl,--stack-first)

# wasi_build OUT.wasm ARGS...: compiles each `.c` of ARGS with -O2 and the
# other ARGS, then links the objects with the other ARGS and no -O. An
# optimised link would make clang run binaryen's wasm-opt whenever it is
# installed (Emscripten's package brings it), which strips the name section
# and rewrites the code: the programs would depend on what else the machine
# has.
wasi_build() {
    local wasm="$1"
    shift
    local flags=() sources=() objects=() objdir
    for arg in "$@"; do
        case "$arg" in
        *.c) sources+=("$arg") ;;
        *) flags+=("$arg") ;;
        esac
    done
    objdir="$(mktemp -d "$out/objects.XXXXXX")"
    for source in "${sources[@]}"; do
        local object
        object="$objdir/${#objects[@]}.o"
        "${WASI_CC[@]}" -O2 -w -c "${flags[@]}" "$source" -o "$object" || { rm -rf "$objdir"; return 1; }
        objects+=("$object")
    done
    "${WASI_CC[@]}" -w "${flags[@]}" "${objects[@]}" -o "$wasm"
    local status=$?
    rm -rf "$objdir"
    return $status
}

# stale OUTPUT INPUT...: true when OUTPUT is missing or older than an input.
stale() {
    local target="$1"
    shift
    [ -e "$target" ] || return 0
    [ -n "$(find "$@" "$here/build.sh" "$here/common" -newer "$target" -print -quit)" ]
}

pids=()
names=()
# build NAME INPUTS -- FLAGS...: compiles both builds of NAME in the
# background; INPUTS decide staleness, FLAGS go to both compilers.
build() {
    local name="$1"
    shift
    local inputs=()
    while [ "$1" != -- ]; do
        inputs+=("$1")
        shift
    done
    shift
    if stale "$out/wasm/$name.wasm" "${inputs[@]}"; then
        wasi_build "$out/wasm/$name.wasm" "${wasi_emulation[@]}" "$@" "${wasi_libs[@]}" \
            >"$out/logs/$name.wasm.log" 2>&1 &
        pids+=($!)
        names+=("$name (wasm32-wasi)")
    fi
    if stale "$out/native/$name" "${inputs[@]}"; then
        "$NATIVE_CC" -O2 -w "$@" -o "$out/native/$name" -lm >"$out/logs/$name.native.log" 2>&1 &
        pids+=($!)
        names+=("$name (native)")
    fi
}

# sqlite3 with a file database. Threads, extension loading and WAL need what
# WASI lacks (pthreads, dlopen, shared memory); temporary tables stay in memory
# since WASI gives no temporary directory. Both builds use the same options,
# so both write the same database file.
build sqlite "$sqlite_src" "$here/sqlite" -- \
    -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_OMIT_WAL -DSQLITE_TEMP_STORE=3 \
    -DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_MATH_FUNCTIONS \
    -DSQLITE_ENABLE_RTREE -I"$sqlite_src" "$sqlite_src/sqlite3.c" "$here/sqlite/sqlrun.c"

# zlib's deflate/inflate and gz* file API under a minigzip driver.
build minigzip "$zlib_src" "$here/zlib" -- \
    -I"$zlib_src" -DHAVE_UNISTD_H -DHAVE_STDARG_H -D_LARGEFILE64_SOURCE=1 \
    "$zlib_src"/{adler32,compress,crc32,deflate,gzclose,gzlib,gzread,gzwrite,infback,inffast,inflate,inftrees,trees,uncompr,zutil}.c \
    "$here/zlib/minigzip.c"

# The bzip2 command-line program itself, as shipped.
build bzip2 "$bzip2_src" -- \
    -D_FILE_OFFSET_BITS=64 -I"$bzip2_src" \
    "$bzip2_src"/{blocksort,huffman,crctable,randtable,compress,decompress,bzlib,bzip2}.c

# The lz4 command-line program itself, single-threaded (WASI has no threads).
build lz4 "$lz4_src/lib" "$lz4_src/programs" -- \
    -DLZ4IO_MULTITHREAD=0 -I"$lz4_src/lib" \
    "$lz4_src/lib"/{lz4,lz4hc,lz4frame,xxhash}.c \
    "$lz4_src/programs"/{lz4cli,lz4io,util,timefn,bench,lorem,threadpool}.c

# libzstd (without its x86 assembly, which only the native build could use)
# under a streaming driver.
build zstdpipe "$zstd_src" "$here/zstd" -- \
    -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=0 -I"$zstd_src" -I"$zstd_src/common" \
    "$zstd_src"/common/*.c "$zstd_src"/compress/*.c "$zstd_src"/decompress/*.c \
    "$here/zstd/zstdpipe.c"

if stale "$out/gendata" "$here/common/gendata.c"; then
    "$NATIVE_CC" -O2 -o "$out/gendata" "$here/common/gendata.c"
fi

failed=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        echo "error: building ${names[$i]} failed:" >&2
        log="${names[$i]%% *}"
        case "${names[$i]}" in
        *wasm32-wasi*) cat "$out/logs/$log.wasm.log" >&2 ;;
        *) cat "$out/logs/$log.native.log" >&2 ;;
        esac
        failed=1
    fi
done
[ "$failed" -eq 0 ] || exit 1
[ ${#pids[@]} -eq 0 ] || echo "built ${#pids[@]} program binaries in $out" >&2
