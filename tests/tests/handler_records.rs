//! The loader's checks of `.kiln.handlers` (SPEC 2.6): an artifact whose
//! handler records send the unwinder somewhere it must not go is refused
//! at load, with an error naming the section and what is wrong, however
//! well its digest matches. Each case rewrites the records of
//! `tests/wat/handlers.wat` in place (an encoding of the same length),
//! seals the file again and loads it.

mod common;

use kiln_compiler::{compile, CompileOptions};
use kiln_format::{seal_file, HandlerRecord, HandlerTag, SECTION_HANDLERS, SECTION_META};
use kiln_loader::{Engine, Error, Store};
use object::{Object, ObjectSection};

fn artifact() -> Vec<u8> {
    let source = std::fs::read(common::tests_path("wat/handlers.wat")).expect("handlers.wat");
    compile(&source, &CompileOptions::default()).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

/// File offset and size of a section.
fn section_range(bytes: &[u8], name: &str) -> (usize, usize) {
    let file = object::File::parse(bytes).expect("kilnc writes a valid ELF object");
    let section = file.section_by_name(name).unwrap_or_else(|| panic!("no {name} section"));
    let (offset, size) = section.file_range().unwrap_or_else(|| panic!("{name} has no file data"));
    (offset as usize, size as usize)
}

fn records(bytes: &[u8]) -> Vec<HandlerRecord> {
    let (offset, size) = section_range(bytes, SECTION_HANDLERS);
    HandlerRecord::decode_all(&bytes[offset..offset + size]).expect("kilnc writes valid handler records")
}

/// The artifact with its handler records replaced by `records` (which
/// must encode to the same length) and its digest sealed again.
fn with_records(bytes: &[u8], records: &[HandlerRecord]) -> Vec<u8> {
    let (offset, size) = section_range(bytes, SECTION_HANDLERS);
    let encoded = HandlerRecord::encode_all(records);
    assert_eq!(encoded.len(), size, "the rewritten records must fit the section exactly");
    let mut patched = bytes.to_vec();
    patched[offset..offset + size].copy_from_slice(&encoded);
    let (meta, _) = section_range(bytes, SECTION_META);
    assert!(seal_file(&mut patched, meta), "the header is in the file");
    patched
}

fn load_error(bytes: &[u8]) -> String {
    match kiln_tests::module_from_bytes(&Engine::default(), bytes) {
        Ok(_) => panic!("the artifact with bad handler records was accepted"),
        Err(e @ Error::Load(_)) => e.to_string(),
        Err(other) => panic!("expected a load error, got {other:?}"),
    }
}

fn assert_refused(bytes: &[u8], words: &[&str]) {
    let message = load_error(bytes);
    assert!(message.contains(SECTION_HANDLERS), "the error {message:?} names no section");
    for word in words {
        assert!(message.contains(word), "the error {message:?} does not say {word:?}");
    }
}

#[test]
fn the_pristine_artifact_has_a_record_in_each_function_and_catches() {
    let bytes = artifact();
    let records = records(&bytes);
    assert_eq!(records.len(), 2, "one call inside a try_table in each of two functions");
    assert_eq!(records[0].handlers.len(), 1);
    assert_eq!(records[1].handlers.len(), 2, "both clauses of the second try_table apply");

    // The same records written back and sealed load and run as before.
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &with_records(&bytes, &records)).expect("loads");
    let mut store = Store::new(&engine, ());
    let instance = kiln_loader::Linker::new(&engine).instantiate(&mut store, &module).expect("instantiates");
    let first = instance.get_typed_func::<i32, i32>(&store, "first").expect("first");
    let second = instance.get_typed_func::<i32, i32>(&store, "second").expect("second");
    assert_eq!(first.call(&mut store, 7).expect("caught"), 7);
    assert_eq!(second.call(&mut store, 7).expect("caught"), 8);
}

#[test]
fn a_landing_pad_outside_the_function_of_its_call_is_refused() {
    let bytes = artifact();
    let mut records = records(&bytes);
    // The first function's handler lands in another function: the second
    // function's pad, or offset 0, the start of `$thrower` (the first
    // function in `.text`), whichever encodes to the same length.
    let own = records[0].handlers[0].landing_offset;
    let elsewhere = records[1].handlers[0].landing_offset;
    records[0].handlers[0].landing_offset = if (own < 251) == (elsewhere < 251) { elsewhere } else { 0 };
    assert_refused(&with_records(&bytes, &records), &["landing pad", "outside function"]);
}

#[test]
fn a_handler_of_a_tag_the_module_does_not_have_is_refused() {
    let bytes = artifact();
    let mut records = records(&bytes);
    assert_eq!(records[0].handlers[0].tag, HandlerTag::Tag(0));
    records[0].handlers[0].tag = HandlerTag::Tag(7);
    assert_refused(&with_records(&bytes, &records), &["tag 7 does not exist", "2 tags"]);
}

#[test]
fn records_out_of_order_are_refused() {
    let bytes = artifact();
    let mut records = records(&bytes);
    records.swap(0, 1);
    assert_refused(&with_records(&bytes, &records), &["not sorted"]);
}

#[test]
fn a_call_in_no_function_is_refused() {
    let bytes = artifact();
    let mut records = records(&bytes);
    // Offset 0 is where the first function starts, so no call returns
    // there; offset 65000 is past the end of this small `.text`. Either is
    // in no function; the one that encodes to the same length and keeps
    // the records sorted is used.
    if records[1].return_offset >= 251 {
        records[1].return_offset = 65000;
    } else {
        records[0].return_offset = 0;
    }
    assert_refused(&with_records(&bytes, &records), &["the call is in no defined function"]);
}
