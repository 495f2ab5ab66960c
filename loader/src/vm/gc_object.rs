//! The host's reads, writes and allocations of GC objects through their
//! roots, on the GC heap's raw object API (`vm::gc::raw`, SPEC 3.14).
//!
//! Every word used here comes from the store's root table, whose entry
//! owns a count: the object is live while the root is, and its header
//! says what it is. The raw API checks again that a word is an object
//! of the store's heap and that an index is in bounds.
#![allow(unsafe_code)]

use kiln_format::{gc, ArrayType, CompositeType, FieldType, StructType, ValType};

use super::abi::ValueSlot;
use super::externref::{ExternRef, VMExternData};
use super::gc::object;
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
pub(crate) fn root_host(store: &StoreOpaque, r: &ExternRef) -> Result<GcRoot, Error> {
    let raw = r.as_raw();
    if raw.is_null() {
        return Err(Error::ty("the externref holds no host value"));
    }
    // SAFETY: `r` owns a count of its host block, so it is live.
    Ok(unsafe { store.roots.push_clone(raw as usize as u64) })
}

/// The header of a rooted block.
pub(crate) fn header(store: &StoreOpaque, root: GcRoot) -> Result<ObjectHeader, Error> {
    let word = store.roots.word(root)?;
    let block = word as usize as *mut u8;
    // SAFETY: the root owns a count, so the block is live; every counted
    // block starts with the common header.
    let (kind, type_id) = unsafe { (object::kind(block), object::type_id(block)) };
    Ok(ObjectHeader { word, kind, type_id })
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

/// Field or element `index` of the rooted object `word` as a value: a
/// counted reference as a new root.
fn read(store: &StoreOpaque, word: u64, index: u32, field: FieldType) -> Result<Val, Error> {
    // A counted reference comes with a count of its own, ours to drop.
    let slot = store.gc_get(word as usize, index)?;
    // SAFETY: that count keeps a reference live; the object holds only
    // func refs of its store.
    let value = unsafe { Val::from_slot(slot, host_type(field), store) };
    if field.storage.is_counted_ref() {
        release_counts([slot.pointer() as *mut VMExternData])?;
    }
    Ok(value)
}

/// Writes field or element `index` of the rooted object `word`, after
/// checking mutability and the value's type and store.
fn write(
    store: &mut StoreOpaque,
    word: u64,
    index: u32,
    field: FieldType,
    value: &Val,
    what: &str,
) -> Result<(), Error> {
    if !field.mutable {
        return Err(Error::ty(format!("{what} is immutable")));
    }
    let slot = checked_slot(store, field, value, what)?;
    // SAFETY: the slot holds a value of the field's type whose handle (a
    // root, a host value's own count) keeps a reference live.
    unsafe { store.gc_set(word as usize, index, slot) }
}

/// The slot of a value for a field, checking its type and store; no count
/// is taken.
fn checked_slot(store: &StoreOpaque, field: FieldType, value: &Val, what: &str) -> Result<ValueSlot, Error> {
    let ty = host_type(field);
    if !value.is_of_type(store, ty)? {
        let found = if value.is_null() { "null".to_string() } else { value.ty().to_string() };
        return Err(Error::ty(format!("{what}: expected a {ty} value, got {found}")));
    }
    value.to_raw_slot(store, ty)
}

fn field_of(ty: &StructType, index: usize) -> Result<(u32, FieldType), Error> {
    let field = *ty.fields.get(index).ok_or_else(|| Error::ty(format!("the struct has no field {index}")))?;
    Ok((index as u32, field))
}

/// The value of field `index` of a rooted struct.
pub(crate) fn struct_field(store: &StoreOpaque, root: GcRoot, index: usize) -> Result<Val, Error> {
    let (header, ty) = struct_type(store, root)?;
    let (index, field) = field_of(&ty, index)?;
    read(store, header.word, index, field)
}

/// Sets field `index` of a rooted struct.
pub(crate) fn set_struct_field(store: &mut StoreOpaque, root: GcRoot, index: usize, value: &Val) -> Result<(), Error> {
    let (header, ty) = struct_type(store, root)?;
    let (index, field) = field_of(&ty, index)?;
    write(store, header.word, index, field, value, &format!("field {index}"))
}

/// The length of a rooted array.
pub(crate) fn array_len(store: &StoreOpaque, root: GcRoot) -> Result<u32, Error> {
    let (header, _) = array_type(store, root)?;
    store.gc_array_len(header.word as usize)
}

/// Element `index` of a rooted array.
pub(crate) fn array_get(store: &StoreOpaque, root: GcRoot, index: u32) -> Result<Val, Error> {
    let (header, ty) = array_type(store, root)?;
    read(store, header.word, index, ty.element)
}

/// Sets element `index` of a rooted array.
pub(crate) fn array_set(store: &mut StoreOpaque, root: GcRoot, index: u32, value: &Val) -> Result<(), Error> {
    let (header, ty) = array_type(store, root)?;
    write(store, header.word, index, ty.element, value, &format!("array element {index}"))
}

/// Roots a new object, whose one count moves into the root.
fn root_new(store: &StoreOpaque, word: usize) -> GcRoot {
    // SAFETY: a fresh object of the store's heap, whose count the caller
    // gives up.
    unsafe { store.roots.push_owned(word as u64) }
}

/// Allocates a struct of type `ty` (interned in the engine as a final
/// type alone in its group) with one value per field.
pub(crate) fn new_struct(store: &mut StoreOpaque, ty: &StructType, values: &[Val]) -> Result<GcRoot, Error> {
    if values.len() != ty.fields.len() {
        return Err(Error::ty(format!(
            "the struct has {}, {} given",
            crate::wording::count_of(ty.fields.len(), "field"),
            values.len()
        )));
    }
    let slots = values
        .iter()
        .zip(&ty.fields)
        .enumerate()
        .map(|(i, (value, &field))| checked_slot(store, field, value, &format!("field {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let type_id = store.engine.intern_composite_type(&CompositeType::Struct(ty.clone()));
    // SAFETY: each slot holds a value of its field's type, references kept
    // live by their handles (the allocation counts them before it may
    // collect).
    let word = unsafe { store.gc_new_struct(type_id, &slots) }?;
    Ok(root_new(store, word))
}

/// Allocates an array of type `ty` whose elements are `values`.
pub(crate) fn new_array(store: &mut StoreOpaque, ty: &ArrayType, values: &[Val]) -> Result<GcRoot, Error> {
    let slots = values
        .iter()
        .enumerate()
        .map(|(i, value)| checked_slot(store, ty.element, value, &format!("element {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let type_id = store.engine.intern_composite_type(&CompositeType::Array(*ty));
    // SAFETY: as in `new_struct`.
    let word = unsafe { store.gc_new_array(type_id, &slots) }?;
    Ok(root_new(store, word))
}

/// Allocates an array of type `ty` of `len` copies of `value`.
pub(crate) fn new_array_filled(
    store: &mut StoreOpaque,
    ty: &ArrayType,
    value: &Val,
    len: u32,
) -> Result<GcRoot, Error> {
    let slot = checked_slot(store, ty.element, value, "the element")?;
    let type_id = store.engine.intern_composite_type(&CompositeType::Array(*ty));
    // SAFETY: as in `new_struct`.
    let word = unsafe { store.gc_new_array_filled(type_id, len, slot) }?;
    Ok(root_new(store, word))
}
