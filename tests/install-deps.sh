#!/usr/bin/env bash
# Installs what building and testing kiln needs beyond the Rust toolchain,
# on Debian (12 or later). Idempotent: does nothing when all is there.
#
# Debian packages, in one `apt-get update` and one `apt-get install`:
#   - the C-to-WASI toolchain of the real-program tests: clang/lld for
#     wasm32-wasi, wasi-libc as sysroot (/usr) and the wasm32 compiler-rt
#     builtins clang links into every WASI binary; Emscripten and g++ for
#     the C++ exceptions test (tests/tests/cxx_exceptions.rs);
#   - valgrind, for the C API's test and `make valgrind`;
#   - protoc, libseccomp and pkg-config, which the containerd shim's
#     dependencies (containerd's gRPC API, youki's libcontainer) build with.
#
# containerd, for the shim's integration test (loader/shim/tests/containerd.rs):
# Debian's containerd package of Debian 13 (1.7.24), unpacked into
# target/tools/containerd/ and not installed, so the machine's own
# containerd (if any) is left alone. Debian 12's 1.6.20 predates containerd
# 1.7.7, the first release whose image unpacker passes over layers that
# are not file systems, as a Wasm image's are: it refuses every Wasm OCI
# image ("mismatched image rootfs and manifest layers"). The package comes
# through a package list of its own, so the machine's sources stay as
# they are.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages=(clang lld wasi-libc libclang-rt-14-dev-wasm32 emscripten g++ valgrind protobuf-compiler libseccomp-dev
    pkg-config)
containerd_version="1.7.24~ds1-6+deb13u1"
containerd_suite="trixie"
containerd_dir="$root/target/tools/containerd"

if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${packages[@]}"; do
    # `dpkg -s` alone also succeeds for a removed package whose configuration
    # files remain.
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ "$(cat "$containerd_dir/VERSION" 2>/dev/null)" != "$containerd_version" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/archives/partial"
    echo "deb http://deb.debian.org/debian $containerd_suite main" > "$work/sources.list"
    apt_options=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::archives=$work/archives"
        -o "APT::Sandbox::User=root")
    apt-get "${apt_options[@]}" update -qq
    (cd "$work" && apt-get "${apt_options[@]}" download "containerd=$containerd_version")
    rm -rf "$containerd_dir.new"
    mkdir -p "$(dirname "$containerd_dir")"
    dpkg-deb -x "$work"/containerd_*.deb "$containerd_dir.new"
    echo "$containerd_version" > "$containerd_dir.new/VERSION"
    rm -rf "$containerd_dir"
    mv "$containerd_dir.new" "$containerd_dir"
    echo "containerd $containerd_version in $containerd_dir/usr/bin"
fi
