//! The artifact kilnc writes, read back with `object` and `kiln-format`.

use kiln_compiler::{compile, CompileOptions};
use kiln_format::{
    entry_trampoline_symbol, file_digest, function_symbol, host_trampoline_symbol, ArtifactHeader, CpuFeatures,
    FunctionNames, MemoryImage, ModuleInfo, StackMapRecord, TrapCode, TrapRecord, FORMAT_VERSION, HEADER_SIZE,
    IMAGE_PAGE_SIZE, SECTION_DATA, SECTION_IMAGE, SECTION_META, SECTION_NAMES, SECTION_STACKMAPS, SECTION_TEXT,
    SECTION_TRAPS, TEXT_PADDING, TEXT_PAGE_SIZE,
};
use object::{Object, ObjectSection, ObjectSymbol};

const SEVERAL: &str = include_str!("modules/several_functions.wat");

fn compile_default(wat: &str) -> Vec<u8> {
    compile(wat.as_bytes(), &CompileOptions::default()).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

fn section<'a>(file: &object::File<'a>, name: &str) -> &'a [u8] {
    file.section_by_name(name).unwrap_or_else(|| panic!("missing section {name}")).data().unwrap()
}

struct Artifact<'a> {
    file: object::File<'a>,
    header: ArtifactHeader,
    info: ModuleInfo,
}

fn read(bytes: &[u8]) -> Artifact<'_> {
    let file = object::File::parse(bytes).unwrap();
    let meta = section(&file, SECTION_META);
    let header = ArtifactHeader::from_bytes(meta).unwrap();
    let info_bytes = &meta[HEADER_SIZE..];
    assert_eq!(header.info_len as usize, info_bytes.len());
    let info = ModuleInfo::decode(info_bytes, HEADER_SIZE).unwrap();
    Artifact { file, header, info }
}

fn symbol_address(file: &object::File<'_>, name: &str) -> u64 {
    file.symbols().find(|s| s.name() == Ok(name)).unwrap_or_else(|| panic!("missing symbol {name}")).address()
}

#[test]
fn artifact_is_an_x86_64_relocatable_elf_with_kiln_sections() {
    let bytes = compile_default(SEVERAL);
    let a = read(&bytes);
    assert_eq!(a.file.format(), object::BinaryFormat::Elf);
    assert_eq!(a.file.architecture(), object::Architecture::X86_64);
    assert_eq!(a.file.kind(), object::ObjectKind::Relocatable);
    for name in [SECTION_TEXT, SECTION_META, SECTION_TRAPS, SECTION_STACKMAPS, SECTION_DATA, SECTION_IMAGE] {
        assert!(a.file.section_by_name(name).is_some(), "missing {name}");
    }
    // The active segment is in memory 0's image, page-aligned in the file;
    // only the passive one stays in .kiln.data.
    assert_eq!(section(&a.file, SECTION_DATA), b"passive bytes");
    let image = a.file.section_by_name(SECTION_IMAGE).unwrap();
    assert_eq!(image.file_range().unwrap().0 % IMAGE_PAGE_SIZE, 0);
    assert_eq!(&image.data().unwrap()[16..20], b"kiln");
    assert_eq!(a.info.memory_images, vec![MemoryImage { memory: 0, memory_offset: 0, image_offset: 0, len: 4096 }]);
}

#[test]
fn header_records_version_target_features_and_the_whole_file_digest() {
    let bytes = compile_default(SEVERAL);
    let a = read(&bytes);
    assert_eq!(a.header.format_version, FORMAT_VERSION);
    assert_eq!(a.header.target(), "x86_64-unknown-linux-gnu");
    assert_eq!(a.header.cpu_features, CpuFeatures::BASELINE_X86_64);
    assert_ne!(a.header.flags_hash, 0);
    let meta_offset = a.file.section_by_name(SECTION_META).unwrap().file_range().unwrap().0 as usize;
    assert_eq!(file_digest(&bytes, meta_offset), Some(a.header.digest));
}

#[test]
fn module_info_describes_the_module() {
    let bytes = compile_default(SEVERAL);
    let info = read(&bytes).info;
    assert_eq!(info.name.as_deref(), Some("several"));
    assert_eq!(info.num_imported_funcs, 1);
    assert_eq!(info.num_imported_globals, 1);
    assert!(info.functions[0].code.is_none());
    let names = FunctionNames::parse(section(&read(&bytes).file, SECTION_NAMES)).unwrap();
    assert_eq!(names.get(1), Some("add"));
    assert_eq!(info.tables.len(), 2);
    assert_eq!(info.elements.len(), 2);
    assert_eq!(info.data.len(), 2);
    assert_eq!(info.entry_trampolines.len(), info.types.len());
    assert_eq!(info.host_trampolines.len(), info.types.len());
    assert!(info.exports.iter().any(|e| e.name == "fib"));
}

#[test]
fn code_ranges_match_the_symbols() {
    let bytes = compile_default(SEVERAL);
    let a = read(&bytes);
    let text_len = section(&a.file, SECTION_TEXT).len() as u64;
    for (i, f) in a.info.functions.iter().enumerate().skip(a.info.num_imported_funcs as usize) {
        let code = f.code.expect("defined function has code");
        assert_eq!(u64::from(code.offset), symbol_address(&a.file, &function_symbol(i as u32)));
        assert!(code.len > 0 && u64::from(code.offset + code.len) <= text_len);
    }
    for t in 0..a.info.types.len() {
        assert_eq!(
            u64::from(a.info.entry_trampolines[t].offset),
            symbol_address(&a.file, &entry_trampoline_symbol(t as u32))
        );
        assert_eq!(
            u64::from(a.info.host_trampolines[t].offset),
            symbol_address(&a.file, &host_trampoline_symbol(t as u32))
        );
    }
    // SPEC 1: functions first, then entry trampolines, then host trampolines.
    let last_func = a.info.functions.last().unwrap().code.unwrap().offset;
    assert!(last_func < a.info.entry_trampolines[0].offset);
    assert!(a.info.entry_trampolines.last().unwrap().offset < a.info.host_trampolines[0].offset);
}

