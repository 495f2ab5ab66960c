//! The C API as C uses it: `tests/c/api_test.c`, compiled with the system
//! `cc` against `libkiln.a`, run on artifacts that the workspace's `kilnc`
//! compiles from the fixtures, then run again under valgrind, which must
//! find no error and no definite leak. Also checks that the header, the
//! library and the C test agree on the functions and the trap codes.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_loader::TrapCode;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>, where this test runs from (target/<profile>/deps).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("test runs from target/<profile>/deps").to_path_buf()
}

/// The static library that cargo built for this test: the copy in deps/
/// is the one of this build (the one in target/<profile> is updated only
/// when the library itself is a target of the command).
fn static_library() -> PathBuf {
    let profile = profile_dir();
    let candidates = [profile.join("deps/libkiln.a"), profile.join("libkiln.a")];
    let newest = candidates
        .iter()
        .filter_map(|p| Some((fs::metadata(p).ok()?.modified().ok()?, p.clone())))
        .max()
        .map(|(_, p)| p);
    newest.unwrap_or_else(|| panic!("no libkiln.a in {} or its deps/", profile.display()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(what: &str, output: &Output) -> String {
    format!("{what}: {}\n--- stdout\n{}\n--- stderr\n{}", output.status, text(&output.stdout), text(&output.stderr))
}

/// Compiles each fixture with the workspace's kilnc into `dir`.
fn compile_fixtures(dir: &Path) {
    let kilnc = profile_dir().join("kilnc");
    assert!(
        kilnc.is_file(),
        "{} not found: build the workspace first (`cargo build --release --workspace`, or `make test`)",
        kilnc.display()
    );
    let wat = crate_dir().join("tests/wat");
    let hello = crate_dir().join("../../tests/wasi/hello.wat");
    let fixtures: [(PathBuf, &str, &[&str]); 5] = [
        (wat.join("api.wat"), "api.o", &[]),
        (wat.join("metered.wat"), "fuel.o", &["--fuel"]),
        (wat.join("metered.wat"), "epoch.o", &["--epoch-interruption"]),
        (wat.join("wasi_files.wat"), "wasi_files.o", &[]),
        (hello, "hello.o", &[]),
    ];
    for (source, name, flags) in fixtures {
        let output =
            Command::new(&kilnc).args(flags).arg(&source).arg("-o").arg(dir.join(name)).output().expect("kilnc runs");
        assert!(output.status.success(), "{}", describe(&format!("kilnc {}", source.display()), &output));
    }
    // Keys from `kiln keygen`, and api.wat signed with one of them.
    let kiln = profile_dir().join("kiln");
    for name in ["trusted", "other"] {
        let output = Command::new(&kiln).arg("keygen").arg(dir.join(name)).output().expect("kiln runs");
        assert!(output.status.success(), "{}", describe("kiln keygen", &output));
    }
    let output = Command::new(&kilnc)
        .arg(wat.join("api.wat"))
        .arg("-o")
        .arg(dir.join("signed.o"))
        .arg("--sign")
        .arg(dir.join("trusted.key"))
        .output()
        .expect("kilnc runs");
    assert!(output.status.success(), "{}", describe("kilnc --sign", &output));
}

/// Compiles api_test.c against the static library (or, with `shared`,
/// libkiln.so of the same build), with the flags the header promises to be
/// clean under.
fn compile_c_test(dir: &Path, shared: bool) -> PathBuf {
    let exe = dir.join(if shared { "api_test_shared" } else { "api_test" });
    let library = static_library();
    let mut cc = Command::new("cc");
    cc.args(["-Wall", "-Wextra", "-Werror", "-std=c99", "-g"])
        .arg(crate_dir().join("tests/c/api_test.c"))
        .arg("-I")
        .arg(crate_dir().join("include"));
    if shared {
        cc.arg("-L").arg(library.parent().expect("a directory")).arg("-lkiln");
    } else {
        cc.arg(&library);
    }
    let output = cc.args(["-lpthread", "-ldl", "-lm", "-o"]).arg(&exe).output().expect("cc runs");
    assert!(output.status.success(), "{}", describe("cc api_test.c", &output));
    exe
}

/// Runs the C test, asserting that every check passed.
fn run_c_test(mut command: Command, what: &str) {
    let output = command.output().expect("api_test runs");
    assert!(output.status.success(), "{}", describe(what, &output));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("hello from a hand-written WASI command\n"), "no WASI output:\n{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("ok: ") && l.ends_with(" checks passed")), "{stdout}");
}

#[test]
fn c_program_uses_every_function_and_valgrind_finds_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    compile_fixtures(dir.path());
    let exe = compile_c_test(dir.path(), false);
    let mut command = Command::new(&exe);
    command.arg(dir.path());
    run_c_test(command, "api_test");

    // The loader's trap handlers take SIGSEGV, SIGILL and SIGFPE, which
    // valgrind delivers to them as the kernel would; without
    // --sigill-diagnostics=no it also prints a diagnostic (not an error) for
    // each ud2 that `unreachable` compiles to.
    let output = Command::new("valgrind")
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--sigill-diagnostics=no",
        ])
        .arg(&exe)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("valgrind does not run ({e}): `make test` installs it"));
    let stderr = text(&output.stderr);
    let summary = stderr.lines().find(|l| l.contains("ERROR SUMMARY")).unwrap_or("no ERROR SUMMARY").to_string();
    println!("valgrind: {summary}");
    assert!(output.status.success(), "{}", describe("valgrind api_test", &output));
    assert!(summary.contains("ERROR SUMMARY: 0 errors"), "{summary}\n{stderr}");
    assert!(text(&output.stdout).contains("checks passed"), "{}", describe("valgrind api_test", &output));
}

