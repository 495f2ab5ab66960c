//! What the tools and the API say when something is wrong, word for word:
//! types in the text format, a missing export, a text-format module's
//! errors at their file, line and column, a cause said once, counts that
//! agree with their nouns, a WebAssembly module given where an artifact is
//! expected; and that a closed stdout ends the tools quietly, never with a
//! panic.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kiln_loader::{Engine, Error, Linker, Module, Store};

fn kilnc(args: &[&Path]) -> Output {
    Command::new(common::workspace_binary("kilnc")).args(args).output().expect("kilnc runs")
}

fn kiln(args: &[&str]) -> Output {
    Command::new(common::workspace_binary("kiln")).args(args).output().expect("kiln runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const ADD: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "negate") (param i32) (result i32) i32.const 0 local.get 0 i32.sub)
  (memory (export "memory") 1))"#;

/// Compiles the text `wat` to `dir/name.o` with kilnc, asserting success.
fn compile(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let input = dir.join(format!("{name}.wat"));
    std::fs::write(&input, wat).expect("write the module");
    let output = dir.join(format!("{name}.o"));
    let result = kilnc(&[&input, "-o".as_ref(), &output]);
    assert!(result.status.success(), "kilnc {name}: {}", text(&result.stderr));
    output
}

fn load(engine: &Engine, wat: &str) -> Module {
    let object = kiln_compiler::compile(wat.as_bytes(), &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

#[test]
fn types_are_written_as_the_text_format_writes_them() {
    let engine = Engine::default();
    let module = load(&engine, ADD);
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).expect("instantiates");
    let error = instance.get_typed_func::<i32, i32>(&store, "add").err().expect("the wrong signature");
    assert!(matches!(error, Error::Type(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "type mismatch: function has type `(func (param i32 i32) (result i32))`, not `(func (param i32) (result i32))`"
    );

    let importer = load(&engine, r#"(module (import "m" "f" (func (param i32 i64) (result f32))))"#);
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("m", "f", |_: i32| {}).expect("f");
    let error = linker.instantiate(&mut Store::new(&engine, ()), &importer).err().expect("the wrong type");
    assert_eq!(
        error.to_string(),
        "incompatible import type for `m`.`f`: the host function has type `(func (param i32))`"
    );

    let memory_importer = load(&engine, r#"(module (import "m" "memory" (memory 2 3)))"#);
    let mut store = Store::new(&engine, ());
    let provider = Linker::new(&engine).instantiate(&mut store, &module).expect("instantiates");
    let mut linker = Linker::<()>::new(&engine);
    linker.instance(&store, "m", provider).expect("m");
    let error = linker.instantiate(&mut store, &memory_importer).err().expect("too small a memory");
    let message = error.to_string();
    assert!(message.ends_with("expected `(memory 2 3)`, found `(memory 1)`"), "{message}");
}

#[test]
fn a_trap_says_its_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(
        dir.path(),
        "divide",
        r#"(module (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s))"#,
    );
    let out = kiln(&["run", "--invoke", "div", artifact.to_str().unwrap(), "1", "0"]);
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: wasm trap: integer divide by zero\n"), "{stderr}");
    assert!(!stderr.contains("TrapCode"), "{stderr}");
    assert_eq!(kiln_format::TrapCode::MEMORY_OUT_OF_BOUNDS.to_string(), "out of bounds memory access");
}

#[test]
fn a_missing_export_is_named_with_the_exports_there_are() {
    let engine = Engine::default();
    let module = load(&engine, ADD);
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).expect("instantiates");
    let error = instance.get_typed_func::<(i32, i32), i32>(&store, "sum").err().expect("no sum");
    assert!(matches!(error, Error::UnknownExport(_)), "{error:?}");
    assert_eq!(error.to_string(), "the module has no export named `sum` (its function exports: `add`, `negate`)");
    let error = instance.require_func(&store, "negat").err().expect("a typo");
    assert_eq!(error.to_string(), "the module has no export named `negat`; did you mean `negate`?");
    let error = instance.require_func(&store, "memory").err().expect("not a function");
    assert_eq!(error.to_string(), "export `memory` is a memory, not a function");

    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(dir.path(), "add", ADD);
    let out = kiln(&["run", "--invoke", "ad", artifact.to_str().unwrap(), "1", "2"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert_eq!(
        text(&out.stderr),
        "error: the module has no export named `ad` (its function exports: `add`, `negate`)\n"
    );
    let out = kiln(&["run", "--invoke", "nagate", artifact.to_str().unwrap(), "1"]);
    assert_eq!(text(&out.stderr), "error: the module has no export named `nagate`; did you mean `negate`?\n");
}

#[test]
fn argument_counts_agree_with_their_nouns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(dir.path(), "add", ADD);
    let artifact = artifact.to_str().unwrap();
    let out = kiln(&["run", "--invoke", "negate", artifact]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: `negate` takes 1 argument (its type is `(func (param i32) (result i32))`), 0 given\n"
    );
    let out = kiln(&["run", "--invoke", "add", artifact, "1"]);
    assert_eq!(
        text(&out.stderr),
        "error: `add` takes 2 arguments (its type is `(func (param i32 i32) (result i32))`), 1 given\n"
    );
}

#[test]
fn a_missing_dir_gives_its_cause_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = compile(dir.path(), "add", ADD);
    let missing = dir.path().join("nonexistent");
    let out = kiln(&["run", "--dir", missing.to_str().unwrap(), artifact.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("error: cannot preopen directory `{}`: No such file or directory (os error 2)\n", missing.display())
    );
}

#[test]
fn kilnc_shows_a_text_error_at_its_file_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("app.wat");
    std::fs::write(&input, "(module\n  (func (export \"f\")\n    i32.bogus))\n").expect("write");
    let out = kilnc(&[&input, "-o".as_ref(), &dir.path().join("app.o")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: invalid text format: unknown operator or unexpected token (at {}:3:5, offset 0x21)\n  |\n3 |     \
             i32.bogus))\n  |     ^\n",
            input.display()
        )
    );
    assert!(!text(&out.stderr).contains("<anon>"));

    // A validation error is shown at the function that the text defines.
    std::fs::write(&input, "(module\n  (func $ok)\n  (func $bad (result i32)\n    i64.const 1))\n").expect("write");
    let out = kilnc(&[&input, "-o".as_ref(), &dir.path().join("app.o")]);
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: type mismatch: expected i32, found i64 (in function 1, at {}:3:4)\n  |\n3 |   (func $bad (result \
             i32)\n  |    ^\n",
            input.display()
        )
    );

    // In a binary, at its file and byte offset.
    let binary = dir.path().join("app.wasm");
    let text_form = std::fs::read_to_string(&input).expect("read");
    std::fs::write(&binary, wat::parse_str(text_form).expect("parses")).expect("write");
    let out = kilnc(&[&binary, "-o".as_ref(), &dir.path().join("app.o")]);
    let stderr = text(&out.stderr);
    let at = format!("(at {}, offset 0x", binary.display());
    assert!(stderr.starts_with("error: type mismatch: expected i32, found i64 ") && stderr.contains(&at), "{stderr}");
    assert!(stderr.ends_with(", in function 1)\n"), "{stderr}");
}

#[test]
fn a_module_given_to_kiln_is_told_to_be_compiled_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wat = dir.path().join("app.wat");
    std::fs::write(&wat, ADD).expect("write");
    let wasm = dir.path().join("app.wasm");
    std::fs::write(&wasm, wat::parse_str(ADD).expect("parses")).expect("write");
    let (wat, wasm) = (wat.to_str().unwrap(), wasm.to_str().unwrap());
    let artifact = format!("{}/app.o", dir.path().display());

    let out = kiln(&["run", wasm]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: `{wasm}` is a WebAssembly module in the binary format, not a kiln artifact: kiln runs modules \
             compiled ahead of time by kilnc; compile it first: `kilnc {wasm} -o {artifact} && kiln run {artifact}`\n"
        )
    );
    let out = kiln(&["inspect", wat]);
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: `{wat}` is a WebAssembly module in the text format, not a kiln artifact: kiln runs modules \
             compiled ahead of time by kilnc; compile it first: `kilnc {wat} -o {artifact} && kiln inspect {artifact}`\n"
        )
    );

    let key = format!("{}/release", dir.path().display());
    assert!(kiln(&["keygen", &key]).status.success());
    let out = kiln(&["verify", wasm, "--trust", &format!("{key}.pub")]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.ends_with(&format!("compile it first: `kilnc {wasm} -o {artifact} && kiln verify {artifact}`\n")),
        "{stderr}"
    );

    // The loader says so whatever loads it, with the command when it knows the file.
    let engine = Engine::default();
    let error = kiln_tests::module_from_file(&engine, wasm).err().expect("a module");
    assert_eq!(
        error.to_string(),
        format!(
            "`{wasm}` is a WebAssembly module in the binary format, not a kiln artifact: kiln runs modules compiled \
             ahead of time by kilnc; `kilnc {wasm} -o {artifact}` makes one"
        )
    );
    let error = kiln_tests::module_from_bytes(&engine, ADD.as_bytes()).err().expect("a module");
    assert!(error.to_string().starts_with("these bytes are a WebAssembly module in the text format"), "{error}");
}

