//! The GC builtins (21-31) that compiled code calls through the builtins
//! table (signatures in `kiln_format::builtins`).
//!
//! Each does its work in a function returning a `Result`, so that every
//! value with a destructor is gone before a trap or error unwinds past
//! the builtin. An allocation counts the references it was passed before
//! it may collect, and returns the new object in the activations table,
//! which owns its first count.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::TrapCode;

use super::layout::{FieldLayout, GcLayout, Shape};
use super::object::{self, increment};
use super::raw::{new_array_filled, new_array_from, new_struct};
use super::store::AllocError;
use crate::vm::abi::ValueSlot;
use crate::vm::builtins::{raise_error, store_and_instance};
use crate::vm::externref::VMExternData;
use crate::vm::store::{release_counts, DestructorPanicked, StoreOpaque};
use crate::vm::traps::raise_trap;

impl From<DestructorPanicked> for AllocError {
    fn from(panicked: DestructorPanicked) -> AllocError {
        AllocError::Host(panicked.into())
    }
}

/// Ends the activation on failure; the value otherwise.
fn finish<T>(store: &mut StoreOpaque, result: Result<T, AllocError>) -> T {
    match result {
        Ok(value) => value,
        // SAFETY: the work is over and dropped everything it held.
        Err(AllocError::Trap(code)) => unsafe { raise_trap(code) },
        Err(AllocError::Host(error)) => raise_error(store, error),
    }
}

/// Hands a new object's count to the activations table and returns it.
fn into_activations(store: &mut StoreOpaque, object: *mut u8) -> *mut u8 {
    store.activations.insert(object.cast::<VMExternData>());
    object
}

/// The layout of the calling instance's type `type_index`. A type that is
/// not a struct or array type (a damaged artifact) traps.
fn layout(store: &StoreOpaque, instance: usize, type_index: u32) -> Result<Arc<GcLayout>, AllocError> {
    store.gc_instance_layout(instance, type_index).ok_or(AllocError::Trap(TrapCode::UNREACHABLE))
}

/// The element of an array and its length; traps on null.
///
/// # Safety
/// `array` must be null or a live array.
unsafe fn array_parts(store: &StoreOpaque, array: *mut u8) -> Result<(FieldLayout, u32), AllocError> {
    if !object::is_block(array as usize) {
        return Err(AllocError::Trap(TrapCode::NULL_ARRAY_REFERENCE));
    }
    // SAFETY: per the contract.
    let id = unsafe { object::type_id(array) };
    let (element, _) =
        store.gc_layout(id).and_then(|l| l.array_element()).ok_or(AllocError::Trap(TrapCode::UNREACHABLE))?;
    // SAFETY: a live array.
    Ok((element, unsafe { object::array_len(array) }))
}

/// Checks that `offset..offset + len` lies in `0..size`.
fn check_range(offset: u32, len: u32, size: u32, trap: TrapCode) -> Result<(), AllocError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(AllocError::Trap(trap)),
    }
}

pub(crate) unsafe extern "C" fn gc_possible_root(vmctx: *mut u8, object: *mut u8) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    // SAFETY: compiled code passes a live counted block whose count it
    // just took to a non-zero value; only a GC object has a heap.
    if object::is_block(object as usize) && unsafe { object::kind(object) } != kiln_format::gc::KIND_HOST {
        // SAFETY: as above, a GC object.
        unsafe { super::heap::possible_root(object) };
    }
    if store.gc_heap.wants_collection() {
        // A safe point: the exit record is current, so the GC walks the
        // stack, makes the activations table precise, then collects cycles.
        if let Err(error) = store.gc() {
            raise_error(store, error);
        }
    }
}

pub(crate) unsafe extern "C" fn struct_new(vmctx: *mut u8, type_index: u32, values: *const ValueSlot) -> *mut u8 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    // SAFETY: as below; the fast path never collects, so the values'
    // references stay live until their counts are taken.
    if let Some(object) = unsafe { struct_new_ready(store, instance, type_index, values) } {
        return object;
    }
    let result = (|| {
        // SAFETY: the reference is used only while the builtin runs, which
        // the store and its heap outlive.
        let layout = unsafe { store.gc_instance_layout_unbound(instance, type_index) }
            .ok_or(AllocError::Trap(TrapCode::UNREACHABLE))?;
        let n = layout.struct_fields().ok_or(AllocError::Trap(TrapCode::UNREACHABLE))?.len();
        // SAFETY: compiled code passes one value slot per field (or null
        // for the defaults), references live.
        let values = (!values.is_null()).then(|| unsafe { std::slice::from_raw_parts(values, n) });
        // SAFETY: as above.
        let object = unsafe { new_struct(store, layout, values) }?;
        Ok(into_activations(store, object))
    })();
    finish(store, result)
}

