//! The WASI programs of tests/wasi, as modules: a `.wat` as it is, a `.c`
//! built by clang for wasm32-wasi.

use std::path::{Path, PathBuf};
use std::process::Command;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails with the fix when the C-to-WASI toolchain is missing.
pub fn require_toolchain() {
    let sysroot = Path::new("/usr/include/wasm32-wasi/wasi/api.h");
    let clang = Command::new("clang").arg("--version").output();
    assert!(
        clang.is_ok_and(|o| o.status.success()) && sysroot.is_file(),
        "clang for wasm32-wasi (clang, lld, wasi-libc, libclang-rt-14-dev-wasm32) is missing: \
         run `bash tests/install-deps.sh` (`make test` does)"
    );
}

/// tests/wasi/`name`.wat, or tests/wasi/`name`.c built into `dir` with
/// `clang_flags`. The caller keeps builds into one `dir` from running at
/// once.
pub fn wasi_module(name: &str, dir: &Path, clang_flags: &[&str]) -> PathBuf {
    let wat = super::tests_path(&format!("wasi/{name}.wat"));
    if wat.is_file() {
        return wat;
    }
    require_toolchain();
    let source = super::tests_path(&format!("wasi/{name}.c"));
    let wasm = dir.join(format!("{name}.wasm"));
    // Compiled, then linked without `-O`: when binaryen's `wasm-opt`
    // is installed (Emscripten's package brings it), clang runs it on
    // every optimised link, and it strips the name section that the
    // backtraces here read and rewrites the code under test.
    let compiled = dir.join(format!("{name}.c.o"));
    let compile = Command::new("clang")
        .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall", "-Werror", "-c"])
        // Link flags such as `-mexec-model` mean nothing to the compile step.
        .arg("-Wno-unused-command-line-argument")
        .args(clang_flags)
        .arg("-o")
        .arg(&compiled)
        .arg(&source)
        .output()
        .expect("clang runs");
    assert!(compile.status.success(), "clang {}: {}", source.display(), text(&compile.stderr));
    let link = Command::new("clang")
        .args(["--target=wasm32-wasi", "--sysroot=/usr"])
        .args(clang_flags)
        .arg("-o")
        .arg(&wasm)
        .arg(&compiled)
        .output()
        .expect("clang runs");
    assert!(link.status.success(), "clang (link) {}: {}", source.display(), text(&link.stderr));
    wasm
}
