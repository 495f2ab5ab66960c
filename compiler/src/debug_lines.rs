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
