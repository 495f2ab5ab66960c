//! What `kilnc` reads and what it writes: only regular files (or standard
//! input and output, `-`), never the input as the output, never a device,
//! FIFO, directory or symbolic link at `-o`, and an atomic replacement that
//! leaves no temporary file behind. Text errors stay short whatever the
//! size of the offending line.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SEVERAL: &str = include_str!("../../tests/modules/several_functions.wat");

/// Longer than any of these runs takes; a run that blocks (on a FIFO, on
/// an endless input) is killed and fails its test instead of hanging it.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The most stderr any refusal here may print.
const SHORT_STDERR: usize = 2048;

/// What standard input of a run is.
enum Input<'a> {
    Nothing,
    Bytes(&'a [u8]),
    File(&'a Path),
}

/// Runs `kilnc ARGS` with `stdin`, killing it after [`TIMEOUT`].
fn kilnc(args: &[&dyn AsRef<std::ffi::OsStr>], stdin: Input) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kilnc"));
    command.args(args.iter().map(|a| a.as_ref())).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.stdin(match &stdin {
        Input::Nothing => Stdio::null(),
        Input::Bytes(_) => Stdio::piped(),
        Input::File(path) => Stdio::from(File::open(path).expect("open the standard input file")),
    });
    let mut child = command.spawn().expect("run kilnc");
    let writer = match stdin {
        // kilnc may refuse before reading all of it; a broken pipe is fine.
        Input::Bytes(bytes) => {
            let mut pipe = child.stdin.take().unwrap();
            let bytes = bytes.to_vec();
            Some(std::thread::spawn(move || drop(pipe.write_all(&bytes))))
        }
        _ => None,
    };
    let output = wait(child);
    if let Some(writer) = writer {
        writer.join().unwrap();
    }
    output
}

fn wait(mut child: Child) -> Output {
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("kilnc ran for more than {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a refusal: exit 1, nothing on stdout, and a short `error:`
/// that contains `expected`.
fn assert_refused(out: &Output, expected: &str) {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("error: ") && text.contains(expected), "expected {expected:?} in: {text}");
    assert!(out.stderr.len() < SHORT_STDERR, "{} bytes of stderr", out.stderr.len());
    assert!(out.stdout.is_empty());
}

/// The names in `dir`, sorted: no `.kilnc-*` temporary file may be among
/// them after a run.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A module source `m.wat` in a fresh directory.
fn module_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, SEVERAL).unwrap();
    (dir, input)
}

/// The artifact that `-o FILE` writes for [`SEVERAL`].
fn artifact_of_several() -> Vec<u8> {
    let (dir, input) = module_dir();
    let output = dir.path().join("m.o");
    let out = kilnc(&[&input, &"-o", &output], Input::Nothing);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read(&output).unwrap()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The umask this test runs under, which kilnc inherits.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let value = status.lines().find_map(|l| l.strip_prefix("Umask:")).expect("Umask in /proc/self/status");
    u32::from_str_radix(value.trim(), 8).unwrap()
}

#[test]
fn output_that_is_the_input_is_refused_and_the_source_kept() {
    let (dir, input) = module_dir();
    let symlink = dir.path().join("link.o");
    std::os::unix::fs::symlink(&input, &symlink).unwrap();
    let hard_link = dir.path().join("hard.o");
    std::fs::hard_link(&input, &hard_link).unwrap();

    for output in [&input, &symlink, &hard_link] {
        let out = kilnc(&[&input, &"-o", output], Input::Nothing);
        assert_refused(&out, "it is the input");
    }
    let through_stdin = kilnc(&[&"-", &"-o", &input], Input::File(&input));
    assert_refused(&through_stdin, "it is the file that standard input reads");

    assert_eq!(std::fs::read_to_string(&input).unwrap(), SEVERAL);
    assert!(std::fs::symlink_metadata(&symlink).unwrap().file_type().is_symlink());
    assert_eq!(entries(dir.path()), ["hard.o", "link.o", "m.wat"]);
}

