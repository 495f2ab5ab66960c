//! Trap codes and the trap-table records of `.kiln.traps`.

use std::fmt;
use std::num::NonZeroU8;
use std::str::FromStr;

use crate::{FormatError, Result, SECTION_TRAPS};

/// Why Wasm code trapped. Stored as one byte in [`TrapRecord`]s; the
/// compiler uses the same byte as Cranelift's user trap code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrapCode(NonZeroU8);

macro_rules! trap_codes {
    ($($name:ident = $val:literal, $ident:literal, $msg:literal;)*) => {
        impl TrapCode {
            $(
                #[doc = concat!("`", $ident, "`: ", $msg, ".")]
                pub const $name: TrapCode = TrapCode(NonZeroU8::new($val).unwrap());
            )*
            /// Every trap code.
            pub const ALL: &'static [TrapCode] = &[$(TrapCode::$name),*];

            /// The code's identifier, as Display and FromStr spell it.
            pub fn name(self) -> &'static str {
                match self.0.get() { $($val => $ident,)* _ => "unknown" }
            }

            /// The message of the WebAssembly specification for this trap.
            pub fn message(self) -> &'static str {
                match self.0.get() { $($val => $msg,)* _ => "unknown trap" }
            }
        }
    };
}

trap_codes! {
    STACK_OVERFLOW = 1, "stack_overflow", "call stack exhausted";
    MEMORY_OUT_OF_BOUNDS = 2, "memory_out_of_bounds", "out of bounds memory access";
    TABLE_OUT_OF_BOUNDS = 3, "table_out_of_bounds", "out of bounds table access";
    INDIRECT_CALL_TO_NULL = 4, "indirect_call_to_null", "uninitialized element";
    BAD_SIGNATURE = 5, "bad_signature", "indirect call type mismatch";
    UNDEFINED_ELEMENT = 6, "undefined_element", "undefined element";
    INTEGER_OVERFLOW = 7, "integer_overflow", "integer overflow";
    INTEGER_DIVISION_BY_ZERO = 8, "integer_division_by_zero", "integer divide by zero";
    BAD_CONVERSION_TO_INTEGER = 9, "bad_conversion_to_integer", "invalid conversion to integer";
    UNREACHABLE = 10, "unreachable", "unreachable";
    NULL_REFERENCE = 11, "null_reference", "null reference";
    INTERRUPT = 12, "interrupt", "interrupted";
    OUT_OF_FUEL = 13, "out_of_fuel", "all fuel consumed";
    NULL_FUNCTION_REFERENCE = 14, "null_function_reference", "null function reference";
    UNALIGNED_ATOMIC = 15, "unaligned_atomic", "unaligned atomic";
    EXPECTED_SHARED_MEMORY = 16, "expected_shared_memory", "expected shared memory";
    NULL_STRUCT_REFERENCE = 17, "null_struct_reference", "null structure reference";
    NULL_ARRAY_REFERENCE = 18, "null_array_reference", "null array reference";
    NULL_I31_REFERENCE = 19, "null_i31_reference", "null i31 reference";
    CAST_FAILURE = 20, "cast_failure", "cast failure";
    ARRAY_OUT_OF_BOUNDS = 21, "array_out_of_bounds", "out of bounds array access";
    GC_HEAP_EXHAUSTED = 22, "gc_heap_exhausted", "GC heap out of memory";
    ALLOCATION_TOO_LARGE = 23, "allocation_too_large", "allocation size too large";
}

impl TrapCode {
    /// The code from its byte, if it is a known code.
    pub fn from_u8(b: u8) -> Option<TrapCode> {
        TrapCode::ALL.iter().copied().find(|c| c.0.get() == b)
    }

    /// The code's byte.
    pub fn as_u8(self) -> u8 {
        self.0.get()
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of parsing an unknown trap-code name.
#[derive(Debug, thiserror::Error)]
#[error("unknown trap code `{0}`")]
pub struct UnknownTrapCode(String);

impl FromStr for TrapCode {
    type Err = UnknownTrapCode;
    fn from_str(s: &str) -> Result<TrapCode, UnknownTrapCode> {
        TrapCode::ALL.iter().copied().find(|c| c.name() == s).ok_or_else(|| UnknownTrapCode(s.to_string()))
    }
}

/// One record of `.kiln.traps`: 8 bytes, little-endian.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | offset in `.text` of the trapping instruction |
/// | 4 | 1 | [`TrapCode`] byte |
/// | 5 | 3 | zero |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapRecord {
    /// Offset of the faulting instruction in `.text`.
    pub text_offset: u32,
    /// The trap.
    pub code: TrapCode,
}

/// Size of an encoded [`TrapRecord`].
pub const TRAP_RECORD_SIZE: usize = 8;

impl TrapRecord {
    /// Appends the encoded record.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.text_offset.to_le_bytes());
        out.extend_from_slice(&[self.code.as_u8(), 0, 0, 0]);
    }

    /// Encodes a list of records, which must be sorted by offset.
    pub fn encode_all(records: &[TrapRecord]) -> Vec<u8> {
        let mut out = Vec::with_capacity(records.len() * TRAP_RECORD_SIZE);
        for r in records {
            r.write(&mut out);
        }
        out
    }

    /// Decodes record number `i` of a `.kiln.traps` section.
    pub fn read(section: &[u8], i: usize) -> Result<TrapRecord> {
        let at = i * TRAP_RECORD_SIZE;
        let b = section
            .get(at..at + TRAP_RECORD_SIZE)
            .ok_or_else(|| FormatError::new(SECTION_TRAPS, at, "trap record out of bounds"))?;
        let code = TrapCode::from_u8(b[4])
            .ok_or_else(|| FormatError::new(SECTION_TRAPS, at + 4, format!("unknown trap code {}", b[4])))?;
        Ok(TrapRecord { text_offset: u32::from_le_bytes(b[0..4].try_into().unwrap()), code })
    }

    /// Decodes and validates a whole section: sizes, known codes, sorted offsets.
    pub fn decode_all(section: &[u8]) -> Result<Vec<TrapRecord>> {
        if !section.len().is_multiple_of(TRAP_RECORD_SIZE) {
            return Err(FormatError::new(SECTION_TRAPS, section.len(), "section size is not a multiple of 8"));
        }
        let mut out = Vec::with_capacity(section.len() / TRAP_RECORD_SIZE);
        for i in 0..section.len() / TRAP_RECORD_SIZE {
            let r = TrapRecord::read(section, i)?;
            if let Some(prev) = out.last() {
                let prev: &TrapRecord = prev;
                if prev.text_offset > r.text_offset {
                    return Err(FormatError::new(SECTION_TRAPS, i * TRAP_RECORD_SIZE, "trap records not sorted"));
                }
            }
            out.push(r);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_code_display_from_str_round_trip() {
        for &code in TrapCode::ALL {
            assert_eq!(code.to_string().parse::<TrapCode>().unwrap(), code);
            assert_eq!(TrapCode::from_u8(code.as_u8()), Some(code));
        }
        assert!("nope".parse::<TrapCode>().is_err());
        assert_eq!(TrapCode::from_u8(0), None);
    }

    #[test]
    fn trap_records_round_trip() {
        let recs = vec![
            TrapRecord { text_offset: 4, code: TrapCode::UNREACHABLE },
            TrapRecord { text_offset: 90, code: TrapCode::MEMORY_OUT_OF_BOUNDS },
        ];
        assert_eq!(TrapRecord::decode_all(&TrapRecord::encode_all(&recs)).unwrap(), recs);
    }
}
