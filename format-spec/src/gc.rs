//! The encoding of internal references (the any hierarchy) and the layout
//! of GC objects (SPEC 3.14).
//!
//! A reference of the any, extern or exn hierarchy is one 64-bit word:
//! - 0 is null;
//! - a word with bit 0 set is an `i31`: the integer sits in bits 1..=31;
//! - any other word points at a counted block, whose header is shared by
//!   host values (`VMExternData`), exceptions and GC objects: the count at
//!   offset 0 (where the externref barriers already reach it), then the
//!   header word and the engine type id.
//!
//! So `any.convert_extern` and `extern.convert_any` change no bits, and
//! `ref.eq` compares words. Compiled code reads a GC object's fields at
//! the offsets computed here, and nowhere else.

use crate::{ArrayType, StorageType, StructType, ValType};

/// Offset of the 64-bit reference count (the same as `extern_data::REF_COUNT`).
pub const REF_COUNT: u32 = 0;
/// Offset of the 32-bit header word: [`KIND_MASK`] and the flag bits.
pub const HEADER: u32 = 8;
/// Offset of the 32-bit engine type id of a struct or array
/// ([`HOST_TYPE_ID`] for any other block).
pub const TYPE_ID: u32 = 12;
/// Size of the common header; a struct's fields start here.
pub const HEADER_SIZE: u32 = 16;
/// Offset of an array's 32-bit length.
pub const ARRAY_LENGTH: u32 = 16;

/// Bits of the header word that say what the block is.
pub const KIND_MASK: u32 = 0b11;
/// Kind of a host value or an exception (`VMExternData`).
pub const KIND_HOST: u32 = 0;
/// Kind of a struct.
pub const KIND_STRUCT: u32 = 1;
/// Kind of an array.
pub const KIND_ARRAY: u32 = 2;
/// Flag: the block is in the cycle collector's candidate buffer.
pub const FLAG_BUFFERED: u32 = 1 << 2;
/// Flag: the block can hold no counted reference, so it is never part of
/// a cycle and never a candidate (host values, exceptions, and GC objects
/// whose type has no reference field).
pub const FLAG_ACYCLIC: u32 = 1 << 3;
/// The flags that spare a block the candidate buffer when its count falls
/// to a non-zero value: compiled code calls `gc_possible_root` only when
/// none is set.
pub const NOT_A_CANDIDATE: u32 = FLAG_BUFFERED | FLAG_ACYCLIC;
/// Bits 4 and up belong to the runtime (the collector's colour).
pub const RUNTIME_BITS_SHIFT: u32 = 4;

/// The type id of a block that is not a struct or array.
pub const HOST_TYPE_ID: u32 = u32::MAX;

/// The tag bit of an `i31`.
pub const I31_TAG: u64 = 1;

/// The reference word of an `i31` holding the low 31 bits of `value`.
pub fn i31_ref(value: u32) -> u64 {
    (u64::from(value & 0x7fff_ffff) << 1) | I31_TAG
}

/// The `i31` value of a reference word, zero-extended (`i31.get_u`).
pub fn i31_get_u(word: u64) -> u32 {
    (word as u32) >> 1
}

/// The `i31` value of a reference word, sign-extended (`i31.get_s`).
pub fn i31_get_s(word: u64) -> i32 {
    (word as i32) >> 1
}

/// Size and alignment in bytes of a field or element.
#[inline]
pub fn storage_size(storage: StorageType) -> u32 {
    match storage {
        StorageType::I8 => 1,
        StorageType::I16 => 2,
        StorageType::Val(ValType::I32 | ValType::F32) => 4,
        StorageType::Val(ValType::I64 | ValType::F64 | ValType::Ref(_)) => 8,
        StorageType::Val(ValType::V128) => 16,
    }
}

fn align_up(offset: u32, align: u32) -> u32 {
    offset.div_ceil(align) * align
}

/// Where a struct's fields are: each at the next offset aligned to its
/// size, in declaration order, after the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructLayout {
    /// Offset of each field from the start of the object.
    pub field_offsets: Vec<u32>,
    /// Size of the object, rounded up to 16.
    pub size: u32,
}

impl StructLayout {
    /// The layout of a struct of type `ty`.
    pub fn of(ty: &StructType) -> StructLayout {
        let mut offset = HEADER_SIZE;
        let field_offsets = ty
            .fields
            .iter()
            .map(|f| {
                let size = storage_size(f.storage);
                let at = align_up(offset, size);
                offset = at + size;
                at
            })
            .collect();
        StructLayout { field_offsets, size: align_up(offset, 16) }
    }
}

/// Where an array's elements are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayLayout {
    /// Offset of element 0 from the start of the object.
    pub elements_offset: u32,
    /// Size of one element.
    pub element_size: u32,
}

impl ArrayLayout {
    /// The layout of an array of type `ty`.
    pub fn of(ty: &ArrayType) -> ArrayLayout {
        let element_size = storage_size(ty.element.storage);
        ArrayLayout { elements_offset: align_up(ARRAY_LENGTH + 4, element_size), element_size }
    }

    /// Size of an array of `len` elements, rounded up to 16, or `None`
    /// past `u32::MAX`.
    pub fn size(&self, len: u32) -> Option<u32> {
        let bytes = u64::from(self.elements_offset) + u64::from(len) * u64::from(self.element_size);
        u32::try_from(bytes.div_ceil(16) * 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldType;

    fn field(storage: StorageType) -> FieldType {
        FieldType { storage, mutable: true }
    }

    #[test]
    fn struct_fields_are_aligned_in_order() {
        let ty = StructType {
            fields: vec![
                field(StorageType::I8),
                field(StorageType::Val(ValType::I64)),
                field(StorageType::I16),
                field(StorageType::Val(ValType::V128)),
            ],
        };
        let layout = StructLayout::of(&ty);
        assert_eq!(layout.field_offsets, vec![16, 24, 32, 48]);
        assert_eq!(layout.size, 64);
        assert_eq!(StructLayout::of(&StructType { fields: vec![] }).size, 16);
    }

    #[test]
    fn array_elements_follow_the_length() {
        let of = |s| ArrayLayout::of(&ArrayType { element: field(s) });
        assert_eq!(of(StorageType::I8).elements_offset, 20);
        assert_eq!(of(StorageType::Val(ValType::I64)).elements_offset, 24);
        assert_eq!(of(StorageType::Val(ValType::V128)).elements_offset, 32);
        assert_eq!(of(StorageType::I8).size(13), Some(48));
        assert_eq!(of(StorageType::Val(ValType::I64)).size(u32::MAX), None);
    }

    #[test]
    fn i31_round_trips() {
        assert_eq!(i31_get_s(i31_ref(-1i32 as u32)), -1);
        assert_eq!(i31_get_u(i31_ref(-1i32 as u32)), 0x7fff_ffff);
        assert_eq!(i31_get_s(i31_ref(0x4000_0000)), -0x4000_0000);
        assert_eq!(i31_get_u(i31_ref(5)), 5);
        assert_eq!(i31_ref(0) & I31_TAG, 1, "even i31 zero is not null");
    }
}
