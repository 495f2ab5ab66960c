//! Loading hand-built artifacts: what is accepted, how code is mapped,
//! and every refusal the loader promises.

mod common;

use common::*;
use kiln_format::{CpuFeatures, StackMapRecord, TrapCode, FORMAT_VERSION};
use kiln_loader::code::{lookup_code, LoadError};
use object::elf;

fn refusal(artifact: &TestArtifact) -> LoadError {
    load_bytes(&artifact.build()).expect_err("artifact must be refused")
}

fn returns_42() -> Func {
    // mov eax, 42; ret
    Func::new("forty_two", &[0xb8, 42, 0, 0, 0, 0xc3])
}

fn calls_forty_two() -> Func {
    Func::new("caller", &concat(&[&PROLOGUE, &CALL_REL32, &EPILOGUE])).call(4, "forty_two")
}

#[test]
fn linked_direct_call_runs() {
    let code = load_bytes(&TestArtifact::new(vec![calls_forty_two(), returns_42()]).build()).unwrap();
    let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(code.func_code(0).unwrap()) };
    assert_eq!(f(), 42);
}

#[test]
fn relocations_of_text_are_refused() {
    // kilnc links `.text` itself; an artifact that still needs patching at
    // load (an absolute address here, a call there) is refused by name.
    // movabs rax, imm64; ret
    let address_of =
        Func::new("address_of", &[0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3]).reloc(2, "forty_two", elf::R_X86_64_64, 0);
    let err = refusal(&TestArtifact::new(vec![address_of, returns_42()]));
    assert!(err.to_string().contains("1 relocations apply to .text (the first: R_X86_64_64 at .text+0x2)"), "{err}");
    assert!(err.to_string().contains("compile it again with this release's kilnc"), "{err}");

    let mut unlinked = TestArtifact::new(vec![calls_forty_two(), returns_42()]);
    unlinked.keep_relocations = true;
    let err = refusal(&unlinked);
    assert!(err.to_string().contains("R_X86_64_PLT32 at .text+0x5"), "{err}");
}

#[test]
fn text_must_be_whole_pages_on_a_page() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.text_alignment = Some(16);
    let err = refusal(&artifact);
    assert!(err.to_string().contains(".text must be whole 4096-byte pages at a page-aligned offset"), "{err}");
}

#[test]
fn lookups_are_exact() {
    let mut artifact = TestArtifact::new(vec![
        Func::new("a", &concat(&[&PROLOGUE, &UD2])).trap(4, TrapCode::UNREACHABLE),
        Func::new("b", &concat(&[&PROLOGUE, &CALL_REL32, &EPILOGUE])).call(4, "a"),
    ]);
    let b = artifact.func_offset(1);
    artifact.stack_maps = vec![StackMapRecord { return_offset: b + 9, frame_size: 16, slots: vec![0] }];
    artifact.data = b"hello".to_vec();
    let code = load_bytes(&artifact.build()).unwrap();
    let text = code.text() as usize;
    let a = artifact.func_offset(0) as usize;

    assert_eq!(code.trap_at(text + a + 4), Some(TrapCode::UNREACHABLE));
    assert_eq!(code.trap_at(text + a + 5), None);
    assert_eq!(code.trap_at(text + a + 3), None);
    assert_eq!(code.func_at(text + a), Some(0));
    assert_eq!(code.func_at(text + a + 5), Some(0));
    assert_eq!(code.func_at(text + a + 6), None, "padding between functions belongs to none");
    assert_eq!(code.func_at(text + b as usize + 3), Some(1));
    assert_eq!(code.func_at(text.wrapping_sub(1)), None);
    assert!(code.stack_map_at(text + b as usize + 9).is_some());
    assert!(code.stack_map_at(text + b as usize + 8).is_none(), "no nearest match");
    assert!(code.stack_map_at(text + b as usize + 10).is_none(), "no nearest match");
    assert_eq!(code.data(), b"hello");
    assert_eq!(code.info().name.as_deref(), Some("test"));
    assert_eq!(code.header().format_version, FORMAT_VERSION);
    assert_eq!(code.entry_trampoline(0), None);
    assert_eq!(code.func_code(7), None);
}

#[test]
fn registry_follows_the_code_lifetime() {
    let code = load_bytes(&TestArtifact::new(vec![returns_42()]).build()).unwrap();
    let pc = code.func_code(0).unwrap() as usize;
    assert!(std::sync::Arc::ptr_eq(&lookup_code(pc).unwrap(), &code));
    drop(code);
    assert!(lookup_code(pc).is_none());
}

