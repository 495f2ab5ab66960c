//! WASI commands as users run them: C programs built by clang for
//! wasm32-wasi (tests/wasi/*.c), compiled by `kilnc`, run by `kiln run`.
//!
//! The toolchain comes from `tests/install-deps.sh`, which `make
//! test` runs first. Without it these tests fail and say so; they never pass
//! by skipping.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// Where the programs are built: under target/, never in the source tree.
fn build_dir() -> PathBuf {
    let dir = common::workspace_root().join("target/wasi-tests");
    std::fs::create_dir_all(&dir).expect("create target/wasi-tests");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds tests/wasi/`name`.c (or .wat) into an artifact; one build at a time,
/// since several tests share programs.
fn artifact(name: &str) -> PathBuf {
    artifact_with(name, &[])
}

/// [`artifact`], with extra clang flags for a C program.
fn artifact_with(name: &str, clang_flags: &[&str]) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _guard = BUILDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = build_dir();
    let object = dir.join(format!("{name}.o"));
    let input = common::wasi_fixture::wasi_module(name, &dir, clang_flags);
    let kilnc = Command::new(common::workspace_binary("kilnc"))
        .arg(&input)
        .arg("-o")
        .arg(&object)
        .output()
        .expect("kilnc runs");
    assert!(kilnc.status.success(), "kilnc {}: {}", input.display(), text(&kilnc.stderr));
    object
}

/// `kiln run` with `args`, in `cwd`, with `stdin` as standard input.
fn kiln_run(object: &Path, args: &[&str], cwd: &Path, stdin: &[u8]) -> Output {
    let mut child = Command::new(common::workspace_binary("kiln"))
        .arg("run")
        .arg(object)
        .args(args)
        .current_dir(cwd)
        .env("HOME", "/host/home/must/not/leak")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiln runs");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    child.wait_with_output().expect("kiln finishes")
}

/// Every check line of a program printed `ok`, and it exited with 0.
fn assert_all_checks_pass(output: &Output) {
    let stdout = text(&output.stdout);
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains("FAILED")).collect();
    assert!(failed.is_empty(), "failed checks:\n{}\n\nstdout:\n{stdout}", failed.join("\n"));
    assert_eq!(output.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", text(&output.stderr));
    assert!(stdout.lines().filter(|l| l.ends_with(": ok")).count() >= 5, "too few checks ran:\n{stdout}");
}

#[test]
fn a_hand_written_command_writes_and_exits_with_its_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = kiln_run(&artifact("hello"), &[], dir.path(), b"");
    assert_eq!(text(&output.stdout), "hello from a hand-written WASI command\n");
    assert_eq!(output.status.code(), Some(3), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn arguments_and_environment_are_exactly_those_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = ["--env", "GREETING=hello there", "--env", "EMPTY=", "--", "one", "two words", "--three"];
    let output = kiln_run(&artifact("args_env"), &args, dir.path(), b"");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "argc=4\nargv0 names the artifact: ok\nargv[1]=one\nargv[2]=two words\nargv[3]=--three\n\
         GREETING=hello there\nEMPTY=(empty)\nHOME=(unset)\nenviron has 2 entries\n"
    );
}

#[test]
fn clocks_sleep_and_random_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_all_checks_pass(&kiln_run(&artifact("clocks_random"), &[], dir.path(), b""));
}

#[test]
fn file_descriptors_read_write_seek_allocate_and_describe_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = dir.path().join("box");
    std::fs::create_dir(&sandbox).expect("mkdir");
    let preopen = format!("{}::/sandbox", sandbox.display());
    let output = kiln_run(&artifact("files"), &["--dir", &preopen, "--", "/sandbox"], dir.path(), b"");
    assert_all_checks_pass(&output);
    // What the guest wrote is on the host, where it said.
    let data = std::fs::read(sandbox.join("data.bin")).expect("data.bin");
    assert_eq!(data.len(), 104);
    assert_eq!(&data[..13], b"hello, WORLD\n");
    assert_eq!(&data[100..], b"tail");
    assert_eq!(std::fs::read_to_string(sandbox.join("other.txt")).expect("other.txt"), "line 42\nappended\n");
}

