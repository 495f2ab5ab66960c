//! Errors say what and where, and never leave a partial output behind.
//! The same for the `kilnc` binary is tested in `compiler/cli/tests`.

use std::path::Path;

use kiln_compiler::{compile, compile_file, CompileErrorKind, CompileOptions, Features, WasmFeature};

const INVALID_BODY: &str = include_str!("modules/invalid_body.wat");
const SIMD: &str = include_str!("modules/simd.wat");
const RELAXED_SIMD: &str = include_str!("modules/relaxed_simd.wat");
const SEVERAL: &str = include_str!("modules/several_functions.wat");

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn invalid_body_reports_offset_and_function_index() {
    let err = compile(INVALID_BODY.as_bytes(), &CompileOptions::default()).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Invalid);
    assert_eq!(err.func_index(), Some(2));
    assert!(err.offset().is_some());
    let text = err.to_string();
    assert!(text.contains("type mismatch"), "{text}");
    // Given as text, the error is shown at the function in the text.
    assert!(text.contains("(in function 2, at <input>:5:4)\n"), "{text}");
    assert!(text.contains("5 |   (func (result i32) (i32.add"), "{text}");
    assert_eq!(err.line_column(), Some((5, 4)));

    // Given as a binary, at its offset in it.
    let binary = wat::parse_str(INVALID_BODY).unwrap();
    let err = compile(&binary, &CompileOptions::default()).unwrap_err();
    assert_eq!(err.func_index(), Some(2));
    let text = err.to_string();
    assert!(text.contains("type mismatch") && text.ends_with(", in function 2)"), "{text}");
    assert!(text.contains(&format!("(at offset {:#x}", err.offset().unwrap())), "{text}");
    assert_eq!(err.line_column(), None);
}

#[test]
fn malformed_binary_is_invalid_with_an_offset() {
    let err = compile(b"\0asm\x01\0\0\0\x01\x05", &CompileOptions::default()).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Invalid);
    assert!(err.offset().is_some());
}

#[test]
fn bad_text_is_invalid() {
    let err = compile(b"(module (func (i32.bogus)))", &CompileOptions::default()).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Invalid);
    assert!(err.message().contains("invalid text format"), "{err}");
}

#[test]
fn relaxed_simd_compiles_unless_turned_off() {
    compile(SIMD.as_bytes(), &CompileOptions::default()).unwrap();
    compile(RELAXED_SIMD.as_bytes(), &CompileOptions::default()).unwrap();
    let mut features = Features::default();
    features.set(WasmFeature::RelaxedSimd, false);
    let err = compile(RELAXED_SIMD.as_bytes(), &CompileOptions { features, ..CompileOptions::default() }).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Invalid, "{err}");
    assert!(err.message().contains("relaxed SIMD"), "{err}");
    assert!(err.to_string().contains("-W relaxed-simd"), "{err}");
    assert_eq!(err.func_index(), Some(0));
    assert!(err.offset().is_some());
}

#[test]
fn other_targets_are_refused() {
    let options = CompileOptions { target: Some("aarch64-unknown-linux-gnu".into()), ..Default::default() };
    let err = compile(b"(module)", &options).unwrap_err();
    assert_eq!(err.kind(), CompileErrorKind::Options);
    assert!(err.message().contains("aarch64-unknown-linux-gnu"), "{err}");
}

#[test]
fn zero_threads_are_refused() {
    let options = CompileOptions { threads: Some(0), ..Default::default() };
    assert_eq!(compile(b"(module)", &options).unwrap_err().kind(), CompileErrorKind::Options);
}

#[test]
fn failed_compile_file_leaves_the_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.wat");
    let output = dir.path().join("bad.o");
    std::fs::write(&input, INVALID_BODY).unwrap();

    assert!(compile_file(&input, &output, &CompileOptions::default()).is_err());
    assert!(!output.exists());
    assert_eq!(entries(dir.path()), ["bad.wat"]);

    std::fs::write(&output, b"previous artifact").unwrap();
    assert!(compile_file(&input, &output, &CompileOptions::default()).is_err());
    assert_eq!(std::fs::read(&output).unwrap(), b"previous artifact");
    assert_eq!(entries(dir.path()), ["bad.o", "bad.wat"]);
}

#[test]
fn compile_file_writes_the_same_bytes_as_compile() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.wat");
    let output = dir.path().join("m.o");
    std::fs::write(&input, SEVERAL).unwrap();
    compile_file(&input, &output, &CompileOptions::default()).unwrap();
    assert_eq!(std::fs::read(&output).unwrap(), compile(SEVERAL.as_bytes(), &CompileOptions::default()).unwrap());
    assert_eq!(entries(dir.path()), ["m.o", "m.wat"]);
}
