//! Header access of counted blocks, the counting of reference words, and
//! the fields of GC objects (SPEC 3.14).
//!
//! A reference word is null, an `i31` (bit 0 set) or the address of a
//! counted block: a host value or exception (`VMExternData`) or a GC
//! object. All counted blocks share one header, so counting is the same
//! for every kind; what happens at zero depends on the kind. Every place
//! that counts a reference word comes through [`increment`] and
//! [`decrement`], which skip null and `i31` words.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_format::gc;
use kiln_format::StorageType;

use super::heap;
use super::layout::{FieldLayout, GcLayout, Shape};
use crate::vm::abi::ValueSlot;
use crate::vm::externref::{free_host_block, VMExternData};

/// Whether the word is an `i31`.
#[inline]
pub(crate) fn is_i31(word: usize) -> bool {
    word as u64 & gc::I31_TAG != 0
}

/// Whether the word points at a counted block (neither null nor `i31`).
#[inline]
pub(crate) fn is_block(word: usize) -> bool {
    word != 0 && !is_i31(word)
}

/// The block's count.
///
/// # Safety
/// `block` must be a live counted block.
#[inline]
pub(crate) unsafe fn count<'a>(block: *mut u8) -> &'a AtomicUsize {
    // SAFETY: every counted block starts with its atomic count (SPEC 3.14).
    unsafe { &*block.add(gc::REF_COUNT as usize).cast::<AtomicUsize>() }
}

/// The block's header word.
///
/// # Safety
/// `block` must be a live counted block (or a free slot of the GC heap).
#[inline]
pub(crate) unsafe fn header(block: *mut u8) -> u32 {
    // SAFETY: the header word is at `HEADER` of every block; the runtime
    // and compiled code of this store's thread are its only writers.
    unsafe { block.add(gc::HEADER as usize).cast::<u32>().read() }
}

/// Writes the block's header word.
///
/// # Safety
/// `block` must be a GC object of the heap, not a host block.
#[inline]
pub(crate) unsafe fn set_header(block: *mut u8, word: u32) {
    // SAFETY: as in `header`.
    unsafe { block.add(gc::HEADER as usize).cast::<u32>().write(word) }
}

/// The block's kind (`KIND_HOST`, `KIND_STRUCT`, `KIND_ARRAY`).
///
/// # Safety
/// As [`header`].
#[inline]
pub(crate) unsafe fn kind(block: *mut u8) -> u32 {
    // SAFETY: forwarded.
    unsafe { header(block) & gc::KIND_MASK }
}

/// The engine type id in the header.
///
/// # Safety
/// As [`header`].
#[inline]
pub(crate) unsafe fn type_id(block: *mut u8) -> u32 {
    // SAFETY: the type id is at `TYPE_ID` of every block.
    unsafe { block.add(gc::TYPE_ID as usize).cast::<u32>().read() }
}

/// The length of an array.
///
/// # Safety
/// `array` must be a live array.
#[inline]
pub(crate) unsafe fn array_len(array: *mut u8) -> u32 {
    // SAFETY: an array's length is at `ARRAY_LENGTH`.
    unsafe { array.add(gc::ARRAY_LENGTH as usize).cast::<u32>().read() }
}

/// Adds one count to a reference word (null and `i31` are ignored).
///
/// # Safety
/// `word` must be null, an `i31`, or a live counted block.
#[inline]
pub(crate) unsafe fn increment(word: usize) {
    if is_block(word) {
        // SAFETY: per the contract.
        unsafe { count(word as *mut u8) }.fetch_add(1, Ordering::Relaxed);
    }
}