#[test]
fn directories_list_rename_link_and_remove() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = dir.path().join("box");
    std::fs::create_dir(&sandbox).expect("mkdir");
    let preopen = format!("{}::/sandbox", sandbox.display());
    let output = kiln_run(&artifact("dirs"), &["--dir", &preopen, "--", "/sandbox"], dir.path(), b"");
    assert_all_checks_pass(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("listing: a.txt b.txt inner (and 2 dot entries)\n"), "{stdout}");
    // 300 entries take several fd_readdir calls, resumed by cookie.
    assert!(stdout.contains("created 300, listed 300\n"), "{stdout}");
    assert_eq!(std::fs::read_to_string(sandbox.join("b-moved.txt")).expect("moved file"), "bravo\n");
    assert!(!sandbox.join("sub").exists());
    assert_eq!(std::fs::read_dir(sandbox.join("many")).expect("many").count(), 300);
}

#[test]
fn poll_waits_for_stdin_and_clocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_all_checks_pass(&kiln_run(&artifact("poll"), &[], dir.path(), b"ping\n"));
}

#[test]
fn garbage_pointers_get_efault_and_the_host_survives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let preopen = format!("{}::/sandbox", dir.path().display());
    let output = kiln_run(&artifact("faults"), &["--dir", &preopen, "--env", "A=B"], dir.path(), b"");
    assert_all_checks_pass(&output);
    assert!(text(&output.stdout).ends_with("survived with 0 failures\n"));
}

#[test]
fn the_process_exits_with_the_programs_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let program = artifact("exit_code");
    for (args, code) in [(["exit", "7"], 7), (["return", "9"], 9), (["exit", "0"], 0), (["exit", "300"], 300 & 0xff)] {
        let output = kiln_run(&program, &["--", args[0], args[1]], dir.path(), b"");
        assert_eq!(output.status.code(), Some(code), "{args:?}: stderr: {}", text(&output.stderr));
        assert_eq!(text(&output.stdout), format!("{} {}\n", args[0], args[1]));
        // An exit is no error: nothing is reported.
        assert_eq!(text(&output.stderr), "", "{args:?}");
    }
}

#[test]
fn a_trap_prints_the_trap_and_backtrace_and_exits_134() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = kiln_run(&artifact("exit_code"), &["--", "trap", "0"], dir.path(), b"");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(134), "stderr: {stderr}");
    assert_eq!(text(&output.stdout), "trap 0\n");
    assert!(stderr.contains("wasm trap: unreachable"), "{stderr}");
    assert!(stderr.contains("wasm backtrace:") && stderr.contains("abort") && stderr.contains("main"), "{stderr}");
}

#[test]
fn preloaded_artifacts_provide_imports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mathlib = artifact("mathlib");
    let preload = format!("mathlib={}", mathlib.display());
    let output = kiln_run(&artifact("preload_main"), &["--preload", &preload], dir.path(), b"");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "triple(14) = 42\ntriple(-5) = -15\nmathlib was called 2 times\n");

    let output = kiln_run(&artifact("preload_main"), &[], dir.path(), b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("mathlib"), "{}", text(&output.stderr));
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = kiln_run(&artifact("hello"), &["--dir", "no/such/dir::/x"], dir.path(), b"");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot preopen directory `no/such/dir`"), "{stderr}");
}

/// Every file under `root` outside `skip`, with its type, size, content and
/// modification time: what an escape would change.
fn snapshot(root: &Path, skip: &Path, into: &mut BTreeMap<PathBuf, String>) {
    for entry in std::fs::read_dir(root).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path == skip {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        let content = if meta.is_file() { text(&std::fs::read(&path).expect("read")) } else { String::new() };
        into.insert(
            path.clone(),
            format!("{:?} {} {:?} {content}", meta.file_type(), meta.len(), meta.modified().ok()),
        );
        if meta.is_dir() {
            snapshot(&path, skip, into);
        }
    }
}

