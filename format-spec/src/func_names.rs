//! Function names of `.kiln.names`, read in place.
//!
//! Names matter only when something is reported (a backtrace, `kiln
//! inspect`), so they are kept out of the module info that every load
//! decodes. The section (SPEC.md 2.8) is:
//!
//! ```text
//! u32 names
//! names × (u32 func_index, u32 end)      sorted by func_index
//! UTF-8 bytes of every name, concatenated
//! ```
//!
//! Name `i` is the bytes from the previous record's `end` (0 for the first)
//! to its own. An empty section is an empty table.

use crate::le_table::{lower_bound, u32_at};
use crate::{FormatError, Result, SECTION_NAMES};

const HEADER_SIZE: usize = 4;
const RECORD_SIZE: usize = 8;

/// Encodes function names (function index, name) as `.kiln.names`; the
/// first name given for an index wins, as in the name section. Empty
/// without names.
pub fn encode_function_names(names: &[(u32, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(u32, String)> = names.iter().collect();
    // Stable: of two names for one index, the first stays first.
    sorted.sort_by_key(|(index, _)| *index);
    sorted.dedup_by_key(|(index, _)| *index);
    if sorted.is_empty() {
        return Vec::new();
    }
    let strings: usize = sorted.iter().map(|(_, n)| n.len()).sum();
    let mut out = Vec::with_capacity(HEADER_SIZE + sorted.len() * RECORD_SIZE + strings);
    let count = |n: usize| u32::try_from(n).expect("names fit in 4 GiB");
    out.extend_from_slice(&count(sorted.len()).to_le_bytes());
    let mut end = 0;
    for (index, name) in &sorted {
        end += name.len();
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&count(end).to_le_bytes());
    }
    for (_, name) in &sorted {
        out.extend_from_slice(name.as_bytes());
    }
    out
}

/// `.kiln.names` read in place; see the module docs for the layout.
///
/// Parsing checks only that the records fit the section; a name whose
/// range is out of order or not UTF-8 reads as no name.
#[derive(Clone, Copy, Debug, Default)]
pub struct FunctionNames<'a> {
    records: &'a [u8],
    strings: &'a [u8],
}

impl<'a> FunctionNames<'a> {
    /// The table of a `.kiln.names` section.
    pub fn parse(section: &'a [u8]) -> Result<FunctionNames<'a>> {
        if section.is_empty() {
            return Ok(FunctionNames::default());
        }
        if section.len() < HEADER_SIZE {
            return Err(FormatError::new(SECTION_NAMES, 0, "section shorter than its 4-byte header"));
        }
        let names = u32_at(section, 0) as usize;
        match names.checked_mul(RECORD_SIZE).and_then(|n| n.checked_add(HEADER_SIZE)) {
            Some(end) if end <= section.len() => {
                Ok(FunctionNames { records: &section[HEADER_SIZE..end], strings: &section[end..] })
            }
            _ => Err(FormatError::new(
                SECTION_NAMES,
                0,
                format!("{names} name records do not fit the {}-byte section", section.len()),
            )),
        }
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.records.len() / RECORD_SIZE
    }

    /// Whether there is no name.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The name of function `func_index` (an index in the function space).
    pub fn get(&self, func_index: u32) -> Option<&'a str> {
        let index_of = |i: usize| u32_at(self.records, i * RECORD_SIZE);
        let i = lower_bound(self.len(), func_index, index_of);
        if i < self.len() && index_of(i) == func_index {
            self.name_of_record(i)
        } else {
            None
        }
    }

    fn name_of_record(&self, i: usize) -> Option<&'a str> {
        let start = if i == 0 { 0 } else { u32_at(self.records, (i - 1) * RECORD_SIZE + 4) as usize };
        let end = u32_at(self.records, i * RECORD_SIZE + 4) as usize;
        std::str::from_utf8(self.strings.get(start..end)?).ok()
    }

    /// Every readable (function index, name), in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'a str)> + 'a {
        let table = *self;
        (0..table.len()).filter_map(move |i| Some((u32_at(table.records, i * RECORD_SIZE), table.name_of_record(i)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_by_function_index() {
        let names =
            vec![(7, "seven".to_string()), (2, "two".to_string()), (7, "later".to_string()), (3, String::new())];
        let bytes = encode_function_names(&names);
        let table = FunctionNames::parse(&bytes).unwrap();
        assert_eq!(table.len(), 3);
        assert_eq!(table.get(2), Some("two"));
        assert_eq!(table.get(3), Some(""));
        assert_eq!(table.get(7), Some("seven"));
        assert_eq!(table.get(0), None);
        assert_eq!(table.get(8), None);
        assert_eq!(table.iter().collect::<Vec<_>>(), vec![(2, "two"), (3, ""), (7, "seven")]);
        assert!(encode_function_names(&[]).is_empty());
        assert_eq!(FunctionNames::parse(&[]).unwrap().get(0), None);
    }

    #[test]
    fn damaged_tables_read_as_no_name() {
        let mut bytes = encode_function_names(&[(1, "one".to_string())]);
        assert!(FunctionNames::parse(&bytes[..6]).is_err());
        // The name's end past the strings.
        bytes[8..12].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(FunctionNames::parse(&bytes).unwrap().get(1), None);
        let mut bytes = encode_function_names(&[(1, "one".to_string())]);
        let last = bytes.len() - 1;
        bytes[last] = 0xff;
        assert_eq!(FunctionNames::parse(&bytes).unwrap().get(1), None, "not UTF-8");
    }
}
