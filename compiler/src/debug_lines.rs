//! The source lines of a module's DWARF, for `.kiln.lines` (SPEC 2.10).
//!
//! `clang -g` for wasm32 puts DWARF in custom sections named after the ELF
//! sections (`.debug_info`, `.debug_line`, ...). Only the line programs
//! matter to a backtrace: each row maps an address to a file, line and
//! column. DWARF addresses for Wasm are offsets from the start of the Code
//! section's contents, so adding where those contents lie in the module
//! gives the module offsets that `.kiln.wasm_offsets` holds.
//!
//! Debug information is advisory, as the name section is: a damaged unit
//! or line program ends its own reading and never fails the compile.

use std::collections::HashMap;

use gimli::{ColumnType, Dwarf, EndianSlice, LittleEndian, SectionId};
use kiln_format::{SourceLineRow, NO_SOURCE_FILE};

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// The DWARF custom sections of a module, by name, and where the Code
/// section's contents start.
#[derive(Debug, Default)]
pub(crate) struct DebugSections<'data> {
    sections: HashMap<&'data str, &'data [u8]>,
    /// Module offset of the first byte of the Code section's contents.
    pub code_section_start: Option<u32>,
}

/// Source lines: file names and rows sorted by Wasm module offset.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SourceLineTable {
    pub files: Vec<String>,
    pub rows: Vec<SourceLineRow>,
}

impl<'data> DebugSections<'data> {
    /// Keeps custom section `name` if it is a DWARF section.
    pub fn add(&mut self, name: &'data str, data: &'data [u8]) {
        if name.starts_with(".debug_") {
            // The first of a name wins, as an ELF reader's lookup would.
            self.sections.entry(name).or_insert(data);
        }
    }

    /// The line table of every line program; empty without DWARF (or
    /// without a Code section, where no address could mean anything).
    pub fn line_table(&self) -> SourceLineTable {
        let (Some(code_start), true) = (self.code_section_start, self.sections.contains_key(".debug_line")) else {
            return SourceLineTable::default();
        };
        let load = |id: SectionId| -> Result<Slice<'data>, gimli::Error> {
            Ok(Slice::new(self.sections.get(id.name()).copied().unwrap_or(&[]), LittleEndian))
        };
        let Ok(dwarf) = Dwarf::load(load) else { return SourceLineTable::default() };
        let mut table = LineTableBuilder::default();
        let mut units = dwarf.units();
        while let Ok(Some(header)) = units.next() {
            let Ok(unit) = dwarf.unit(header) else { continue };
            // A unit whose program is damaged keeps the rows read so far.
            let _ = table.add_unit(&dwarf, &unit, code_start);
        }
        table.finish()
    }
}

#[derive(Default)]
struct LineTableBuilder {
    files: Vec<String>,
    file_index: HashMap<String, u32>,
    rows: Vec<SourceLineRow>,
}

impl LineTableBuilder {
    fn add_unit(
        &mut self,
        dwarf: &Dwarf<Slice<'_>>,
        unit: &gimli::Unit<Slice<'_>>,
        code_start: u32,
    ) -> gimli::Result<()> {
        let Some(program) = unit.line_program.clone() else { return Ok(()) };
        let comp_dir = unit.comp_dir.map(|d| d.to_string_lossy().into_owned());
        let mut rows = program.rows();
        // Files of this program already interned: (file index in the program) -> table index.
        let mut interned: HashMap<u64, u32> = HashMap::new();
        while let Some((header, row)) = rows.next_row()? {
            let Some(wasm_offset) = u32::try_from(row.address()).ok().and_then(|a| a.checked_add(code_start)) else {
                continue;
            };
            if row.end_sequence() {
                self.rows.push(SourceLineRow { wasm_offset, file: NO_SOURCE_FILE, line: 0, column: 0 });
                continue;
            }
            let file = match interned.get(&row.file_index()) {
                Some(&file) => file,
                None => {
                    let path = row
                        .file(header)
                        .and_then(|entry| file_path(dwarf, unit, header, entry, comp_dir.as_deref()))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    let file = self.intern(path);
                    interned.insert(row.file_index(), file);
                    file
                }
            };
            let line = row.line().map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX));
            let column = match row.column() {
                ColumnType::LeftEdge => 0,
                ColumnType::Column(c) => u32::try_from(c.get()).unwrap_or(u32::MAX),
            };
            self.rows.push(SourceLineRow { wasm_offset, file, line, column });
        }
        Ok(())
    }

    fn intern(&mut self, path: String) -> u32 {
        if let Some(&index) = self.file_index.get(&path) {
            return index;
        }
        let index = u32::try_from(self.files.len()).unwrap_or(NO_SOURCE_FILE - 1);
        self.files.push(path.clone());
        self.file_index.insert(path, index);
        index
    }

    /// The rows sorted by offset. Sequences are disjoint; where a sequence
    /// ends at the offset another starts, the start must win, so the end
    /// marker sorts first.
    fn finish(mut self) -> SourceLineTable {
        self.rows.sort_by_key(|r| (r.wasm_offset, r.file != NO_SOURCE_FILE));
        SourceLineTable { files: self.files, rows: self.rows }
    }
}

