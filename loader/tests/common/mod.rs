//! Hand-assembled kiln artifacts for the loader's tests, written with the
//! `object` crate the way the compiler writes real ones.
//!
//! Shared by the integration tests and by the crate's own trap tests
//! (`src/vm/traps/tests.rs`), which include this file by path; there
//! `kiln_loader` names the crate itself.
#![allow(dead_code)]

use kiln_format::header_offsets::{FORMAT_VERSION_OFFSET, FORMAT_VERSION_WIDTH};
use kiln_format::{
    encode_function_names, seal_file, ArtifactHeader, CodeRange, CpuFeatures, FuncType, FunctionInfo, ModuleInfo,
    StackMapRecord, TrapCode, TrapRecord, SECTION_DATA, SECTION_META, SECTION_NAMES, SECTION_STACKMAPS, SECTION_TRAPS,
    TEXT_PADDING, TEXT_PAGE_SIZE,
};
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};

/// One relocation in a function's code.
pub struct Reloc {
    /// Offset of the field from the start of the function.
    pub at: u64,
    /// Target symbol.
    pub symbol: String,
    pub r_type: u32,
    pub addend: i64,
}

/// A function of the test module: machine code, its trap sites and relocations.
pub struct Func {
    pub name: String,
    pub code: Vec<u8>,
    /// (offset in the function, trap code).
    pub traps: Vec<(u32, TrapCode)>,
    pub relocs: Vec<Reloc>,
}

impl Func {
    pub fn new(name: &str, code: &[u8]) -> Self {
        Func { name: name.to_string(), code: code.to_vec(), traps: Vec::new(), relocs: Vec::new() }
    }

    pub fn trap(mut self, at: u32, code: TrapCode) -> Self {
        self.traps.push((at, code));
        self
    }

    /// A `call rel32` to `symbol` whose opcode is at `at`.
    pub fn call(mut self, at: u64, symbol: &str) -> Self {
        self.relocs.push(Reloc { at: at + 1, symbol: symbol.into(), r_type: elf::R_X86_64_PLT32, addend: -4 });
        self
    }

    pub fn reloc(mut self, at: u64, symbol: &str, r_type: u32, addend: i64) -> Self {
        self.relocs.push(Reloc { at, symbol: symbol.into(), r_type, addend });
        self
    }
}

/// A change to the module info, applied once the code layout is known.
pub type InfoEdit = Box<dyn Fn(&mut ModuleInfo)>;

/// A whole artifact, with knobs to damage it.
pub struct TestArtifact {
    pub module_name: Option<String>,
    pub funcs: Vec<Func>,
    pub data: Vec<u8>,
    pub stack_maps: Vec<StackMapRecord>,
    pub target: String,
    pub cpu_features: CpuFeatures,
    pub format_version: Option<u32>,
    /// Recorded instead of the file's true digest.
    pub digest: Option<u64>,
    /// Changes applied to the module info after the code layout is known.
    pub edit_info: Option<InfoEdit>,
    pub undefined_symbols: Vec<String>,
    /// Bytes stored instead of the encoded module info.
    pub raw_info: Option<Vec<u8>>,
    /// Bytes stored instead of the encoded stack maps.
    pub raw_stack_maps: Option<Vec<u8>>,
    /// Keep even the references kilnc resolves as relocations.
    pub keep_relocations: bool,
    /// Where `.text` is placed in the file: its page alignment unless set.
    pub text_alignment: Option<u64>,
}

impl TestArtifact {
    pub fn new(funcs: Vec<Func>) -> Self {
        TestArtifact {
            module_name: Some("test".into()),
            funcs,
            data: Vec::new(),
            stack_maps: Vec::new(),
            target: kiln_loader::code::host_target().to_string(),
            cpu_features: CpuFeatures::NONE,
            format_version: None,
            digest: None,
            edit_info: None,
            undefined_symbols: Vec::new(),
            raw_info: None,
            raw_stack_maps: None,
            keep_relocations: false,
            text_alignment: None,
        }
    }

