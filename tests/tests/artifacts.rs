//! Damaged and foreign artifacts are refused with an error that says what is
//! wrong, by the library and by the `kiln` binary, never with a crash.

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus};

use kiln_compiler::{compile, CompileOptions};
use kiln_format::header_offsets as at;
use kiln_format::{
    Instrumentation, RelaxedSimd, FORMAT_VERSION, HEADER_SIZE, SECTION_DATA, SECTION_IMAGE, SECTION_META,
    SECTION_STACKMAPS, SECTION_TEXT, SECTION_TRAPS, SECTION_WASM_OFFSETS,
};
use kiln_loader::{Engine, Error, Extern, Func, Linker, Store, Val};
use object::{Object, ObjectSection};

/// The pristine artifact of `tests/wat/multi.wat`, which has code, traps,
/// data and externref stack maps.
fn artifact() -> Vec<u8> {
    let source = std::fs::read(common::tests_path("wat/multi.wat")).expect("multi.wat");
    compile(&source, &CompileOptions::default()).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

/// File offset and size of a section.
fn section_range(bytes: &[u8], name: &str) -> (usize, usize) {
    let file = object::File::parse(bytes).expect("kilnc writes a valid ELF object");
    let section = file.section_by_name(name).unwrap_or_else(|| panic!("no {name} section"));
    let (offset, size) = section.file_range().unwrap_or_else(|| panic!("{name} has no file data"));
    (offset as usize, size as usize)
}

fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut damaged = bytes.to_vec();
    damaged[at] ^= 0xa5;
    damaged
}

fn load_error(bytes: &[u8]) -> String {
    match kiln_tests::module_from_bytes(&Engine::default(), bytes) {
        Ok(_) => panic!("a damaged artifact was accepted"),
        Err(e @ Error::Load(_)) => e.to_string(),
        Err(other) => panic!("expected a load error, got {other:?}"),
    }
}

fn assert_refused(what: &str, bytes: &[u8], words: &[&str]) {
    let message = load_error(bytes);
    assert!(words.iter().any(|w| message.contains(w)), "{what}: error {message:?} names none of {words:?}");
    let (status, stderr) = kiln_run_add(bytes);
    assert_eq!(status.code(), Some(1), "{what}: kiln exited with {status:?}; stderr: {stderr}");
    assert!(stderr.contains("error:"), "{what}: no `error:` on stderr: {stderr}");
    assert!(words.iter().any(|w| stderr.contains(w)), "{what}: stderr {stderr:?} names none of {words:?}");
}

/// Runs `kiln run FILE --invoke add 1 2` on `bytes` written to a file.
fn kiln_run_add(bytes: &[u8]) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("artifact.o");
    std::fs::write(&path, bytes).expect("write artifact");
    let output = Command::new(common::workspace_binary("kiln"))
        .args(["run".as_ref(), path.as_os_str(), "--invoke".as_ref(), "add".as_ref(), "1".as_ref(), "2".as_ref()])
        .output()
        .expect("kiln runs");
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn the_pristine_artifact_loads_and_runs() {
    // Without this the refusals below could come from a loader that refuses everything.
    let bytes = artifact();
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = kiln_tests::module_from_bytes(&engine, &bytes).expect("pristine artifact loads");
    let linker = Linker::new(&engine);
    let instance = linker.instantiate(&mut store, &module).expect("instantiate");
    let add: Func = match instance.get_export(&store, "add") {
        Some(Extern::Func(f)) => f,
        _ => panic!("no exported function add"),
    };
    let mut results = vec![Val::I32(0); add.ty(&store).results.len()];
    add.call(&mut store, &[Val::I32(2), Val::I32(3)], &mut results).expect("call add");
    assert!(matches!(results.as_slice(), [Val::I32(5)]), "add(2, 3) gave {results:?}");

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("multi.o");
    std::fs::write(&path, &bytes).expect("write artifact");
    kiln_tests::module_from_file(&engine, &path).expect("pristine artifact loads from a file");

    let (status, stderr) = kiln_run_add(&bytes);
    assert!(status.success(), "kiln run on the pristine artifact: {status:?}, stderr: {stderr}");
}

#[test]
fn a_flipped_byte_in_any_checksummed_section_is_refused() {
    let bytes = artifact();
    let (meta, meta_len) = section_range(&bytes, SECTION_META);
    assert!(meta_len > HEADER_SIZE, "module info follows the header");
    let mut targets = vec![
        ("module info", meta + HEADER_SIZE + (meta_len - HEADER_SIZE) / 2),
        ("header digest", meta + at::DIGEST_OFFSET),
    ];
    // multi.wat's one active segment is in its memory image, so .kiln.data
    // is empty.
    for name in [SECTION_TRAPS, SECTION_STACKMAPS, SECTION_WASM_OFFSETS, SECTION_DATA, SECTION_IMAGE, SECTION_TEXT] {
        let (offset, size) = section_range(&bytes, name);
        if (name == SECTION_STACKMAPS || name == SECTION_DATA) && size == 0 {
            continue;
        }
        assert!(size > 0, "{name} is empty in multi.wat's artifact");
        targets.push((name, offset + size / 2));
    }
    for (what, at) in targets {
        assert_refused(what, &flipped(&bytes, at), &["digest"]);
    }
}

