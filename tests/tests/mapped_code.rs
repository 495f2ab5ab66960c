//! Loading does no work proportional to code size (SPEC.md 1.2): kilnc
//! links `.text` itself, so the artifact has no relocation at all, and the
//! loader runs the code from the file's own pages, which stay file-backed
//! (page cache), not anonymous copies.

mod common;

use std::path::Path;
use std::process::Command;

use kiln_compiler::{compile_file, CompileOptions};
use kiln_format::{SECTION_TEXT, TEXT_PAGE_SIZE};
use kiln_loader::{Engine, Linker, Store};
use object::{Object, ObjectSection};

/// One line of `/proc/self/maps`: the range, permissions, file offset and
/// path (empty for an anonymous mapping).
struct MapsLine {
    start: usize,
    end: usize,
    perms: String,
    offset: u64,
    path: String,
}

fn maps() -> Vec<MapsLine> {
    let text = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable");
    text.lines()
        .map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next().expect("range");
            let perms = fields.next().expect("perms").to_string();
            let offset = u64::from_str_radix(fields.next().expect("offset"), 16).expect("hex offset");
            let _device = fields.next();
            let _inode = fields.next();
            let path = fields.collect::<Vec<_>>().join(" ");
            let (start, end) = range.split_once('-').expect("start-end");
            let hex = |s: &str| usize::from_str_radix(s, 16).expect("hex address");
            MapsLine { start: hex(start), end: hex(end), perms, offset, path }
        })
        .collect()
}

/// The mapping that holds `address`.
fn mapping_of(address: usize) -> MapsLine {
    maps().into_iter().find(|m| (m.start..m.end).contains(&address)).expect("the address is mapped")
}

fn text_file_range(artifact: &Path) -> (u64, u64) {
    let bytes = std::fs::read(artifact).expect("artifact");
    let file = object::File::parse(&*bytes).expect("ELF");
    file.section_by_name(SECTION_TEXT).and_then(|s| s.file_range()).expect(".text in the file")
}

fn compiled(name: &str, dir: &Path) -> std::path::PathBuf {
    let artifact = dir.join(format!("{name}.o"));
    compile_file(&common::tests_path(&format!("wat/{name}.wat")), &artifact, &CompileOptions::default())
        .expect("compiles");
    artifact
}

#[test]
fn text_runs_from_the_files_own_pages() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = compiled("multi", dir.path());
    let (text_offset, text_len) = text_file_range(&artifact);
    assert_eq!((text_offset % TEXT_PAGE_SIZE, text_len % TEXT_PAGE_SIZE), (0, 0));

    let engine = Engine::default();
    let module = kiln_tests::module_from_file(&engine, &artifact).unwrap();
    let text = module.code().text() as usize;
    let end = text + module.code().text_len() - 1;
    for address in [text, end] {
        let m = mapping_of(address);
        assert_eq!(m.perms, "r-xp", "code at {address:#x} is mapped {}", m.perms);
        assert_eq!(Path::new(&m.path), artifact.canonicalize().unwrap(), "code is not file-backed: {:?}", m.path);
        // The file page behind this address is the artifact's own `.text`.
        assert_eq!(m.offset + (address - m.start) as u64, text_offset + (address - text) as u64);
    }
    // The metadata around it stays read-only, never executable.
    assert_eq!(mapping_of(text - 1).perms, "r--p");

    // And the code runs from there.
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap_or_else(|e| panic!("{e}"));
    assert!(!instance.exports(&store).is_empty());
}

#[test]
fn code_loaded_from_bytes_runs_from_a_read_only_copy() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = compiled("multi", dir.path());
    let module = kiln_tests::module_from_bytes(&Engine::default(), &std::fs::read(&artifact).unwrap()).unwrap();
    let m = mapping_of(module.code().text() as usize);
    assert_eq!((m.perms.as_str(), m.path.as_str()), ("r-xp", ""), "an anonymous read + execute copy");
}

#[test]
fn artifacts_have_no_relocations() {
    let dir = tempfile::tempdir().unwrap();
    let mut artifacts = vec![compiled("multi", dir.path()), compiled("gc_leaks", dir.path())];
    // The largest real program, which `make test` builds first.
    let sqlite = common::workspace_root().join("target/programs/wasm/sqlite.wasm");
    assert!(sqlite.exists(), "{} not found: build the programs with `make programs`", sqlite.display());
    let artifact = dir.path().join("sqlite.o");
    compile_file(&sqlite, &artifact, &CompileOptions::default()).expect("sqlite compiles");
    artifacts.push(artifact);
    for artifact in &artifacts {
        let output = Command::new("readelf").arg("-r").arg(artifact).output().expect("readelf runs (binutils)");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("There are no relocations in this file."), "{}: {text}", artifact.display());
    }
}