    /// Offset in `.text` of function `i`.
    pub fn func_offset(&self, i: usize) -> u32 {
        self.layout().0[i]
    }

    /// The offsets of the functions and the `.text` bytes, padded with
    /// `int3` to whole pages as kilnc pads it (SPEC.md 1.2). PC-relative
    /// references between the functions are resolved here, as kilnc
    /// resolves them; others stay relocations, which the loader refuses.
    fn layout(&self) -> (Vec<u32>, Vec<u8>) {
        let mut text = Vec::new();
        let mut offsets = Vec::new();
        for f in &self.funcs {
            while text.len() % 16 != 0 {
                text.push(TEXT_PADDING);
            }
            offsets.push(text.len() as u32);
            text.extend_from_slice(&f.code);
        }
        let page = TEXT_PAGE_SIZE as usize;
        text.resize(text.len().max(1).next_multiple_of(page), TEXT_PADDING);
        for (f, &base) in self.funcs.iter().zip(&offsets) {
            for r in f.relocs.iter().filter(|r| self.is_linked(r)) {
                let target = self.funcs.iter().position(|g| g.name == r.symbol).expect("defined target");
                let place = base as i64 + r.at as i64;
                let value = (offsets[target] as i64 + r.addend - place) as i32;
                let at = place as usize;
                text[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
        (offsets, text)
    }

    /// Whether kilnc would have resolved `r` itself: a PC-relative
    /// reference to a function of the artifact.
    fn is_linked(&self, r: &Reloc) -> bool {
        !self.keep_relocations
            && matches!(r.r_type, elf::R_X86_64_PLT32 | elf::R_X86_64_PC32)
            && self.funcs.iter().any(|g| g.name == r.symbol)
    }

    pub fn build(&self) -> Vec<u8> {
        let (offsets, text_bytes) = self.layout();
        let mut info = ModuleInfo {
            name: self.module_name.clone(),
            types: vec![kiln_format::CompositeType::Func(FuncType { params: vec![], results: vec![] })],
            functions: self
                .funcs
                .iter()
                .zip(&offsets)
                .map(|(f, &offset)| FunctionInfo {
                    type_index: 0,
                    code: Some(CodeRange { offset, len: f.code.len() as u32 }),
                })
                .collect(),
            ..Default::default()
        };
        if let Some(edit) = &self.edit_info {
            edit(&mut info);
        }
        let info_bytes = self.raw_info.clone().unwrap_or_else(|| info.encode());
        let mut traps: Vec<TrapRecord> = self
            .funcs
            .iter()
            .zip(&offsets)
            .flat_map(|(f, &base)| f.traps.iter().map(move |&(at, code)| TrapRecord { text_offset: base + at, code }))
            .collect();
        traps.sort_by_key(|r| r.text_offset);
        let traps_bytes = TrapRecord::encode_all(&traps);
        let stack_map_bytes = match &self.raw_stack_maps {
            Some(raw) => raw.clone(),
            None if self.stack_maps.is_empty() => Vec::new(),
            None => StackMapRecord::encode_all(&self.stack_maps),
        };
        let mut header = ArtifactHeader::new(&self.target, self.cpu_features, 0, info_bytes.len() as u64).to_bytes();
        if let Some(v) = self.format_version {
            header[FORMAT_VERSION_OFFSET..FORMAT_VERSION_OFFSET + FORMAT_VERSION_WIDTH]
                .copy_from_slice(&v.to_le_bytes());
        }
        let mut meta = header.to_vec();
        meta.extend_from_slice(&info_bytes);

        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let text = obj.section_id(StandardSection::Text);
        obj.append_section_data(text, &text_bytes, self.text_alignment.unwrap_or(TEXT_PAGE_SIZE));
        let names: Vec<(u32, String)> =
            self.funcs.iter().enumerate().map(|(i, f)| (i as u32, f.name.clone())).collect();
        let names_bytes = encode_function_names(&names);
        for (name, bytes) in [
            (SECTION_META, &meta),
            (SECTION_TRAPS, &traps_bytes),
            (SECTION_STACKMAPS, &stack_map_bytes),
            (SECTION_NAMES, &names_bytes),
            (SECTION_DATA, &self.data),
        ] {
            let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::ReadOnlyData);
            obj.append_section_data(id, bytes, 8);
        }
        let mut symbols = std::collections::HashMap::new();
        for (f, &offset) in self.funcs.iter().zip(&offsets) {
            let id = obj.add_symbol(Symbol {
                name: f.name.as_bytes().to_vec(),
                value: offset as u64,
                size: f.code.len() as u64,
                kind: SymbolKind::Text,
                scope: SymbolScope::Compilation,
                weak: false,
                section: SymbolSection::Section(text),
                flags: SymbolFlags::None,
            });
            symbols.insert(f.name.clone(), id);
        }
        for name in &self.undefined_symbols {
            let id = obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: 0,
                size: 0,
                kind: SymbolKind::Text,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Undefined,
                flags: SymbolFlags::None,
            });
            symbols.insert(name.clone(), id);
        }
        for (f, &offset) in self.funcs.iter().zip(&offsets) {
            for r in f.relocs.iter().filter(|r| !self.is_linked(r)) {
                obj.add_relocation(
                    text,
                    Relocation {
                        offset: offset as u64 + r.at,
                        symbol: symbols[&r.symbol],
                        addend: r.addend,
                        flags: RelocationFlags::Elf { r_type: r.r_type },
                    },
                )
                .expect("relocation");
            }
        }
        let mut bytes = obj.write().expect("object writes");
        let meta_offset = {
            use object::{Object as _, ObjectSection as _};
            let file = object::File::parse(&*bytes).expect("parses back");
            file.section_by_name(SECTION_META).and_then(|s| s.file_range()).expect("meta in the file").0 as usize
        };
        assert!(seal_file(&mut bytes, meta_offset), "seals");
        if let Some(digest) = self.digest {
            let at = meta_offset + kiln_format::header_offsets::DIGEST_OFFSET;
            bytes[at..at + 8].copy_from_slice(&digest.to_le_bytes());
        }
        bytes
    }
}

