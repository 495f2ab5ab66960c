//! The WebAssembly 2.0 specification scripts, SIMD included, run through
//! `kiln-wast` (one child process per script, so a crash costs one script):
//! once as plain code, once with epoch checks and once with fuel metering.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kiln_compiler::CompileOptions;
use kiln_tests::{run_scripts_isolated, IsolateOptions, RunOptions};

/// The scripts of the 2.0 suite, 58 of them `simd_*`; a different number
/// means the suite moved or changed, which must not pass silently.
const EXPECTED_SCRIPTS: usize = 148;
/// The `simd_*` scripts among them.
const EXPECTED_SIMD_SCRIPTS: usize = 58;

fn spec_scripts() -> Vec<PathBuf> {
    let dir = common::testsuite_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut scripts: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    scripts.sort();
    scripts
}

/// Runs every script compiled with `compile` and asserts that every
/// directive passes; `label` names the configuration in the output.
fn assert_spec_suite_passes(label: &str, run: RunOptions) {
    let scripts = spec_scripts();
    assert_eq!(scripts.len(), EXPECTED_SCRIPTS, "scripts in {}", common::testsuite_dir().display());
    let simd =
        scripts.iter().filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("simd_")));
    assert_eq!(simd.count(), EXPECTED_SIMD_SCRIPTS, "simd_* scripts in {}", common::testsuite_dir().display());

    let exe = PathBuf::from(env!("CARGO_BIN_EXE_kiln-wast"));
    let options = IsolateOptions { run, timeout: Duration::from_secs(600) };
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let reports = run_scripts_isolated(&exe, &scripts, &options, jobs);
    let elapsed = started.elapsed();

    let mut listing = String::new();
    let (mut passed, mut failed) = (0, 0);
    for report in &reports {
        passed += report.passed;
        failed += report.failed();
        let name = report.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for failure in &report.failures {
            let mut message = failure.message.replace('\n', " | ");
            if message.len() > 400 {
                let cut = (0..=400).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
                message.truncate(cut);
                message.push_str("...");
            }
            listing.push_str(&format!("{name}:{}: {}: {message}\n", failure.line, failure.directive));
        }
        if report.not_run > 0 {
            listing.push_str(&format!("{name}: {} directives not run after the crash above\n", report.not_run));
        }
    }
    let table: String = reports.iter().map(|r| format!("  {}\n", r.summary())).collect();
    println!("{table}{label}: {passed} passed, {failed} failed in {:.1} s", elapsed.as_secs_f64());
    assert!(passed > 0, "{label}: no directive ran");
    assert_eq!(failed, 0, "spec suite ({label}): {passed} passed, {failed} failed\n{listing}");
}

#[test]
fn spec_suite_passes() {
    assert_spec_suite_passes("plain", RunOptions::default());
}

/// Epoch checks everywhere, and no deadline ever reached.
#[test]
fn spec_suite_passes_with_epoch_interruption() {
    let compile = CompileOptions { epoch_interruption: true, ..Default::default() };
    assert_spec_suite_passes("epoch interruption", RunOptions { compile, ..Default::default() });
}

/// Fuel metering, under a budget (`u64::MAX`) no script uses up.
#[test]
fn spec_suite_passes_with_fuel() {
    let compile = CompileOptions { fuel: true, ..Default::default() };
    assert_spec_suite_passes("fuel", RunOptions { compile, ..Default::default() });
}

/// Every instance, memory and table from the pooling allocator's slots.
#[test]
fn spec_suite_passes_with_the_pooling_allocator() {
    assert_spec_suite_passes("pooling", RunOptions { pooling: true, ..Default::default() });
}
