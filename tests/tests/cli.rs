//! The command-line tools as a user runs them: `kilnc`, then `kiln run`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn kilnc(args: &[&Path]) -> Output {
    Command::new(common::workspace_binary("kilnc")).args(args).output().expect("kilnc runs")
}

fn kiln(args: &[&str]) -> Output {
    Command::new(common::workspace_binary("kiln")).args(args).output().expect("kiln runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compiles `source` (a path under tests/) into `dir`, asserting success.
fn compile_into(dir: &Path, source: &str, name: &str) -> String {
    compile_with_flags(dir, source, name, &[])
}

/// [`compile_into`], with more kilnc flags.
fn compile_with_flags(dir: &Path, source: &str, name: &str, flags: &[&str]) -> String {
    let output = dir.join(name);
    let source_path = common::tests_path(source);
    let mut args: Vec<&Path> = flags.iter().map(Path::new).collect();
    args.extend([source_path.as_path(), "-o".as_ref(), output.as_path()]);
    let result = kilnc(&args);
    assert!(result.status.success(), "kilnc {source} failed: {}", text(&result.stderr));
    assert!(output.is_file(), "kilnc wrote no {}", output.display());
    output.to_string_lossy().into_owned()
}

#[test]
fn kilnc_refuses_invalid_wasm_with_its_offset_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A type mismatch in the first function body: i32.add of an i32 and an i64.
    let invalid = wat::parse_str(r#"(module (func (result i32) (i32.add (i32.const 1) (i64.const 2))))"#)
        .expect("the text itself parses");
    let input = dir.path().join("invalid.wasm");
    std::fs::write(&input, invalid).expect("write input");
    let output = dir.path().join("invalid.o");

    let result = kilnc(&[&input, "-o".as_ref(), &output]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("error:"), "stderr: {stderr}");
    assert!(stderr.contains("offset 0x"), "no byte offset in: {stderr}");
    assert!(!output.exists(), "kilnc left {} behind", output.display());
}

#[test]
fn kilnc_refuses_garbage_and_a_missing_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("garbage.wasm");
    std::fs::write(&input, b"\0asm\x01\0\0\0\x01\xff").expect("write input");
    let output = dir.path().join("garbage.o");
    let result = kilnc(&[&input, "-o".as_ref(), &output]);
    assert_eq!(result.status.code(), Some(1), "stderr: {}", text(&result.stderr));
    assert!(!output.exists());

    let result = kilnc(&[&dir.path().join("missing.wasm"), "-o".as_ref(), &output]);
    assert_eq!(result.status.code(), Some(1), "stderr: {}", text(&result.stderr));
    assert!(text(&result.stderr).contains("error:"));
    assert!(!output.exists());
}

#[test]
fn kiln_run_prints_results() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = compile_into(dir.path(), "examples/sieve.wat", "sieve.o");

    let result = kiln(&["run", &object, "--invoke", "count_primes", "100"]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    assert_eq!(text(&result.stdout).trim(), "25");

    let result = kiln(&["run", &object, "--invoke", "main"]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    assert_eq!(text(&result.stdout).trim(), "78498");
}

#[test]
fn kiln_run_reports_a_trap_on_stderr_and_exits_134() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("trap.wat");
    std::fs::write(
        &source,
        r#"(module
             (func $divide (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
             (func (export "div") (param i32 i32) (result i32) (call $divide (local.get 0) (local.get 1))))"#,
    )
    .expect("write source");
    let object = dir.path().join("trap.o");
    let result = kilnc(&[&source, "-o".as_ref(), &object]);
    assert!(result.status.success(), "kilnc: {}", text(&result.stderr));
    let object = object.to_string_lossy();

    let result = kiln(&["run", &object, "--invoke", "div", "7", "2"]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    assert_eq!(text(&result.stdout).trim(), "3");

    let result = kiln(&["run", &object, "--invoke", "div", "7", "0"]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(134), "exit {:?}, stderr: {stderr}", result.status);
    assert!(stderr.contains("integer divide by zero"), "stderr: {stderr}");
}

#[test]
fn kiln_run_refuses_unknown_exports_and_bad_arguments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = compile_into(dir.path(), "examples/sieve.wat", "sieve.o");
    for args in [
        vec!["run", object.as_str(), "--invoke", "no_such_export"],
        vec!["run", object.as_str(), "--invoke", "count_primes", "not-a-number"],
        vec!["run", object.as_str(), "--invoke", "count_primes"],
    ] {
        let result = kiln(&args);
        let stderr = text(&result.stderr);
        assert_eq!(
            result.status.code(),
            Some(2),
            "{args:?}: a usage error; exit {:?}, stderr: {stderr}",
            result.status
        );
        assert!(stderr.contains("error:"), "{args:?}: stderr: {stderr}");
    }
}

#[test]
fn kiln_wast_counts_passes_and_failures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("mixed.wast");
    std::fs::write(
        &script,
        r#"(module (func (export "f") (result i32) (i32.const 7)))
           (assert_return (invoke "f") (i32.const 7))
           (assert_return (invoke "f") (i32.const 8))
           (assert_trap (module (func $start unreachable) (start $start)) "unreachable")
           (assert_invalid (module (func (result i32))) "type mismatch")"#,
    )
    .expect("write script");
    let result = Command::new(env!("CARGO_BIN_EXE_kiln-wast")).arg(&script).arg("-v").output().expect("kiln-wast runs");
    let stdout = text(&result.stdout);
    assert_eq!(result.status.code(), Some(1), "stdout: {stdout}\nstderr: {}", text(&result.stderr));
    assert_eq!(stdout.lines().last(), Some("4 passed, 1 failed"), "stdout: {stdout}");
    assert!(stdout.contains("line 3: assert_return"), "stdout: {stdout}");
}

#[test]
fn kiln_wast_survives_a_script_that_never_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let endless = dir.path().join("endless.wast");
    std::fs::write(
        &endless,
        r#"(module (func (export "spin") (loop (br 0))) (func (export "one") (result i32) (i32.const 1)))
           (assert_return (invoke "one") (i32.const 1))
           (invoke "spin")
           (assert_return (invoke "one") (i32.const 1))
           (assert_return (invoke "one") (i32.const 1))"#,
    )
    .expect("write script");
    let fine = dir.path().join("fine.wast");
    std::fs::write(
        &fine,
        r#"(module (func (export "f") (result i32) (i32.const 7))) (assert_return (invoke "f") (i32.const 7))"#,
    )
    .expect("write script");

    let result = Command::new(env!("CARGO_BIN_EXE_kiln-wast"))
        .args([endless.as_os_str(), fine.as_os_str(), "--timeout".as_ref(), "2".as_ref(), "-v".as_ref()])
        .output()
        .expect("kiln-wast runs");
    let stdout = text(&result.stdout);
    assert_eq!(result.status.code(), Some(1), "stdout: {stdout}");
    // The endless script: 2 passed, then the hung invoke and the 2 directives after it fail.
    assert!(stdout.contains("endless.wast: 2 passed, 3 failed"), "stdout: {stdout}");
    assert!(stdout.contains("line 3: invoke: script process timed out"), "stdout: {stdout}");
    assert!(stdout.contains("fine.wast: 2 passed, 0 failed"), "stdout: {stdout}");
    assert_eq!(stdout.lines().last(), Some("4 passed, 3 failed"), "stdout: {stdout}");
}

