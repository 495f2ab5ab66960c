//! The official specification scripts of `tests/testsuite/`, run through
//! `kiln-wast` (one child process per script, so a crash costs one script),
//! each script with its suite's WebAssembly features:
//! - WebAssembly 2.0, SIMD included: as plain code, with epoch checks, with
//!   fuel metering, with calls inlined (`kilnc --inline=y`) and through the
//!   pooling allocator;
//! - WebAssembly 3.0 in the same five ways;
//! - the threads proposal as plain code, legacy exceptions as plain code
//!   and with calls inlined.
//!
//! Every script of a suite runs, and the number of scripts is checked, so
//! that a moved or changed suite cannot pass silently. Every directive of
//! every script must pass, except in a suite's waiting scripts (none now),
//! which run too and whose counts are printed apart.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kiln_compiler::{CompileOptions, Inlining};
use kiln_tests::{run_scripts_isolated, IsolateOptions, RunOptions, ScriptReport};

/// A suite of `tests/testsuite/`.
struct Suite {
    /// Its directory, under `tests/testsuite/`.
    dir: &'static str,
    /// How many scripts it has.
    scripts: usize,
    /// The scripts that may fail, each for the reason given.
    waiting: &'static [&'static str],
    /// Why the `waiting` scripts may fail.
    waiting_for: &'static str,
}

/// WebAssembly 2.0: 148 scripts, 58 of them `simd_*`.
const WASM_2_0: Suite = Suite { dir: "wasm-2.0", scripts: 148, waiting: &[], waiting_for: "" };

/// WebAssembly 3.0 (WebAssembly/testsuite at 193e551).
const WASM_3_0: Suite = Suite { dir: "wasm-3.0", scripts: 257, waiting: &[], waiting_for: "" };

/// The threads proposal.
const THREADS: Suite = Suite { dir: "proposals/threads", scripts: 4, waiting: &[], waiting_for: "" };

/// Legacy exception handling (`try`, `catch`, `delegate`, `rethrow`).
const LEGACY_EXCEPTIONS: Suite = Suite { dir: "legacy-exceptions", scripts: 4, waiting: &[], waiting_for: "" };