#[test]
fn text_is_fully_linked_whole_pages_at_a_page_aligned_offset() {
    let bytes = compile_default(SEVERAL);
    let a = read(&bytes);
    for section in a.file.sections() {
        assert_eq!(section.relocations().count(), 0, "relocations in {:?}", section.name());
    }
    assert!(a.file.symbols().all(|s| !s.is_undefined() || s.name() == Ok("")), "undefined symbols");
    let text = a.file.section_by_name(SECTION_TEXT).unwrap();
    let (offset, len) = text.file_range().unwrap();
    assert_eq!((offset % TEXT_PAGE_SIZE, len % TEXT_PAGE_SIZE), (0, 0), "{offset:#x}, {len:#x}");
    // After the last trampoline (the builtins' come last), `int3` up to the
    // page's end.
    let code_end = a
        .file
        .symbols()
        .filter(|s| s.section_index() == Some(text.index()))
        .map(|s| s.address() + s.size())
        .max()
        .unwrap() as usize;
    let data = text.data().unwrap();
    assert!(data[code_end..].iter().all(|&b| b == TEXT_PADDING));
    // The direct call of the fib recursion was resolved in place: its
    // rel32 lands on fib's own entry.
    let fib = named(&a, "fib");
    let body = &data[fib.offset as usize..(fib.offset + fib.len) as usize];
    let lands_on_fib = body.windows(5).enumerate().any(|(i, w)| {
        let next = fib.offset as i64 + i as i64 + 5;
        w[0] == 0xe8 && next + i64::from(i32::from_le_bytes([w[1], w[2], w[3], w[4]])) == i64::from(fib.offset)
    });
    assert!(lands_on_fib, "no call to fib's entry in its body");
}

/// The code range of the function the name section calls `name`.
fn named(a: &Artifact<'_>, name: &str) -> kiln_format::CodeRange {
    let names = FunctionNames::parse(section(&a.file, SECTION_NAMES)).unwrap();
    let (index, _) = names.iter().find(|(_, n)| *n == name).unwrap_or_else(|| panic!("no function {name}"));
    a.info.functions[index as usize].code.unwrap()
}

#[test]
fn trap_table_is_sorted_and_covers_division_and_memory() {
    let bytes = compile_default(SEVERAL);
    let a = read(&bytes);
    let traps = TrapRecord::decode_all(section(&a.file, SECTION_TRAPS)).unwrap();
    assert!(traps.windows(2).all(|w| w[0].text_offset <= w[1].text_offset));
    let text_len = section(&a.file, SECTION_TEXT).len() as u32;
    assert!(traps.iter().all(|t| t.text_offset < text_len));
    let div = named(&a, "div");
    let in_div: Vec<TrapCode> =
        traps.iter().filter(|t| (div.offset..div.offset + div.len).contains(&t.text_offset)).map(|t| t.code).collect();
    assert!(in_div.contains(&TrapCode::INTEGER_DIVISION_BY_ZERO), "{in_div:?}");
    assert!(traps.iter().any(|t| t.code == TrapCode::MEMORY_OUT_OF_BOUNDS));
}

#[test]
fn stack_maps_are_keyed_by_return_addresses_inside_their_function() {
    let bytes = compile_default(SEVERAL);
    let a = read(&bytes);
    let maps = StackMapRecord::decode_all(section(&a.file, SECTION_STACKMAPS)).unwrap();
    let keep = named(&a, "keep");
    let text = section(&a.file, SECTION_TEXT);
    // `keep` holds its externref across the call to `log`.
    let in_keep: Vec<&StackMapRecord> =
        maps.iter().filter(|m| (keep.offset..=keep.offset + keep.len).contains(&m.return_offset)).collect();
    assert!(!in_keep.is_empty(), "no stack map in `keep`: {maps:?}");
    for m in in_keep {
        assert!(!m.slots.is_empty());
        assert!(m.slots.iter().all(|s| s % 8 == 0 && *s < m.frame_size.max(8) + 8));
        // The byte before a return address ends a call: `call rel32` (e8 ..)
        // or an indirect `call *%reg` (ff /2).
        let at = m.return_offset as usize;
        assert!(text[at - 5] == 0xe8 || text[at - 2] == 0xff || text[at - 3] == 0xff, "not after a call: {m:?}");
    }
}

#[test]
fn module_without_functions_still_has_every_section() {
    let bytes = compile_default("(module (memory 1))");
    let a = read(&bytes);
    assert!(a.info.functions.is_empty());
    assert!(a.info.entry_trampolines.is_empty());
    assert!(section(&a.file, SECTION_TRAPS).is_empty());
}

#[test]
fn binary_input_gives_the_same_artifact_as_text() {
    let wasm = wat::parse_str(SEVERAL).unwrap();
    assert_eq!(compile(&wasm, &CompileOptions::default()).unwrap(), compile_default(SEVERAL));
}
