//! The `kiln` command line: results, traps and bad input, each with its
//! exit status. Artifacts are built by the `kilnc` binary (from `$KILNC` or
//! the workspace's target directory; the tests fail when it is not built)
//! and run by this crate's `kiln`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary `name`, from the environment variable `var` or the
/// workspace's target directory.
fn workspace_binary(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.parent()?.join("target");
    ["release", "debug"].iter().map(|p| root.join(p).join(name)).find(|p| p.exists())
}

fn kilnc() -> Option<PathBuf> {
    workspace_binary("KILNC", "kilnc")
}

fn artifact() -> Option<PathBuf> {
    artifact_for("run")
}

/// `tests/wat/cli.wat` compiled for the test `test`, which removes it.
fn artifact_for(test: &str) -> Option<PathBuf> {
    compiled("cli", test)
}

/// `tests/wat/NAME.wat` compiled for the test `test`, which removes it.
fn compiled(name: &str, test: &str) -> Option<PathBuf> {
    let Some(kilnc) = kilnc() else {
        panic!("kilnc is not built: run `make test`, or `cargo build --release -p kilnc` first");
    };
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/wat/{name}.wat"));
    let out = std::env::temp_dir().join(format!("kiln-cli-{}-{test}.o", std::process::id()));
    assert!(Command::new(kilnc).arg(&wat).arg("-o").arg(&out).status().unwrap().success());
    Some(out)
}

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln")).args(args).output().expect("run kiln")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_inspect_and_refuse() {
    let Some(object) = artifact() else { return };
    let file = object.to_str().unwrap();

    let out = kiln(&["run", file, "--invoke", "pair", "-5", "1.5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "-5\n1.5\n");
    let out = kiln(&["run", file, "--invoke", "pair", "0x10", "2"]);
    assert_eq!(text(&out.stdout), "16\n2\n");

    let out = kiln(&["run", file, "--invoke", "boom", "3"]);
    assert_eq!(out.status.code(), Some(134), "a trap");
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: wasm trap: integer divide by zero"), "{stderr}");
    assert!(stderr.contains("inner"), "backtrace names the function: {stderr}");

    let out = kiln(&["run", file, "--invoke", "rec", "1"]);
    assert_eq!(out.status.code(), Some(134), "stack exhaustion is a trap");
    assert!(text(&out.stderr).contains("call stack exhausted"));

    let out = kiln(&["run", file]);
    assert_eq!(out.status.code(), Some(134), "_start traps");
    assert!(text(&out.stderr).contains("unreachable"));

    for (bad, code) in [
        (vec!["run", file, "--invoke", "pair", "x", "1"], 2),
        (vec!["run", file, "--invoke", "pair", "1"], 2),
        (vec!["run", file, "--invoke", "nope"], 2),
        (vec!["run", file, "--max-memory", "lots"], 2),
        (vec!["frobnicate"], 2),
        (vec!["run", "/nonexistent.o"], 1),
        (vec!["inspect", env!("CARGO_MANIFEST_DIR")], 1),
    ] {
        let out = kiln(&bad);
        assert_eq!(out.status.code(), Some(code), "{bad:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).starts_with("error:"), "{bad:?}: {}", text(&out.stderr));
    }
    let help = text(&kiln(&["run", "--help"]).stdout);
    for line in ["134", "bad command-line arguments", "exit code", "--fuel", "--timeout", "loaded, linked"] {
        assert!(help.contains(line), "`kiln run --help` documents the exit status: {help}");
    }

    let out = kiln(&["inspect", file, "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["header"]["format_version"], kiln_format::FORMAT_VERSION);
    assert_eq!(json["header"]["relaxed_simd"], "deterministic (kiln 1)");
    let inner = &json["functions"][0];
    assert_eq!(inner["name"], "inner");
    assert!(inner["code_size"].as_u64().unwrap() > 0);
    assert!(inner["traps"].as_u64().unwrap() >= 1);
    assert_eq!(inner["stack_maps"], serde_json::json!([]), "no externref is live at any of its calls");
    let out = kiln(&["inspect", file]);
    assert!(text(&out.stdout).contains("exports (4)"));
    assert!(text(&out.stdout).contains("relaxed SIMD:    deterministic (kiln 1)"));
    let _ = std::fs::remove_file(&object);
}

/// `kiln inspect` lists every memory and table with its index type and
/// limits, in text and in JSON.
#[test]
fn inspect_shows_memories_and_tables_with_their_index_types() {
    let Some(object) = compiled("memories", "inspect-memories") else { return };
    let file = object.to_str().unwrap();
    let out = kiln(&["inspect", file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "  env.memory: memory i64 1..2 pages",
        "memories (3):",
        "     0 i64 1..2 pages (imported)",
        "     1 i32 1.. pages",
        "     2 i64 3..70000 pages",
        "tables (2):",
        "     0 i64 2..10 funcref",
        "     1 i32 1.. externref",
    ] {
        assert!(stdout.contains(line), "missing `{line}`:\n{stdout}");
    }
    let out = kiln(&["inspect", file, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["memories"], 3);
    let memory = &json["memory_types"][2];
    assert_eq!((memory["index_type"].as_str(), memory["minimum"].as_u64()), (Some("i64"), Some(3)));
    assert_eq!(memory["maximum"], 70000);
    assert_eq!(json["memory_types"][0]["imported"], true);
    assert_eq!(json["memory_types"][1]["index_type"], "i32");
    assert_eq!(json["table_types"][0]["index_type"], "i64");
    assert_eq!(json["table_types"][1]["element"], "externref");
    let _ = std::fs::remove_file(&object);
}

#[test]
fn an_uncaught_exception_exits_as_a_trap_and_says_what_it_carried() {
    let Some(object) = compiled("uncaught", "uncaught") else { return };
    let file = object.to_str().unwrap();
    let out = kiln(&["run", file]);
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("`_start` threw an exception carrying [42 -7]"), "{stderr}");
    let out = kiln(&["run", file, "--invoke", "caught"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5\n");
    let _ = std::fs::remove_file(&object);
}

/// `--dir` of procfs, sysfs or `/` is refused (exit 1) with the reason and
/// the flag that allows it; with `--allow-unsafe-dir` the module runs (and
/// its `_start` traps, exit 134).
#[test]
fn unsafe_directories_need_allow_unsafe_dir() {
    let Some(object) = artifact_for("unsafe-dir") else { return };
    let file = object.to_str().unwrap();
    for (dir, reason) in
        [("/proc::/proc", "it is on procfs"), ("/sys", "it is on sysfs"), ("/::/", "it is the host's root directory")]
    {
        let out = kiln(&["run", file, "--dir", dir]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "--dir {dir}: {stderr}");
        assert!(stderr.starts_with("error: refusing to preopen `"), "--dir {dir}: {stderr}");
        for why in [reason, "/proc/self/mem", "--allow-unsafe-dir allows it"] {
            assert!(stderr.contains(why), "--dir {dir}: {stderr}");
        }
        let out = kiln(&["run", file, "--dir", dir, "--allow-unsafe-dir"]);
        assert_eq!(out.status.code(), Some(134), "--dir {dir} --allow-unsafe-dir: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("unreachable"));
    }
    let out = kiln(&["run", file, "--dir", env!("CARGO_MANIFEST_DIR")]);
    assert_eq!(out.status.code(), Some(134), "an ordinary directory: {}", text(&out.stderr));
    let help = text(&kiln(&["run", "--help"]).stdout);
    assert!(help.contains("--allow-unsafe-dir") && help.contains("/proc/self/mem"), "{help}");
    let _ = std::fs::remove_file(&object);
}

/// `kiln run` and `kiln inspect` look at what a path is before reading it:
/// devices, FIFOs and directories are refused at once, and a huge sparse
/// file is refused from its first bytes, not after reading it all.
#[test]
fn special_and_huge_inputs_are_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("kiln-cli-{}-special", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let fifo = dir.join("fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let sparse = dir.join("sparse.o");
    std::fs::File::create(&sparse).expect("creates").set_len(2 << 30).expect("a 2 GiB hole");
    let cases = [
        ("/dev/zero", "character device"),
        (fifo.to_str().unwrap(), "FIFO"),
        (dir.to_str().unwrap(), "directory"),
        (sparse.to_str().unwrap(), "ELF"),
    ];
    for (path, expected) in cases {
        for command in ["run", "inspect"] {
            let started = std::time::Instant::now();
            let out = kiln(&[command, path]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "kiln {command} {path}: {stderr}");
            assert!(stderr.starts_with("error:") && stderr.contains(expected), "kiln {command} {path}: {stderr}");
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "kiln {command} {path} took long");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