#[test]
fn sandbox_escapes_are_all_refused_and_change_nothing_outside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical temp dir");
    let sandbox = root.join("box");
    std::fs::create_dir_all(sandbox.join("sub")).expect("mkdir");
    std::fs::create_dir(root.join("outdir")).expect("mkdir");
    std::fs::write(root.join("outside.txt"), "secret\n").expect("write");
    std::fs::write(sandbox.join("inside.txt"), "inside\n").expect("write");
    std::os::unix::fs::symlink("../outside.txt", sandbox.join("escape-rel")).expect("symlink");
    std::os::unix::fs::symlink(root.join("outside.txt"), sandbox.join("escape-abs")).expect("symlink");
    std::os::unix::fs::symlink("..", sandbox.join("escape-dir")).expect("symlink");
    let mut before = BTreeMap::new();
    snapshot(&root, &sandbox, &mut before);

    let preopen = format!("{}::/sandbox", sandbox.display());
    let output = kiln_run(&artifact("sandbox"), &["--dir", &preopen], &root, b"");
    let stdout = text(&output.stdout);

    let escaped: Vec<&str> = stdout.lines().filter(|l| l.ends_with("ESCAPED")).collect();
    assert!(escaped.is_empty(), "escapes:\n{}\n\nstdout:\n{stdout}", escaped.join("\n"));
    let refused = stdout.lines().filter(|l| l.contains(": refused (errno ")).count();
    assert!(refused >= 35, "only {refused} attempts ran:\n{stdout}");
    assert!(stdout.ends_with(&format!("attempts: {refused}, refused: {refused}\n")), "{stdout}");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    // The host itself refuses paths that bypass wasi-libc, with ENOTCAPABLE.
    for line in stdout.lines().filter(|l| l.starts_with("raw ")) {
        assert!(line.ends_with("refused (errno 76)"), "{line}");
    }

    let mut after = BTreeMap::new();
    snapshot(&root, &sandbox, &mut after);
    assert_eq!(before, after, "something outside the sandbox changed");
    assert_eq!(std::fs::read_to_string(sandbox.join("inside.txt")).expect("inside.txt"), "inside\n");
    assert!(!Path::new("/tmp/kiln-escape-test").exists());
}

/// The embedding API: a command's exit code comes back as `Error::Exit`,
/// and each instance's calls use its own memory.
#[test]
fn embedders_get_the_exit_code_and_each_instance_its_own_memory() {
    use kiln_loader::wasi::{self, WasiCtx};
    use kiln_loader::{Engine, Error, Linker, Store};

    // Exits with argc, read through args_sizes_get into its own memory at 0.
    let command = r#"(module
        (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start")
          (if (call $sizes (i32.const 0) (i32.const 4)) (then unreachable))
          (call $exit (i32.load (i32.const 0)))))"#;
    let object = kiln_compiler::compile(command.as_bytes(), &Default::default()).expect("compiles");
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &object).expect("loads");
    let mut linker = Linker::<WasiCtx>::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).expect("wasi");
    let ctx = WasiCtx::builder().args(["app", "one", "two"]).build().expect("context");
    let mut store = Store::new(&engine, ctx);
    let first = linker.instantiate(&mut store, &module).expect("instantiates");
    let second = linker.instantiate(&mut store, &module).expect("instantiates");
    for instance in [first, second] {
        let start = instance.get_typed_func::<(), ()>(&store, "_start").expect("_start");
        assert!(matches!(start.call(&mut store, ()), Err(Error::Exit(3))));
    }
    // The byte count landed in the memory of the instance that asked.
    let memory = second.get_memory(&store, "memory").expect("memory");
    assert_eq!(memory.read_le::<u32>(&store, 4).expect("read"), "app\0one\0two\0".len() as u32);
}

