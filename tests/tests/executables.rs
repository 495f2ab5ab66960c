//! Standalone executables (`kilnc --emit exe`): the WASI programs of
//! tests/wasi and the sqlite program of tests/programs, each built into an
//! executable and compiled into an artifact for `kiln run`; the two must
//! give the same stdout, exit code and files. Then what only an executable
//! has: it runs with no kiln around, it sees the build-time policy and
//! nothing else, and kilnc refuses what does not make sense.
//!
//! They need `make build` (kilnc, kiln and target/release/libkiln_runtime.a)
//! and, for sqlite, `make programs`.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// Where the programs are built: under target/, apart from the other WASI
/// tests' builds so that the two test binaries never write one file.
fn build_dir() -> PathBuf {
    let dir = common::workspace_root().join("target/exe-tests");
    std::fs::create_dir_all(&dir).expect("create target/exe-tests");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// tests/wasi/`name` as a module; one build at a time.
fn module(name: &str) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _guard = BUILDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    common::wasi_fixture::wasi_module(name, &build_dir(), &[])
}

fn kilnc() -> Command {
    let path = common::workspace_binary("kilnc");
    let runtime = path.with_file_name("libkiln_runtime.a");
    assert!(
        runtime.is_file(),
        "{} not found: build the workspace first (`make build`, or `cargo build --release -p kiln-runtime`)",
        runtime.display()
    );
    let mut command = Command::new(path);
    // The library beside kilnc, whatever the environment of the test run.
    command.env_remove("KILN_RUNTIME_LIB");
    command
}

/// `kilnc INPUT -o OUTPUT ARGS`, which must succeed.
fn compile(input: &Path, output: &Path, args: &[&str]) {
    let result = kilnc().arg(input).arg("-o").arg(output).args(args).output().expect("kilnc runs");
    assert!(result.status.success(), "kilnc {} {args:?}: {}", input.display(), text(&result.stderr));
}

/// `kilnc INPUT -o OUTPUT ARGS`, which must fail; its stderr.
fn compile_fails(input: &Path, output: &Path, args: &[&str]) -> String {
    let result = kilnc().arg(input).arg("-o").arg(output).args(args).output().expect("kilnc runs");
    assert_eq!(result.status.code(), Some(1), "kilnc {args:?} should fail: {}", text(&result.stderr));
    text(&result.stderr)
}

/// Runs `command` in `cwd` with `stdin` and only `env` as its environment.
fn run(mut command: Command, cwd: &Path, env: &[(&str, &str)], stdin: &[u8]) -> Output {
    command.current_dir(cwd).env_clear().envs(env.iter().copied());
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("program starts");
    let mut input = child.stdin.take().expect("stdin");
    // A program that reads no stdin may have exited before the write.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("program finishes")
}

/// Every file under `dir`, by path relative to it.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            let relative = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
            if path.is_dir() {
                files.insert(format!("{relative}/"), Vec::new());
                walk(root, &path, files);
            } else {
                files.insert(relative, std::fs::read(&path).expect("read file"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// One run of a differential case: the program's arguments and stdin.
struct Case {
    args: &'static [&'static str],
    stdin: Vec<u8>,
}

fn case(args: &'static [&'static str]) -> Case {
    Case { args, stdin: Vec::new() }
}

/// The directory a case runs in, and its `box/`.
fn work_dir(root: &Path, name: &str, setup: &dyn Fn(&Path)) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("box")).expect("mkdir");
    setup(&dir.join("box"));
    dir
}

