//! The raw object API: allocation, field access and inspection of GC
//! objects by reference word, for the host-facing handles (`AnyRef`,
//! `StructRef`, `ArrayRef`), the builtins and constant expressions.
//!
//! Conventions, everywhere in this file:
//! - an object is its reference word (`usize`): the address of a struct or
//!   array in the store's GC heap;
//! - values are 16-byte value slots encoded as in `vm/values.rs`: a
//!   reference's word in the low 8 bytes, an `i8`/`i16` field's value in
//!   the low bits of an `i32` (truncated when stored, zero-extended when
//!   read: the caller sign-extends for `_s` reads), every other value in
//!   its little-endian bytes;
//! - counting: an allocation takes its own count of every counted
//!   reference it stores (the caller keeps its counts); the new object
//!   comes back with one count that the caller owns (a builtin moves it
//!   into the activations table, a host handle keeps it). [`StoreOpaque::gc_get`]
//!   returns a new count of a reference read; [`StoreOpaque::gc_set`]
//!   takes a count of the new value before it drops the old one;
//! - the safe functions check that a word is a live object of this
//!   store's heap and an index is in bounds, and fail with an error
//!   otherwise; the unsafe ones need the value slots' references live.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::{gc, StorageType};

use super::layout::{FieldLayout, GcLayout, Shape};
use super::object::{self, increment};
use super::store::AllocError;
use crate::error::Error;
use crate::vm::abi::ValueSlot;
use crate::vm::store::{release_counts, StoreOpaque};

/// Whether an object is a struct or an array.
#[allow(dead_code)] // Built by the host handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GcKind {
    /// A struct.
    Struct,
    /// An array.
    Array,
}

/// Takes a count of the reference in `value` if `field` holds counted ones.
///
/// # Safety
/// A counted reference in `value` must be null, an `i31` or live.
unsafe fn count_value(field: &FieldLayout, value: ValueSlot) {
    if field.counted {
        // SAFETY: per the contract.
        unsafe { increment(value.pointer()) };
    }
}

/// Drops the count `count_value` took.
///
/// # Safety
/// As [`count_value`], with the count taken.
unsafe fn uncount_value(field: &FieldLayout, value: ValueSlot) {
    if field.counted {
        let _ = release_counts([value.pointer() as *mut _]);
    }
}

/// Allocates a struct of type `layout` with its fields from `values` (the
/// defaults when `None`). Counts the references first, so that the
/// collection an allocation may start keeps them.
///
/// # Safety
/// `values`, if given, holds one value of each field's type, references live.
pub(crate) unsafe fn new_struct(
    store: &mut StoreOpaque,
    layout: &GcLayout,
    values: Option<&[ValueSlot]>,
) -> Result<*mut u8, AllocError> {
    let Shape::Struct { fields, .. } = &layout.shape else {
        return Err(AllocError::Host(Error::ty(format!("type {} is not a struct type", layout.type_id))));
    };
    if let Some(values) = values {
        if values.len() != fields.len() {
            return Err(AllocError::Host(Error::ty(format!(
                "a struct of type {} has {} fields, {} values were given",
                layout.type_id,
                fields.len(),
                values.len()
            ))));
        }
        for (field, &value) in fields.iter().zip(values) {
            // SAFETY: per the contract.
            unsafe { count_value(field, value) };
        }
    }
    let object = match store.gc_allocate(layout, 0) {
        Ok(object) => object,
        Err(e) => {
            for (field, &value) in fields.iter().zip(values.unwrap_or(&[])) {
                // SAFETY: the count was taken above.
                unsafe { uncount_value(field, value) };
            }
            return Err(e);
        }
    };
    if let Some(values) = values {
        for (field, &value) in fields.iter().zip(values) {
            // SAFETY: a field of the fresh struct; its count moves in.
            unsafe { object::write_field(object::field_addr(object, field), field.storage, value) };
        }
    }
    Ok(object)
}