/// `struct_new` when the allocation needs no collection, no limiter and
/// no growth (nearly every one): no `Result` to build and drop. `None`
/// leaves everything to the general path.
///
/// # Safety
/// As `struct_new`: `values` is null or one value slot per field,
/// references live.
#[inline]
unsafe fn struct_new_ready(
    store: &mut StoreOpaque,
    instance: usize,
    type_index: u32,
    values: *const ValueSlot,
) -> Option<*mut u8> {
    if store.activations.chunk_is_full() {
        return None;
    }
    // SAFETY: the reference is used only while the builtin runs.
    let layout = unsafe { store.gc_instance_layout_unbound(instance, type_index) }?;
    let Shape::Struct { fields, size, .. } = &layout.shape else {
        return None;
    };
    let object = store.gc_heap.allocate_ready(*size, layout)?;
    if !values.is_null() {
        // SAFETY: per the contract.
        let values = unsafe { std::slice::from_raw_parts(values, fields.len()) };
        for (field, value) in fields.iter().zip(values) {
            // SAFETY: a field of the fresh struct, which takes its own
            // count of a reference (the caller keeps its count); the
            // builtin runs on the store's thread.
            unsafe {
                if field.counted {
                    object::increment_local(value.pointer());
                }
                object::write_field(object::field_addr(object, field), field.storage, *value);
            }
        }
    }
    Some(into_activations(store, object))
}

pub(crate) unsafe extern "C" fn array_new(
    vmctx: *mut u8,
    type_index: u32,
    len: u32,
    value: *const ValueSlot,
) -> *mut u8 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        let layout = layout(store, instance, type_index)?;
        // SAFETY: compiled code passes null or a slot of the element type.
        let value = (!value.is_null()).then(|| unsafe { value.read() });
        // SAFETY: as above.
        let object = unsafe { new_array_filled(store, &layout, len, value) }?;
        Ok(into_activations(store, object))
    })();
    finish(store, result)
}

pub(crate) unsafe extern "C" fn array_new_fixed(
    vmctx: *mut u8,
    type_index: u32,
    len: u32,
    values: *const ValueSlot,
) -> *mut u8 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        let layout = layout(store, instance, type_index)?;
        let values: &[ValueSlot] = if len == 0 {
            &[]
        } else {
            // SAFETY: compiled code passes `len` slots of the element type.
            unsafe { std::slice::from_raw_parts(values, len as usize) }
        };
        // SAFETY: as above.
        let object = unsafe { new_array_from(store, &layout, values) }?;
        Ok(into_activations(store, object))
    })();
    finish(store, result)
}

/// The bytes of the calling instance's data segment `data` (empty once
/// dropped).
fn data_bytes(store: &StoreOpaque, instance: usize, data: u32) -> &[u8] {
    let instance = &store.instances[instance];
    match instance.module.info().data.get(data as usize) {
        Some(s) if !instance.dropped_data.get(data as usize).copied().unwrap_or(true) => {
            let start = s.data_offset as usize;
            instance.module.code().data().get(start..start + s.len as usize).unwrap_or(&[])
        }
        _ => &[],
    }
}

/// The byte range of `len` elements of `size` bytes at byte `offset` of a
/// segment of `available` bytes.
fn data_range(offset: u32, len: u32, size: u32, available: usize) -> Result<std::ops::Range<usize>, AllocError> {
    let bytes = u64::from(len) * u64::from(size);
    let end = u64::from(offset) + bytes;
    if end > available as u64 {
        return Err(AllocError::Trap(TrapCode::MEMORY_OUT_OF_BOUNDS));
    }
    Ok(offset as usize..end as usize)
}

pub(crate) unsafe extern "C" fn array_new_data(
    vmctx: *mut u8,
    type_index: u32,
    data: u32,
    offset: u32,
    len: u32,
) -> *mut u8 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        let layout = layout(store, instance, type_index)?;
        let (element, _) = layout.array_element().ok_or(AllocError::Trap(TrapCode::UNREACHABLE))?;
        let available = data_bytes(store, instance, data).len();
        let range = data_range(offset, len, element.size(), available)?;
        // Numeric elements hold no counts: nothing to count first.
        let object = store.gc_allocate(&layout, len)?;
        let bytes = &data_bytes(store, instance, data)[range];
        // SAFETY: the elements are `len * size` contiguous bytes of the
        // fresh array, stored little-endian as in the segment.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), object::element_addr(object, &element, 0), bytes.len())
        };
        Ok(into_activations(store, object))
    })();
    finish(store, result)
}

pub(crate) unsafe extern "C" fn array_new_elem(
    vmctx: *mut u8,
    type_index: u32,
    elem: u32,
    offset: u32,
    len: u32,
) -> *mut u8 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        let layout = layout(store, instance, type_index)?;
        let items = store.element_words(instance, elem);
        check_range(offset, len, items.len() as u32, TrapCode::TABLE_OUT_OF_BOUNDS)?;
        let values: Vec<ValueSlot> =
            items[offset as usize..(offset + len) as usize].iter().map(|&w| ValueSlot::from_u128(w as u128)).collect();
        // SAFETY: the segment keeps its references alive (the allocation
        // counts them first).
        let object = unsafe { new_array_from(store, &layout, &values) }?;
        Ok(into_activations(store, object))
    })();
    finish(store, result)
}