#[test]
fn misaligned_input_is_accepted() {
    let bytes = TestArtifact::new(vec![returns_42()]).build();
    let mut shifted = vec![0u8; bytes.len() + 1];
    shifted[1..].copy_from_slice(&bytes);
    load_bytes(&shifted[1..]).unwrap();
}

#[test]
fn other_format_version_is_refused() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.format_version = Some(FORMAT_VERSION + 1);
    let err = refusal(&artifact);
    let expected = format!("format version {}, this loader reads {FORMAT_VERSION}", FORMAT_VERSION + 1);
    assert!(err.to_string().contains(&expected), "{err}");
    assert_eq!(err.section(), Some(".kiln.meta"));
}

#[test]
fn other_target_is_refused() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.target = "aarch64-unknown-linux-gnu".into();
    let err = refusal(&artifact);
    assert!(err.to_string().contains("for target aarch64-unknown-linux-gnu"), "{err}");
}

#[test]
fn missing_cpu_features_are_named() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.cpu_features = CpuFeatures(1 << 40);
    let err = refusal(&artifact);
    assert!(err.to_string().contains("CPU features this host lacks: bit40"), "{err}");
}

#[test]
fn digest_mismatch_is_refused() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.digest = Some(0x1234_5678);
    let err = refusal(&artifact);
    assert!(err.to_string().contains("digest mismatch"), "{err}");

    // A flipped byte of code in the file, with the header left intact.
    let artifact = TestArtifact::new(vec![returns_42()]);
    let mut bytes = artifact.build();
    let at = find(&bytes, &[0xb8, 42, 0, 0, 0, 0xc3]);
    bytes[at + 1] = 43;
    let err = load_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}

#[test]
fn every_truncation_is_refused_cleanly() {
    let bytes = TestArtifact::new(vec![calls_forty_two(), returns_42()]).build();
    for len in 0..bytes.len() {
        let _ = load_bytes(&bytes[..len]);
    }
    assert!(load_bytes(&bytes[..bytes.len() / 2]).is_err());
    assert!(load_bytes(&[]).unwrap_err().to_string().contains("not an ELF object"));
}

#[test]
fn garbage_is_refused_cleanly() {
    let bytes = TestArtifact::new(vec![calls_forty_two(), returns_42()]).build();
    // Flip every byte in turn: nothing may panic, and most must be refused.
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0xa5;
        let _ = load_bytes(&damaged);
    }
    let mut noise = vec![0u8; 4096];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    noise[..4].copy_from_slice(b"\x7fELF");
    assert!(load_bytes(&noise).is_err());
}

#[test]
fn kiln_magic_is_checked() {
    let bytes = TestArtifact::new(vec![returns_42()]).build();
    let mut damaged = bytes.clone();
    let at = find(&damaged, &kiln_format::MAGIC);
    damaged[at + 1] = b'X';
    let err = load_bytes(&damaged).unwrap_err();
    assert!(err.to_string().contains("bad magic"), "{err}");
}

#[test]
fn shared_objects_and_other_machines_are_refused() {
    let bytes = TestArtifact::new(vec![returns_42()]).build();
    let mut dyn_ = bytes.clone();
    dyn_[16] = elf::ET_DYN as u8;
    let err = load_bytes(&dyn_).unwrap_err().to_string();
    assert!(err.contains("only be loaded from a file"), "{err}");
    let mut arm = bytes.clone();
    arm[18] = elf::EM_AARCH64 as u8;
    assert!(load_bytes(&arm).unwrap_err().to_string().contains("ELF machine 183"));
}

#[test]
fn unsupported_relocation_is_refused_by_name() {
    let f = Func::new("f", &[0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xc3]).reloc(3, "forty_two", elf::R_X86_64_GOTPCREL, -4);
    let artifact = TestArtifact::new(vec![f, returns_42()]);
    let err = refusal(&artifact);
    assert!(err.to_string().contains("(the first: R_X86_64_GOTPCREL at .text+0x3)"), "{err}");
}

#[test]
fn relocation_to_undefined_symbol_is_refused() {
    let f = Func::new("f", &concat(&[&CALL_REL32, &[0xc3]])).call(0, "memcpy");
    let mut artifact = TestArtifact::new(vec![f]);
    artifact.undefined_symbols = vec!["memcpy".into()];
    let err = refusal(&artifact);
    assert!(err.to_string().contains("(the first: R_X86_64_PLT32 at .text+0x1)"), "{err}");
}

