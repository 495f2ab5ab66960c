//! `ProfilingStrategy::PerfMap` and `kiln run --profile perfmap`: every
//! loaded function's address, size and name in /tmp/perf-PID.map, where
//! `perf report` finds them.

mod common;

use std::process::Command;

use kiln_compiler::{compile_file, CompileOptions};
use kiln_loader::{perf_map_path, Config, Engine, ProfilingStrategy};

/// The lines of a perf map: (start, size, name).
fn read_map(path: &std::path::Path) -> Vec<(usize, u32, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let start = usize::from_str_radix(fields.next().unwrap(), 16).expect("hex start");
            let size = u32::from_str_radix(fields.next().unwrap(), 16).expect("hex size");
            (start, size, fields.next().expect("a name").to_string())
        })
        .collect()
}

#[test]
fn the_perf_map_lists_every_function_where_it_was_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("multi.o");
    compile_file(&common::tests_path("wat/multi.wat"), &artifact, &CompileOptions::default()).unwrap();
    let engine = Engine::new(Config::new().profiler(ProfilingStrategy::PerfMap)).unwrap();
    let module = kiln_tests::module_from_file(&engine, &artifact).unwrap();
    let code = module.code();
    let lines = read_map(&perf_map_path());
    let module_name = code.module_name().unwrap_or("module");
    let mut defined = 0;
    for (index, function) in (0u32..).zip(&module.info().functions) {
        let Some(range) = function.code else { continue };
        defined += 1;
        let start = code.func_code(index).unwrap() as usize;
        let line = lines.iter().rev().find(|(s, _, _)| *s == start).unwrap_or_else(|| panic!("no line for {index}"));
        assert_eq!(line.1, range.len, "size of function {index}");
        let export = module.exports().iter().find(|e| e.index == index).map(|e| e.name.clone());
        let expected = code.func_name(index).map(str::to_string).or(export).unwrap_or(format!("function[{index}]"));
        assert_eq!(line.2, format!("wasm[{module_name}]::{expected}"));
    }
    assert!(defined > 1);
    // Without the strategy, nothing is added.
    let before = read_map(&perf_map_path()).len();
    let _quiet = kiln_tests::module_from_file(&Engine::default(), &artifact).unwrap();
    assert_eq!(read_map(&perf_map_path()).len(), before);
    let _ = std::fs::remove_file(perf_map_path());
}

#[test]
fn kiln_run_profile_perfmap_writes_the_map_of_its_process() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("sieve.o");
    compile_file(&common::tests_path("examples/sieve.wat"), &artifact, &CompileOptions::default()).unwrap();
    let child = Command::new(common::workspace_binary("kiln"))
        .args(["run", "--profile", "perfmap"])
        .arg(&artifact)
        .args(["--invoke", "main"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kiln runs");
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "78498");
    let lines = read_map(&map);
    let _ = std::fs::remove_file(&map);
    let names: Vec<&str> = lines.iter().map(|(_, _, n)| n.as_str()).collect();
    assert!(names.contains(&"wasm[sieve]::count_primes"), "{names:?}");
    assert!(names.contains(&"wasm[sieve]::main"), "an export without a name-section entry: {names:?}");
    assert!(names.iter().any(|n| n.starts_with("wasm[sieve]::entry_trampoline[")), "{names:?}");
    assert!(lines.iter().all(|(start, size, _)| *start != 0 && *size > 0));
}
