//! The host's reads and writes of GC objects through their roots, at the
//! offsets `gc::StructLayout` and `gc::ArrayLayout` give (SPEC 3.14).
//!
//! Every word read here comes from the store's root table, whose entry
//! owns a count: the object is live while the root is, and its header
//! says what it is. Offsets come from the object's own type (by the
//! engine id in its header), and array indices are checked against the
//! length in the object, so no access leaves the object.
#![allow(unsafe_code)]

use kiln_format::{gc, ArrayType, CompositeType, FieldType, StorageType, StructType, ValType};

use super::abi::ValueSlot;
use super::externref::{increment_raw, ExternRef, VMExternData};
use super::gc_roots::GcRoot;
use super::store::{release_counts, StoreOpaque};
use crate::error::Error;
use crate::gc_ref::{AnyRef, I31};
use crate::values::Val;

/// The header of a rooted counted block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ObjectHeader {
    pub word: u64,
    pub kind: u32,
    pub type_id: u32,
}

impl AnyRef {
    /// A new handle of an internal reference word: an `i31` inline, a
    /// counted block rooted with a new count; `None` for null.
    ///
    /// # Safety
    /// `word` must be null, an `i31`, or a live counted block.
    pub(crate) unsafe fn clone_from_word(store: &StoreOpaque, word: u64) -> Option<AnyRef> {
        if word == 0 {
            return None;
        }
        if word & gc::I31_TAG != 0 {
            return Some(AnyRef::from_i31(I31::from_word(word)));
        }
        // SAFETY: forwarded from the caller.
        Some(AnyRef::rooted(unsafe { store.roots.push_clone(word) }))
    }
}

/// Roots a host value (as `any.convert_extern` sees it) with a new count.
pub(crate) fn root_host(store: &StoreOpaque, r: &ExternRef) -> GcRoot {
    let raw = r.as_raw();
    debug_assert!(!raw.is_null(), "only a host value is rooted as one");
    // SAFETY: `r` owns a count of its host block, so it is live.
    unsafe { store.roots.push_clone(raw as usize as u64) }
}

/// The header of a rooted block.
pub(crate) fn header(store: &StoreOpaque, root: GcRoot) -> Result<ObjectHeader, Error> {
    let word = store.roots.word(root)?;
    // SAFETY: the root owns a count, so the block is live; every counted
    // block starts with the common header.
    let (header, type_id) = unsafe {
        let base = word as usize;
        (((base + gc::HEADER as usize) as *const u32).read(), ((base + gc::TYPE_ID as usize) as *const u32).read())
    };
    Ok(ObjectHeader { word, kind: header & gc::KIND_MASK, type_id })
}

fn composite(store: &StoreOpaque, header: &ObjectHeader) -> Result<CompositeType, Error> {
    store.engine.composite_type(header.type_id).ok_or_else(|| Error::ty("the object's type is unknown to its engine"))
}

/// The header and type of a rooted struct.
pub(crate) fn struct_type(store: &StoreOpaque, root: GcRoot) -> Result<(ObjectHeader, StructType), Error> {
    let header = header(store, root)?;
    match (header.kind, composite(store, &header)?) {
        (gc::KIND_STRUCT, CompositeType::Struct(ty)) => Ok((header, ty)),
        _ => Err(Error::ty("the reference is not a struct")),
    }
}

/// The header and type of a rooted array.
pub(crate) fn array_type(store: &StoreOpaque, root: GcRoot) -> Result<(ObjectHeader, ArrayType), Error> {
    let header = header(store, root)?;
    match (header.kind, composite(store, &header)?) {
        (gc::KIND_ARRAY, CompositeType::Array(ty)) => Ok((header, ty)),
        _ => Err(Error::ty("the reference is not an array")),
    }
}

/// The type a field's value has on the host: a packed field is an `i32`.
fn host_type(field: FieldType) -> ValType {
    field.storage.unpacked()
}

/// Reads a field or element.
///
/// # Safety
/// `offset` must be a field or element of `storage` inside the live
/// object `word`.
unsafe fn read(store: &StoreOpaque, word: u64, offset: u32, storage: StorageType) -> Val {
    let at = (word as usize + offset as usize) as *const u8;
    let mut bytes = [0u8; 16];
    let size = gc::storage_size(storage) as usize;
    // SAFETY: forwarded from the caller; fields may be unaligned only if
    // the layout says so, hence the byte copy.
    unsafe { std::ptr::copy_nonoverlapping(at, bytes.as_mut_ptr(), size) };
    let slot = ValueSlot::from_u128(u128::from_le_bytes(bytes));
    // SAFETY: the object owns a count of each reference field, and holds
    // only func refs of its store.
    unsafe { Val::from_slot(slot, storage.unpacked(), store) }
}

