//! The ELF container: finding sections, and refusing relocations.
//!
//! Everything here borrows from the artifact's bytes; nothing is copied.

use object::elf::{self, FileHeader64};
use object::read::elf::{FileHeader, Rela, SectionHeader, SectionTable};
use object::{LittleEndian, SectionIndex};

use super::LoadError;
use kiln_format::{
    SECTION_DATA, SECTION_HANDLERS, SECTION_IMAGE, SECTION_LINES, SECTION_META, SECTION_NAMES, SECTION_STACKMAPS,
    SECTION_TEXT, SECTION_TRAPS, SECTION_WASM_OFFSETS,
};

type Elf = FileHeader64<LittleEndian>;

/// A parsed ELF64 x86-64 relocatable object.
pub(crate) struct ElfObject<'data> {
    data: &'data [u8],
    sections: SectionTable<'data, Elf, &'data [u8]>,
    /// Where each of [`KNOWN_SECTIONS`] is, the first of that name as
    /// `section_by_name` would pick.
    known: [Option<SectionIndex>; KNOWN_SECTIONS.len()],
}

/// The sections every load looks up. They are found in one pass over the
/// section names at parse time: a lookup by name reads every name up to
/// the match, and five such lookups were a quarter of loading a small module.
/// `.text` first, then every kiln section.
const KNOWN_SECTIONS: [&str; 10] = [
    SECTION_TEXT,
    SECTION_META,
    SECTION_TRAPS,
    SECTION_STACKMAPS,
    SECTION_HANDLERS,
    SECTION_NAMES,
    SECTION_WASM_OFFSETS,
    SECTION_LINES,
    SECTION_DATA,
    SECTION_IMAGE,
];

/// One section found by name.
#[derive(Clone, Copy)]
pub(crate) struct FoundSection<'data> {
    pub bytes: &'data [u8],
}

const ENDIAN: LittleEndian = LittleEndian;

/// Refuses bytes that do not start like an ELF file: the first check of
/// every load, before anything is copied or mapped.
///
/// A WebAssembly module is refused as one, with the kilnc command that
/// compiles it: the bytes of every load, whatever its entry point, come
/// through here.
pub(crate) fn check_magic(data: &[u8]) -> Result<(), LoadError> {
    if let Some(format) = super::wasm_source::sniff(data) {
        return Err(super::wasm_source::refusal(format, None));
    }
    if data.len() < 4 || data[0..4] != elf::ELFMAG {
        return Err(LoadError::new("not an ELF object (bad magic)"));
    }
    Ok(())
}

/// The file offset of the `.kiln.meta` section (where the header lies) of
/// an artifact of either kind, a relocatable or a shared object: what
/// signing patches, found without checking anything else of the file.
pub fn meta_offset(data: &[u8]) -> Result<usize, LoadError> {
    check_magic(data)?;
    if data.len() < std::mem::size_of::<Elf>() || data[4] != elf::ELFCLASS64 || data[5] != elf::ELFDATA2LSB {
        return Err(LoadError::new("not a little-endian ELF64 object"));
    }
    let header = Elf::parse(data).map_err(LoadError::elf)?;
    let sections = header.sections(ENDIAN, data).map_err(LoadError::elf)?;
    let (_, meta) = sections
        .section_by_name(ENDIAN, SECTION_META.as_bytes())
        .ok_or_else(|| LoadError::new(format!("no {SECTION_META} section: not a kiln artifact")))?;
    let (offset, _) = meta
        .file_range(ENDIAN)
        .ok_or_else(|| LoadError::in_section(SECTION_META, "the section has no contents in the file"))?;
    usize::try_from(offset).map_err(|_| LoadError::in_section(SECTION_META, "offset out of range"))
}

