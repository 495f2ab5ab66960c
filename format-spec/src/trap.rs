//! Trap codes and the trap-table records of `.kiln.traps`.

use std::fmt;
use std::num::NonZeroU8;
use std::str::FromStr;

use crate::le_table::{lower_bound, u32_at};
use crate::{FormatError, Result, SECTION_TRAPS};

/// Why Wasm code trapped. Stored as one byte in `.kiln.traps`; the
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

            /// The code's identifier, as FromStr spells it.
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
    /// The trap's message ("integer divide by zero"), as Wasmtime prints a
    /// trap code; [`TrapCode::name`] is the identifier.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
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

/// Bytes one [`TrapRecord`] takes in `.kiln.traps`: a 4-byte offset in the
/// offset array and a 1-byte code in the code array.
pub const TRAP_RECORD_SIZE: usize = 5;

impl TrapRecord {
    /// Encodes records, which must be sorted by offset (then code), as
    /// `.kiln.traps` holds them (SPEC.md 2.3): every offset as a
    /// little-endian `u32`, then every code as one byte, in the same order.
    pub fn encode_all(records: &[TrapRecord]) -> Vec<u8> {
        let mut out = Vec::with_capacity(records.len() * TRAP_RECORD_SIZE);
        for r in records {
            out.extend_from_slice(&r.text_offset.to_le_bytes());
        }
        out.extend(records.iter().map(|r| r.code.as_u8()));
        out
    }

    /// Decodes and validates a whole section: its size, known codes and
    /// sorted offsets. The loader does not need this (it reads the section
    /// in place through [`TrapTable`]); tools and tests do.
    pub fn decode_all(section: &[u8]) -> Result<Vec<TrapRecord>> {
        let table = TrapTable::parse(section)?;
        let mut out: Vec<TrapRecord> = Vec::with_capacity(table.len());
        for i in 0..table.len() {
            let r = table.get(i).ok_or_else(|| {
                let at = table.len() * 4 + i;
                FormatError::new(SECTION_TRAPS, at, format!("unknown trap code {}", section[at]))
            })?;
            if out.last().is_some_and(|prev| prev.text_offset > r.text_offset) {
                return Err(FormatError::new(SECTION_TRAPS, i * 4, "trap records not sorted"));
            }
            out.push(r);
        }
        Ok(out)
    }
}

/// `.kiln.traps` read in place: checking it costs nothing per record, and
/// a lookup is a binary search over the offsets in the artifact's bytes.
///
/// A record whose code this release does not know reads as no record.
/// Offsets are trusted to be sorted, as the digest vouches for the bytes
/// kilnc wrote; were they not, a lookup could miss a record, never read out
/// of bounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapTable<'a> {
    offsets: &'a [u8],
    codes: &'a [u8],
}

impl<'a> TrapTable<'a> {
    /// The table of a `.kiln.traps` section, whose size must be a multiple
    /// of [`TRAP_RECORD_SIZE`].
    pub fn parse(section: &'a [u8]) -> Result<TrapTable<'a>> {
        if !section.len().is_multiple_of(TRAP_RECORD_SIZE) {
            return Err(FormatError::new(
                SECTION_TRAPS,
                section.len(),
                format!("section size {} is not a multiple of {TRAP_RECORD_SIZE}", section.len()),
            ));
        }
        let (offsets, codes) = section.split_at(section.len() / TRAP_RECORD_SIZE * 4);
        Ok(TrapTable { offsets, codes })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    fn offset(&self, i: usize) -> u32 {
        u32_at(self.offsets, 4 * i)
    }

    /// Record `i`, if it exists and its code is known.
    pub fn get(&self, i: usize) -> Option<TrapRecord> {
        let code = TrapCode::from_u8(*self.codes.get(i)?)?;
        Some(TrapRecord { text_offset: self.offset(i), code })
    }

    /// The trap code of the instruction at `.text` offset `text_offset`: of
    /// its first record, where a site has several.
    pub fn lookup(&self, text_offset: u32) -> Option<TrapCode> {
        let first = lower_bound(self.len(), text_offset, |i| self.offset(i));
        self.get(first).filter(|r| r.text_offset == text_offset).map(|r| r.code)
    }

    /// Every record with a known code, in order.
    pub fn iter(&self) -> impl Iterator<Item = TrapRecord> + 'a {
        let table = *self;
        (0..table.len()).filter_map(move |i| table.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_code_name_from_str_round_trip() {
        for &code in TrapCode::ALL {
            assert_eq!(code.name().parse::<TrapCode>().unwrap(), code);
            assert_eq!(code.to_string(), code.message());
            assert_eq!(TrapCode::from_u8(code.as_u8()), Some(code));
        }
        assert!("nope".parse::<TrapCode>().is_err());
        assert_eq!(TrapCode::from_u8(0), None);
        assert_eq!(TrapCode::INTEGER_DIVISION_BY_ZERO.to_string(), "integer divide by zero");
    }

    #[test]
    fn trap_records_round_trip() {
        let recs = vec![
            TrapRecord { text_offset: 4, code: TrapCode::UNREACHABLE },
            TrapRecord { text_offset: 90, code: TrapCode::MEMORY_OUT_OF_BOUNDS },
        ];
        assert_eq!(TrapRecord::decode_all(&TrapRecord::encode_all(&recs)).unwrap(), recs);
    }

    #[test]
    fn the_table_is_searched_in_place() {
        let recs = vec![
            TrapRecord { text_offset: 4, code: TrapCode::UNREACHABLE },
            TrapRecord { text_offset: 90, code: TrapCode::INTEGER_OVERFLOW },
            TrapRecord { text_offset: 90, code: TrapCode::INTEGER_DIVISION_BY_ZERO },
            TrapRecord { text_offset: 200, code: TrapCode::MEMORY_OUT_OF_BOUNDS },
        ];
        let bytes = TrapRecord::encode_all(&recs);
        assert_eq!(bytes.len(), recs.len() * TRAP_RECORD_SIZE);
        let table = TrapTable::parse(&bytes).unwrap();
        assert_eq!(table.len(), 4);
        assert_eq!(table.lookup(4), Some(TrapCode::UNREACHABLE));
        assert_eq!(table.lookup(90), Some(TrapCode::INTEGER_OVERFLOW));
        assert_eq!(table.lookup(200), Some(TrapCode::MEMORY_OUT_OF_BOUNDS));
        for missing in [0, 5, 89, 91, 201, u32::MAX] {
            assert_eq!(table.lookup(missing), None, "{missing}");
        }
        assert_eq!(table.iter().collect::<Vec<_>>(), recs);
        assert!(TrapTable::parse(&bytes[1..]).is_err());
        assert!(TrapTable::parse(&[]).unwrap().lookup(0).is_none());
    }

    #[test]
    fn unknown_codes_read_as_no_record_and_fail_full_decoding() {
        let mut bytes = TrapRecord::encode_all(&[TrapRecord { text_offset: 8, code: TrapCode::UNREACHABLE }]);
        bytes[4] = 0xee;
        assert_eq!(TrapTable::parse(&bytes).unwrap().lookup(8), None);
        let err = TrapRecord::decode_all(&bytes).unwrap_err();
        assert!(err.to_string().contains("unknown trap code 238"), "{err}");
    }
}
