//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod wasi_fixture;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A file under `tests/`.
pub fn tests_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The WebAssembly 2.0 spec scripts: `$KILN_TESTSUITE`, or the copy in
/// `tests/testsuite/`.
pub fn testsuite_dir() -> PathBuf {
    match std::env::var_os("KILN_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("tests/testsuite/wasm-2.0"),
    }
}

/// A binary of another workspace crate (`kilnc`, `kiln`), from the target
/// directory this test was built into. `cargo test --workspace` builds them;
/// a missing one is an error, never a skipped test.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let profile_dir = exe.parent().and_then(Path::parent).expect("test runs from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: build the workspace first (`cargo build --release --workspace`, or `make test`)",
        path.display()
    );
    path
}
