//! Stack maps of `.kiln.stackmaps`, read in place.
//!
//! The section (SPEC.md 2.4) is three little-endian `u32` arrays behind a
//! two-word count header, so the loader searches it where it lies in the
//! artifact and decodes nothing when loading:
//!
//! ```text
//! u32 records, u32 slots
//! records × (u32 return_offset, u32 frame_size, u32 first_slot)
//! slots × u32 slot offset
//! ```
//!
//! Record `i`'s slots are `first_slot[i] .. first_slot[i + 1]` (the total
//! for the last record). An empty section is an empty table.

use crate::le_table::{lower_bound, u32_at};
use crate::{FormatError, Result, SECTION_STACKMAPS};

/// The live reference slots of one safepoint, keyed by the exact return
/// address (as an offset in `.text`) of the call that is the safepoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackMapRecord {
    /// Offset in `.text` of the return address of the call.
    pub return_offset: u32,
    /// Size of the frame below the saved frame pointer, in bytes (from
    /// Cranelift: the distance from SP at the call to the frame's top).
    pub frame_size: u32,
    /// Offsets from SP at the call of the 8-byte slots that hold live
    /// references, each below `frame_size`.
    pub slots: Vec<u32>,
}

const HEADER_SIZE: usize = 8;
const RECORD_SIZE: usize = 12;
const SLOT_SIZE: usize = 4;

impl StackMapRecord {
    /// Encodes records, which must be sorted by `return_offset`.
    pub fn encode_all(records: &[StackMapRecord]) -> Vec<u8> {
        let slots: usize = records.iter().map(|r| r.slots.len()).sum();
        let mut out = Vec::with_capacity(HEADER_SIZE + records.len() * RECORD_SIZE + slots * SLOT_SIZE);
        let count = |n: usize| u32::try_from(n).expect("fewer than 2^32 stack map entries");
        out.extend_from_slice(&count(records.len()).to_le_bytes());
        out.extend_from_slice(&count(slots).to_le_bytes());
        let mut first = 0;
        for r in records {
            out.extend_from_slice(&r.return_offset.to_le_bytes());
            out.extend_from_slice(&r.frame_size.to_le_bytes());
            out.extend_from_slice(&count(first).to_le_bytes());
            first += r.slots.len();
        }
        for slot in records.iter().flat_map(|r| &r.slots) {
            out.extend_from_slice(&slot.to_le_bytes());
        }
        out
    }

    /// Decodes and validates a whole section: sorted return offsets, slot
    /// ranges in order, every slot inside its frame. The loader does not
    /// need this (it reads the section in place through
    /// [`StackMapTable`]); tools and tests do.
    pub fn decode_all(bytes: &[u8]) -> Result<Vec<StackMapRecord>> {
        let table = StackMapTable::parse(bytes)?;
        let mut out: Vec<StackMapRecord> = Vec::with_capacity(table.len());
        for i in 0..table.len() {
            let at = HEADER_SIZE + i * RECORD_SIZE;
            let map = table.get(i).ok_or_else(|| {
                FormatError::new(SECTION_STACKMAPS, at, format!("stack map {i} has a bad slot range"))
            })?;
            if out.last().is_some_and(|prev| prev.return_offset >= map.return_offset) {
                return Err(FormatError::new(SECTION_STACKMAPS, at, "stack maps not sorted by return offset"));
            }
            let slots: Vec<u32> = map.slots().collect();
            if slots.len() != map.slot_count() {
                return Err(FormatError::new(
                    SECTION_STACKMAPS,
                    at,
                    format!("stack map {i} has a slot outside its {}-byte frame", map.frame_size),
                ));
            }
            out.push(StackMapRecord { return_offset: map.return_offset, frame_size: map.frame_size, slots });
        }
        Ok(out)
    }
}

/// `.kiln.stackmaps` read in place; see the module docs for the layout.
///
/// Parsing checks only that the arrays fit the section. Everything else is
/// checked where it is used: a record whose slot range is out of order
/// reads as no map, and a slot outside its frame is skipped, so that no
/// bytes can make the GC read outside a frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct StackMapTable<'a> {
    records: &'a [u8],
    slots: &'a [u8],
}

/// One stack map of a [`StackMapTable`].
#[derive(Clone, Copy, Debug)]
pub struct StackMap<'a> {
    /// Offset in `.text` of the return address of the call.
    pub return_offset: u32,
    /// Distance from SP at the call up to the frame pointer.
    pub frame_size: u32,
    slots: &'a [u8],
}

impl<'a> StackMap<'a> {
    /// Offsets from SP at the call of the 8-byte slots holding live
    /// references; slots that would not lie inside the frame are left out.
    pub fn slots(&self) -> impl Iterator<Item = u32> + 'a {
        let frame_size = self.frame_size;
        self.slots
            .chunks_exact(SLOT_SIZE)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .filter(move |&slot| slot.checked_add(8).is_some_and(|end| end <= frame_size))
    }

    /// Number of slots the record lists, inside its frame or not.
    pub fn slot_count(&self) -> usize {
        self.slots.len() / SLOT_SIZE
    }
}