#[test]
fn output_fifo_is_refused_without_opening_it() {
    let (dir, input) = module_dir();
    let fifo = dir.path().join("out.fifo");
    mkfifo(&fifo);
    // Opening the FIFO would block: no reader comes.
    let out = kilnc(&[&input, &"-o", &fifo], Input::Nothing);
    assert_refused(&out, "it is a FIFO, and kilnc replaces only regular files");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(entries(dir.path()), ["m.wat", "out.fifo"]);
}

#[test]
fn output_symlink_is_refused_and_its_target_untouched() {
    let (dir, input) = module_dir();
    let target = dir.path().join("target.o");
    std::fs::write(&target, b"previous artifact").unwrap();
    let symlink = dir.path().join("link.o");
    std::os::unix::fs::symlink(&target, &symlink).unwrap();
    let dangling = dir.path().join("dangling.o");
    std::os::unix::fs::symlink(dir.path().join("nowhere.o"), &dangling).unwrap();

    for output in [&symlink, &dangling] {
        let out = kilnc(&[&input, &"-o", output], Input::Nothing);
        assert_refused(&out, "it is a symbolic link, and kilnc replaces only regular files");
        assert!(std::fs::symlink_metadata(output).unwrap().file_type().is_symlink());
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"previous artifact");
    assert_eq!(entries(dir.path()), ["dangling.o", "link.o", "m.wat", "target.o"]);
}

#[test]
fn output_directory_is_refused() {
    let (dir, input) = module_dir();
    let directory = dir.path().join("out.o");
    std::fs::create_dir(&directory).unwrap();
    let out = kilnc(&[&input, &"-o", &directory], Input::Nothing);
    assert_refused(&out, "it is a directory, and kilnc replaces only regular files");
    assert!(directory.is_dir());
    assert!(entries(&directory).is_empty());
}

#[test]
fn output_character_device_is_refused_before_it_is_opened() {
    // /dev/null is the one device safe to name here: kilnc refuses it from
    // its metadata, and a run that wrongly renamed over it would show.
    let null = Path::new("/dev/null");
    assert!(std::fs::metadata(null).unwrap().file_type().is_char_device());
    let (_dir, input) = module_dir();
    let out = kilnc(&[&input, &"-o", &null], Input::Nothing);
    assert_refused(&out, "refusing to write /dev/null: it is a character device");
    assert!(std::fs::symlink_metadata(null).unwrap().file_type().is_char_device());
}

#[test]
fn special_inputs_are_refused_at_once() {
    let (dir, _input) = module_dir();
    let output = dir.path().join("m.o");
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);

    let start = Instant::now();
    let dev_zero = kilnc(&[&"/dev/zero", &"-o", &output], Input::Nothing);
    assert_refused(&dev_zero, "cannot read /dev/zero: it is a character device, not a regular file");
    let stdin_dev_zero = kilnc(&[&"-", &"-o", &output], Input::File(Path::new("/dev/zero")));
    assert_refused(&stdin_dev_zero, "cannot read standard input: it is a character device");
    // Opening the FIFO would block: no writer comes.
    let fifo_input = kilnc(&[&fifo, &"-o", &output], Input::Nothing);
    assert_refused(&fifo_input, "it is a FIFO, not a regular file");
    let directory = kilnc(&[&dir.path(), &"-o", &output], Input::Nothing);
    assert_refused(&directory, "it is a directory, not a regular file");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?} for four refusals", start.elapsed());

    assert_eq!(entries(dir.path()), ["in.fifo", "m.wat"]);
}

#[test]
fn large_garbage_input_gives_a_short_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("m.o");

    // Binary noise: not `\0asm`, and not UTF-8 early on.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..16 << 20)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect();
    let binary = dir.path().join("noise.bin");
    std::fs::write(&binary, &noise).unwrap();
    let out = kilnc(&[&binary, &"-o", &output], Input::Nothing);
    assert_refused(&out, "not a WebAssembly binary (no \\0asm magic) and not WebAssembly text: invalid UTF-8");

    // Text with one 16 MiB line, of NULs and of letters: each an error at
    // the line's start, shown in a short window with the file, line and
    // column.
    for (name, filler) in [("zeros.wat", b'\0'), ("letters.wat", b'x')] {
        let mut text = b"(module\n(module ".to_vec();
        text.resize(16 << 20, filler);
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let out = kilnc(&[&path, &"-o", &output], Input::Nothing);
        assert_refused(&out, &format!("(at {}:2:", path.display()));
        assert!(stderr(&out).contains('…'), "{}", stderr(&out));
    }
    assert_eq!(entries(dir.path()), ["letters.wat", "noise.bin", "zeros.wat"]);
}

