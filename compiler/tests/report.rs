//! What a compilation reports besides the artifact: the phases in the
//! order they ran, every defined function with its name and time, and a
//! progress callback told of each function, in order, from any thread.

use std::sync::{Arc, Mutex};

use kiln_compiler::{
    compile, compile_file_with_report, compile_with_report, CompileOptions, Emit, Inlining, Phase, Progress,
};

const SEVERAL: &str = include_str!("modules/several_functions.wat");

/// One import and three defined functions: named by the name section, by
/// an export only, and by neither.
const NAMED: &str = r#"(module
  (import "env" "log" (func $log (param i32)))
  (func $double (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
  (func (export "triple") (export "thrice") (param i32) (result i32) local.get 0 i32.const 3 i32.mul)
  (func (param i32) (result i32) local.get 0 i32.const 4 i32.mul))"#;

fn phases(report: &kiln_compiler::CompileReport) -> Vec<Phase> {
    report.phases.iter().map(|p| p.phase).collect()
}

#[test]
fn the_report_names_every_defined_function_and_the_phases_in_order() {
    let (object, report) = compile_with_report(NAMED.as_bytes(), &CompileOptions::default()).unwrap();
    assert_eq!(object, compile(NAMED.as_bytes(), &CompileOptions::default()).unwrap(), "the same artifact");
    assert_eq!(report.imported_functions, 1);
    let names: Vec<(u32, Option<&str>)> = report.functions.iter().map(|f| (f.func_index, f.name.as_deref())).collect();
    assert_eq!(names, [(1, Some("double")), (2, Some("triple")), (3, None)]);
    assert_eq!(
        phases(&report),
        [Phase::ParseAndValidate, Phase::Translate, Phase::CraneliftCompile, Phase::Emit, Phase::Seal]
    );
    assert!(report.trampolines > 0 && report.threads > 0);
    assert!(report.total >= report.parallel_wall);
    let slowest = report.slowest_functions(2);
    assert_eq!(slowest.len(), 2);
    assert!(slowest[0].total() >= slowest[1].total());
}

#[test]
fn a_signed_shared_object_reports_signing_and_linking() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, SEVERAL).unwrap();
    let options = CompileOptions {
        emit: Emit::SharedObject,
        signer: Some(kiln_compiler::Signer::from_secret(&[7; 32])),
        ..CompileOptions::default()
    };
    let report = compile_file_with_report(&input, &dir.path().join("m.so"), &options).unwrap();
    assert_eq!(
        phases(&report),
        [
            Phase::Read,
            Phase::ParseAndValidate,
            Phase::Translate,
            Phase::CraneliftCompile,
            Phase::Emit,
            Phase::Seal,
            Phase::Sign,
            Phase::Link
        ]
    );
    assert!(dir.path().join("m.so").is_file());
}

/// Compiles [`SEVERAL`] with `threads` and `inlining`, and returns every
/// call the progress callback got.
fn progress_calls(threads: usize, inlining: Inlining) -> (Vec<(usize, usize)>, usize) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let options = CompileOptions {
        threads: Some(threads),
        inlining,
        progress: Some(Progress::new(move |done, total| seen.lock().unwrap().push((done, total)))),
        ..CompileOptions::default()
    };
    let (object, report) = compile_with_report(SEVERAL.as_bytes(), &options).unwrap();
    let other = CompileOptions { progress: Some(Progress::new(|_, _| {})), ..options.clone() };
    assert_eq!(options, other, "options with different callbacks compile the same, and compare equal");
    let without = CompileOptions { progress: None, ..options.clone() };
    assert_eq!(object, compile(SEVERAL.as_bytes(), &without).unwrap(), "a callback changes nothing in the artifact");
    let calls = calls.lock().unwrap().clone();
    (calls, report.functions.len())
}

#[test]
fn progress_counts_each_function_once_in_order_on_any_number_of_threads() {
    for threads in [1, 2, 4] {
        for inlining in [Inlining::Off, Inlining::On] {
            let (calls, functions) = progress_calls(threads, inlining);
            assert!(functions > 1);
            let expected: Vec<(usize, usize)> = (0..=functions).map(|done| (done, functions)).collect();
            assert_eq!(calls, expected, "{threads} threads, inlining {inlining}");
        }
    }
}

#[test]
fn a_failed_compile_stops_the_count_short() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let options = CompileOptions {
        threads: Some(1),
        progress: Some(Progress::new(move |done, total| seen.lock().unwrap().push((done, total)))),
        ..CompileOptions::default()
    };
    let invalid = include_str!("modules/invalid_body.wat");
    assert!(compile_with_report(invalid.as_bytes(), &options).is_err());
    let calls = calls.lock().unwrap();
    let &(last_done, total) = calls.last().expect("told of the start at least");
    assert!(last_done < total, "{calls:?}");
}