/// Builds `wasm` into an executable (with `--dir box::/sandbox` and
/// `env`) and into an artifact, then runs each case with both (`kiln run`
/// given the same `--dir` and `--env`), each side
/// in a fresh directory that `setup` filled, and requires the same exit
/// code, stdout and files; also stderr after a trap, which both report
/// alike. The host environment of both holds a variable neither may see.
fn differential(name: &str, wasm: &Path, env: &[&str], setup: impl Fn(&Path), cases: &[Case]) {
    let scratch = tempfile::tempdir().expect("temp dir");
    // The `.out` keeps args_env's check that argv[0] names an artifact file
    // (`.o`) true for the executable as well.
    let exe = scratch.path().join(format!("{name}.out"));
    let artifact = scratch.path().join(format!("{name}.o"));
    let mut exe_flags = vec!["--emit", "exe", "--dir", "box::/sandbox"];
    let mut run_flags: Vec<&str> = vec!["--dir", "box::/sandbox"];
    for var in env {
        exe_flags.extend(["--env", var]);
        run_flags.extend(["--env", var]);
    }
    compile(wasm, &exe, &exe_flags);
    compile(wasm, &artifact, &[]);
    let host_env = [("HOME", "/host/home/must/not/leak"), ("SECRET", "host only")];

    for (i, case) in cases.iter().enumerate() {
        let what = format!("{name} case {i} {:?}", case.args);
        let exe_dir = work_dir(scratch.path(), &format!("exe-{i}"), &setup);
        let kiln_dir = work_dir(scratch.path(), &format!("kiln-{i}"), &setup);

        let mut exe_run = Command::new(&exe);
        exe_run.args(case.args);
        let from_exe = run(exe_run, &exe_dir, &host_env, &case.stdin);

        let mut kiln_run = Command::new(common::workspace_binary("kiln"));
        kiln_run.arg("run").arg(&artifact);
        kiln_run.args(&run_flags).arg("--").args(case.args);
        let from_kiln = run(kiln_run, &kiln_dir, &host_env, &case.stdin);

        assert_eq!(
            from_exe.status.code(),
            from_kiln.status.code(),
            "{what}: exit codes differ\nexecutable's stderr:\n{}\nkiln's stderr:\n{}",
            text(&from_exe.stderr),
            text(&from_kiln.stderr)
        );
        assert_eq!(text(&from_exe.stdout), text(&from_kiln.stdout), "{what}: stdout differs");
        if from_kiln.status.code() == Some(134) {
            assert_eq!(text(&from_exe.stderr), text(&from_kiln.stderr), "{what}: the trap reports differ");
        }
        assert!(!text(&from_exe.stdout).contains("FAILED"), "{what}: {}", text(&from_exe.stdout));
        assert_eq!(snapshot(&exe_dir), snapshot(&kiln_dir), "{what}: the files differ");
    }
}

#[test]
fn the_wasi_examples_behave_as_under_kiln_run() {
    let nothing = |_: &Path| {};
    differential("hello", &module("hello"), &[], nothing, &[case(&[])]);
    differential(
        "args_env",
        &module("args_env"),
        &["GREETING=hello there", "EMPTY="],
        nothing,
        &[case(&[]), case(&["one", "two words", "--three"])],
    );
    differential(
        "exit_code",
        &module("exit_code"),
        &[],
        nothing,
        &[
            case(&["exit", "7"]),
            case(&["return", "9"]),
            case(&["exit", "0"]),
            case(&["exit", "300"]),
            case(&["trap", "0"]),
        ],
    );
    differential("files", &module("files"), &[], nothing, &[case(&["/sandbox"])]);
    differential("dirs", &module("dirs"), &[], nothing, &[case(&["/sandbox"])]);
    differential("poll", &module("poll"), &[], nothing, &[Case { args: &[], stdin: b"ping\n".to_vec() }]);
}

#[test]
fn sqlite_reads_its_script_from_stdin_as_under_kiln_run() {
    let programs = std::env::var_os("KILN_PROGRAMS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::workspace_root().join("target/programs"));
    let wasm = programs.join("wasm/sqlite.wasm");
    assert!(wasm.is_file(), "{} not found: build the programs with `make programs`", wasm.display());
    let build = std::fs::read(common::tests_path("programs/sqlite/build.sql")).expect("build.sql");
    let query = std::fs::read(common::tests_path("programs/sqlite/query.sql")).expect("query.sql");
    // Each case starts from an empty box: the first builds the database and
    // queries it within one run, the second finds no tables.
    let args = &["/sandbox/orders.db", "-"];
    differential(
        "sqlite",
        &wasm,
        &[],
        |_| {},
        &[Case { args, stdin: [build, query.clone()].concat() }, Case { args, stdin: query }],
    );
}

#[test]
fn an_executable_runs_alone_with_no_kiln_installed() {
    let build = tempfile::tempdir().expect("temp dir");
    let exe = build.path().join("hello");
    compile(&module("hello"), &exe, &["--emit", "exe"]);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&exe).expect("metadata").permissions());
    assert_eq!(mode & 0o111, 0o111, "mode {mode:o}");

    // Alone in a directory of its own, with no PATH to find anything by.
    let alone = tempfile::tempdir().expect("temp dir");
    let copy = alone.path().join("hello");
    std::fs::copy(&exe, &copy).expect("copy");
    drop(build);
    let output = run(Command::new(&copy), alone.path(), &[("PATH", "/nonexistent")], b"");
    assert_eq!(text(&output.stdout), "hello from a hand-written WASI command\n");
    assert_eq!(output.status.code(), Some(3), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "");
}

