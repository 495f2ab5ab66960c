//! Exception handler records of `.kiln.handlers` (SPEC 2.6).
//!
//! One record per call site that lies inside a `try_table` (or a legacy
//! `try`) with handlers, keyed, like a stack map, by the exact return
//! address of the call. The loader's unwinder walks the Wasm frames from a
//! throw and, for each return address, takes this record's handlers in
//! order: the first whose tag is the exception's (or which catches all)
//! receives control at its landing pad.

use serde::{Deserialize, Serialize};

use crate::{FormatError, Result, SECTION_HANDLERS};

/// What one handler catches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandlerTag {
    /// Exceptions of the tag with this index in the module's tag space,
    /// as the frame's instance resolves it (imported tags are the
    /// exporter's tags).
    Tag(u32),
    /// Every exception (`catch_all`, `catch_all_ref`).
    All,
}

/// One handler of a call site, in the order the unwinder tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handler {
    /// What it catches.
    pub tag: HandlerTag,
    /// `.text` offset of the landing pad, in the same function as the call.
    pub landing_offset: u32,
}

/// The handlers of one call site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlerRecord {
    /// `.text` offset of the return address of the call.
    pub return_offset: u32,
    /// Distance from SP at the call up to the frame's FP: a landing pad
    /// runs with `SP = FP - frame_size`.
    pub frame_size: u32,
    /// Offset from SP at the call of the 8-byte slot holding the calling
    /// function's VMContext, through which handler tags are resolved.
    pub vmctx_slot: u32,
    /// The handlers, innermost first.
    pub handlers: Vec<Handler>,
}

impl HandlerRecord {
    /// Encodes records, which must be sorted by `return_offset` (bincode, standard config).
    pub fn encode_all(records: &[HandlerRecord]) -> Vec<u8> {
        bincode::serde::encode_to_vec(records, bincode::config::standard()).expect("handler records are encodable")
    }

    /// Decodes and checks that records are strictly sorted, that every
    /// record has a handler, and that frame offsets are 8-byte aligned.
    /// Offsets into `.text` are checked by the loader, which knows its size.
    pub fn decode_all(bytes: &[u8]) -> Result<Vec<HandlerRecord>> {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let (records, used): (Vec<HandlerRecord>, usize) =
            bincode::serde::decode_from_slice(bytes, crate::bounded_decoding())
                .map_err(|e| FormatError::new(SECTION_HANDLERS, 0, format!("bad handler records: {e}")))?;
        if used != bytes.len() {
            return Err(FormatError::new(SECTION_HANDLERS, used, "trailing bytes after handler records"));
        }
        if records.windows(2).any(|w| w[0].return_offset >= w[1].return_offset) {
            return Err(FormatError::new(SECTION_HANDLERS, 0, "handler records not sorted by return offset"));
        }
        for record in &records {
            if record.handlers.is_empty() {
                return Err(FormatError::new(SECTION_HANDLERS, 0, "handler record without handlers"));
            }
            if !record.frame_size.is_multiple_of(8)
                || !record.vmctx_slot.is_multiple_of(8)
                || record.vmctx_slot.checked_add(8).is_none_or(|end| end > record.frame_size)
            {
                return Err(FormatError::new(
                    SECTION_HANDLERS,
                    0,
                    format!(
                        "handler record at return offset {:#x}: vmctx slot {} outside a frame of {} bytes",
                        record.return_offset, record.vmctx_slot, record.frame_size
                    ),
                ));
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(return_offset: u32) -> HandlerRecord {
        HandlerRecord {
            return_offset,
            frame_size: 48,
            vmctx_slot: 8,
            handlers: vec![
                Handler { tag: HandlerTag::Tag(2), landing_offset: 100 },
                Handler { tag: HandlerTag::All, landing_offset: 120 },
            ],
        }
    }

    #[test]
    fn handler_records_round_trip() {
        let records = vec![record(16), record(32)];
        assert_eq!(HandlerRecord::decode_all(&HandlerRecord::encode_all(&records)).unwrap(), records);
        assert!(HandlerRecord::decode_all(&[]).unwrap().is_empty());
    }

    #[test]
    fn damaged_handler_records_are_refused() {
        let unsorted = HandlerRecord::encode_all(&[record(32), record(16)]);
        assert!(HandlerRecord::decode_all(&unsorted).unwrap_err().message.contains("sorted"));
        let mut outside = record(16);
        outside.vmctx_slot = 48;
        assert!(HandlerRecord::decode_all(&HandlerRecord::encode_all(&[outside]))
            .unwrap_err()
            .message
            .contains("outside"));
        let empty = HandlerRecord { handlers: Vec::new(), ..record(16) };
        assert!(HandlerRecord::decode_all(&HandlerRecord::encode_all(&[empty])).is_err());
    }
}