#[test]
fn multi_wat_has_stack_maps() {
    // `keep` holds an externref across calls; if this fails, the flipped-byte
    // test above silently covers one section less.
    let bytes = artifact();
    let (_, size) = section_range(&bytes, SECTION_STACKMAPS);
    assert!(size > 0, ".kiln.stackmaps is empty");
}

#[test]
fn a_truncated_file_is_refused() {
    let bytes = artifact();
    let (meta, _) = section_range(&bytes, SECTION_META);
    let (text, text_len) = section_range(&bytes, SECTION_TEXT);
    let after_magic = meta + at::MAGIC_OFFSET + at::MAGIC_WIDTH;
    let mid_header = meta + HEADER_SIZE / 2;
    let cuts = [0, 1, 4, 16, 63, 64, after_magic, mid_header, text + text_len / 2, bytes.len() / 2, bytes.len() - 1];
    for cut in cuts {
        assert_refused(
            &format!("truncated at {cut:#x} of {:#x}", bytes.len()),
            &bytes[..cut],
            &["ELF", "truncated", "out of bounds", "not a kiln artifact", "digest", "magic", "empty"],
        );
    }
}

fn patched(bytes: &[u8], field_offset: usize, value: &[u8]) -> Vec<u8> {
    let (meta, _) = section_range(bytes, SECTION_META);
    let mut out = bytes.to_vec();
    out[meta + field_offset..meta + field_offset + value.len()].copy_from_slice(value);
    out
}

#[test]
fn a_wrong_magic_is_refused() {
    let bytes = patched(&artifact(), at::MAGIC_OFFSET, b"\0KILNOBX");
    assert_refused("magic", &bytes, &["magic"]);
}

#[test]
fn another_format_version_is_refused() {
    for version in [FORMAT_VERSION + 1, 0, u32::MAX] {
        let bytes = patched(&artifact(), at::FORMAT_VERSION_OFFSET, &version.to_le_bytes());
        assert_refused(&format!("version {version}"), &bytes, &["format version"]);
    }
}

#[test]
fn another_target_is_refused() {
    let mut field = [0u8; at::TARGET_WIDTH];
    field[..b"aarch64-unknown-linux-gnu".len()].copy_from_slice(b"aarch64-unknown-linux-gnu");
    let bytes = patched(&artifact(), at::TARGET_OFFSET, &field);
    assert_refused("target", &bytes, &["target"]);
    let message = load_error(&bytes);
    assert!(message.contains("aarch64-unknown-linux-gnu"), "names the artifact's target: {message}");
}

#[test]
fn the_header_records_epoch_instrumentation() {
    let source = std::fs::read(common::tests_path("wat/multi.wat")).expect("multi.wat");
    let options = CompileOptions { epoch_interruption: true, ..CompileOptions::default() };
    let instrumented = compile(&source, &options).expect("compiles");
    let field = |bytes: &[u8]| {
        let (meta, _) = section_range(bytes, SECTION_META);
        let at = meta + at::INSTRUMENTATION_OFFSET;
        u32::from_le_bytes(bytes[at..at + at::INSTRUMENTATION_WIDTH].try_into().unwrap())
    };
    assert_eq!(field(&instrumented), Instrumentation::EPOCH.bits());
    assert_eq!(field(&artifact()), 0);
}

#[test]
fn unknown_instrumentation_is_refused() {
    // Bit 31 names no check this format version defines.
    let bytes = patched(&artifact(), at::INSTRUMENTATION_OFFSET, &(1u32 << 31).to_le_bytes());
    assert_refused("instrumentation", &bytes, &["instrumentation"]);
}

#[test]
fn the_header_records_deterministic_relaxed_simd() {
    let bytes = artifact();
    let (meta, _) = section_range(&bytes, SECTION_META);
    let at = meta + at::RELAXED_SIMD_OFFSET;
    let raw = u32::from_le_bytes(bytes[at..at + at::RELAXED_SIMD_WIDTH].try_into().unwrap());
    assert_eq!(RelaxedSimd::from_raw(raw), RelaxedSimd::DETERMINISTIC_KILN_1);
}

#[test]
fn unknown_relaxed_simd_semantics_are_refused() {
    // 2 names no semantics this format version defines.
    let bytes = patched(&artifact(), at::RELAXED_SIMD_OFFSET, &2u32.to_le_bytes());
    assert_refused("relaxed SIMD", &bytes, &["relaxed-SIMD semantics this loader does not know: unknown (2)"]);
}

#[test]
fn missing_cpu_features_are_refused() {
    // Bit 63 names no feature, so no host has it.
    let bytes = patched(&artifact(), at::CPU_FEATURES_OFFSET, &(1u64 << 63).to_le_bytes());
    assert_refused("cpu features", &bytes, &["CPU features"]);
}

#[test]
fn a_file_that_is_not_an_object_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sieve.wat");
    std::fs::copy(common::tests_path("examples/sieve.wat"), &path).expect("copy");
    let engine = Engine::default();
    match kiln_tests::module_from_file(&engine, &path) {
        Ok(_) => panic!("a .wat file loaded as an artifact"),
        Err(e) => assert!(matches!(e, Error::Load(_)), "{e:?}"),
    }
    match kiln_tests::module_from_file(&engine, Path::new("/nonexistent/kiln/artifact.o")) {
        Ok(_) => panic!("a missing file loaded"),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