/// Position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).position(|w| w == needle).expect("pattern present")
}

// Machine code snippets (x86-64).
pub const PROLOGUE: [u8; 4] = [0x55, 0x48, 0x89, 0xe5]; // push rbp; mov rbp, rsp
pub const EPILOGUE: [u8; 2] = [0x5d, 0xc3]; // pop rbp; ret
pub const UD2: [u8; 2] = [0x0f, 0x0b];
pub const CALL_REL32: [u8; 5] = [0xe8, 0, 0, 0, 0];

pub fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `outer` calls `calls_out`, which calls `rdi` after recording its exit
/// frame in the limits block at `rsi`, as compiled code does before calling
/// out. `outer(rdi, rsi)` passes its arguments through untouched.
pub fn calls_out() -> Vec<Func> {
    let body: Vec<u8> = concat(&[
        &PROLOGUE,
        &[0x48, 0x89, 0x6e, 0x08],          // mov [rsi+8], rbp
        &[0x48, 0x8d, 0x05, 0x06, 0, 0, 0], // lea rax, [rip+6] (the return address)
        &[0x48, 0x89, 0x46, 0x10],          // mov [rsi+16], rax
        &[0xff, 0xd7],                      // call rdi
        &EPILOGUE,
    ]);
    vec![
        Func::new("outer", &concat(&[&PROLOGUE, &CALL_REL32, &EPILOGUE])).call(4, "calls_out"),
        Func::new("calls_out", &body),
    ]
}

/// Loads a test artifact's bytes.
pub fn load_bytes(bytes: &[u8]) -> Result<std::sync::Arc<kiln_loader::code::LoadedCode>, kiln_loader::code::LoadError> {
    // SAFETY: the tests load artifacts assembled here from machine code
    // written for them, or damaged copies of those whose refusal is what the
    // test checks.
    #[allow(unsafe_code)]
    unsafe {
        kiln_loader::code::load_bytes(bytes)
    }
}