impl<'a> StackMapTable<'a> {
    /// The table of a `.kiln.stackmaps` section.
    pub fn parse(section: &'a [u8]) -> Result<StackMapTable<'a>> {
        if section.is_empty() {
            return Ok(StackMapTable::default());
        }
        if section.len() < HEADER_SIZE {
            return Err(FormatError::new(SECTION_STACKMAPS, 0, "section shorter than its 8-byte header"));
        }
        let records = u32_at(section, 0) as usize;
        let slots = u32_at(section, 4) as usize;
        let records_end = records.checked_mul(RECORD_SIZE).and_then(|n| n.checked_add(HEADER_SIZE));
        let end = records_end.and_then(|e| slots.checked_mul(SLOT_SIZE).and_then(|n| n.checked_add(e)));
        match (records_end, end) {
            (Some(records_end), Some(end)) if end == section.len() => {
                Ok(StackMapTable { records: &section[HEADER_SIZE..records_end], slots: &section[records_end..end] })
            }
            _ => Err(FormatError::new(
                SECTION_STACKMAPS,
                0,
                format!("{records} records and {slots} slots do not fill the {}-byte section", section.len()),
            )),
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len() / RECORD_SIZE
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn return_offset(&self, i: usize) -> u32 {
        u32_at(self.records, i * RECORD_SIZE)
    }

    /// Record `i`, if it exists and its slot range is in order.
    pub fn get(&self, i: usize) -> Option<StackMap<'a>> {
        if i >= self.len() {
            return None;
        }
        let at = i * RECORD_SIZE;
        let total = self.slots.len() / SLOT_SIZE;
        let first = u32_at(self.records, at + 8) as usize;
        let end = if i + 1 < self.len() { u32_at(self.records, at + RECORD_SIZE + 8) as usize } else { total };
        if first > end || end > total {
            return None;
        }
        Some(StackMap {
            return_offset: self.return_offset(i),
            frame_size: u32_at(self.records, at + 4),
            slots: &self.slots[first * SLOT_SIZE..end * SLOT_SIZE],
        })
    }

    /// The map of the call whose return address is `.text` offset
    /// `return_offset`; never a neighbour's.
    pub fn lookup(&self, return_offset: u32) -> Option<StackMap<'a>> {
        let i = lower_bound(self.len(), return_offset, |i| self.return_offset(i));
        if i < self.len() && self.return_offset(i) == return_offset {
            self.get(i)
        } else {
            None
        }
    }

    /// Every record whose slot range is in order, in order.
    pub fn iter(&self) -> impl Iterator<Item = StackMap<'a>> + 'a {
        let table = *self;
        (0..table.len()).filter_map(move |i| table.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<StackMapRecord> {
        vec![
            StackMapRecord { return_offset: 10, frame_size: 32, slots: vec![0, 8] },
            StackMapRecord { return_offset: 20, frame_size: 16, slots: vec![] },
            StackMapRecord { return_offset: 30, frame_size: 48, slots: vec![16, 24, 40] },
        ]
    }

    #[test]
    fn round_trip_and_lookup_in_place() {
        let bytes = StackMapRecord::encode_all(&records());
        assert_eq!(StackMapRecord::decode_all(&bytes).unwrap(), records());
        let table = StackMapTable::parse(&bytes).unwrap();
        assert_eq!(table.len(), 3);
        let map = table.lookup(30).unwrap();
        assert_eq!((map.frame_size, map.slots().collect::<Vec<_>>()), (48, vec![16, 24, 40]));
        assert_eq!(table.lookup(20).unwrap().slots().count(), 0);
        for missing in [0, 11, 29, 31] {
            assert!(table.lookup(missing).is_none(), "{missing}");
        }
        assert!(StackMapTable::parse(&[]).unwrap().lookup(10).is_none());
        assert_eq!(StackMapRecord::decode_all(&StackMapRecord::encode_all(&[])).unwrap(), vec![]);
    }

    #[test]
    fn sizes_must_fill_the_section() {
        let bytes = StackMapRecord::encode_all(&records());
        assert!(StackMapTable::parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(StackMapTable::parse(&bytes[..4]).is_err());
        let mut huge = bytes.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(StackMapTable::parse(&huge).is_err());
    }

    #[test]
    fn bad_slot_ranges_and_slots_outside_the_frame_are_never_used() {
        let mut bytes = StackMapRecord::encode_all(&records());
        // The last record's first slot past the slot array.
        let last_first = HEADER_SIZE + 2 * RECORD_SIZE + 8;
        bytes[last_first..last_first + 4].copy_from_slice(&9u32.to_le_bytes());
        let table = StackMapTable::parse(&bytes).unwrap();
        assert!(table.lookup(30).is_none());
        assert!(StackMapRecord::decode_all(&bytes).unwrap_err().to_string().contains("bad slot range"));

        let outside = vec![StackMapRecord { return_offset: 4, frame_size: 16, slots: vec![8, 12] }];
        let bytes = StackMapRecord::encode_all(&outside);
        let map = StackMapTable::parse(&bytes).unwrap().lookup(4).unwrap();
        assert_eq!(map.slots().collect::<Vec<_>>(), vec![8]);
        assert!(StackMapRecord::decode_all(&bytes).unwrap_err().to_string().contains("outside its 16-byte frame"));
    }
}
