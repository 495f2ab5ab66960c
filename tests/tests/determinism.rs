//! The same input and flags give a byte-identical object, whether the
//! functions are compiled on one thread or several. Build caches that share
//! artifacts across machines depend on it.

mod common;

use kiln_compiler::{compile, CompileOptions, Inlining};

fn modules() -> Vec<(String, Vec<u8>)> {
    let dir = common::tests_path("wat");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("readable module")))
        .collect();
    out.push((
        "tests/examples/sieve.wat".into(),
        std::fs::read(common::tests_path("examples/sieve.wat")).expect("readable example"),
    ));
    out.push(("generated: 300 functions".into(), many_functions(300).into_bytes()));
    out.sort();
    assert!(out.len() >= 2, "no modules to compile in {}", dir.display());
    out
}

/// A module big enough that parallel compilation finishes its functions out
/// of order: each function calls the previous one and does a little arithmetic.
fn many_functions(n: usize) -> String {
    let mut wat = String::from("(module (memory 1)\n  (func $f0 (param i32) (result i32) (local.get 0))\n");
    for i in 1..n {
        wat.push_str(&format!(
            "  (func $f{i} (export \"f{i}\") (param i32) (result i32)\n    \
             (i32.store (i32.const {addr}) (local.get 0))\n    \
             (i32.add (call $f{prev} (i32.mul (local.get 0) (i32.const {i}))) (i32.load (i32.const {addr}))))\n",
            prev = i - 1,
            addr = (i % 1000) * 4,
        ));
    }
    wat.push(')');
    wat
}

fn compile_with(source: &[u8], threads: Option<usize>) -> Vec<u8> {
    compile_inlining(source, threads, Inlining::default())
}

fn compile_inlining(source: &[u8], threads: Option<usize>, inlining: Inlining) -> Vec<u8> {
    let options = CompileOptions { threads, inlining, ..CompileOptions::default() };
    compile(source, &options).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("first difference at byte {i:#x} (of {:#x} and {:#x})", a.len(), b.len()),
        None => format!("lengths differ: {:#x} vs {:#x}", a.len(), b.len()),
    }
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    for (name, source) in modules() {
        let first = compile_with(&source, None);
        let second = compile_with(&source, None);
        assert!(first == second, "{name}: {}", first_difference(&first, &second));
    }
}

#[test]
fn thread_count_does_not_change_the_bytes() {
    for (name, source) in modules() {
        let one = compile_with(&source, Some(1));
        let two = compile_with(&source, Some(2));
        let four = compile_with(&source, Some(4));
        assert!(one == two, "{name}, 1 vs 2 threads: {}", first_difference(&one, &two));
        assert!(one == four, "{name}, 1 vs 4 threads: {}", first_difference(&one, &four));
    }
}

/// Inlining decides from all the translated functions before any is
/// compiled, so the threads that compile them do not matter either.
#[test]
fn thread_count_does_not_change_the_bytes_with_inlining() {
    for (name, source) in modules() {
        let one = compile_inlining(&source, Some(1), Inlining::On);
        let three = compile_inlining(&source, Some(3), Inlining::On);
        assert!(one == three, "{name}, 1 vs 3 threads: {}", first_difference(&one, &three));
        assert!(one == compile_inlining(&source, Some(3), Inlining::On), "{name}: twice");
    }
}

#[test]
fn text_and_binary_input_give_identical_bytes() {
    for (name, source) in modules() {
        let binary = wat::parse_bytes(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        let from_text = compile_with(&source, None);
        let from_binary = compile_with(&binary, None);
        assert!(from_text == from_binary, "{name}: {}", first_difference(&from_text, &from_binary));
    }
}

#[test]
fn different_modules_give_different_bytes() {
    // Guards the tests above against a compiler that ignores its input.
    let objects: Vec<Vec<u8>> = modules().iter().map(|(_, s)| compile_with(s, None)).collect();
    for (i, a) in objects.iter().enumerate() {
        for b in &objects[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn compile_file_and_kilnc_write_the_bytes_of_compile() {
    // The spec runner goes through compile_file; this ties it to what kilnc ships.
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, (name, source)) in modules().into_iter().enumerate() {
        let expected = compile_with(&source, None);
        let input = dir.path().join(format!("m{i}.wat"));
        std::fs::write(&input, &source).expect("write input");

        let output = dir.path().join(format!("m{i}.o"));
        kiln_compiler::compile_file(&input, &output, &CompileOptions::default()).expect("compile_file");
        let written = std::fs::read(&output).expect("read output");
        assert!(written == expected, "{name}, compile_file: {}", first_difference(&written, &expected));

        let output = dir.path().join(format!("m{i}-kilnc.o"));
        let status = std::process::Command::new(common::workspace_binary("kilnc"))
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .status()
            .expect("kilnc runs");
        assert!(status.success(), "kilnc {name}: {status:?}");
        let written = std::fs::read(&output).expect("read output");
        assert!(written == expected, "{name}, kilnc: {}", first_difference(&written, &expected));
    }
}
