//! The CPU features an artifact needs: what kilnc records for SIMD code,
//! and the loader's clean refusal of an artifact whose header demands a
//! feature the host lacks (the header forged in place; the checksum does
//! not cover the header, and the CPU check comes first anyway).

mod common;

use std::process::Command;

use kiln_compiler::{compile, CompileOptions, CpuChoice};
use kiln_format::header_offsets::{CPU_FEATURES_OFFSET, CPU_FEATURES_WIDTH};
use kiln_format::{ArtifactHeader, CpuFeatures, CPU_FEATURE_NAMES, SECTION_META, SECTION_TEXT};
use kiln_loader::{Engine, Error, Linker, Store, Val};
use object::{Object, ObjectSection};

fn simd_artifact(options: &CompileOptions) -> Vec<u8> {
    let source = std::fs::read(common::tests_path("wat/simd_cli.wat")).expect("simd_cli.wat");
    compile(&source, options).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

/// File offset of a section's contents.
fn section_offset(bytes: &[u8], name: &str) -> usize {
    let file = object::File::parse(bytes).expect("kilnc writes a valid ELF object");
    let section = file.section_by_name(name).unwrap_or_else(|| panic!("no {name} section"));
    section.file_range().unwrap_or_else(|| panic!("{name} has no file data")).0 as usize
}

fn header(bytes: &[u8]) -> ArtifactHeader {
    let meta = section_offset(bytes, SECTION_META);
    ArtifactHeader::from_bytes(&bytes[meta..]).expect("kilnc writes a valid header")
}

/// `bytes` with its header demanding exactly `features`.
fn demanding(bytes: &[u8], features: CpuFeatures) -> Vec<u8> {
    let at = section_offset(bytes, SECTION_META) + CPU_FEATURES_OFFSET;
    let mut forged = bytes.to_vec();
    forged[at..at + CPU_FEATURES_WIDTH].copy_from_slice(&features.0.to_le_bytes());
    forged
}

/// The named features this host lacks, by the same cpuid probe the loader uses.
fn host_lacks() -> Vec<(CpuFeatures, &'static str)> {
    CPU_FEATURE_NAMES
        .iter()
        .copied()
        .filter(|&(feature, _)| !kiln_loader::code::host_cpu_features().contains(feature))
        .collect()
}

/// The loader's refusal, which must be a load error.
fn refusal(bytes: &[u8]) -> String {
    match kiln_tests::module_from_bytes(&Engine::default(), bytes) {
        Ok(_) => panic!("an artifact demanding missing CPU features was accepted"),
        Err(e @ Error::Load(_)) => e.to_string(),
        Err(other) => panic!("expected a load error, got {other:?}"),
    }
}

/// `kiln run` on `bytes`: exit status and stderr.
fn kiln_run(bytes: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("forged.o");
    std::fs::write(&path, bytes).expect("write artifact");
    let output = Command::new(common::workspace_binary("kiln"))
        .arg("run")
        .arg(&path)
        .args(["--invoke", "add", "0x1", "0x2"])
        .output()
        .expect("kiln runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Runs `add` of a loaded artifact, to show it is usable.
fn add_ones(bytes: &[u8]) -> u128 {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = kiln_tests::module_from_bytes(&engine, bytes).expect("artifact loads");
    let instance = Linker::new(&engine).instantiate(&mut store, &module).expect("instantiate");
    let add = instance.get_func(&store, "add").expect("add");
    let mut results = vec![Val::I32(0); add.ty(&store).results.len()];
    add.call(&mut store, &[Val::V128(1), Val::V128(1)], &mut results).expect("call");
    match results.as_slice() {
        [Val::V128(v)] => *v,
        other => panic!("add returned {other:?}"),
    }
}

#[test]
fn simd_code_needs_only_the_x86_64_v2_baseline() {
    let bytes = simd_artifact(&CompileOptions::default());
    assert_eq!(header(&bytes).cpu_features, CpuFeatures::BASELINE_X86_64);
    assert_eq!(CpuFeatures::BASELINE_X86_64.names(), ["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"]);
    assert_eq!(add_ones(&bytes), 2);
}

#[test]
fn a_feature_no_loader_knows_is_refused_by_name() {
    let pristine = simd_artifact(&CompileOptions::default());
    let forged = demanding(&pristine, CpuFeatures::BASELINE_X86_64.union(CpuFeatures(1 << 40)));
    let message = refusal(&forged);
    assert!(message.contains("CPU features this host lacks: bit40"), "{message}");
    assert!(message.contains(SECTION_META), "names the section: {message}");
    // The baseline features this host has are not blamed.
    assert!(!message.contains("sse4.1"), "{message}");

    let (status, stderr) = kiln_run(&forged);
    assert_eq!(status, Some(1), "stderr: {stderr}");
    assert!(stderr.contains("error:") && stderr.contains("bit40"), "stderr: {stderr}");

    // Refusing left nothing behind that breaks the next load.
    assert_eq!(add_ones(&pristine), 2);
}

#[test]
fn a_named_feature_the_host_lacks_is_refused_by_name() {
    let pristine = simd_artifact(&CompileOptions::default());
    // Every named feature this host lacks, or, on a host with all of them,
    // a reserved bit stands in for the feature a newer kilnc might name.
    let lacking = host_lacks();
    let (demand, names): (CpuFeatures, Vec<String>) = if lacking.is_empty() {
        (CpuFeatures(1 << 63), vec!["bit63".to_string()])
    } else {
        let mask = lacking.iter().fold(CpuFeatures::NONE, |m, (f, _)| m.union(*f));
        (mask, lacking.iter().map(|(_, n)| n.to_string()).collect())
    };
    let forged = demanding(&pristine, CpuFeatures::BASELINE_X86_64.union(demand));
    let message = refusal(&forged);
    for name in &names {
        assert!(message.contains(name.as_str()), "{name} not named in {message}");
    }
    let (status, stderr) = kiln_run(&forged);
    assert_eq!(status, Some(1), "stderr: {stderr}");
    assert!(names.iter().all(|n| stderr.contains(n.as_str())), "stderr: {stderr}");
}

#[test]
fn the_cpu_check_comes_before_the_digest() {
    let pristine = simd_artifact(&CompileOptions::default());
    let mut forged = demanding(&pristine, CpuFeatures(1 << 41));
    // Damage the code too: the digest no longer matches, but the CPU is
    // what the user needs to hear about first.
    let text = section_offset(&forged, SECTION_TEXT);
    forged[text] ^= 0xff;
    let message = refusal(&forged);
    assert!(message.contains("bit41"), "{message}");
    assert!(!message.contains("digest"), "{message}");

    // With the demand put back, the damage is found.
    let damaged = demanding(&forged, CpuFeatures::BASELINE_X86_64);
    assert!(refusal(&damaged).contains("digest"));
}

#[test]
fn native_artifacts_record_only_what_this_host_has() {
    let bytes = simd_artifact(&CompileOptions { cpu: CpuChoice::Native, ..CompileOptions::default() });
    let needed = header(&bytes).cpu_features;
    assert!(needed.contains(CpuFeatures::BASELINE_X86_64), "native records {needed}");
    assert!(needed.missing_from(kiln_loader::code::host_cpu_features()).is_empty(), "native records {needed}");
    assert_eq!(add_ones(&bytes), 2);
}

/// The bytes of the `.text` section.
fn text(bytes: &[u8]) -> Vec<u8> {
    let file = object::File::parse(bytes).expect("kilnc writes a valid ELF object");
    let section = file.section_by_name(SECTION_TEXT).expect("a .text section");
    section.data().expect(".text has data").to_vec()
}

#[test]
fn x86_64_v3_artifacts_record_the_profile_whatever_the_compiling_host() {
    let bytes = simd_artifact(&CompileOptions { cpu: CpuChoice::X86_64V3, ..CompileOptions::default() });
    assert_eq!(header(&bytes).cpu_features, CpuFeatures::X86_64_V3);
    assert_eq!(
        CpuFeatures::X86_64_V3.names(),
        ["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "bmi1", "bmi2", "lzcnt", "fma"]
    );
    // The profile's features are used (the vector code is VEX-encoded),
    // not only recorded.
    let baseline = simd_artifact(&CompileOptions::default());
    assert_ne!(text(&bytes), text(&baseline));

    let missing = CpuFeatures::X86_64_V3.missing_from(kiln_loader::code::host_cpu_features());
    if missing.is_empty() {
        assert_eq!(add_ones(&bytes), 2);
    } else {
        let message = refusal(&bytes);
        for name in missing.names() {
            assert!(message.contains(name.as_str()), "{name} not named in {message}");
        }
    }
}