impl<'data> ElfObject<'data> {
    /// Parses the ELF header and section table, refusing anything but a
    /// little-endian ELF64 x86-64 relocatable object.
    pub fn parse(data: &'data [u8]) -> Result<Self, LoadError> {
        check_magic(data)?;
        if data.len() < std::mem::size_of::<Elf>() {
            return Err(LoadError::new(format!("truncated ELF object: {} bytes", data.len())));
        }
        if data[4] != elf::ELFCLASS64 || data[5] != elf::ELFDATA2LSB {
            return Err(LoadError::new("not a little-endian ELF64 object"));
        }
        let header = Elf::parse(data).map_err(LoadError::elf)?;
        let machine = header.e_machine(ENDIAN);
        if machine != elf::EM_X86_64 {
            return Err(LoadError::new(format!("ELF machine {machine}, this loader runs x86-64 (62) code")));
        }
        let ty = header.e_type(ENDIAN);
        if ty != elf::ET_REL {
            let what = match ty {
                elf::ET_EXEC => "an executable",
                elf::ET_DYN => "a shared object",
                _ => "not a relocatable object",
            };
            return Err(LoadError::new(format!("ELF type {ty} ({what}): expected a relocatable object (ET_REL)")));
        }
        let sections = header.sections(ENDIAN, data).map_err(LoadError::elf)?;
        let mut known = [None; KNOWN_SECTIONS.len()];
        for (index, section) in sections.enumerate() {
            let Ok(name) = sections.section_name(ENDIAN, section) else { continue };
            if let Some(slot) = KNOWN_SECTIONS.iter().position(|k| k.as_bytes() == name) {
                known[slot].get_or_insert(index);
            }
        }
        Ok(ElfObject { data, sections, known })
    }

    /// Where the section called `name`, one of [`KNOWN_SECTIONS`], is.
    fn known_index(&self, name: &str) -> Option<SectionIndex> {
        self.known[KNOWN_SECTIONS.iter().position(|k| *k == name)?]
    }

