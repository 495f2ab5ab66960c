//! The `kilnc` binary as a user runs it: its options, and errors that say
//! what and where, exit 1 and leave no output behind.

use std::process::Command;

const INVALID_BODY: &str = include_str!("../../tests/modules/invalid_body.wat");
const SEVERAL: &str = include_str!("../../tests/modules/several_functions.wat");

fn kilnc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kilnc"))
}

#[test]
fn cli_compiles_a_module() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.wat");
    let output = dir.path().join("m.o");
    std::fs::write(&input, SEVERAL).unwrap();
    let out = kilnc()
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["-O", "speed_and_size", "--cpu", "baseline", "--threads", "2", "--target", "x86_64-unknown-linux-gnu"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(&std::fs::read(&output).unwrap()[..4], b"\x7fELF");
}

#[test]
fn cli_reports_errors_and_exits_1_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.wat");
    let output = dir.path().join("bad.o");
    std::fs::write(&input, INVALID_BODY).unwrap();

    let out = kilnc().arg(&input).arg("-o").arg(&output).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    let at = format!("(in function 2, at {}:5:4)", input.display());
    assert!(stderr.contains(&at), "{stderr}");
    assert!(!output.exists());

    let missing = kilnc().arg(dir.path().join("missing.wasm")).arg("-o").arg(&output).output().unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing.wasm"));

    let bad_target =
        kilnc().arg(&input).arg("-o").arg(&output).args(["--target", "riscv64gc-unknown-linux-gnu"]).output().unwrap();
    assert_eq!(bad_target.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_target.stderr).contains("unsupported target"));

    let bad_arg = kilnc().arg(&input).arg("-o").arg(&output).args(["-O", "fastest"]).output().unwrap();
    assert_eq!(bad_arg.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_arg.stderr).contains("error:"));

    // Without -o the artifact is bad.o in the working directory: an
    // invalid module leaves none there either.
    let no_output = kilnc().arg(&input).current_dir(dir.path()).output().unwrap();
    assert_eq!(no_output.status.code(), Some(1));
    assert!(!output.exists());
}