/// A WASI context whose stdout and stderr the test reads back.
fn captured(args: &[&str], stdin: &[u8]) -> (kiln_loader::wasi::WasiCtx, [kiln_loader::wasi::MemoryOutputPipe; 2]) {
    use kiln_loader::wasi::{MemoryInputPipe, MemoryOutputPipe, WasiCtx};
    let (stdout, stderr) = (MemoryOutputPipe::new().expect("pipe"), MemoryOutputPipe::new().expect("pipe"));
    let ctx = WasiCtx::builder()
        .args(args)
        .env("GREETING", "hello there")
        .env("EMPTY", "")
        .stdin(MemoryInputPipe::new(stdin).expect("pipe"))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .build()
        .expect("context");
    (ctx, [stdout, stderr])
}

#[test]
fn embedders_capture_the_output_of_a_c_program_in_memory() {
    use kiln_loader::{wasi, Engine, Linker, Store};
    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, artifact("args_env")).expect("loads");
    let mut linker = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).expect("wasi");
    let pre = linker.instantiate_pre(&module).expect("imports resolve");
    // Twice from one InstancePre: each store gets its own streams.
    for run in ["one", "uno"] {
        let (ctx, [stdout, stderr]) = captured(&["args_env.o", run, "two words", "--three"], b"");
        let mut store = Store::new(&engine, ctx);
        let instance = pre.instantiate(&mut store).expect("instantiates");
        instance.get_typed_func::<(), ()>(&store, "_start").expect("_start").call(&mut store, ()).expect("runs");
        assert_eq!(
            text(&stdout.contents().expect("stdout")),
            format!(
                "argc=4\nargv0 names the artifact: ok\nargv[1]={run}\nargv[2]=two words\nargv[3]=--three\n\
                 GREETING=hello there\nEMPTY=(empty)\nHOME=(unset)\nenviron has 2 entries\n"
            )
        );
        assert_eq!(text(&stderr.contents().expect("stderr")), "");
    }
}

#[test]
fn a_start_function_calls_wasi_and_stdin_comes_from_memory() {
    use kiln_loader::{wasi, Engine, Linker, Store};
    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, artifact("start_writes")).expect("loads");
    let mut linker = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).expect("wasi");
    let input: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
    let (ctx, [stdout, _]) = captured(&["start_writes"], &input);
    let mut store = Store::new(&engine, ctx);
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    assert_eq!(text(&stdout.contents().expect("stdout")), "written by the start function\n");
    instance.get_typed_func::<(), ()>(&store, "echo").expect("echo").call(&mut store, ()).expect("echoes");
    let mut expected = b"written by the start function\n".to_vec();
    expected.extend_from_slice(&input);
    assert_eq!(stdout.contents().expect("stdout"), expected);
}