    /// The contents of the section called `name`, if there is one.
    pub fn section(&self, name: &'static str) -> Result<Option<FoundSection<'data>>, LoadError> {
        let found = if KNOWN_SECTIONS.contains(&name) {
            self.known_index(name).and_then(|index| Some((index, self.sections.section(index).ok()?)))
        } else {
            self.sections.section_by_name(ENDIAN, name.as_bytes())
        };
        let Some((_, header)) = found else {
            return Ok(None);
        };
        // A section of another type (SHT_NOBITS, say) has no contents in
        // the file for the name to promise; reading it as empty would
        // silently drop what the artifact claims to hold.
        if header.sh_type(ENDIAN) != elf::SHT_PROGBITS {
            return Err(LoadError::in_section(
                name,
                format!("section type {:#x}, expected SHT_PROGBITS", header.sh_type(ENDIAN)),
            ));
        }
        let bytes = header
            .data(ENDIAN, self.data)
            .map_err(|e| LoadError::in_section(name, format!("section contents lie outside the file: {e}")))?;
        Ok(Some(FoundSection { bytes }))
    }

    /// Refuses every relocation that applies to `.text` or a kiln section:
    /// kilnc links `.text` itself (SPEC.md 1.2), so the loader maps it as
    /// the file holds it and patches nothing. Relocations of other sections
    /// (debug info, unwind tables) are ignored because those sections are
    /// never loaded.
    pub fn refuse_relocations(&self) -> Result<(), LoadError> {
        let text = self.known_index(SECTION_TEXT);
        for (_, section) in self.sections.enumerate() {
            let sh_type = section.sh_type(ENDIAN);
            if sh_type != elf::SHT_RELA && sh_type != elf::SHT_REL {
                continue;
            }
            let applies_to = section.info_link(ENDIAN);
            let name = if Some(applies_to) == text { Some(SECTION_TEXT) } else { self.kiln_section_name(applies_to) };
            let Some(name) = name else { continue };
            let entry_size = if sh_type == elf::SHT_RELA { 24 } else { 16 };
            let count = section.sh_size(ENDIAN) / entry_size;
            let first = match section.rela(ENDIAN, self.data) {
                Ok(Some((relas, _))) => relas.first().map(|r| {
                    let offset = r.r_offset(ENDIAN);
                    format!(" (the first: {} at {name}+{offset:#x})", relocation_name(r.r_type(ENDIAN, false)))
                }),
                _ => None,
            };
            return Err(LoadError::in_section(
                name,
                format!(
                    "{count} relocations apply to {name}{}, but a kiln artifact's code is linked by kilnc \
                     (SPEC.md 1.2): compile it again with this release's kilnc",
                    first.unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// Where `section`'s bytes start in the file.
    pub fn file_offset(&self, section: FoundSection<'data>) -> usize {
        section.bytes.as_ptr() as usize - self.data.as_ptr() as usize
    }

    fn kiln_section_name(&self, index: SectionIndex) -> Option<&'static str> {
        let header = self.sections.section(index).ok()?;
        let name = self.sections.section_name(ENDIAN, header).ok()?;
        KNOWN_SECTIONS[1..].iter().copied().find(|n| n.as_bytes() == name)
    }
}

/// The ELF name of an x86-64 relocation type, for error messages.
pub(crate) fn relocation_name(r_type: u32) -> String {
    let name = match r_type {
        elf::R_X86_64_NONE => "R_X86_64_NONE",
        elf::R_X86_64_64 => "R_X86_64_64",
        elf::R_X86_64_PC32 => "R_X86_64_PC32",
        elf::R_X86_64_GOT32 => "R_X86_64_GOT32",
        elf::R_X86_64_PLT32 => "R_X86_64_PLT32",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
        elf::R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
        elf::R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
        elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
        elf::R_X86_64_32 => "R_X86_64_32",
        elf::R_X86_64_32S => "R_X86_64_32S",
        elf::R_X86_64_16 => "R_X86_64_16",
        elf::R_X86_64_PC16 => "R_X86_64_PC16",
        elf::R_X86_64_8 => "R_X86_64_8",
        elf::R_X86_64_PC8 => "R_X86_64_PC8",
        elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        elf::R_X86_64_TLSGD => "R_X86_64_TLSGD",
        elf::R_X86_64_TLSLD => "R_X86_64_TLSLD",
        elf::R_X86_64_DTPOFF32 => "R_X86_64_DTPOFF32",
        elf::R_X86_64_GOTTPOFF => "R_X86_64_GOTTPOFF",
        elf::R_X86_64_TPOFF32 => "R_X86_64_TPOFF32",
        elf::R_X86_64_PC64 => "R_X86_64_PC64",
        elf::R_X86_64_GOTOFF64 => "R_X86_64_GOTOFF64",
        elf::R_X86_64_GOTPC32 => "R_X86_64_GOTPC32",
        elf::R_X86_64_GOT64 => "R_X86_64_GOT64",
        elf::R_X86_64_GOTPCREL64 => "R_X86_64_GOTPCREL64",
        elf::R_X86_64_GOTPC64 => "R_X86_64_GOTPC64",
        elf::R_X86_64_GOTPLT64 => "R_X86_64_GOTPLT64",
        elf::R_X86_64_PLTOFF64 => "R_X86_64_PLTOFF64",
        elf::R_X86_64_SIZE32 => "R_X86_64_SIZE32",
        elf::R_X86_64_SIZE64 => "R_X86_64_SIZE64",
        elf::R_X86_64_GOTPC32_TLSDESC => "R_X86_64_GOTPC32_TLSDESC",
        elf::R_X86_64_TLSDESC_CALL => "R_X86_64_TLSDESC_CALL",
        elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        elf::R_X86_64_RELATIVE64 => "R_X86_64_RELATIVE64",
        elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX",
        elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX",
        other => return format!("R_X86_64 type {other}"),
    };
    name.to_string()
}
