//! C++ exceptions end to end: tests/programs/cxx/exceptions.cpp, built
//! with Debian's Emscripten (`em++ -O2 -fwasm-exceptions -sSTANDALONE_WASM`,
//! which gives legacy Wasm exceptions and only WASI imports), compiled by
//! `kilnc` and run by `kiln run`, prints exactly what its native build
//! (`g++ -O2`) prints. The toolchains come from
//! tests/install-deps.sh; a missing one fails the test with that
//! command.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(command: &mut Command) -> Output {
    let description = format!("{command:?}");
    let output = command.output().unwrap_or_else(|e| {
        panic!("cannot run {description}: {e} (install the toolchains with tests/install-deps.sh)")
    });
    assert!(
        output.status.success(),
        "{description} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cxx_exceptions");
    std::fs::create_dir_all(&dir).expect("creates the output directory");
    dir
}

fn source() -> PathBuf {
    common::tests_path("programs/cxx/exceptions.cpp")
}

fn native_output(dir: &Path) -> Vec<u8> {
    let exe = dir.join("exceptions-native");
    run(Command::new("g++").arg("-O2").arg(source()).arg("-o").arg(&exe));
    run(&mut Command::new(&exe)).stdout
}

fn kiln_output(dir: &Path) -> Vec<u8> {
    let wasm = dir.join("exceptions.wasm");
    let object = dir.join("exceptions.o");
    run(Command::new("em++")
        .args(["-O2", "-fwasm-exceptions", "-sSTANDALONE_WASM"])
        .arg(source())
        .arg("-o")
        .arg(&wasm));
    run(Command::new(common::workspace_binary("kilnc")).arg(&wasm).arg("-o").arg(&object));
    run(Command::new(common::workspace_binary("kiln")).arg("run").arg(&object)).stdout
}

#[test]
fn cxx_exceptions_through_several_frames_print_what_the_native_build_prints() {
    let dir = out_dir();
    let native = native_output(&dir);
    let kiln = kiln_output(&dir);
    assert!(String::from_utf8_lossy(&native).contains("caught: too deep: 3"), "the native build throws");
    assert_eq!(String::from_utf8_lossy(&kiln), String::from_utf8_lossy(&native));
}