/// Allocates an array of type `layout` of `len` copies of `value` (the
/// default when `None`).
///
/// # Safety
/// `value`, if given, is a value of the element type, a reference live.
pub(crate) unsafe fn new_array_filled(
    store: &mut StoreOpaque,
    layout: &GcLayout,
    len: u32,
    value: Option<ValueSlot>,
) -> Result<*mut u8, AllocError> {
    let Some((element, _)) = layout.array_element() else {
        return Err(AllocError::Host(Error::ty(format!("type {} is not an array type", layout.type_id))));
    };
    if let Some(value) = value {
        // SAFETY: per the contract; one count held across the allocation.
        unsafe { count_value(&element, value) };
    }
    let object = match store.gc_allocate(layout, len) {
        Ok(object) => object,
        Err(e) => {
            if let Some(value) = value {
                // SAFETY: the count was taken above.
                unsafe { uncount_value(&element, value) };
            }
            return Err(e);
        }
    };
    if let Some(value) = value {
        for i in 0..len {
            // SAFETY: an element of the fresh array; the first takes the
            // count held across the allocation, each other one a new one.
            unsafe {
                if i > 0 {
                    count_value(&element, value);
                }
                object::write_field(object::element_addr(object, &element, i), element.storage, value);
            }
        }
        if len == 0 {
            // SAFETY: the count taken above, stored nowhere.
            unsafe { uncount_value(&element, value) };
        }
    }
    Ok(object)
}

/// Allocates an array of type `layout` whose elements are `values`.
///
/// # Safety
/// Each value is of the element type, references live.
pub(crate) unsafe fn new_array_from(
    store: &mut StoreOpaque,
    layout: &GcLayout,
    values: &[ValueSlot],
) -> Result<*mut u8, AllocError> {
    let Some((element, _)) = layout.array_element() else {
        return Err(AllocError::Host(Error::ty(format!("type {} is not an array type", layout.type_id))));
    };
    let len = u32::try_from(values.len()).map_err(|_| AllocError::Trap(kiln_format::TrapCode::ALLOCATION_TOO_LARGE))?;
    for &value in values {
        // SAFETY: per the contract.
        unsafe { count_value(&element, value) };
    }
    let object = match store.gc_allocate(layout, len) {
        Ok(object) => object,
        Err(e) => {
            for &value in values {
                // SAFETY: the count was taken above.
                unsafe { uncount_value(&element, value) };
            }
            return Err(e);
        }
    };
    for (i, &value) in values.iter().enumerate() {
        // SAFETY: an element of the fresh array; its count moves in.
        unsafe { object::write_field(object::element_addr(object, &element, i as u32), element.storage, value) };
    }
    Ok(object)
}

// The host handles (`AnyRef`, `StructRef`, `ArrayRef`) build on these.
#[allow(dead_code)]
impl StoreOpaque {
    /// Whether `word` is a live struct or array of this store's heap.
    pub(crate) fn gc_is_object(&self, word: usize) -> bool {
        self.gc_heap.contains(word)
    }

    fn checked_object(&self, word: usize) -> Result<*mut u8, Error> {
        if self.gc_is_object(word) {
            Ok(word as *mut u8)
        } else {
            Err(Error::ty(format!("{word:#x} is not a GC object of this store")))
        }
    }

    /// Whether the object is a struct or an array.
    pub(crate) fn gc_kind(&self, word: usize) -> Result<GcKind, Error> {
        let object = self.checked_object(word)?;
        // SAFETY: a live object of this heap.
        Ok(match unsafe { object::kind(object) } {
            gc::KIND_STRUCT => GcKind::Struct,
            _ => GcKind::Array,
        })
    }

    /// The object's engine type id.
    pub(crate) fn gc_type_id(&self, word: usize) -> Result<u32, Error> {
        let object = self.checked_object(word)?;
        // SAFETY: a live object of this heap.
        Ok(unsafe { object::type_id(object) })
    }

    /// The object's type layout (its fields' storage types and mutability).
    pub(crate) fn gc_object_layout(&self, word: usize) -> Result<Arc<GcLayout>, Error> {
        let id = self.gc_type_id(word)?;
        // Allocation registered it.
        self.gc_layout(id).ok_or_else(|| Error::ty(format!("type {id} is not a GC type")))
    }

    /// An array's length.
    pub(crate) fn gc_array_len(&self, word: usize) -> Result<u32, Error> {
        let object = self.checked_object(word)?;
        if self.gc_kind(word)? != GcKind::Array {
            return Err(Error::ty("the object is a struct, not an array"));
        }
        // SAFETY: a live array of this heap.
        Ok(unsafe { object::array_len(object) })
    }