/// Builds tests/wasi/visible.c into an executable with `flags`, in `dir`.
fn visible_exe(dir: &Path, flags: &[&str]) -> PathBuf {
    let exe = dir.join("visible");
    let mut args = vec!["--emit", "exe"];
    args.extend(flags);
    compile(&module("visible"), &exe, &args);
    exe
}

#[test]
fn the_program_sees_exactly_the_build_time_dirs_and_env() {
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["box/inner", "other"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    std::fs::write(dir.path().join("box/marker"), "").expect("write");
    let other = dir.path().join("other");
    let other_dir = format!("{}::/other", other.display());
    let exe =
        visible_exe(dir.path(), &["--dir", "box::/box", "--dir", &other_dir, "--env", "A=1", "--env", "B=two words"]);
    // Run-time arguments are the program's own: `--dir /` opens nothing.
    let mut command = Command::new(&exe);
    command.args(["--dir", "/", "--env", "C=3"]);
    let output = run(command, dir.path(), &[("HOME", "/home/x"), ("A", "host")], b"");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "preopen /box: inner marker\npreopen /other:\nenv A=1\nenv B=two words\n");

    // Without flags: no directory, no variable.
    let bare = tempfile::tempdir().expect("temp dir");
    let output = run(Command::new(visible_exe(bare.path(), &[])), bare.path(), &[("HOME", "/home/x")], b"");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
}

#[test]
fn inherit_env_passes_the_run_time_environment_under_the_build_time_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = visible_exe(dir.path(), &["--inherit-env", "--env", "A=built in"]);
    let output = run(Command::new(&exe), dir.path(), &[("A", "from the host"), ("C", "3")], b"");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "env C=3\nenv A=built in\n");
}

#[test]
fn relative_dirs_resolve_against_the_run_time_working_directory() {
    let built_in = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(built_in.path().join("box")).expect("mkdir");
    std::fs::write(built_in.path().join("box/build-time"), "").expect("write");
    let mut build = kilnc();
    build.current_dir(built_in.path()).arg(module("visible")).args(["-o", "visible", "--emit", "exe"]);
    let result = build.args(["--dir", "box::/box"]).output().expect("kilnc runs");
    assert!(result.status.success(), "{}", text(&result.stderr));
    let exe = built_in.path().join("visible");

    let run_in = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(run_in.path().join("box")).expect("mkdir");
    std::fs::write(run_in.path().join("box/run-time"), "").expect("write");
    let output = run(Command::new(&exe), run_in.path(), &[], b"");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "preopen /box: run-time\n");

    // Where the directory is missing at run time, nothing runs.
    let empty = tempfile::tempdir().expect("temp dir");
    let output = run(Command::new(&exe), empty.path(), &[], b"");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "");
    assert!(text(&output.stderr).contains("cannot preopen directory `box`"), "{}", text(&output.stderr));
}

#[test]
fn the_policy_flags_are_refused_without_emit_exe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("out");
    let hello = module("hello");
    for emit in [&[][..], &["--emit", "obj"], &["--emit", "so"]] {
        for flag in [&["--dir", "x"][..], &["--env", "A=1"], &["--inherit-env"], &["--runtime-lib", "lib.a"]] {
            let args: Vec<&str> = emit.iter().chain(flag).copied().collect();
            let stderr = compile_fails(&hello, &output, &args);
            assert!(stderr.contains(flag[0]) && stderr.contains("for --emit exe only"), "{args:?}: {stderr}");
            assert!(!output.exists(), "{args:?} wrote its output");
        }
    }
    let stderr = compile_fails(&hello, &output, &["--emit", "exe", "--env", "NAME"]);
    assert!(stderr.contains("write NAME=VALUE"), "{stderr}");
    let stderr = compile_fails(&hello, &output, &["--emit", "exe", "--dir", "::/guest"]);
    assert!(stderr.contains("the host directory is empty"), "{stderr}");
    assert!(!output.exists());
}