fn scripts_in(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut scripts: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    scripts.sort();
    scripts
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The failures of `report`, one line each.
fn describe_failures(report: &ScriptReport) -> String {
    let name = file_name(&report.file);
    let mut listing = String::new();
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
    listing
}

/// Runs every script of `suite` with `run` and asserts that every
/// directive passes, outside the suite's waiting scripts; `label` names
/// the configuration in the output.
fn assert_suite_passes(suite: &Suite, label: &str, run: RunOptions) {
    let dir = match (suite.dir, std::env::var_os("KILN_TESTSUITE")) {
        ("wasm-2.0", Some(dir)) => PathBuf::from(dir),
        _ => common::workspace_root().join("tests/testsuite").join(suite.dir),
    };
    let scripts = scripts_in(&dir);
    assert_eq!(scripts.len(), suite.scripts, "scripts in {}", dir.display());
    for waiting in suite.waiting {
        assert!(scripts.iter().any(|s| file_name(s) == *waiting), "{waiting} is not in {}", dir.display());
    }
    if suite.dir == "wasm-2.0" {
        let simd = scripts.iter().filter(|p| file_name(p).starts_with("simd_")).count();
        assert_eq!(simd, 58, "simd_* scripts in {}", dir.display());
    }

    let exe = PathBuf::from(env!("CARGO_BIN_EXE_kiln-wast"));
    let options = IsolateOptions { run, timeout: Duration::from_secs(600) };
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let reports = run_scripts_isolated(&exe, &scripts, &options, jobs);
    let elapsed = started.elapsed();

    let mut listing = String::new();
    let mut table = String::new();
    let (mut passed, mut failed, mut whole) = (0, 0, 0);
    let (mut waiting_passed, mut waiting_failed) = (0, 0);
    let mut waiting_whole = Vec::new();
    for report in &reports {
        table.push_str(&format!("  {}\n", report.summary()));
        let name = file_name(&report.file);
        if suite.waiting.contains(&name.as_str()) {
            waiting_passed += report.passed;
            waiting_failed += report.failed();
            if report.failed() == 0 {
                waiting_whole.push(name);
            }
            continue;
        }
        passed += report.passed;
        failed += report.failed();
        if report.failed() == 0 && report.passed > 0 {
            whole += 1;
        }
        listing.push_str(&describe_failures(report));
    }
    print!("{table}");
    let scripts_run = scripts.len() - suite.waiting.len();
    println!(
        "{} ({label}): {whole} of {scripts_run} scripts pass whole: {passed} directives passed, {failed} failed, in {:.1} s",
        suite.dir,
        elapsed.as_secs_f64()
    );
    if !suite.waiting.is_empty() {
        println!(
            "{}: {} scripts wait for {}: {waiting_passed} directives passed, {waiting_failed} failed",
            suite.dir,
            suite.waiting.len(),
            suite.waiting_for
        );
    }
    assert!(passed > 0, "{label}: no directive ran");
    assert_eq!(failed, 0, "{} ({label}): {passed} passed, {failed} failed\n{listing}", suite.dir);
    assert_eq!(whole, scripts_run, "{} ({label}): a script ran no directive", suite.dir);
    // A waiting script that passes whole no longer waits: the list must say so.
    assert!(waiting_whole.is_empty(), "these scripts pass whole; take them off the waiting list: {waiting_whole:?}");
}

#[test]
fn spec_suite_passes() {
    assert_suite_passes(&WASM_2_0, "plain", RunOptions::default());
}

/// Epoch checks everywhere, and no deadline ever reached.
#[test]
fn spec_suite_passes_with_epoch_interruption() {
    let compile = CompileOptions { epoch_interruption: true, ..Default::default() };
    assert_suite_passes(&WASM_2_0, "epoch interruption", RunOptions { compile, ..Default::default() });
}

/// Fuel metering, under a budget (`u64::MAX`) no script uses up.
#[test]
fn spec_suite_passes_with_fuel() {
    let compile = CompileOptions { fuel: true, ..Default::default() };
    assert_suite_passes(&WASM_2_0, "fuel", RunOptions { compile, ..Default::default() });
}

/// Calls inlined (`kilnc --inline=y`).
#[test]
fn spec_suite_passes_with_inlining() {
    let compile = CompileOptions { inlining: Inlining::On, ..Default::default() };
    assert_suite_passes(&WASM_2_0, "inlining", RunOptions { compile, ..Default::default() });
}

/// Every instance, memory and table from the pooling allocator's slots.
#[test]
fn spec_suite_passes_with_the_pooling_allocator() {
    assert_suite_passes(&WASM_2_0, "pooling", RunOptions { pooling: true, ..Default::default() });
}

#[test]
fn wasm_3_0_suite_passes() {
    assert_suite_passes(&WASM_3_0, "plain", RunOptions::default());
}

#[test]
fn wasm_3_0_suite_passes_with_epoch_interruption() {
    let compile = CompileOptions { epoch_interruption: true, ..Default::default() };
    assert_suite_passes(&WASM_3_0, "epoch interruption", RunOptions { compile, ..Default::default() });
}

#[test]
fn wasm_3_0_suite_passes_with_fuel() {
    let compile = CompileOptions { fuel: true, ..Default::default() };
    assert_suite_passes(&WASM_3_0, "fuel", RunOptions { compile, ..Default::default() });
}

#[test]
fn wasm_3_0_suite_passes_with_inlining() {
    let compile = CompileOptions { inlining: Inlining::On, ..Default::default() };
    assert_suite_passes(&WASM_3_0, "inlining", RunOptions { compile, ..Default::default() });
}

#[test]
fn wasm_3_0_suite_passes_with_the_pooling_allocator() {
    assert_suite_passes(&WASM_3_0, "pooling", RunOptions { pooling: true, ..Default::default() });
}

#[test]
fn threads_suite_passes() {
    assert_suite_passes(&THREADS, "plain", RunOptions::default());
}

#[test]
fn legacy_exceptions_suite_passes() {
    assert_suite_passes(&LEGACY_EXCEPTIONS, "plain", RunOptions::default());
}

#[test]
fn legacy_exceptions_suite_passes_with_inlining() {
    let compile = CompileOptions { inlining: Inlining::On, ..Default::default() };
    assert_suite_passes(&LEGACY_EXCEPTIONS, "inlining", RunOptions { compile, ..Default::default() });
}