/// SIGPIPE's number on Linux.
const SIGPIPE: i32 = 13;

/// Whether a tool whose stdout was closed ended quietly: killed by SIGPIPE
/// or with the status a shell shows for that, never a panic.
fn assert_ended_quietly(output: &Output) {
    use std::os::unix::process::ExitStatusExt;
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
    assert!(output.status.code() == Some(141) || output.status.signal() == Some(SIGPIPE), "{:?}", output.status);
    assert_eq!(stderr, "", "nothing to say");
}

#[test]
fn kiln_inspect_ends_quietly_when_its_reader_stops() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Far more than a pipe holds (64 KiB): inspect must meet the closed pipe.
    let functions: String =
        (0..4000).map(|i| format!("(func (export \"function_number_{i}\") (result i32) i32.const {i})\n")).collect();
    let artifact = compile(dir.path(), "big", &format!("(module\n{functions})"));

    for json in [false, true] {
        let mut command = Command::new(common::workspace_binary("kiln"));
        command.arg("inspect").arg(&artifact);
        if json {
            command.arg("--json");
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kiln runs");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
        // The reader is dropped: the pipe is closed.
        let expected = if json { "{\n" } else { "file:" };
        assert!(first.starts_with(expected), "{first}");
        assert_ended_quietly(&child.wait_with_output().expect("kiln ends"));
    }
}