/// Writes a field or element, taking a count of a new reference before
/// the old one's drops.
///
/// # Safety
/// As [`read`]; `value` must be of the field's host type, of `store`.
unsafe fn write(store: &StoreOpaque, word: u64, offset: u32, storage: StorageType, value: &Val) -> Result<(), Error> {
    let slot = value.to_raw_slot(store, storage.unpacked())?;
    let at = (word as usize + offset as usize) as *mut u8;
    let size = gc::storage_size(storage) as usize;
    let counted = storage.is_counted_ref();
    let mut old = [0u8; 8];
    if counted {
        // SAFETY: forwarded from the caller: a reference field is 8 bytes.
        unsafe { std::ptr::copy_nonoverlapping(at, old.as_mut_ptr(), 8) };
        // SAFETY: the value's handle (a root or a host value) keeps it live.
        unsafe { increment_raw(slot.pointer() as *mut VMExternData) };
    }
    let bytes = slot.to_u128().to_le_bytes();
    // SAFETY: forwarded from the caller.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, size) };
    if counted {
        // The object owned a count of the old reference.
        release_counts([u64::from_le_bytes(old) as usize as *mut VMExternData])?;
    }
    Ok(())
}

fn check_mutable(field: FieldType, what: &str) -> Result<(), Error> {
    if field.mutable {
        Ok(())
    } else {
        Err(Error::ty(format!("{what} is immutable")))
    }
}

fn check_value(store: &StoreOpaque, field: FieldType, value: &Val, what: &str) -> Result<(), Error> {
    let ty = host_type(field);
    if value.is_of_type(store, ty)? {
        Ok(())
    } else {
        Err(Error::ty(format!("{what}: expected a {ty} value, got {}", value.ty())))
    }
}

/// The value of field `index` of a rooted struct.
pub(crate) fn struct_field(store: &StoreOpaque, root: GcRoot, index: usize) -> Result<Val, Error> {
    let (header, ty) = struct_type(store, root)?;
    let field = *ty.fields.get(index).ok_or_else(|| Error::ty(format!("the struct has no field {index}")))?;
    let offset = gc::StructLayout::of(&ty).field_offsets[index];
    // SAFETY: the offset is of this field in the struct's own layout.
    Ok(unsafe { read(store, header.word, offset, field.storage) })
}

/// Sets field `index` of a rooted struct.
pub(crate) fn set_struct_field(store: &StoreOpaque, root: GcRoot, index: usize, value: &Val) -> Result<(), Error> {
    let (header, ty) = struct_type(store, root)?;
    let field = *ty.fields.get(index).ok_or_else(|| Error::ty(format!("the struct has no field {index}")))?;
    let what = format!("field {index}");
    check_mutable(field, &what)?;
    check_value(store, field, value, &what)?;
    let offset = gc::StructLayout::of(&ty).field_offsets[index];
    // SAFETY: the offset is of this field in the struct's own layout.
    unsafe { write(store, header.word, offset, field.storage, value) }
}

/// The length of a rooted array.
pub(crate) fn array_len(store: &StoreOpaque, root: GcRoot) -> Result<u32, Error> {
    let (header, _) = array_type(store, root)?;
    // SAFETY: an array's length is at `gc::ARRAY_LENGTH`.
    Ok(unsafe { ((header.word as usize + gc::ARRAY_LENGTH as usize) as *const u32).read() })
}

/// The offset of element `index` of a rooted array, checked against its length.
fn element(store: &StoreOpaque, root: GcRoot, index: u32) -> Result<(ObjectHeader, FieldType, u32), Error> {
    let len = array_len(store, root)?;
    let (header, ty) = array_type(store, root)?;
    if index >= len {
        return Err(Error::ty(format!("array index {index} out of bounds (length {len})")));
    }
    let layout = gc::ArrayLayout::of(&ty);
    Ok((header, ty.element, layout.elements_offset + index * layout.element_size))
}

/// Element `index` of a rooted array.
pub(crate) fn array_get(store: &StoreOpaque, root: GcRoot, index: u32) -> Result<Val, Error> {
    let (header, element, offset) = element(store, root, index)?;
    // SAFETY: the offset is of an element below the array's length.
    Ok(unsafe { read(store, header.word, offset, element.storage) })
}

/// Sets element `index` of a rooted array.
pub(crate) fn array_set(store: &StoreOpaque, root: GcRoot, index: u32, value: &Val) -> Result<(), Error> {
    let (header, element, offset) = element(store, root, index)?;
    let what = format!("array element {index}");
    check_mutable(element, &what)?;
    check_value(store, element, value, &what)?;
    // SAFETY: the offset is of an element below the array's length.
    unsafe { write(store, header.word, offset, element.storage, value) }
}
