//! WASI commands as users run them: C programs built by clang for
//! wasm32-wasi (tests/wasi/*.c), compiled by `kilnc`, run by `kiln run`.
//!
//! The toolchain comes from `tests/programs/install-deps.sh`, which `make
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

/// Fails with the fix when the C-to-WASI toolchain is missing.
fn require_toolchain() {
    let sysroot = Path::new("/usr/include/wasm32-wasi/wasi/api.h");
    let clang = Command::new("clang").arg("--version").output();
    assert!(
        clang.is_ok_and(|o| o.status.success()) && sysroot.is_file(),
        "clang for wasm32-wasi (clang, lld, wasi-libc, libclang-rt-14-dev-wasm32) is missing: \
         run `bash tests/programs/install-deps.sh` (`make test` does)"
    );
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
    let wat = common::tests_path(&format!("wasi/{name}.wat"));
    let input = if wat.is_file() {
        wat
    } else {
        require_toolchain();
        let source = common::tests_path(&format!("wasi/{name}.c"));
        let wasm = dir.join(format!("{name}.wasm"));
        let clang = Command::new("clang")
            .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall", "-Werror"])
            .args(clang_flags)
            .arg("-o")
            .arg(&wasm)
            .arg(&source)
            .output()
            .expect("clang runs");
        assert!(clang.status.success(), "clang {}: {}", source.display(), text(&clang.stderr));
        wasm
    };
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
    use kiln_loader::{Engine, Error, Linker, Module, Store};

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
    let module = Module::from_bytes(&engine, &object).expect("loads");
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
    use kiln_loader::{wasi, Engine, Linker, Module, Store};
    let engine = Engine::default();
    let module = Module::from_file(&engine, artifact("args_env")).expect("loads");
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
    use kiln_loader::{wasi, Engine, Linker, Module, Store};
    let engine = Engine::default();
    let module = Module::from_file(&engine, artifact("start_writes")).expect("loads");
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