#[test]
fn kiln_run_invoke_initializes_a_reactor_first() {
    let object = artifact_with("reactor", &["-mexec-model=reactor"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let output = kiln_run(&object, &["--invoke", "answer"], dir.path(), b"");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "answering\n42\n");
}

/// A command that tries, beneath its descriptor 3, what each argument says:
/// `r:PATH` read, `w:PATH` open for writing, `c:PATH` create or truncate and
/// write "kiln\n", `d:PATH` open a directory, `m:PATH` mkdir. It prints
/// `ARG: ERRNO` for each, after a read the file's first line too, and goes
/// on whatever happened.
const OPENER: &str = r#"
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  ;; 0: the new descriptor; 4: bytes read; 8: bytes written; 16: one iovec;
  ;; 64: argc and the size of the strings; 1024: argv; 2048: the strings;
  ;; 16384: the line being printed; 24576: what was read.
  (memory (export "memory") 1)
  (data (i32.const 32768) "kiln\n")
  (data (i32.const 32774) ": ")
  (global $out (mut i32) (i32.const 0))

  (func $strlen (param $s i32) (result i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $s) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func $put (param $from i32) (param $len i32)
    (memory.copy (global.get $out) (local.get $from) (local.get $len))
    (global.set $out (i32.add (global.get $out) (local.get $len))))

  (func $put_byte (param $byte i32)
    (i32.store8 (global.get $out) (local.get $byte))
    (global.set $out (i32.add (global.get $out) (i32.const 1))))

  (func $put_number (param $n i32)
    (if (i32.ge_u (local.get $n) (i32.const 10))
      (then (call $put_number (i32.div_u (local.get $n) (i32.const 10)))))
    (call $put_byte (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10)))))

  ;; path_open beneath descriptor 3, following symlinks: the errno.
  (func $open (param $path i32) (param $len i32) (param $oflags i32) (param $rights i64) (result i32)
    (call $path_open (i32.const 3) (i32.const 1) (local.get $path) (local.get $len)
      (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 0)))

  (func $read_first_line (param $fd i32) (local $n i32) (local $i i32)
    (i32.store (i32.const 16) (i32.const 24576))
    (i32.store (i32.const 20) (i32.const 64))
    (if (call $fd_read (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 4)) (then return))
    (call $put_byte (i32.const 32))
    (local.set $n (i32.load (i32.const 4)))
    (block $end
      (loop $byte
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $end (i32.eq (i32.load8_u (i32.add (i32.const 24576) (local.get $i))) (i32.const 10)))
        (call $put_byte (i32.load8_u (i32.add (i32.const 24576) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte))))

  ;; One argument, `r:PATH` (read), `w:PATH` (open for writing), `c:PATH`
  ;; (create or truncate, write "kiln\n"), `d:PATH` (open a directory) or
  ;; `m:PATH` (mkdir): prints `ARG: ERRNO`, and after a read the first line.
  (func $attempt (param $arg i32) (local $len i32) (local $mode i32) (local $path i32) (local $errno i32)
    (local.set $len (call $strlen (local.get $arg)))
    (global.set $out (i32.const 16384))
    (call $put (local.get $arg) (local.get $len))
    (call $put (i32.const 32774) (i32.const 2))
    (local.set $mode (i32.load8_u (local.get $arg)))
    (local.set $path (i32.add (local.get $arg) (i32.const 2)))
    (local.set $len (i32.sub (local.get $len) (i32.const 2)))
    (local.set $errno
      (if (result i32) (i32.eq (local.get $mode) (i32.const 114))
        (then (call $open (local.get $path) (local.get $len) (i32.const 0) (i64.const 2)))
        (else (if (result i32) (i32.eq (local.get $mode) (i32.const 119))
          (then (call $open (local.get $path) (local.get $len) (i32.const 0) (i64.const 64)))
          (else (if (result i32) (i32.eq (local.get $mode) (i32.const 99))
            (then (call $open (local.get $path) (local.get $len) (i32.const 9) (i64.const 64)))
            (else (if (result i32) (i32.eq (local.get $mode) (i32.const 100))
              (then (call $open (local.get $path) (local.get $len) (i32.const 2) (i64.const 0x4000)))
              (else (call $mkdir (i32.const 3) (local.get $path) (local.get $len)))))))))))
    (call $put_number (local.get $errno))
    (if (i32.and (i32.eqz (local.get $errno)) (i32.ne (local.get $mode) (i32.const 109)))
      (then
        (if (i32.eq (local.get $mode) (i32.const 114))
          (then (call $read_first_line (i32.load (i32.const 0)))))
        (if (i32.eq (local.get $mode) (i32.const 99))
          (then
            (i32.store (i32.const 16) (i32.const 32768))
            (i32.store (i32.const 20) (i32.const 5))
            (drop (call $fd_write (i32.load (i32.const 0)) (i32.const 16) (i32.const 1) (i32.const 8)))))
        (drop (call $fd_close (i32.load (i32.const 0))))))
    (call $put_byte (i32.const 10))
    (i32.store (i32.const 16) (i32.const 16384))
    (i32.store (i32.const 20) (i32.sub (global.get $out) (i32.const 16384)))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8))))

  (func (export "_start") (local $i i32)
    (if (call $args_sizes_get (i32.const 64) (i32.const 68)) (then unreachable))
    (if (call $args_get (i32.const 1024) (i32.const 2048)) (then unreachable))
    (local.set $i (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 64))))
        (call $attempt (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))