#[test]
fn a_huge_sparse_file_is_refused_from_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse.wasm");
    File::create(&sparse).unwrap().set_len(8 << 30).unwrap();
    let output = dir.path().join("m.o");
    let start = Instant::now();
    let out = kilnc(&[&sparse, &"-o", &output], Input::Nothing);
    // Larger than kilnc reads at all.
    assert_refused(&out, "it is larger than 4 GiB, the most kilnc reads");

    File::create(&sparse).unwrap().set_len(2 << 30).unwrap();
    let out = kilnc(&[&sparse, &"-o", &output], Input::Nothing);
    // Zeros are UTF-8, but no module opens with one.
    assert_refused(
        &out,
        &format!("expected `(` to open a module, found '\\0' (at {}:1:1, offset 0x0)", sparse.display()),
    );
    assert!(start.elapsed() < Duration::from_secs(10), "{:?} for two refusals", start.elapsed());
    assert_eq!(entries(dir.path()), ["sparse.wasm"]);
}

#[test]
fn output_dash_writes_the_artifact_to_stdout() {
    let (dir, input) = module_dir();
    let out = kilnc(&[&input, &"-o", &"-"], Input::Nothing);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"\x7fELF"));
    assert_eq!(out.stdout, artifact_of_several(), "-o - and -o FILE write the same bytes");

    let shared = kilnc(&[&input, &"-o", &"-", &"--emit", &"so"], Input::Nothing);
    assert!(shared.status.success(), "{}", stderr(&shared));
    assert!(shared.stdout.starts_with(b"\x7fELF"));
    assert_eq!(u16::from_le_bytes([shared.stdout[16], shared.stdout[17]]), 3, "e_type ET_DYN");

    assert_eq!(entries(dir.path()), ["m.wat"]);
}

#[test]
fn input_dash_reads_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("m.o");
    let to_file = kilnc(&[&"-", &"-o", &output], Input::Bytes(SEVERAL.as_bytes()));
    assert!(to_file.status.success(), "{}", stderr(&to_file));
    assert_eq!(std::fs::read(&output).unwrap(), artifact_of_several());

    let to_stdout = kilnc(&[&"-", &"-o", &"-"], Input::Bytes(SEVERAL.as_bytes()));
    assert!(to_stdout.status.success(), "{}", stderr(&to_stdout));
    assert_eq!(to_stdout.stdout, artifact_of_several());

    let bad = kilnc(&[&"-", &"-o", &"-"], Input::Bytes(b"(module\n  (func (i32.bogus)))\n"));
    assert_refused(&bad, "(at <stdin>:2:10, offset 0x11)");
    assert_eq!(entries(dir.path()), ["m.o"]);
}

#[test]
fn replacing_a_regular_file_is_atomic_with_a_fresh_mode() {
    let (dir, input) = module_dir();
    let output = dir.path().join("m.o");
    std::fs::write(&output, b"previous artifact").unwrap();
    std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::File::open(&output).unwrap();

    let out = kilnc(&[&input, &"-o", &output], Input::Nothing);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::symlink_metadata(&output).unwrap();
    assert!(written.is_file());
    assert_eq!(written.permissions().mode() & 0o7777, 0o644 & !umask());
    assert_eq!(std::fs::read(&output).unwrap(), artifact_of_several());
    // A rename, not a rewrite: a reader of the old file still reads it.
    let mut old = Vec::new();
    (&before).read_to_end(&mut old).unwrap();
    assert_eq!(old, b"previous artifact");
    assert_eq!(entries(dir.path()), ["m.o", "m.wat"]);

    let shared = dir.path().join("m.so");
    let out = kilnc(&[&input, &"-o", &shared, &"--emit", &"so"], Input::Nothing);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&shared).unwrap().permissions().mode() & 0o7777, 0o755 & !umask());
    assert_eq!(entries(dir.path()), ["m.o", "m.so", "m.wat"]);
}
