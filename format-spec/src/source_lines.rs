//! Source lines of Wasm instructions: `.kiln.lines` (SPEC.md 2.10), read
//! in place.
//!
//! When a module carries DWARF (`clang -g`), kilnc reads its line program
//! and keeps only what a backtrace shows: for ranges of Wasm instructions,
//! the file, line and column they came from. The loader needs no DWARF
//! reader. Layout (little-endian `u32`s, then bytes):
//!
//! ```text
//! u32 F files, u32 N rows
//! F × u32 end of the file's name in the strings
//! N × u32 Wasm offset      sorted, ascending (module offsets, as 2.9)
//! N × u32 file             index in the files, or NO_SOURCE_FILE
//! N × u32 line             0 when unknown
//! N × u32 column           0 when unknown
//! UTF-8 bytes of every file name, concatenated
//! ```
//!
//! Row `i` covers Wasm offsets from its own up to the next row's; a row
//! with no file ends a sequence (what follows has no line).

use crate::le_table::{lower_bound, u32_at};
use crate::{FormatError, Result, SECTION_LINES};

/// The file of a row that ends a sequence: its range has no source line.
pub const NO_SOURCE_FILE: u32 = u32::MAX;

/// One row of the line table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLineRow {
    /// Offset in the Wasm module's bytes where the row starts.
    pub wasm_offset: u32,
    /// Index in the file names, or [`NO_SOURCE_FILE`].
    pub file: u32,
    /// Line, from 1; 0 when unknown.
    pub line: u32,
    /// Column, from 1; 0 when unknown.
    pub column: u32,
}

/// Where a Wasm instruction came from in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLocation<'a> {
    /// The file, as the DWARF names it (directory joined in).
    pub file: &'a str,
    /// Line, from 1; 0 when unknown.
    pub line: u32,
    /// Column, from 1; 0 when unknown.
    pub column: u32,
}

const HEADER_SIZE: usize = 8;

/// Encodes `.kiln.lines` from file names and rows sorted by Wasm offset
/// (of rows at one offset the last wins). Empty when there are no rows.
pub fn encode_source_lines(files: &[String], rows: &[SourceLineRow]) -> Vec<u8> {
    let mut kept: Vec<SourceLineRow> = Vec::with_capacity(rows.len());
    for &row in rows {
        match kept.last_mut() {
            Some(last) if last.wasm_offset == row.wasm_offset => *last = row,
            Some(last) if (last.file, last.line, last.column) == (row.file, row.line, row.column) => {}
            _ => kept.push(row),
        }
    }
    if kept.is_empty() {
        return Vec::new();
    }
    let count = |n: usize| u32::try_from(n).expect("line tables fit in 4 GiB").to_le_bytes();
    let strings: usize = files.iter().map(String::len).sum();
    let mut out = Vec::with_capacity(HEADER_SIZE + 4 * files.len() + 16 * kept.len() + strings);
    out.extend_from_slice(&count(files.len()));
    out.extend_from_slice(&count(kept.len()));
    let mut end = 0;
    for file in files {
        end += file.len();
        out.extend_from_slice(&count(end));
    }
    for field in [
        |r: &SourceLineRow| r.wasm_offset,
        |r: &SourceLineRow| r.file,
        |r: &SourceLineRow| r.line,
        |r: &SourceLineRow| r.column,
    ] {
        for row in &kept {
            out.extend_from_slice(&field(row).to_le_bytes());
        }
    }
    for file in files {
        out.extend_from_slice(file.as_bytes());
    }
    out
}

/// `.kiln.lines` read in place; see the module docs for the layout.
///
/// Parsing checks that the arrays fit the section; a row whose file is
/// missing, or a file name out of order or not UTF-8, reads as no line.
#[derive(Clone, Copy, Debug, Default)]
pub struct SourceLines<'a> {
    file_ends: &'a [u8],
    rows: usize,
    columns: &'a [u8],
    strings: &'a [u8],
}