#[test]
fn a_missing_runtime_library_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("hello");
    let hello = module("hello");
    let expect_missing = |stderr: &str, path: &str| {
        assert!(
            stderr.contains("needs the kiln runtime library libkiln_runtime.a")
                && stderr.contains(path)
                && stderr.contains("cargo build --release -p kiln-runtime"),
            "{stderr}"
        );
    };
    let stderr = compile_fails(&hello, &output, &["--emit", "exe", "--runtime-lib", "/no/such/lib.a"]);
    expect_missing(&stderr, "/no/such/lib.a");

    let result = kilnc()
        .env("KILN_RUNTIME_LIB", "/from/the/environment.a")
        .arg(&hello)
        .args(["--emit", "exe", "-o"])
        .arg(&output)
        .output()
        .expect("kilnc runs");
    assert_eq!(result.status.code(), Some(1));
    expect_missing(&text(&result.stderr), "/from/the/environment.a");

    // A kilnc with no library beside it.
    let lonely = dir.path().join("kilnc");
    std::fs::copy(common::workspace_binary("kilnc"), &lonely).expect("copy kilnc");
    let result = Command::new(&lonely)
        .env_remove("KILN_RUNTIME_LIB")
        .arg(&hello)
        .args(["--emit", "exe", "-o"])
        .arg(&output)
        .output()
        .expect("kilnc runs");
    assert_eq!(result.status.code(), Some(1));
    expect_missing(&text(&result.stderr), &dir.path().join("libkiln_runtime.a").display().to_string());
    assert!(!output.exists());
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_link_leaves_the_output_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("hello");
    std::fs::write(&output, "the previous build").expect("write");
    let hello = module("hello");

    // A "library" that is no archive: `cc` fails.
    let bogus = tempfile::tempdir().expect("temp dir");
    let bogus_lib = bogus.path().join("libkiln_runtime.a");
    std::fs::write(&bogus_lib, "not an archive").expect("write");
    let stderr =
        compile_fails(&hello, &output, &["--emit", "exe", "--runtime-lib", bogus_lib.to_str().expect("utf-8")]);
    assert!(stderr.contains("the system linker `cc` failed"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&output).expect("read"), "the previous build");
    assert_eq!(names(dir.path()), ["hello"], "temporary files left behind");

    // No `cc` at all.
    let result = kilnc()
        .env("PATH", "/nonexistent")
        .arg(&hello)
        .args(["--emit", "exe", "-o"])
        .arg(&output)
        .output()
        .expect("kilnc");
    assert_eq!(result.status.code(), Some(1));
    assert!(text(&result.stderr).contains("no C compiler: `cc` is not on PATH"), "{}", text(&result.stderr));
    assert_eq!(std::fs::read_to_string(&output).expect("read"), "the previous build");
    assert_eq!(names(dir.path()), ["hello"], "temporary files left behind");

    // Standard output is no place for an executable.
    let result = kilnc().arg(&hello).args(["--emit", "exe", "-o", "-"]).output().expect("kilnc runs");
    assert_eq!(result.status.code(), Some(1));
    assert!(text(&result.stderr).contains("name it with -o"), "{}", text(&result.stderr));
    assert!(result.stdout.is_empty());

    // And a successful build replaces the file whole.
    compile(&hello, &output, &["--emit", "exe"]);
    let output_run = run(Command::new(&output), dir.path(), &[], b"");
    assert_eq!(output_run.status.code(), Some(3));
    assert_eq!(names(dir.path()), ["hello"]);
}

#[test]
fn a_damaged_policy_is_an_error_not_a_crash() {
    use object::{Object, ObjectSection, ObjectSymbol};
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = dir.path().join("hello");
    compile(&module("hello"), &exe, &["--emit", "exe", "--env", "A=1"]);
    let mut bytes = std::fs::read(&exe).expect("read");
    let policy_at = {
        let file = object::File::parse(&*bytes).expect("an ELF file");
        let symbol = file.symbols().find(|s| s.name() == Ok("kiln_embedded_policy")).expect("the policy symbol");
        let section = file.section_by_index(symbol.section_index().expect("defined")).expect("its section");
        let (offset, _) = section.file_range().expect("in the file");
        (offset + symbol.address() - section.address()) as usize
    };
    assert_eq!(&bytes[policy_at..policy_at + 8], b"KILNRUN\0");
    // The version field.
    bytes[policy_at + 8] = 9;
    let damaged = dir.path().join("damaged");
    std::fs::write(&damaged, &bytes).expect("write");
    std::fs::set_permissions(&damaged, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let output = run(Command::new(&damaged), dir.path(), &[], b"");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(text(&output.stdout), "");
    assert!(stderr.starts_with("error: this executable's run policy is damaged: run policy version 9"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