/// [`increment`] for the thread that runs the store: a GC object's count
/// (which only that thread updates) with a plain load and store rather
/// than a locked operation, a host block's atomically, as it may be
/// shared with other threads.
///
/// # Safety
/// As [`increment`], on the thread that runs the store owning a GC
/// object `word` points at.
#[inline]
pub(crate) unsafe fn increment_local(word: usize) {
    if !is_block(word) {
        return;
    }
    let block = word as *mut u8;
    // SAFETY: per the contract, a live block.
    unsafe {
        let count = count(block);
        if kind(block) == gc::KIND_HOST {
            count.fetch_add(1, Ordering::Relaxed);
        } else {
            count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }
}

/// Drops one count of a reference word (null and `i31` are ignored). At
/// zero the block is freed by its kind; a GC object left with a non-zero
/// count that may be in a cycle becomes a candidate root.
///
/// # Safety
/// `word` must be null, an `i31`, or a live counted block of which the
/// caller owns one count; a GC object's only on the thread that runs its
/// store, whose heap this may change (others queue the count, see
/// `gc::released`).
#[inline]
pub(crate) unsafe fn decrement(word: usize) {
    if !is_block(word) {
        return;
    }
    let block = word as *mut u8;
    // SAFETY: per the contract, the block is live until this count goes;
    // its header word does not change while a count of it is held, but for
    // the runtime's bits of a GC object.
    let (count, header) = unsafe { (count(block), header(block)) };
    if header & gc::KIND_MASK == gc::KIND_HOST {
        // A host value or exception may be shared with other threads.
        if count.fetch_sub(1, Ordering::Release) == 1 {
            // SAFETY: that was the last count.
            unsafe { free_unreferenced(word) };
        }
        return;
    }
    // A GC object's count is only ever updated by the thread that runs its
    // store (the host holds one through a root of the store; an exception
    // holding one is dropped on that thread or after the store is gone),
    // so a plain load and store does, not a locked operation.
    let previous = count.load(Ordering::Relaxed);
    count.store(previous - 1, Ordering::Relaxed);
    if previous == 1 {
        // SAFETY: that was the last count.
        unsafe { heap::release_object(block) };
    } else if header & gc::NOT_A_CANDIDATE == 0 {
        // SAFETY: a live GC object of some store's heap.
        unsafe { heap::possible_root(block) };
    }
}

/// Frees a block whose last count was just dropped: a host block's box,
/// or a GC object and whatever only it held (iteratively).
///
/// # Safety
/// `word` must be null, an `i31`, or a counted block whose count is zero
/// and that nothing else reaches.
pub(crate) unsafe fn free_unreferenced(word: usize) {
    if !is_block(word) {
        return;
    }
    let block = word as *mut u8;
    // SAFETY: per the contract, the block is still allocated.
    if unsafe { kind(block) } == gc::KIND_HOST {
        // SAFETY: a host block, which `ExternRef::new` made.
        unsafe { free_host_block(block.cast::<VMExternData>()) };
    } else {
        // SAFETY: a GC object of some heap, unreachable.
        unsafe { heap::release_object(block) };
    }
}

/// Reads a field (or element) as a value slot: the bits zero-extended,
/// a packed integer as its 8 or 16 bits. No count is taken.
///
/// # Safety
/// `at` must be the address of a live field of storage type `storage`.
#[inline]
pub(crate) unsafe fn read_field(at: *const u8, storage: StorageType) -> ValueSlot {
    let mut bytes = [0u8; 16];
    // SAFETY: the field is its storage's size at `at`. Each size is a
    // constant copy, not a call to `memmove` for a handful of bytes.
    unsafe {
        match gc::storage_size(storage) {
            1 => std::ptr::copy_nonoverlapping(at, bytes.as_mut_ptr(), 1),
            2 => std::ptr::copy_nonoverlapping(at, bytes.as_mut_ptr(), 2),
            4 => std::ptr::copy_nonoverlapping(at, bytes.as_mut_ptr(), 4),
            8 => std::ptr::copy_nonoverlapping(at, bytes.as_mut_ptr(), 8),
            _ => std::ptr::copy_nonoverlapping(at, bytes.as_mut_ptr(), 16),
        }
    }
    ValueSlot(bytes)
}

/// Writes a field (or element) from a value slot, truncating a packed
/// integer. No count changes.
///
/// # Safety
/// `at` must be the address of a live field of storage type `storage`.
#[inline]
pub(crate) unsafe fn write_field(at: *mut u8, storage: StorageType, value: ValueSlot) {
    // SAFETY: the field is its storage's size at `at`; a slot holds the
    // value's little-endian bytes from its start, so truncation keeps the
    // low ones. Each size is a constant copy, as in `read_field`.
    unsafe {
        match gc::storage_size(storage) {
            1 => std::ptr::copy_nonoverlapping(value.0.as_ptr(), at, 1),
            2 => std::ptr::copy_nonoverlapping(value.0.as_ptr(), at, 2),
            4 => std::ptr::copy_nonoverlapping(value.0.as_ptr(), at, 4),
            8 => std::ptr::copy_nonoverlapping(value.0.as_ptr(), at, 8),
            _ => std::ptr::copy_nonoverlapping(value.0.as_ptr(), at, 16),
        }
    }
}

/// Address of a field of a struct.
///
/// # Safety
/// `object` must be a live object of a type whose layout holds `field`.
#[inline]
pub(crate) unsafe fn field_addr(object: *mut u8, field: &FieldLayout) -> *mut u8 {
    // SAFETY: the offset lies inside the object.
    unsafe { object.add(field.offset as usize) }
}

/// Address of element `index` of an array.
///
/// # Safety
/// `array` must be a live array of a type whose element is `element`, and
/// `index` below its length.
#[inline]
pub(crate) unsafe fn element_addr(array: *mut u8, element: &FieldLayout, index: u32) -> *mut u8 {
    // SAFETY: the element lies inside the array.
    unsafe { array.add(element.offset as usize + index as usize * element.size() as usize) }
}

/// Calls `f` with the address of every counted reference field of
/// `object` (null and `i31` words included; `f` decides).
///
/// # Safety
/// `object` must be a live GC object whose type is `layout`.
#[inline]
pub(crate) unsafe fn for_each_counted_field(object: *mut u8, layout: &GcLayout, mut f: impl FnMut(*mut usize)) {
    match &layout.shape {
        Shape::Struct { counted_offsets, .. } => {
            for &offset in counted_offsets.iter() {
                // SAFETY: a field of the object.
                f(unsafe { object.add(offset as usize) }.cast());
            }
        }
        Shape::Array { element, .. } if element.counted => {
            // SAFETY: the object is an array.
            let len = unsafe { array_len(object) };
            for i in 0..len {
                // SAFETY: `i` is below the length.
                f(unsafe { element_addr(object, element, i) }.cast());
            }
        }
        Shape::Array { .. } => {}
    }
}
