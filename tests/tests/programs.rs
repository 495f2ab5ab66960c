//! Real C programs, compiled twice from the same sources by
//! tests/programs/build.sh: for wasm32-wasi (then `kilnc`, then `kiln run`)
//! and natively with the host's `cc`. Each test runs both builds through the
//! same steps, each side in a directory of its own holding the same inputs,
//! and requires the same stdout, exit code and files after every step.
//!
//! The builds come from `make test` (or `make programs`); missing ones fail
//! the tests with the command that makes them.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Generous: the slowest step takes about a second natively.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);

/// What the guest sees its directory as. Relative paths in the programs'
/// arguments resolve against the guest's working directory, `/`.
const GUEST_DIR: &str = "/";

fn programs_dir() -> PathBuf {
    match std::env::var_os("KILN_PROGRAMS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => common::workspace_root().join("target/programs"),
    }
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} not found: build the programs with `make programs` \
         (tests/install-deps.sh, then tests/programs/build.sh)",
        path.display()
    );
    path
}

/// One invocation of a program: its arguments, optionally a file of its
/// directory as stdin, and the exit code the native build must give (so a
/// step that stopped testing what it meant to fails too).
struct Step {
    args: &'static [&'static str],
    stdin: Option<&'static str>,
    exit: i32,
}

const fn step(args: &'static [&'static str], exit: i32) -> Step {
    Step { args, stdin: None, exit }
}

const fn step_with_stdin(args: &'static [&'static str], stdin: &'static str, exit: i32) -> Step {
    Step { args, stdin: Some(stdin), exit }
}

/// Runs `command` to completion with its stdout captured, stderr too, killing
/// it after [`STEP_TIMEOUT`].
fn run(mut command: Command, stdin: Option<File>) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command.stdin(match stdin {
        Some(file) => Stdio::from(file),
        None => Stdio::null(),
    });
    let description = format!("{command:?}");
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let stdout = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).map(|_| bytes)
    });
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        err.read_to_end(&mut bytes).map(|_| bytes)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if start.elapsed() > STEP_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} still running after {STEP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader").expect("read stdout"),
        stderr: stderr.join().expect("stderr reader").expect("read stderr"),
    }
}

/// Every file under `dir`, by path relative to it.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("dir entry")).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let relative = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
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

/// Where two byte strings first differ, with a little context, for messages
/// about outputs too large to print.
fn first_difference(a: &[u8], b: &[u8]) -> Option<String> {
    if a == b {
        return None;
    }
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let context = |s: &[u8]| String::from_utf8_lossy(&s[at.saturating_sub(40)..(at + 40).min(s.len())]).into_owned();
    Some(format!(
        "lengths {} (native) and {} (kiln), first difference at byte {at}:\n  native: {:?}\n  kiln:   {:?}",
        a.len(),
        b.len(),
        context(a),
        context(b)
    ))
}

/// Runs `steps` with the native build and with the kiln-compiled WASI build
/// of `program`, each in a fresh directory that `setup` fills the same way.
fn differential(program: &str, setup: impl Fn(&Path), steps: &[Step]) {
    let dir = programs_dir();
    let native = built(dir.join("native").join(program));
    let wasm = built(dir.join("wasm").join(format!("{program}.wasm")));

    let scratch = tempfile::tempdir().expect("temp dir");
    let object = scratch.path().join(format!("{program}.o"));
    let mut kilnc = Command::new(common::workspace_binary("kilnc"));
    kilnc.arg(&wasm).arg("-o").arg(&object);
    let compiled = run(kilnc, None);
    assert!(compiled.status.success(), "kilnc {}: {}", wasm.display(), String::from_utf8_lossy(&compiled.stderr));

    let native_dir = scratch.path().join("native");
    let kiln_dir = scratch.path().join("kiln");
    for d in [&native_dir, &kiln_dir] {
        std::fs::create_dir(d).expect("create work dir");
        setup(d);
    }
    let kiln = common::workspace_binary("kiln");

    for (i, step) in steps.iter().enumerate() {
        let what = format!("{program} step {i} `{}`", step.args.join(" "));
        let stdin = |d: &Path| step.stdin.map(|name| File::open(d.join(name)).expect("open stdin file"));

        let mut native_cmd = Command::new(&native);
        native_cmd.args(step.args).current_dir(&native_dir);
        let expected = run(native_cmd, stdin(&native_dir));

        let mut kiln_cmd = Command::new(&kiln);
        kiln_cmd
            .arg("run")
            .arg(&object)
            .arg("--dir")
            .arg(format!("{}::{GUEST_DIR}", kiln_dir.display()))
            .arg("--")
            .args(step.args)
            .current_dir(&kiln_dir);
        let actual = run(kiln_cmd, stdin(&kiln_dir));

        assert_eq!(
            expected.status.code(),
            Some(step.exit),
            "{what}: the native build itself exited otherwise; stderr:\n{}",
            String::from_utf8_lossy(&expected.stderr)
        );
        assert_eq!(
            actual.status.code(),
            expected.status.code(),
            "{what}: exit codes differ; kiln's stderr:\n{}\nnative stderr:\n{}",
            String::from_utf8_lossy(&actual.stderr),
            String::from_utf8_lossy(&expected.stderr)
        );
        if let Some(diff) = first_difference(&expected.stdout, &actual.stdout) {
            panic!("{what}: stdout differs: {diff}\nkiln's stderr:\n{}", String::from_utf8_lossy(&actual.stderr));
        }

        let expected_files = snapshot(&native_dir);
        let actual_files = snapshot(&kiln_dir);
        let names = |files: &BTreeMap<String, Vec<u8>>| files.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&actual_files), names(&expected_files), "{what}: the directories hold different files");
        for (name, bytes) in &expected_files {
            if let Some(diff) = first_difference(bytes, &actual_files[name]) {
                panic!("{what}: {name} differs: {diff}");
            }
        }
    }
}

