//! `Module::from_static`: an artifact in static memory runs where it lies
//! when its `.text` is whole pages of memory there, and from a copy
//! otherwise; the same bytes load any number of times; damaged bytes are
//! refused before any page of them is made executable.
//!
//! The static bytes here are leaked heap copies at a chosen distance from a
//! page boundary; `include_artifact!` and the executable's own pages are
//! covered by `tests/build-script-example`.

mod common;

use kiln_compiler::{compile, compile_file, CompileOptions, Emit};
use kiln_format::{SECTION_META, SECTION_TEXT};
use kiln_loader::{Engine, Linker, Module, Store};
use object::{Object, ObjectSection};

const PAGE: usize = 4096;

/// `tests/wat/multi.wat`, compiled.
fn multi_artifact() -> Vec<u8> {
    let wat = std::fs::read(common::tests_path("wat/multi.wat")).unwrap();
    compile(&wat, &CompileOptions::default()).expect("multi.wat compiles")
}

/// `bytes` copied into leaked memory, starting `past_a_page` bytes after a
/// page boundary: static bytes, as `Module::from_static` takes them.
fn leaked_copy(bytes: &[u8], past_a_page: usize) -> &'static [u8] {
    let buffer: &'static mut [u8] = vec![0u8; bytes.len() + 2 * PAGE + past_a_page].leak();
    let start = buffer.as_ptr().align_offset(PAGE) + past_a_page;
    buffer[start..start + bytes.len()].copy_from_slice(bytes);
    &buffer[start..start + bytes.len()]
}

fn from_static(engine: &Engine, bytes: &'static [u8]) -> Result<Module, kiln_loader::Error> {
    // SAFETY: every artifact of this file is compiled by kilnc in this test,
    // or damaged here to check that the loader refuses it.
    unsafe { Module::from_static(engine, bytes) }
}

/// The permissions of the mapping that holds `address`, from
/// `/proc/self/maps` (`r-xp`, ...).
fn permissions_at(address: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable");
    maps.lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let hex = |s: &str| usize::from_str_radix(s, 16).ok();
            (hex(start)?..hex(end)?).contains(&address).then(|| fields.next().unwrap_or_default().to_owned())
        })
        .expect("the address is mapped")
}

/// Calls the exports of multi.wat that compute, and checks their results.
fn runs(engine: &Engine, module: &Module) {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine).instantiate(&mut store, module).unwrap_or_else(|e| panic!("{e}"));
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap();
    assert_eq!(add.call(&mut store, (40, 2)).unwrap(), 42);
    let apply = instance.get_typed_func::<(i32, i32, i32), i32>(&store, "apply").unwrap();
    assert_eq!(apply.call(&mut store, (2, 6, 7)).unwrap(), 42, "mul through the table");
    let div = instance.get_typed_func::<(i32, i32), i32>(&store, "div").unwrap();
    let trap = div.call(&mut store, (1, 0)).unwrap_err();
    assert!(trap.to_string().contains("divide by zero"), "{trap}");
}

/// Where `.text` lies in the artifact.
fn text_offset(artifact: &[u8]) -> usize {
    let file = object::File::parse(artifact).unwrap();
    file.section_by_name(SECTION_TEXT).and_then(|s| s.file_range()).unwrap().0 as usize
}

#[test]
fn bytes_on_a_page_run_in_place() {
    let artifact = multi_artifact();
    let bytes = leaked_copy(&artifact, 0);
    let engine = Engine::default();
    let module = from_static(&engine, bytes).unwrap();
    let code = module.code();
    assert!(code.runs_in_place());
    assert_eq!(code.text(), bytes[text_offset(&artifact)..].as_ptr(), "the code runs from the static bytes");
    assert_eq!(permissions_at(code.text() as usize), "r-xp");
    assert_eq!(permissions_at(code.text() as usize + code.text_len() - 1), "r-xp");
    // The metadata on the page before `.text` is not made executable.
    assert_eq!(permissions_at(code.text() as usize - 1), "rw-p", "left as the heap had it");
    runs(&engine, &module);
}

#[test]
fn bytes_off_a_page_run_from_a_copy() {
    let artifact = multi_artifact();
    let engine = Engine::default();
    for past_a_page in [1, 8, 16, PAGE / 2] {
        let bytes = leaked_copy(&artifact, past_a_page);
        let module = from_static(&engine, bytes).unwrap_or_else(|e| panic!("{past_a_page} past a page: {e}"));
        assert!(!module.code().runs_in_place(), "{past_a_page} past a page");
        let text = &bytes[text_offset(&artifact)..];
        assert_ne!(module.code().text(), text.as_ptr());
        assert_eq!(permissions_at(text.as_ptr() as usize), "rw-p", "the static bytes are left alone");
        runs(&engine, &module);
    }
}

#[test]
fn the_same_bytes_load_again_and_again() {
    let bytes = leaked_copy(&multi_artifact(), 0);
    let engine = Engine::default();
    let first = from_static(&engine, bytes).unwrap();
    let second = from_static(&engine, bytes).unwrap();
    assert!(std::sync::Arc::ptr_eq(first.code(), second.code()), "one module of the same code");
    runs(&engine, &first);
    runs(&engine, &second);
    drop(first);
    runs(&engine, &second);
    drop(second);
    // Loaded again once both are gone: the pages are still executable, and
    // the bytes still the same code.
    let third = from_static(&engine, bytes).unwrap();
    assert!(third.code().runs_in_place());
    runs(&engine, &third);
    // From other engines and other threads too.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let engine = Engine::default();
                runs(&engine, &from_static(&engine, bytes).unwrap());
            });
        }
    });
}

#[test]
fn damaged_bytes_are_refused_and_never_made_executable() {
    let artifact = multi_artifact();
    let file = object::File::parse(&*artifact).unwrap();
    let text = text_offset(&artifact);
    // The first, a middle and the last byte of every section with
    // contents, and the ELF header.
    let mut positions = vec![0, 4, 5, 18];
    for section in file.sections() {
        if let Some((offset, len)) = section.file_range().filter(|&(_, len)| len > 0) {
            let (offset, len) = (offset as usize, len as usize);
            positions.extend([offset, offset + len / 2, offset + len - 1]);
        }
    }
    let meta = file.section_by_name(SECTION_META).unwrap().file_range().unwrap().0 as usize;
    positions.extend(meta..meta + 64);
    let engine = Engine::default();
    for position in positions {
        let mut damaged = artifact.clone();
        damaged[position] ^= 0x80;
        let bytes = leaked_copy(&damaged, 0);
        match from_static(&engine, bytes) {
            Err(error) => assert!(!error.to_string().is_empty()),
            Ok(_) => panic!("a flipped byte at {position:#x} loaded"),
        }
        assert_eq!(permissions_at(bytes[text..].as_ptr() as usize), "rw-p", "byte {position:#x}: made executable");
    }
    for len in [0, 3, 64, text, text + 1, artifact.len() - 1] {
        let error = from_static(&engine, leaked_copy(&artifact[..len], 0)).err();
        assert!(error.is_some(), "{len} of the artifact's {} bytes loaded", artifact.len());
    }
}

#[test]
fn a_shared_object_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let so = dir.path().join("multi.so");
    let options = CompileOptions { emit: Emit::SharedObject, ..Default::default() };
    compile_file(&common::tests_path("wat/multi.wat"), &so, &options).expect("links");
    let error = from_static(&Engine::default(), leaked_copy(&std::fs::read(&so).unwrap(), 0)).unwrap_err();
    assert!(error.to_string().contains("shared object"), "{error}");
}