pub(crate) unsafe extern "C" fn array_fill(
    vmctx: *mut u8,
    array: *mut u8,
    offset: u32,
    value: *const ValueSlot,
    len: u32,
) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        // SAFETY: compiled code passes null or a live array, and a slot of
        // its element type.
        let (element, size) = unsafe { array_parts(store, array) }?;
        check_range(offset, len, size, TrapCode::ARRAY_OUT_OF_BOUNDS)?;
        // SAFETY: as above.
        let value = unsafe { value.read() };
        let mut old = Vec::new();
        for i in offset..offset + len {
            // SAFETY: `i` is in bounds; the new count is taken before the
            // old one is dropped.
            unsafe {
                let at = object::element_addr(array, &element, i);
                if element.counted {
                    increment(value.pointer());
                    old.push(object::read_field(at, element.storage).pointer() as *mut VMExternData);
                }
                object::write_field(at, element.storage, value);
            }
        }
        release_counts(old)?;
        Ok(())
    })();
    finish(store, result)
}

pub(crate) unsafe extern "C" fn array_copy(
    vmctx: *mut u8,
    dst: *mut u8,
    dst_offset: u32,
    src: *mut u8,
    src_offset: u32,
    len: u32,
) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        // SAFETY: compiled code passes null or live arrays of one element
        // type (validation checked the types).
        let (element, dst_len) = unsafe { array_parts(store, dst) }?;
        // SAFETY: as above.
        let (_, src_len) = unsafe { array_parts(store, src) }?;
        check_range(dst_offset, len, dst_len, TrapCode::ARRAY_OUT_OF_BOUNDS)?;
        check_range(src_offset, len, src_len, TrapCode::ARRAY_OUT_OF_BOUNDS)?;
        if len == 0 {
            return Ok(());
        }
        let mut old = Vec::new();
        // SAFETY: both ranges are in bounds; counts of the copied
        // references are taken before the overwritten ones are dropped;
        // `copy` allows the ranges to overlap.
        unsafe {
            let from = object::element_addr(src, &element, src_offset);
            let to = object::element_addr(dst, &element, dst_offset);
            if element.counted {
                for i in 0..len as usize {
                    increment(from.cast::<usize>().add(i).read());
                    old.push(to.cast::<*mut VMExternData>().add(i).read());
                }
            }
            std::ptr::copy(from, to, len as usize * element.size() as usize);
        }
        release_counts(old)?;
        Ok(())
    })();
    finish(store, result)
}

pub(crate) unsafe extern "C" fn array_init_data(
    vmctx: *mut u8,
    array: *mut u8,
    dst_offset: u32,
    data: u32,
    src_offset: u32,
    len: u32,
) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        // SAFETY: compiled code passes null or a live array of numbers.
        let (element, size) = unsafe { array_parts(store, array) }?;
        check_range(dst_offset, len, size, TrapCode::ARRAY_OUT_OF_BOUNDS)?;
        let bytes = data_bytes(store, instance, data);
        let range = data_range(src_offset, len, element.size(), bytes.len())?;
        // SAFETY: the destination range is in bounds; numbers hold no counts.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes[range].as_ptr(),
                object::element_addr(array, &element, dst_offset),
                len as usize * element.size() as usize,
            )
        };
        Ok(())
    })();
    finish(store, result)
}

pub(crate) unsafe extern "C" fn array_init_elem(
    vmctx: *mut u8,
    array: *mut u8,
    dst_offset: u32,
    elem: u32,
    src_offset: u32,
    len: u32,
) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_and_instance(vmctx) };
    let result = (|| {
        // SAFETY: compiled code passes null or a live array of references.
        let (element, size) = unsafe { array_parts(store, array) }?;
        check_range(dst_offset, len, size, TrapCode::ARRAY_OUT_OF_BOUNDS)?;
        let items = store.element_words(instance, elem);
        check_range(src_offset, len, items.len() as u32, TrapCode::TABLE_OUT_OF_BOUNDS)?;
        let mut old = Vec::new();
        for (i, &word) in items[src_offset as usize..(src_offset + len) as usize].iter().enumerate() {
            // SAFETY: in bounds; the segment keeps the item alive; the new
            // count is taken before the old one is dropped.
            unsafe {
                let at = object::element_addr(array, &element, dst_offset + i as u32);
                if element.counted {
                    increment(word);
                    old.push(object::read_field(at, element.storage).pointer() as *mut VMExternData);
                }
                object::write_field(at, element.storage, ValueSlot::from_u128(word as u128));
            }
        }
        release_counts(old)?;
        Ok(())
    })();
    finish(store, result)
}

pub(crate) unsafe extern "C" fn is_subtype(vmctx: *mut u8, actual: u32, expected: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, _) = unsafe { store_and_instance(vmctx) };
    u32::from(store.engine.is_subtype(actual, expected))
}
