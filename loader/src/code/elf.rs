//! The ELF container: finding sections and reading the relocations of `.text`.
//!
//! Everything here borrows from the artifact's bytes; nothing is copied.

use object::elf::{self, FileHeader64, SectionHeader64};
use object::read::elf::{FileHeader, Rela, SectionHeader, SectionTable, Sym};
use object::{LittleEndian, SectionIndex, SymbolIndex};

use super::reloc::{relocation_name, Relocation};
use super::LoadError;
use kiln_format::{SECTION_DATA, SECTION_META, SECTION_STACKMAPS, SECTION_TEXT, SECTION_TRAPS};

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
const KNOWN_SECTIONS: [&str; 5] = [SECTION_TEXT, SECTION_META, SECTION_TRAPS, SECTION_STACKMAPS, SECTION_DATA];

/// One section found by name.
#[derive(Clone, Copy)]
pub(crate) struct FoundSection<'data> {
    pub index: SectionIndex,
    pub bytes: &'data [u8],
}

const ENDIAN: LittleEndian = LittleEndian;

impl<'data> ElfObject<'data> {
    /// Parses the ELF header and section table, refusing anything but a
    /// little-endian ELF64 x86-64 relocatable object.
    pub fn parse(data: &'data [u8]) -> Result<Self, LoadError> {
        if data.len() < 4 || data[0..4] != elf::ELFMAG {
            return Err(LoadError::new("not an ELF object (bad magic)"));
        }
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

    /// The contents of the section called `name`, if there is one.
    pub fn section(&self, name: &'static str) -> Result<Option<FoundSection<'data>>, LoadError> {
        let found = match KNOWN_SECTIONS.iter().position(|k| *k == name) {
            Some(slot) => self.known[slot].and_then(|index| Some((index, self.sections.section(index).ok()?))),
            None => self.sections.section_by_name(ENDIAN, name.as_bytes()),
        };
        let Some((index, header)) = found else {
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
        Ok(Some(FoundSection { index, bytes }))
    }

    /// Resolves every relocation of `.text` (section `text`, `text_len`
    /// bytes). Relocations of the kiln sections are refused, since nothing
    /// there holds addresses; those of other sections (debug info, unwind
    /// tables) are ignored because those sections are never loaded.
    pub fn text_relocations(&self, text: SectionIndex, text_len: usize) -> Result<Vec<Relocation>, LoadError> {
        let mut out = Vec::new();
        for (_, section) in self.sections.enumerate() {
            let sh_type = section.sh_type(ENDIAN);
            if sh_type != elf::SHT_RELA && sh_type != elf::SHT_REL {
                continue;
            }
            let applies_to = section.info_link(ENDIAN);
            if applies_to != text {
                if let Some(name) = self.kiln_section_name(applies_to) {
                    return Err(LoadError::in_section(
                        name,
                        "relocations of a kiln metadata section are not supported",
                    ));
                }
                continue;
            }
            if sh_type == elf::SHT_REL {
                return Err(LoadError::in_section(
                    SECTION_TEXT,
                    "SHT_REL relocations (implicit addends) are not supported",
                ));
            }
            self.resolve_section(section, text, text_len, &mut out)?;
        }
        out.sort_by_key(|r| r.offset);
        Ok(out)
    }

    fn resolve_section(
        &self,
        section: &'data SectionHeader64<LittleEndian>,
        text: SectionIndex,
        text_len: usize,
        out: &mut Vec<Relocation>,
    ) -> Result<(), LoadError> {
        let bad = |e: object::read::Error| LoadError::in_section(".rela.text", format!("malformed relocations: {e}"));
        let Some((relas, symtab_index)) = section.rela(ENDIAN, self.data).map_err(bad)? else {
            return Ok(());
        };
        let symbols = self.sections.symbol_table_by_index(ENDIAN, self.data, symtab_index).map_err(bad)?;
        for rela in relas {
            let offset = rela.r_offset(ENDIAN);
            let r_type = rela.r_type(ENDIAN, false);
            let sym_index = SymbolIndex(rela.r_sym(ENDIAN, false) as usize);
            let here = || format!("{} at .text+{offset:#x}", relocation_name(r_type));
            if sym_index.0 == 0 {
                return Err(LoadError::at(SECTION_TEXT, offset, format!("relocation {} has no target symbol", here())));
            }
            let symbol = symbols.symbol(sym_index).map_err(bad)?;
            let symbol_name = || {
                let name = symbols.symbol_name(ENDIAN, symbol).unwrap_or(b"<unnamed>");
                String::from_utf8_lossy(name).into_owned()
            };
            let defined_in = symbols.symbol_section(ENDIAN, symbol, sym_index).map_err(bad)?;
            if defined_in != Some(text) {
                let why = if defined_in.is_none() { "undefined symbol" } else { "symbol outside .text" };
                return Err(LoadError::at(
                    SECTION_TEXT,
                    offset,
                    format!("relocation {} refers to {why} `{}`", here(), symbol_name()),
                ));
            }
            let target = symbol.st_value(ENDIAN);
            if target > text_len as u64 {
                return Err(LoadError::at(
                    SECTION_TEXT,
                    offset,
                    format!("relocation {} targets `{}` at {target:#x}, past the end of .text", here(), symbol_name()),
                ));
            }
            out.push(Relocation::resolve(r_type, offset, target, rela.r_addend(ENDIAN), text_len)?);
        }
        Ok(())
    }

    fn kiln_section_name(&self, index: SectionIndex) -> Option<&'static str> {
        let header = self.sections.section(index).ok()?;
        let name = self.sections.section_name(ENDIAN, header).ok()?;
        [SECTION_META, SECTION_TRAPS, SECTION_STACKMAPS, SECTION_DATA].into_iter().find(|n| n.as_bytes() == name)
    }
}