/// A guest that writes `ready` to stdout, then waits for its stdin to end:
/// by then the test has closed its stdout, which `many` then returns 200
/// results to be printed on, and `write` writes to itself, ending with the
/// WASI errno of that write.
const WAITS_FOR_STDIN: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; iovec of reads at 0 (buffer 128, 16 bytes), of writes at 8 ("ready\n" at 64)
  (data (i32.const 0) "\80\00\00\00\10\00\00\00\40\00\00\00\06\00\00\00")
  (data (i32.const 64) "ready\n")
  (func $ready_then_wait
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 40)))
    (loop $more
      (br_if $more
        (i32.and (i32.eqz (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 32)))
                 (i32.ne (i32.load (i32.const 32)) (i32.const 0))))))
  (func (export "write")
    (call $ready_then_wait)
    (call $proc_exit (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 40))))
  (func (export "many") (result RESULTS)
    (call $ready_then_wait)
    VALUES))"#;

/// Runs `kiln run --invoke name` of the guest, reads its `ready`, closes
/// its stdout, then its stdin.
fn run_past_a_closed_stdout(artifact: &Path, name: &str) -> Output {
    let mut child = Command::new(common::workspace_binary("kiln"))
        .args(["run", "--invoke", name])
        .arg(artifact)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiln runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
    assert_eq!(first, "ready\n");
    drop(child.stdin.take());
    child.wait_with_output().expect("kiln ends")
}

#[test]
fn kiln_run_ends_quietly_when_its_reader_stops_and_the_guest_gets_epipe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = vec!["i64"; 200].join(" ");
    let values: String = (0..200).map(|i| format!(" (i64.const {})", -1_234_567_890_123i64 - i)).collect();
    let wat = WAITS_FOR_STDIN.replace("RESULTS", &results).replace("VALUES", &values);
    let artifact = compile(dir.path(), "waits", &wat);

    assert_ended_quietly(&run_past_a_closed_stdout(&artifact, "many"));

    // The guest's own write to the closed pipe is its EPIPE (WASI errno
    // 64), which it exits with; kiln is not ended by it.
    let output = run_past_a_closed_stdout(&artifact, "write");
    assert_eq!(output.status.code(), Some(64), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).contains("panicked"));
}

#[test]
fn kilnc_ends_quietly_when_its_reader_stops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let functions: String =
        (0..2000).map(|i| format!("(func (export \"f{i}\") (result i32) i32.const {i})\n")).collect();
    let input = dir.path().join("big.wat");
    std::fs::write(&input, format!("(module\n{functions})")).expect("write");
    let mut child = Command::new(common::workspace_binary("kilnc"))
        .arg(&input)
        .args(["-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kilnc runs");
    // Closed before kilnc has compiled anything, so its write meets it.
    drop(child.stdout.take());
    assert_ended_quietly(&child.wait_with_output().expect("kilnc ends"));
}