/// The path of a line program's file: its directory and name joined, and
/// the compilation directory first when that is still relative.
fn file_path(
    dwarf: &Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
    header: &gimli::LineProgramHeader<Slice<'_>>,
    entry: &gimli::FileEntry<Slice<'_>>,
    comp_dir: Option<&str>,
) -> Option<String> {
    let string = |attr| -> Option<String> {
        let value = dwarf.attr_string(unit, attr).ok()?;
        Some(value.to_string_lossy().into_owned())
    };
    let name = string(entry.path_name())?;
    let mut path = std::path::PathBuf::new();
    if let Some(dir) = comp_dir {
        path.push(dir);
    }
    if let Some(dir) = entry.directory(header).and_then(string) {
        path.push(dir);
    }
    path.push(name);
    Some(path.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gimli::write::{Address, DwarfUnit, EndianVec, LineProgram, LineString, Sections};

    /// The DWARF sections of one line program for `src/a.c` (compiled in
    /// `/work`): rows at Code-section addresses 2 (line 3, column 1) and 5
    /// (line 4, column 7), the sequence ending at 9.
    fn dwarf_sections() -> Vec<(&'static str, Vec<u8>)> {
        let encoding = gimli::Encoding { format: gimli::Format::Dwarf32, version: 4, address_size: 4 };
        let name = |s: &str| LineString::String(s.as_bytes().to_vec());
        let mut program =
            LineProgram::new(encoding, gimli::LineEncoding::default(), name("/work"), None, name("src/a.c"), None);
        let file = program.add_file(name("src/a.c"), program.default_directory(), None);
        program.begin_sequence(Some(Address::Constant(2)));
        for (address_offset, line, column) in [(0, 3, 1), (3, 4, 7)] {
            *program.row() = gimli::write::LineRow { address_offset, file, line, column, ..*program.row() };
            program.generate_row();
        }
        program.end_sequence(7);
        let mut unit = DwarfUnit::new(encoding);
        unit.unit.line_program = program;
        // As clang writes it: directory 0 of a DWARF 4 line program is the
        // unit's compilation directory.
        let root = unit.unit.root();
        unit.unit.get_mut(root).set(gimli::DW_AT_comp_dir, gimli::write::AttributeValue::String(b"/work".to_vec()));
        let mut sections = Sections::new(EndianVec::new(LittleEndian));
        unit.write(&mut sections).unwrap();
        let mut out = Vec::new();
        sections
            .for_each(|id, data| {
                out.push((id.name(), data.slice().to_vec()));
                Ok::<(), ()>(())
            })
            .unwrap();
        out
    }

    #[test]
    fn addresses_are_code_section_offsets() {
        let sections = dwarf_sections();
        let mut debug = DebugSections { code_section_start: Some(0x100), ..DebugSections::default() };
        for (name, data) in &sections {
            debug.add(name, data);
        }
        debug.add("name", b"not DWARF");
        let table = debug.line_table();
        assert_eq!(table.files, ["/work/src/a.c"]);
        let row = |wasm_offset, file, line, column| SourceLineRow { wasm_offset, file, line, column };
        assert_eq!(table.rows, [row(0x102, 0, 3, 1), row(0x105, 0, 4, 7), row(0x109, NO_SOURCE_FILE, 0, 0)]);
    }

    #[test]
    fn without_a_code_section_or_a_line_program_there_are_no_lines() {
        let sections = dwarf_sections();
        let mut debug = DebugSections::default();
        for (name, data) in &sections {
            debug.add(name, data);
        }
        assert_eq!(debug.line_table(), SourceLineTable::default());
        let mut damaged = DebugSections { code_section_start: Some(0), ..DebugSections::default() };
        damaged.add(".debug_line", &[0xff; 7]);
        damaged.add(".debug_info", &[0xff; 7]);
        assert!(damaged.line_table().rows.is_empty(), "damaged DWARF is ignored");
    }
}