impl<'a> SourceLines<'a> {
    /// The table of a `.kiln.lines` section; empty means no lines.
    pub fn parse(section: &'a [u8]) -> Result<SourceLines<'a>> {
        if section.is_empty() {
            return Ok(SourceLines::default());
        }
        if section.len() < HEADER_SIZE {
            return Err(FormatError::new(SECTION_LINES, 0, "section shorter than its 8-byte header"));
        }
        let files = u32_at(section, 0) as usize;
        let rows = u32_at(section, 4) as usize;
        let tables_end = files
            .checked_mul(4)
            .and_then(|f| rows.checked_mul(16).and_then(|r| r.checked_add(f)))
            .and_then(|n| n.checked_add(HEADER_SIZE));
        match tables_end {
            Some(end) if end <= section.len() => Ok(SourceLines {
                file_ends: &section[HEADER_SIZE..HEADER_SIZE + 4 * files],
                rows,
                columns: &section[HEADER_SIZE + 4 * files..end],
                strings: &section[end..],
            }),
            _ => Err(FormatError::new(
                SECTION_LINES,
                0,
                format!("{files} files and {rows} rows do not fit the {}-byte section", section.len()),
            )),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Field `column` (0 offset, 1 file, 2 line, 3 column) of row `i`.
    fn field(&self, column: usize, i: usize) -> u32 {
        u32_at(self.columns, 4 * (column * self.rows + i))
    }

    /// Row `i`.
    pub fn get(&self, i: usize) -> Option<SourceLineRow> {
        (i < self.rows).then(|| SourceLineRow {
            wasm_offset: self.field(0, i),
            file: self.field(1, i),
            line: self.field(2, i),
            column: self.field(3, i),
        })
    }

    /// The name of file `index`.
    pub fn file(&self, index: u32) -> Option<&'a str> {
        let index = index as usize;
        let end_of = |i: usize| u32_at(self.file_ends, 4 * i) as usize;
        if index >= self.file_ends.len() / 4 {
            return None;
        }
        let start = if index == 0 { 0 } else { end_of(index - 1) };
        std::str::from_utf8(self.strings.get(start..end_of(index))?).ok()
    }

    /// Where the instruction at module offset `wasm_offset` came from: the
    /// nearest row at or before it, if that row has a file.
    pub fn lookup(&self, wasm_offset: u32) -> Option<SourceLocation<'a>> {
        let past = lower_bound(self.rows, wasm_offset.saturating_add(1), |i| self.field(0, i));
        let row = self.get(past.checked_sub(1)?)?;
        if row.wasm_offset > wasm_offset || row.file == NO_SOURCE_FILE {
            return None;
        }
        Some(SourceLocation { file: self.file(row.file)?, line: row.line, column: row.column })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(wasm_offset: u32, file: u32, line: u32, column: u32) -> SourceLineRow {
        SourceLineRow { wasm_offset, file, line, column }
    }

    #[test]
    fn lookups_find_the_row_covering_an_offset() {
        let files = vec!["/src/a.c".to_string(), "b.h".to_string()];
        let rows = [row(0x20, 0, 3, 1), row(0x24, 1, 9, 5), row(0x24, 0, 4, 2), row(0x30, NO_SOURCE_FILE, 0, 0)];
        let bytes = encode_source_lines(&files, &rows);
        let table = SourceLines::parse(&bytes).unwrap();
        assert_eq!(table.len(), 3);
        assert_eq!(table.lookup(0x1f), None);
        assert_eq!(table.lookup(0x20), Some(SourceLocation { file: "/src/a.c", line: 3, column: 1 }));
        assert_eq!(table.lookup(0x2f), Some(SourceLocation { file: "/src/a.c", line: 4, column: 2 }));
        assert_eq!(table.lookup(0x30), None);
        assert_eq!(table.file(1), Some("b.h"));
        assert_eq!(table.file(2), None);
        assert!(encode_source_lines(&files, &[]).is_empty());
        assert_eq!(SourceLines::parse(&[]).unwrap().lookup(0), None);
    }

    #[test]
    fn damaged_tables_are_refused_or_read_as_no_line() {
        let files = vec!["a.c".to_string()];
        let bytes = encode_source_lines(&files, &[row(4, 0, 1, 1)]);
        assert!(SourceLines::parse(&bytes[..10]).is_err());
        let mut unknown_file = bytes.clone();
        // The row's file index, after the header, one file end and one offset.
        unknown_file[16..20].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(SourceLines::parse(&unknown_file).unwrap().lookup(4), None);
    }
}
