#!/usr/bin/env bash
# Installs the C-to-WASI toolchain the real-program tests build with:
# clang/lld for wasm32-wasi, wasi-libc as sysroot (/usr) and the wasm32
# compiler-rt builtins clang links into every WASI binary; Emscripten and
# g++ for the C++ exceptions test (tests/tests/cxx_exceptions.rs).
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

packages=(clang lld wasi-libc libclang-rt-14-dev-wasm32 emscripten g++)

missing=()
for p in "${packages[@]}"; do
    # `dpkg -s` alone also succeeds for a removed package whose configuration
    # files remain.
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