"#;

/// [`OPENER`], compiled once.
fn opener() -> PathBuf {
    static OPENER_ARTIFACT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    OPENER_ARTIFACT
        .get_or_init(|| {
            let object = build_dir().join("kernel_fs_opener.o");
            let bytes = kiln_compiler::compile(OPENER.as_bytes(), &Default::default()).expect("the opener compiles");
            std::fs::write(&object, bytes).expect("write the opener");
            object
        })
        .clone()
}

/// The lines that [`OPENER`] printed for `attempts` under `kiln run` with
/// `flags`; it must have exited with 0.
fn open_attempts(flags: &[&str], attempts: &[&str], cwd: &Path) -> Vec<String> {
    let args: Vec<&str> = flags.iter().copied().chain(["--"]).chain(attempts.iter().copied()).collect();
    let output = kiln_run(&opener(), &args, cwd, b"");
    assert_eq!(output.status.code(), Some(0), "{args:?}: stderr: {}", text(&output.stderr));
    let lines: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), attempts.len(), "one line per attempt: {lines:?}");
    lines
}

/// WASI errno values, as [`OPENER`] prints them.
const EACCES: &str = "2";
const ENOENT: &str = "44";

#[test]
fn kernel_filesystems_and_the_host_root_are_preopened_only_with_allow_unsafe_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (preopen, what) in [
        ("/proc::/proc", "it is on procfs"),
        ("/proc/self::/me", "it is on procfs"),
        ("/sys::/sys", "it is on sysfs"),
        ("/::/", "it is the host's root directory"),
        ("/usr/..::/", "it is the host's root directory"),
        ("/proc/self/root::/", "it is the host's root directory"),
    ] {
        let output = kiln_run(&opener(), &["--dir", preopen, "--", "r:x"], dir.path(), b"");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "--dir {preopen}: {stderr}");
        assert!(stderr.starts_with("error: refusing to preopen `"), "--dir {preopen}: {stderr}");
        for why in [what, "/proc/self/mem", "--allow-unsafe-dir allows it"] {
            assert!(stderr.contains(why), "--dir {preopen} gives {why:?}: {stderr}");
        }
        assert_eq!(text(&output.stdout), "", "the guest never ran");
    }
}

#[test]
fn with_allow_unsafe_dir_procfs_is_read_only_and_its_memory_files_never_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let attempts = [
        "r:self/status",
        "r:self/mem",
        "w:self/mem",
        "r:self/pagemap",
        "r:self/environ",
        "w:self/comm",
        "d:self",
        "d:self/fd",
        "m:new-dir",
        "r:self/status",
    ];
    let lines = open_attempts(&["--dir", "/proc::/proc", "--allow-unsafe-dir"], &attempts, dir.path());
    assert!(lines[0].starts_with("r:self/status: 0 Name:\tkiln"), "{lines:?}");
    let refused = |attempt: &str| format!("{attempt}: {EACCES}");
    assert_eq!(
        lines[1..9],
        [
            refused("r:self/mem"),
            refused("w:self/mem"),
            refused("r:self/pagemap"),
            refused("r:self/environ"),
            refused("w:self/comm"),
            "d:self: 0".to_string(),
            // Owner-only, like the memory files.
            refused("d:self/fd"),
            refused("m:new-dir"),
        ]
    );
    assert_eq!(lines[9], lines[0], "the guest went on after the refusals");
}