    /// The address and layout of field (struct) or element (array) `index`.
    fn gc_field_at(&self, word: usize, index: u32) -> Result<(*mut u8, FieldLayout), Error> {
        let object = self.checked_object(word)?;
        let layout = self.gc_object_layout(word)?;
        match &layout.shape {
            Shape::Struct { fields, .. } => {
                let field = *fields.get(index as usize).ok_or_else(|| {
                    Error::ty(format!(
                        "the struct has {}, none at index {index}",
                        crate::wording::count_of(fields.len(), "field")
                    ))
                })?;
                // SAFETY: a field of the live struct.
                Ok((unsafe { object::field_addr(object, &field) }, field))
            }
            Shape::Array { element, .. } => {
                // SAFETY: a live array.
                let len = unsafe { object::array_len(object) };
                if index >= len {
                    return Err(Error::ty(format!("index {index} is out of bounds of an array of {len}")));
                }
                // SAFETY: `index` is in bounds.
                Ok((unsafe { object::element_addr(object, element, index) }, *element))
            }
        }
    }

    /// The storage type of field or element `index` and whether it is mutable.
    pub(crate) fn gc_field_type(&self, word: usize, index: u32) -> Result<(StorageType, bool), Error> {
        let (_, field) = self.gc_field_at(word, index)?;
        Ok((field.storage, field.mutable))
    }

    /// Reads field (struct) or element (array) `index`; a counted
    /// reference comes with a new count that the caller owns.
    pub(crate) fn gc_get(&self, word: usize, index: u32) -> Result<ValueSlot, Error> {
        let (at, field) = self.gc_field_at(word, index)?;
        // SAFETY: a live field of its storage type.
        let value = unsafe { object::read_field(at, field.storage) };
        // SAFETY: the object owns a count of the reference, so it is live.
        unsafe { count_value(&field, value) };
        Ok(value)
    }

    /// Writes field or element `index` (mutability is the caller's check):
    /// takes a count of the new value, then drops the old one's.
    ///
    /// # Safety
    /// `value` must be a value of the field's type, a reference live.
    pub(crate) unsafe fn gc_set(&mut self, word: usize, index: u32, value: ValueSlot) -> Result<(), Error> {
        let (at, field) = self.gc_field_at(word, index)?;
        // SAFETY: per the contract; a live field.
        let old = unsafe {
            count_value(&field, value);
            let old = object::read_field(at, field.storage);
            object::write_field(at, field.storage, value);
            old
        };
        if field.counted {
            release_counts([old.pointer() as *mut _])?;
        }
        Ok(())
    }

    /// Allocates a struct of engine type `type_id` from one value per field.
    ///
    /// # Safety
    /// Each value is of its field's type, references live (of this store).
    pub(crate) unsafe fn gc_new_struct(&mut self, type_id: u32, values: &[ValueSlot]) -> Result<usize, Error> {
        let layout = self.gc_layout(type_id).ok_or_else(|| Error::ty(format!("type {type_id} is not a GC type")))?;
        // SAFETY: forwarded.
        Ok(unsafe { new_struct(self, &layout, Some(values)) }? as usize)
    }

    /// Allocates an array of engine type `type_id` whose elements are `values`.
    ///
    /// # Safety
    /// As [`StoreOpaque::gc_new_struct`], for the element type.
    pub(crate) unsafe fn gc_new_array(&mut self, type_id: u32, values: &[ValueSlot]) -> Result<usize, Error> {
        let layout = self.gc_layout(type_id).ok_or_else(|| Error::ty(format!("type {type_id} is not a GC type")))?;
        // SAFETY: forwarded.
        Ok(unsafe { new_array_from(self, &layout, values) }? as usize)
    }

    /// Allocates an array of engine type `type_id` of `len` copies of `value`.
    ///
    /// # Safety
    /// As [`StoreOpaque::gc_new_struct`], for the element type.
    pub(crate) unsafe fn gc_new_array_filled(
        &mut self,
        type_id: u32,
        len: u32,
        value: ValueSlot,
    ) -> Result<usize, Error> {
        let layout = self.gc_layout(type_id).ok_or_else(|| Error::ty(format!("type {type_id} is not a GC type")))?;
        // SAFETY: forwarded.
        Ok(unsafe { new_array_filled(self, &layout, len, Some(value)) }? as usize)
    }

    /// Gives up one count of a reference word (null, `i31`, host block or
    /// GC object), as a host handle does when dropped.
    ///
    /// # Safety
    /// The caller owns one count of `word`.
    pub(crate) unsafe fn gc_release(&mut self, word: usize) -> Result<(), Error> {
        Ok(release_counts([word as *mut _])?)
    }
}