#[test]
fn code_ranges_outside_text_are_refused() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.edit_info = Some(Box::new(|info| {
        info.functions[0].code = Some(kiln_format::CodeRange { offset: 4, len: 5000 });
    }));
    let err = refusal(&artifact);
    assert!(err.to_string().contains("function 0 at .text+0x4..0x138c lies outside .text (0x1000 bytes)"), "{err}");

    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.edit_info = Some(Box::new(|info| {
        info.data.push(kiln_format::DataSegment { mode: kiln_format::DataMode::Passive, data_offset: 0, len: 1 });
    }));
    let err = refusal(&artifact);
    assert!(err.to_string().contains("data segment 0"), "{err}");
}

#[test]
fn trap_records_are_read_in_place_and_match_only_their_pc() {
    // The trap table is searched where it lies, by the offset of a PC in
    // `.text`: a record past the end of `.text` loads but matches nothing.
    let artifact = TestArtifact::new(vec![Func::new("f", &concat(&[&PROLOGUE, &UD2]))
        .trap(4, TrapCode::UNREACHABLE)
        .trap(9000, TrapCode::UNREACHABLE)]);
    let code = load_bytes(&artifact.build()).unwrap();
    let text = code.text() as usize;
    assert_eq!(code.trap_at(text + 4), Some(TrapCode::UNREACHABLE));
    assert_eq!(code.trap_at(text + 9000), None, "outside .text");
    assert_eq!(code.trap_table().len(), 2);
}

#[test]
fn bad_inlined_frames_are_refused() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.edit_info = Some(Box::new(|info| {
        info.inlined.push(kiln_format::FunctionInlining {
            func_index: 0,
            frames: kiln_format::InlinedFrames {
                sites: vec![kiln_format::InlineSite {
                    callee: 7,
                    parent: None,
                    call_offset: kiln_format::NO_WASM_OFFSET,
                }],
                ranges: vec![kiln_format::InlineRange { start: 0, end: 1, site: 0 }],
            },
        });
    }));
    let err = refusal(&artifact);
    assert!(err.to_string().contains("inlined frames of function 0: inline site 0 names function 7"), "{err}");

    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.edit_info = Some(Box::new(|info| {
        info.inlined.push(kiln_format::FunctionInlining {
            func_index: 0,
            frames: kiln_format::InlinedFrames {
                sites: vec![kiln_format::InlineSite {
                    callee: 0,
                    parent: None,
                    call_offset: kiln_format::NO_WASM_OFFSET,
                }],
                ranges: vec![kiln_format::InlineRange { start: 0, end: 0x1000, site: 0 }],
            },
        });
    }));
    let err = refusal(&artifact);
    assert!(err.to_string().contains("outside"), "{err}");
}

#[test]
fn missing_metadata_is_refused() {
    let mut obj =
        object::write::Object::new(object::BinaryFormat::Elf, object::Architecture::X86_64, object::Endianness::Little);
    let text = obj.section_id(object::write::StandardSection::Text);
    obj.append_section_data(text, &[0xc3], 16);
    let err = load_bytes(&obj.write().unwrap()).unwrap_err();
    assert!(err.to_string().contains("no .kiln.meta section"), "{err}");
}

#[test]
fn hostile_lengths_in_metadata_are_refused_without_allocating_them() {
    // bincode varint 0xff = u64 follows: a vector or string of 2^64 - 1 items.
    let huge = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let mut info_prefixes: Vec<Vec<u8>> = vec![huge.to_vec()];
    // `name: Some(...)` followed by a huge string length, then a huge type vector.
    info_prefixes.push([&[1u8][..], &huge].concat());
    info_prefixes.push([&[0u8][..], &huge].concat());
    for raw in info_prefixes {
        let mut artifact = TestArtifact::new(vec![returns_42()]);
        artifact.raw_info = Some(raw);
        let err = refusal(&artifact);
        assert!(err.to_string().contains("bad module info"), "{err}");
    }
    for raw in [huge.to_vec(), [&[1u8, 0, 0][..], &huge].concat()] {
        let mut artifact = TestArtifact::new(vec![returns_42()]);
        artifact.raw_stack_maps = Some(raw);
        let err = refusal(&artifact);
        assert_eq!(err.section(), Some(".kiln.stackmaps"), "{err}");
    }
}

#[test]
fn module_info_garbage_is_refused_with_its_location() {
    let mut artifact = TestArtifact::new(vec![returns_42()]);
    artifact.raw_info = Some(vec![0, 1, 2, 3, 200]);
    let err = refusal(&artifact);
    assert_eq!(err.section(), Some(".kiln.meta"));
    assert!(err.offset().is_some_and(|o| o >= 128), "{err}");
}