#[test]
fn with_allow_unsafe_dir_the_host_root_is_ordinary_but_proc_stays_fenced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical temp dir");
    std::fs::write(root.join("plain.txt"), "plain\n").expect("write");
    let beneath_root = root.strip_prefix("/").expect("absolute").display().to_string();
    let attempts = [
        format!("r:{beneath_root}/plain.txt"),
        format!("c:{beneath_root}/made.txt"),
        "r:proc/self/status".to_string(),
        "r:proc/self/mem".to_string(),
        "w:proc/self/mem".to_string(),
        "d:proc".to_string(),
        "m:proc/new-dir".to_string(),
        "m:sys/new-dir".to_string(),
    ];
    let attempts: Vec<&str> = attempts.iter().map(String::as_str).collect();
    let lines = open_attempts(&["--dir", "/::/", "--allow-unsafe-dir"], &attempts, &root);
    assert_eq!(lines[0], format!("{}: 0 plain", attempts[0]));
    assert_eq!(lines[1], format!("{}: 0", attempts[1]));
    assert_eq!(std::fs::read_to_string(root.join("made.txt")).expect("made.txt"), "kiln\n");
    assert!(lines[2].starts_with("r:proc/self/status: 0 Name:\tkiln"), "{lines:?}");
    assert_eq!(
        lines[3..],
        [
            format!("r:proc/self/mem: {EACCES}"),
            format!("w:proc/self/mem: {EACCES}"),
            "d:proc: 0".to_string(),
            format!("m:proc/new-dir: {EACCES}"),
            format!("m:sys/new-dir: {EACCES}"),
        ]
    );
}

#[test]
fn an_ordinary_directory_works_as_before_and_truncation_still_happens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = dir.path().join("box");
    std::fs::create_dir(&sandbox).expect("mkdir");
    std::fs::write(sandbox.join("old.txt"), "old content, longer than what replaces it\n").expect("write");
    let preopen = format!("{}::/box", sandbox.display());
    let attempts = ["c:old.txt", "c:new.txt", "r:new.txt", "m:sub", "d:sub", "r:missing", "w:old.txt"];
    let lines = open_attempts(&["--dir", &preopen], &attempts, dir.path());
    assert_eq!(
        lines,
        [
            "c:old.txt: 0",
            "c:new.txt: 0",
            "r:new.txt: 0 kiln",
            "m:sub: 0",
            "d:sub: 0",
            &format!("r:missing: {ENOENT}"),
            "w:old.txt: 0"
        ]
    );
    // `O_TRUNC`, applied once the descriptor passed, truncated the old file.
    assert_eq!(std::fs::read_to_string(sandbox.join("old.txt")).expect("old.txt"), "kiln\n");
    assert!(sandbox.join("sub").is_dir());
}

/// A procfs mounted beneath an ordinary preopened directory: nothing on it
/// opens without the opt-in, and with it the same rules hold as for a
/// preopened /proc. The mount lives in a mount namespace of its own
/// (`unshare --mount`), which needs root; elsewhere this test says so and
/// checks nothing.
#[test]
fn a_procfs_mounted_beneath_an_ordinary_preopen_is_fenced_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = dir.path().join("box");
    std::fs::create_dir_all(sandbox.join("p")).expect("mkdir");
    std::fs::write(sandbox.join("plain.txt"), "plain\n").expect("write");
    let probe = Command::new("unshare").args(["--mount", "--propagation", "private", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `unshare --mount` is not permitted here (needs root)");
        return;
    }
    let run = |flags: &str, attempts: &str| {
        let script = format!(
            "mount -t proc proc p && cd .. && exec {} run {} --dir box::/box {flags} -- {attempts}",
            common::workspace_binary("kiln").display(),
            opener().display()
        );
        let output = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .current_dir(&sandbox)
            .output()
            .expect("unshare runs");
        assert_eq!(output.status.code(), Some(0), "{script}: {}", text(&output.stderr));
        text(&output.stdout)
    };
    let attempts = "r:plain.txt r:p/self/status r:p/self/mem w:p/self/mem d:p m:p/new-dir";
    assert_eq!(
        run("", attempts),
        format!(
            "r:plain.txt: 0 plain\nr:p/self/status: {EACCES}\nr:p/self/mem: {EACCES}\nw:p/self/mem: {EACCES}\n\
             d:p: {EACCES}\nm:p/new-dir: {EACCES}\n"
        )
    );
    let opted_in = run("--allow-unsafe-dir", attempts);
    let lines: Vec<&str> = opted_in.lines().collect();
    assert_eq!(lines[0], "r:plain.txt: 0 plain");
    assert!(lines[1].starts_with("r:p/self/status: 0 Name:\tkiln"), "{opted_in}");
    assert_eq!(
        lines[2..],
        [
            format!("r:p/self/mem: {EACCES}"),
            format!("w:p/self/mem: {EACCES}"),
            "d:p: 0".to_string(),
            format!("m:p/new-dir: {EACCES}"),
        ]
    );
    assert!(sandbox.join("p").read_dir().expect("p").next().is_none(), "the mount stayed in its namespace");
}