/// Writes `size` bytes of the generator's text to `dir/name`.
fn generate(dir: &Path, name: &str, size: u64) {
    let gendata = built(programs_dir().join("gendata"));
    let status = Command::new(gendata).arg(size.to_string()).arg(dir.join(name)).status().expect("run gendata");
    assert!(status.success(), "gendata failed");
}

fn copy_in(dir: &Path, source: &str) {
    let from = common::tests_path(source);
    let name = from.file_name().expect("file name");
    std::fs::copy(&from, dir.join(name)).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

const TEXT_SIZE: u64 = 2 << 20;

#[test]
fn sqlite_builds_and_queries_a_file_database() {
    differential(
        "sqlite",
        |d| {
            copy_in(d, "programs/sqlite/build.sql");
            copy_in(d, "programs/sqlite/query.sql");
        },
        &[
            step(&["orders.db", "build.sql"], 0),
            // A second process reads the file back; its last statement fails.
            step(&["orders.db", "query.sql"], 1),
        ],
    );
}

#[test]
fn zlib_minigzip_compresses_and_restores_a_file() {
    differential(
        "minigzip",
        |d| generate(d, "data.txt", TEXT_SIZE),
        &[
            step(&["-9", "data.txt"], 0),
            step(&["-d", "data.txt.gz"], 0),
            step(&["-1", "-f", "data.txt"], 0),
            step(&["-d", "data.txt.gz"], 0),
            step(&["-h", "data.txt"], 0),
            step(&["-d", "data.txt.gz"], 0),
            step(&["-d", "missing.gz"], 1),
        ],
    );
}

#[test]
fn bzip2_compresses_tests_and_restores_a_file() {
    differential(
        "bzip2",
        |d| generate(d, "data.txt", TEXT_SIZE),
        &[
            step(&["-9", "-k", "data.txt"], 0),
            step(&["-t", "data.txt.bz2"], 0),
            step(&["-d", "-c", "data.txt.bz2"], 0),
            step_with_stdin(&["-1", "-c"], "data.txt", 0),
            step(&["-d", "-f", "data.txt.bz2"], 0),
            step(&["-d", "missing.bz2"], 1),
        ],
    );
}

#[test]
fn lz4_compresses_and_restores_a_file() {
    differential(
        "lz4",
        |d| generate(d, "data.txt", TEXT_SIZE),
        &[
            // Only the high-compression levels (3 and up): the fast ones pick
            // their hash table by pointer width, so a 32-bit build writes
            // other (equally valid) frames.
            step(&["-9", "data.txt", "data.txt.lz4"], 0),
            step(&["-4", "-BD", "-B4", "--content-size", "data.txt", "small-blocks.lz4"], 0),
            step(&["-d", "data.txt.lz4", "restored.txt"], 0),
            step(&["-d", "-c", "small-blocks.lz4"], 0),
            step_with_stdin(&["-c", "-3"], "data.txt", 0),
            // lz4's own code for an unrecognised header.
            step(&["-d", "data.txt", "garbage.out"], 44),
        ],
    );
}

#[test]
fn zstd_streams_compress_and_restore_a_file() {
    differential(
        "zstdpipe",
        |d| generate(d, "data.txt", TEXT_SIZE),
        &[
            step(&["-3", "data.txt", "data.zst"], 0),
            step(&["-d", "data.zst", "restored.txt"], 0),
            step(&["-12", "data.txt", "data12.zst"], 0),
            step(&["-d", "data12.zst", "restored12.txt"], 0),
            step(&["-d", "data.txt", "garbage.out"], 1),
        ],
    );
}
