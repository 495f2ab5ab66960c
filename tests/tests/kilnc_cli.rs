//! `kilnc` as a Wasmtime user runs it: without `-o` it names the artifact
//! after the input in the working directory, `-` reads standard input and
//! `-o -` writes standard output, `-v` says what is compiled, `--timings`
//! how long each phase and the slowest functions took, and nothing of a
//! progress bar reaches stderr unless it is a terminal.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One import and three defined functions: one named by the name section
/// (`$double`), one only by its export (`triple`), one by neither.
const NAMED: &str = r#"(module
  (import "env" "log" (func $log (param i32)))
  (func $double (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
  (func (export "triple") (param i32) (result i32) local.get 0 i32.const 3 i32.mul)
  (func (param i32) (result i32) local.get 0 i32.const 4 i32.mul))"#;

fn kilnc(cwd: &Path, args: &[&str]) -> Output {
    kilnc_with_stdin(cwd, args, None)
}

/// `kilnc ARGS` in `cwd`, stdout and stderr piped, `stdin` written to it.
fn kilnc_with_stdin(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(common::workspace_binary("kilnc"));
    command.args(args).current_dir(cwd).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    // The runtime library beside kilnc, for --emit exe.
    command.env_remove("KILN_RUNTIME_LIB");
    let mut child = command.spawn().expect("kilnc runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // kilnc may refuse before reading it all: a broken pipe is fine.
        let _ = pipe.write_all(bytes);
    }
    child.wait_with_output().expect("kilnc finishes")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_success(out: &Output) {
    assert!(out.status.success(), "kilnc failed: {}", stderr(out));
}

/// A fresh working directory with `src/NAME` holding `source`.
fn work_dir(name: &str, source: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("src")).expect("mkdir src");
    let input = dir.path().join("src").join(name);
    std::fs::write(&input, source).expect("write the module");
    (dir, input)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The ELF file type (`e_type`) of `bytes`: 1 relocatable, 2 executable,
/// 3 shared object (or position-independent executable).
fn elf_type(bytes: &[u8]) -> u16 {
    assert!(bytes.starts_with(b"\x7fELF"), "not an ELF file");
    u16::from_le_bytes([bytes[16], bytes[17]])
}

#[test]
fn without_o_the_artifact_is_named_after_the_input_in_the_working_directory() {
    let (dir, _) = work_dir("app.wat", NAMED);
    assert_success(&kilnc(dir.path(), &["src/app.wat"]));
    assert_eq!(names_in(dir.path()), ["app.o", "src"]);
    assert_eq!(names_in(&dir.path().join("src")), ["app.wat"], "nothing is written beside the input");
    assert_eq!(elf_type(&std::fs::read(dir.path().join("app.o")).unwrap()), 1);

    assert_success(&kilnc(dir.path(), &["src/app.wat", "--emit", "so"]));
    assert_eq!(elf_type(&std::fs::read(dir.path().join("app.so")).unwrap()), 3);
    assert_eq!(names_in(dir.path()), ["app.o", "app.so", "src"]);

    // Only the last extension goes: `module.v2.wasm` gives `module.v2.o`.
    let (dir, _) = work_dir("module.v2.wat", NAMED);
    assert_success(&kilnc(dir.path(), &["src/module.v2.wat"]));
    assert_eq!(names_in(dir.path()), ["module.v2.o", "src"]);
}

#[test]
fn without_o_an_executable_is_named_as_the_module_and_runs() {
    let hello = std::fs::read_to_string(common::tests_path("wasi/hello.wat")).expect("tests/wasi/hello.wat");
    let (dir, _) = work_dir("hello.wat", &hello);
    assert_success(&kilnc(dir.path(), &["src/hello.wat", "--emit", "exe"]));
    assert_eq!(names_in(dir.path()), ["hello", "src"]);
    let run = Command::new(dir.path().join("hello")).output().expect("the executable runs");
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from a hand-written WASI command\n");
    assert_eq!(run.status.code(), Some(3));
}

#[test]
fn without_o_an_input_in_the_working_directory_is_never_overwritten() {
    // `kilnc app --emit exe` would name the executable `app`: the input.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app"), NAMED).unwrap();
    let out = kilnc(dir.path(), &["app", "--emit", "exe"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("it is the input"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join("app")).unwrap(), NAMED);
}

#[test]
fn standard_input_needs_o_and_o_dash_writes_standard_output() {
    let (dir, _) = work_dir("app.wat", NAMED);
    let refused = kilnc_with_stdin(dir.path(), &["-"], Some(NAMED.as_bytes()));
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(message.starts_with("error: ") && message.contains("-o FILE") && message.contains("-o -"), "{message}");
    assert_eq!(names_in(dir.path()), ["src"], "nothing is written");

    let to_file = kilnc_with_stdin(dir.path(), &["-", "-o", "from-stdin.o"], Some(NAMED.as_bytes()));
    assert_success(&to_file);
    assert!(to_file.stdout.is_empty());
    let from_stdin = std::fs::read(dir.path().join("from-stdin.o")).unwrap();

    let to_stdout = kilnc_with_stdin(dir.path(), &["-", "-o", "-"], Some(NAMED.as_bytes()));
    assert_success(&to_stdout);
    assert_eq!(elf_type(&to_stdout.stdout), 1);
    assert_eq!(to_stdout.stdout, from_stdin, "the artifact does not depend on where it goes");

    assert_success(&kilnc(dir.path(), &["src/app.wat"]));
    assert_eq!(std::fs::read(dir.path().join("app.o")).unwrap(), from_stdin, "nor on where the module comes from");
    assert_eq!(names_in(dir.path()), ["app.o", "from-stdin.o", "src"]);
}

#[test]
fn verbose_says_what_is_compiled() {
    let (dir, _) = work_dir("app.wat", NAMED);
    let out = kilnc(dir.path(), &["src/app.wat", "-v", "--cpu", "x86-64-v3", "-W", "simd=n", "--threads", "1"]);
    assert_success(&out);
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "kilnc: input: src/app.wat",
        "kilnc: output: app.o",
        "kilnc: emit: obj (relocatable object)",
        "kilnc: functions: 3 defined, 1 imported",
    ] {
        assert!(lines.iter().any(|l| l.starts_with(expected)), "no line {expected:?} in:\n{text}");
    }
    let cpu = lines.iter().find(|l| l.starts_with("kilnc: cpu: x86-64-v3 (")).expect("a cpu line");
    assert!(cpu.contains("avx2") && cpu.contains("bmi2"), "{cpu}");
    let features = lines.iter().find(|l| l.starts_with("kilnc: features: ")).expect("a features line");
    assert!(features.contains("relaxed-simd") && !features.contains(" simd"), "simd is off: {features}");
    assert!(lines.iter().any(|l| l.starts_with("kilnc: needs cpu features: ") && l.contains("avx2")), "{text}");
    assert!(lines.iter().any(|l| l.contains("threads 1")), "{text}");

    let quiet = kilnc(dir.path(), &["src/app.wat"]);
    assert_success(&quiet);
    assert_eq!(stderr(&quiet), "", "without -v kilnc says nothing");
}

#[test]
fn verbose_shows_the_plan_even_when_the_compile_fails() {
    let (dir, _) = work_dir("bad.wat", "(module (func (result i32)))");
    let out = kilnc(dir.path(), &["src/bad.wat", "-v", "--emit", "so"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.contains("kilnc: input: src/bad.wat\nkilnc: output: bad.so\nkilnc: emit: so"), "{text}");
    assert!(text.contains("error: ") && !text.contains("kilnc: functions:"), "{text}");
}

/// The phase names of `--timings`, in the order printed.
fn phase_lines(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != "kilnc: timings:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim_start().split("  ").next().unwrap_or("").trim_end_matches(|c: char| c == ' ').to_owned())
        .collect()
}

/// The lines of the slowest functions of `--timings`.
fn function_lines(text: &str) -> Vec<&str> {
    text.lines().skip_while(|l| *l != "kilnc: slowest functions:").skip(1).take_while(|l| l.starts_with("  ")).collect()
}

#[test]
fn timings_give_every_phase_and_the_functions_with_their_names() {
    let (dir, _) = work_dir("app.wat", NAMED);
    let out = kilnc(dir.path(), &["src/app.wat", "--timings"]);
    assert_success(&out);
    let text = stderr(&out);
    assert_eq!(
        phase_lines(&text),
        [
            "read",
            "parse and validate",
            "translate",
            "Cranelift compile",
            "translate and compile, wall",
            "emit",
            "seal",
            "write",
            "total"
        ],
        "{text}"
    );
    let functions = function_lines(&text);
    assert_eq!(functions.len(), 3, "{text}");
    let label = |line: &&str| line.trim_start().split("  ").next().unwrap_or("").trim_end().to_owned();
    let mut labels: Vec<String> = functions.iter().map(label).collect();
    labels.sort();
    assert_eq!(labels, ["function 1 double", "function 2 triple", "function 3"], "{text}");
    for line in &functions {
        assert!(line.contains(" ms  (translate ") && line.contains(" ms, compile "), "{line}");
    }

    // A shared object is linked: that phase shows, the write does not
    // (the linker writes it).
    let shared = kilnc(dir.path(), &["src/app.wat", "--emit", "so", "--timings"]);
    assert_success(&shared);
    let phases = phase_lines(&stderr(&shared));
    assert!(phases.contains(&"link".to_owned()) && !phases.contains(&"write".to_owned()), "{phases:?}");
}

#[test]
fn timings_list_at_most_ten_functions_the_slowest_first() {
    let mut source = String::from("(module\n");
    for i in 0..14 {
        // Longer bodies for higher indices, so the list is not in index order.
        let body = "i32.const 7 i32.mul i32.const 3 i32.add ".repeat(i + 1);
        source.push_str(&format!("  (func $f{i} (param i32) (result i32) local.get 0 {body})\n"));
    }
    source.push(')');
    let (dir, _) = work_dir("many.wat", &source);
    let out = kilnc(dir.path(), &["src/many.wat", "--timings", "-o", "-"]);
    assert_success(&out);
    let text = stderr(&out);
    let functions = function_lines(&text);
    assert_eq!(functions.len(), 10, "{text}");
    let millis = |line: &str| -> f64 {
        let after_label = line.trim_start().split_once("  ").expect("label and time").1;
        after_label.trim_start().split(' ').next().expect("time").parse().expect("a number of ms")
    };
    for pair in functions.windows(2) {
        assert!(millis(pair[0]) >= millis(pair[1]), "not slowest first:\n{text}");
    }
    for line in &functions {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "function", "{line}");
        let index: u32 = words[1].parse().expect("a function index");
        assert_eq!(words[2], format!("f{index}"), "the name section's name: {line}");
    }
}

#[test]
fn no_progress_bar_reaches_a_pipe() {
    // Long enough to pass the bar's delay on a terminal.
    let mut source = String::from("(module\n");
    for i in 0..1500 {
        let body = "i32.const 7 i32.mul local.get 0 i32.xor i32.const 3 i32.rotl ".repeat(50);
        source.push_str(&format!("  (func (export \"f{i}\") (param i32) (result i32) local.get 0 {body})\n"));
    }
    source.push(')');
    let (dir, _) = work_dir("big.wat", &source);
    let out = kilnc(dir.path(), &["src/big.wat", "--threads", "1"]);
    assert_success(&out);
    assert_eq!(stderr(&out), "", "a progress bar, or anything else, on a pipe");

    // The control: on a terminal (`script` gives kilnc one) the same
    // compile draws the bar, so the quiet pipe above is not an accident.
    let Ok(script) = Command::new("script").arg("--version").output() else {
        eprintln!("no `script` (util-linux) here: the terminal control is skipped");
        return;
    };
    assert!(script.status.success());
    let kilnc = common::workspace_binary("kilnc");
    let command = format!("{} src/big.wat -o big-tty.o --threads 1", kilnc.display());
    let start = Instant::now();
    let tty = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let took = start.elapsed();
    assert!(tty.status.success(), "{}", String::from_utf8_lossy(&tty.stdout));
    assert_eq!(std::fs::read(dir.path().join("big-tty.o")).unwrap(), std::fs::read(dir.path().join("big.o")).unwrap());
    // The bar waits half a second before it is drawn: a machine that
    // compiled this much quicker shows none, rightly.
    if took < Duration::from_millis(1000) {
        eprintln!("the compile took {took:?}, too short for the bar: the terminal control is skipped");
        return;
    }
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(screen.contains("/1500 functions"), "no progress bar on a terminal in {took:?}: {screen:?}");
}