/// The embedding API: `WasiCtxBuilder::allow_unsafe_preopens`, before or
/// after the directories, and what a guest then sees of /proc.
#[test]
fn embedders_opt_in_with_allow_unsafe_preopens() {
    use kiln_loader::wasi::{self, MemoryOutputPipe, UnsafeDir, WasiCtx, WasiError};
    use kiln_loader::{Engine, Linker, Store};

    let refusal = |host: &str| WasiCtx::builder().preopened_dir(host, "/x").expect("opens").build().unwrap_err();
    let error = refusal("/proc");
    assert!(
        matches!(&error, WasiError::UnsafePreopen { reason: UnsafeDir::KernelFilesystem("procfs"), path } if path == Path::new("/proc")),
        "{error:?}"
    );
    let message = error.to_string();
    for why in ["refusing to preopen `/proc`", "/proc/self/mem", "allow_unsafe_preopens"] {
        assert!(message.contains(why), "{message}");
    }
    assert!(matches!(refusal("/sys"), WasiError::UnsafePreopen { reason: UnsafeDir::KernelFilesystem("sysfs"), .. }));
    assert!(matches!(refusal("/"), WasiError::UnsafePreopen { reason: UnsafeDir::HostRoot, .. }));
    let dir = tempfile::tempdir().expect("temp dir");
    WasiCtx::builder().preopened_dir(dir.path(), "/x").expect("opens").build().expect("an ordinary directory");
    // The opt-in may come after the directory, and may be taken back.
    let mut builder = WasiCtx::builder();
    builder.preopened_dir("/proc", "/proc").expect("opens").allow_unsafe_preopens(true);
    builder.build().expect("allowed");
    let mut builder = WasiCtx::builder();
    builder.allow_unsafe_preopens(true).preopened_dir("/", "/").expect("opens").allow_unsafe_preopens(false);
    assert!(matches!(builder.build(), Err(WasiError::UnsafePreopen { reason: UnsafeDir::HostRoot, .. })));

    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, opener()).expect("loads");
    let mut linker = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, |ctx| ctx).expect("wasi");
    let stdout = MemoryOutputPipe::new().expect("pipe");
    let ctx = WasiCtx::builder()
        .args(["opener", "r:self/status", "r:self/mem", "w:self/mem", "r:self/pagemap"])
        .stdout(stdout.clone())
        .preopened_dir("/proc", "/proc")
        .expect("opens")
        .allow_unsafe_preopens(true)
        .build()
        .expect("context");
    let mut store = Store::new(&engine, ctx);
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    instance.get_typed_func::<(), ()>(&store, "_start").expect("_start").call(&mut store, ()).expect("runs");
    let printed = text(&stdout.contents().expect("stdout"));
    let lines: Vec<&str> = printed.lines().collect();
    assert!(lines[0].starts_with("r:self/status: 0 Name:\t"), "{printed}");
    assert_eq!(
        lines[1..],
        [format!("r:self/mem: {EACCES}"), format!("w:self/mem: {EACCES}"), format!("r:self/pagemap: {EACCES}")]
    );
}