#[test]
fn kiln_run_max_memory_refuses_growth_past_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = compile_into(dir.path(), "wat/limits.wat", "limits.o");
    for (limit, grown) in [("128KiB", "1"), ("65536", "-1"), ("100K", "-1"), ("1M", "1")] {
        let result = kiln(&["run", &object, "--max-memory", limit, "--invoke", "grow", "1"]);
        assert!(result.status.success(), "{limit}: {}", text(&result.stderr));
        assert_eq!(text(&result.stdout).trim(), grown, "--max-memory {limit}");
    }
    let result = kiln(&["run", &object, "--max-memory", "1KiB", "--invoke", "grow", "1"]);
    assert_eq!(result.status.code(), Some(1), "the initial page does not fit: {}", text(&result.stderr));
    assert!(text(&result.stderr).contains("refused a memory"), "{}", text(&result.stderr));
}

#[test]
fn kiln_run_timeout_stops_an_infinite_loop_with_exit_134() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = compile_with_flags(dir.path(), "wat/epoch.wat", "epoch.o", &["--epoch-interruption"]);
    let started = std::time::Instant::now();
    let result = kiln(&["run", &object, "--timeout", "100ms", "--invoke", "spin"]);
    let elapsed = started.elapsed();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(134), "stderr: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(elapsed >= std::time::Duration::from_millis(100), "stopped before the timeout: {elapsed:?}");
    assert!(elapsed < std::time::Duration::from_secs(1), "took {elapsed:?}");

    // Code that finishes in time is not disturbed.
    let result = kiln(&["run", &object, "--timeout", "2s", "--invoke", "sum", "1000"]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert_eq!(text(&result.stdout).trim(), "500500");

    // Without epoch checks the timeout could not stop the code: refused, exit 1.
    let plain = compile_into(dir.path(), "wat/epoch.wat", "plain.o");
    let result = kiln(&["run", &plain, "--timeout", "100ms", "--invoke", "spin"]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("compiled without --epoch-interruption"), "{stderr}");

    for bad in ["soon", "5parsecs", "-1s"] {
        let result = kiln(&["run", &object, "--timeout", bad, "--invoke", "spin"]);
        assert_eq!(result.status.code(), Some(2), "--timeout {bad}: {}", text(&result.stderr));
    }
}

#[test]
fn kiln_run_fuel_limits_the_guest_with_exit_134() {
    let dir = tempfile::tempdir().expect("temp dir");
    let object = compile_with_flags(dir.path(), "wat/fuel.wat", "fuel.o", &["--fuel"]);
    // count(10) needs more than 45 units (tests/wat/fuel.wat).
    let result = kiln(&["run", &object, "--fuel", "46", "--invoke", "count", "10"]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let result = kiln(&["run", &object, "--fuel", "45", "--invoke", "count", "10"]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(134), "stderr: {stderr}");
    assert!(stderr.contains("all fuel consumed"), "{stderr}");
    let result = kiln(&["run", &object, "--fuel", "1000000", "--invoke", "spin"]);
    assert_eq!(result.status.code(), Some(134), "stderr: {}", text(&result.stderr));

    // Without metering the fuel could not limit the code: refused, exit 1.
    let plain = compile_into(dir.path(), "wat/fuel.wat", "plain.o");
    let result = kiln(&["run", &plain, "--fuel", "1000", "--invoke", "count", "10"]);
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("compiled without --fuel"), "{stderr}");

    let result = kiln(&["run", &object, "--fuel", "lots", "--invoke", "count", "10"]);
    assert_eq!(result.status.code(), Some(2), "{}", text(&result.stderr));
}
