//! Stack-map records of `.kiln.stackmaps`.

use serde::{Deserialize, Serialize};

use crate::{FormatError, Result, SECTION_STACKMAPS};

/// The live externref slots of one safepoint, keyed by the exact return
/// address (as an offset in `.text`) of the call that is the safepoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackMapRecord {
    /// Offset in `.text` of the return address of the call.
    pub return_offset: u32,
    /// Size of the frame below the saved frame pointer, in bytes (from
    /// Cranelift: the distance from SP at the call to the frame's top).
    pub frame_size: u32,
    /// Offsets from SP at the call of the 8-byte slots that hold live externrefs.
    pub slots: Vec<u32>,
}

impl StackMapRecord {
    /// Encodes records, which must be sorted by `return_offset` (bincode, standard config).
    pub fn encode_all(records: &[StackMapRecord]) -> Vec<u8> {
        bincode::serde::encode_to_vec(records, bincode::config::standard()).expect("stack maps are encodable")
    }

    /// Decodes and checks sortedness.
    pub fn decode_all(bytes: &[u8]) -> Result<Vec<StackMapRecord>> {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let (records, used): (Vec<StackMapRecord>, usize) =
            bincode::serde::decode_from_slice(bytes, crate::bounded_decoding())
                .map_err(|e| FormatError::new(SECTION_STACKMAPS, 0, format!("bad stack maps: {e}")))?;
        if used != bytes.len() {
            return Err(FormatError::new(SECTION_STACKMAPS, used, "trailing bytes after stack maps"));
        }
        if records.windows(2).any(|w| w[0].return_offset >= w[1].return_offset) {
            return Err(FormatError::new(SECTION_STACKMAPS, 0, "stack maps not sorted by return offset"));
        }
        Ok(records)
    }
}
