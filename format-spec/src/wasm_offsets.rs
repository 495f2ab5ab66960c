//! The Wasm offset of each machine instruction: `.kiln.wasm_offsets`
//! (SPEC.md 2.9), read in place.
//!
//! A backtrace names, for each frame, the Wasm instruction it was at, as
//! its offset from the start of the module's bytes (what Wasmtime prints,
//! and what `wasm-objdump -d` and wasmparser's operator offsets show). The
//! compiler knows it for every instruction Cranelift emits; the table keeps
//! only where it changes:
//!
//! ```text
//! N × u32 text offset      sorted, ascending
//! N × u32 Wasm offset      NO_WASM_OFFSET where code has none
//! ```
//!
//! Entry `i` covers `.text` from its text offset up to the next entry's.

use crate::le_table::{lower_bound, u32_at};
use crate::{FormatError, Result, SECTION_WASM_OFFSETS};

/// The Wasm offset of code that comes from no Wasm instruction (a
/// prologue, a trampoline, padding).
pub const NO_WASM_OFFSET: u32 = u32::MAX;

/// Bytes one entry takes: a text offset and a Wasm offset.
pub const WASM_OFFSET_ENTRY_SIZE: usize = 8;

/// One change of Wasm offset: from `text_offset` on, code comes from the
/// instruction at `wasm_offset` (or from none, [`NO_WASM_OFFSET`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WasmOffsetEntry {
    /// Offset in `.text`.
    pub text_offset: u32,
    /// Offset in the Wasm module's bytes, or [`NO_WASM_OFFSET`].
    pub wasm_offset: u32,
}

/// Encodes entries sorted by text offset as `.kiln.wasm_offsets`: of two
/// entries at one text offset the later wins, and an entry that repeats the
/// previous one's Wasm offset is dropped.
pub fn encode_wasm_offsets(entries: &[WasmOffsetEntry]) -> Vec<u8> {
    let mut kept: Vec<WasmOffsetEntry> = Vec::with_capacity(entries.len());
    for &entry in entries {
        match kept.last_mut() {
            Some(last) if last.text_offset == entry.text_offset => *last = entry,
            _ => kept.push(entry),
        }
        // Merging may make two neighbours equal.
        if kept.len() >= 2 && kept[kept.len() - 2].wasm_offset == kept[kept.len() - 1].wasm_offset {
            kept.pop();
        }
    }
    let mut out = Vec::with_capacity(kept.len() * WASM_OFFSET_ENTRY_SIZE);
    for e in &kept {
        out.extend_from_slice(&e.text_offset.to_le_bytes());
    }
    for e in &kept {
        out.extend_from_slice(&e.wasm_offset.to_le_bytes());
    }
    out
}

/// `.kiln.wasm_offsets` read in place; see the module docs for the layout.
///
/// Text offsets are trusted to be sorted (the digest vouches for the bytes
/// kilnc wrote): were they not, a lookup could give a wrong offset, never
/// read out of bounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmOffsets<'a> {
    text_offsets: &'a [u8],
    wasm_offsets: &'a [u8],
}

impl<'a> WasmOffsets<'a> {
    /// The table of a `.kiln.wasm_offsets` section, whose size must be a
    /// multiple of [`WASM_OFFSET_ENTRY_SIZE`]. Empty: no offsets.
    pub fn parse(section: &'a [u8]) -> Result<WasmOffsets<'a>> {
        if !section.len().is_multiple_of(WASM_OFFSET_ENTRY_SIZE) {
            return Err(FormatError::new(
                SECTION_WASM_OFFSETS,
                section.len(),
                format!("section size {} is not a multiple of {WASM_OFFSET_ENTRY_SIZE}", section.len()),
            ));
        }
        let (text_offsets, wasm_offsets) = section.split_at(section.len() / 2);
        Ok(WasmOffsets { text_offsets, wasm_offsets })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.text_offsets.len() / 4
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.text_offsets.is_empty()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<WasmOffsetEntry> {
        (i < self.len()).then(|| WasmOffsetEntry {
            text_offset: u32_at(self.text_offsets, 4 * i),
            wasm_offset: u32_at(self.wasm_offsets, 4 * i),
        })
    }

    /// The Wasm offset of the instruction at `.text` offset `text_offset`:
    /// that of the nearest entry at or before it, if it has one.
    pub fn lookup(&self, text_offset: u32) -> Option<u32> {
        // The first entry past `text_offset`, then one back.
        let past = lower_bound(self.len(), text_offset.saturating_add(1), |i| u32_at(self.text_offsets, 4 * i));
        let entry = self.get(past.checked_sub(1)?)?;
        (entry.text_offset <= text_offset && entry.wasm_offset != NO_WASM_OFFSET).then_some(entry.wasm_offset)
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = WasmOffsetEntry> + 'a {
        let table = *self;
        (0..table.len()).filter_map(move |i| table.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text_offset: u32, wasm_offset: u32) -> WasmOffsetEntry {
        WasmOffsetEntry { text_offset, wasm_offset }
    }

    #[test]
    fn lookups_find_the_nearest_preceding_entry() {
        let bytes = encode_wasm_offsets(&[entry(0x10, 0x2a), entry(0x18, 0x2c), entry(0x20, NO_WASM_OFFSET)]);
        assert_eq!(bytes.len(), 3 * WASM_OFFSET_ENTRY_SIZE);
        let table = WasmOffsets::parse(&bytes).unwrap();
        assert_eq!(table.lookup(0x0f), None);
        assert_eq!(table.lookup(0x10), Some(0x2a));
        assert_eq!(table.lookup(0x17), Some(0x2a));
        assert_eq!(table.lookup(0x18), Some(0x2c));
        assert_eq!(table.lookup(0x1f), Some(0x2c));
        assert_eq!(table.lookup(0x20), None);
        assert_eq!(table.lookup(u32::MAX), None);
        assert_eq!(WasmOffsets::parse(&[]).unwrap().lookup(0), None);
        assert!(WasmOffsets::parse(&bytes[1..]).is_err());
    }

    #[test]
    fn encoding_drops_repeats_and_keeps_the_last_of_one_offset() {
        let bytes = encode_wasm_offsets(&[entry(0, 5), entry(4, 5), entry(8, 6), entry(8, 7), entry(12, 7)]);
        let table = WasmOffsets::parse(&bytes).unwrap();
        assert_eq!(table.iter().collect::<Vec<_>>(), [entry(0, 5), entry(8, 7)]);
        assert!(encode_wasm_offsets(&[]).is_empty());
    }
}