#[test]
fn c_program_runs_against_the_shared_library() {
    let dir = tempfile::tempdir().expect("temp dir");
    compile_fixtures(dir.path());
    let exe = compile_c_test(dir.path(), true);
    let mut command = Command::new(&exe);
    command.arg(dir.path()).env("LD_LIBRARY_PATH", static_library().parent().expect("a directory"));
    run_c_test(command, "api_test (libkiln.so)");
}

#[test]
fn readme_example_compiles_and_links() {
    let readme = fs::read_to_string(crate_dir().join("../../README.md")).expect("README.md");
    let section = &readme[readme.find("## C API").expect("a C API section")..];
    let start = section.find("```c\n").expect("a C example") + "```c\n".len();
    let example = &section[start..start + section[start..].find("```").expect("the example's end")];
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("app.c");
    fs::write(&source, example).expect("write app.c");
    let output = Command::new("cc")
        .args(["-Wall", "-Wextra", "-Werror", "-std=c99"])
        .arg(&source)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(static_library())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(dir.path().join("app"))
        .output()
        .expect("cc runs");
    assert!(output.status.success(), "{}", describe("cc README example", &output));
}

/// The header's `extern "C"` guards: a C++ program links against the
/// library's unmangled names.
#[test]
fn cpp_program_links_against_the_header() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("app.cpp");
    fs::write(
        &source,
        "#include <kiln.h>\n#include <cstring>\n\
         int main() {\n\
           kiln_error_t *error = kiln_error_new(\"from C++\");\n\
           bool same = std::strcmp(kiln_error_message(error), \"from C++\") == 0;\n\
           kiln_error_delete(error);\n\
           return same ? 0 : 1;\n\
         }\n",
    )
    .expect("write app.cpp");
    let exe = dir.path().join("app");
    let output = Command::new("c++")
        .args(["-Wall", "-Wextra", "-Werror", "-std=c++11"])
        .arg(&source)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(static_library())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("c++ runs");
    assert!(output.status.success(), "{}", describe("c++ app.cpp", &output));
    let output = Command::new(&exe).output().expect("app runs");
    assert!(output.status.success(), "{}", describe("app", &output));
}

/// The names of `kiln_*` functions that `source` declares or defines,
/// found by `pattern` before each name.
fn names_after(source: &str, pattern: &str) -> BTreeSet<String> {
    source
        .match_indices(pattern)
        .filter_map(|(at, _)| {
            let rest = &source[at + pattern.len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            (name.starts_with("kiln_") && rest[name.len()..].starts_with('(')).then_some(name)
        })
        .collect()
}

/// The functions the header declares: each declaration starts a line
/// with its return type (comments, continuations and the example in the
/// header comment are indented or start with `/*`).
fn header_functions(header: &str) -> BTreeSet<String> {
    header
        .lines()
        .filter(|line| line.starts_with(|c: char| c.is_ascii_alphabetic()) && !line.starts_with("typedef"))
        .flat_map(|line| names_after(line, " ").into_iter().chain(names_after(line, "*")))
        .collect()
}

#[test]
fn header_library_and_c_test_name_the_same_functions() {
    let header = fs::read_to_string(crate_dir().join("include/kiln.h")).expect("kiln.h");
    let declared = header_functions(&header);
    let mut defined = BTreeSet::new();
    for entry in fs::read_dir(crate_dir().join("src")).expect("src/") {
        let source = fs::read_to_string(entry.expect("entry").path()).expect("source file");
        defined.extend(names_after(&source, "extern \"C\" fn "));
    }
    assert_eq!(declared, defined, "kiln.h and the library disagree");
    assert!(declared.len() > 40, "too few functions found in kiln.h: {declared:?}");

    let c_test = fs::read_to_string(crate_dir().join("tests/c/api_test.c")).expect("api_test.c");
    let unused: Vec<_> = declared.iter().filter(|name| !c_test.contains(&format!("{name}("))).collect();
    assert!(unused.is_empty(), "api_test.c never calls {unused:?}");
}

#[test]
fn header_trap_codes_are_the_format_specs() {
    let header = fs::read_to_string(crate_dir().join("include/kiln.h")).expect("kiln.h");
    let mut listed = 0;
    for line in header.lines().map(str::trim).filter(|l| l.starts_with("KILN_TRAP_CODE_")) {
        let (name, value) = line.split_once('=').expect("KILN_TRAP_CODE_X = N");
        let name = name.trim().trim_start_matches("KILN_TRAP_CODE_").to_ascii_lowercase();
        let value: u8 = value.split(',').next().unwrap().trim().parse().expect("a number");
        let code = TrapCode::from_u8(value).unwrap_or_else(|| panic!("{value} is no trap code"));
        assert_eq!(code.name(), name, "KILN_TRAP_CODE_ of value {value}");
        listed += 1;
    }
    assert_eq!(listed, TrapCode::ALL.len(), "kiln.h lists {listed} trap codes of {}", TrapCode::ALL.len());
}
