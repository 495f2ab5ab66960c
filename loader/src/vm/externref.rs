//! `externref`: reference-counted host values.
//!
//! An externref is a pointer to a [`VMExternData`] heap block whose atomic
//! count sits at offset 0 (where compiled code can reach it). Host code does
//! plain reference counting: cloning an [`ExternRef`] increments, dropping
//! decrements and frees the value at zero. Tables and globals own one count
//! per stored reference; references held only by running Wasm frames are
//! kept alive by the store's activations table (see `SPEC.md` 3.8).
#![allow(unsafe_code)]

use std::any::Any;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

use kiln_format::gc;

use super::gc::object;

/// The heap block behind an externref: the header every counted block
/// shares (SPEC 3.14), then the boxed host value.
#[repr(C)]
pub(crate) struct VMExternData {
    ref_count: AtomicUsize,
    /// `KIND_HOST | FLAG_ACYCLIC`: a host value is never part of a cycle
    /// the collector could see, so it is never a candidate.
    header: u32,
    /// `HOST_TYPE_ID`.
    type_id: u32,
    value: Box<dyn Any + Send + Sync>,
}

const _: () = {
    assert!(std::mem::offset_of!(VMExternData, ref_count) == gc::REF_COUNT as usize);
    assert!(std::mem::offset_of!(VMExternData, header) == gc::HEADER as usize);
    assert!(std::mem::offset_of!(VMExternData, type_id) == gc::TYPE_ID as usize);
    assert!(std::mem::offset_of!(VMExternData, value) == gc::HEADER_SIZE as usize);
};

/// A reference to a host value that Wasm can hold as an `externref`.
pub struct ExternRef {
    data: NonNull<VMExternData>,
}

// SAFETY: the count is atomic and the value is `Send + Sync`.
unsafe impl Send for ExternRef {}
// SAFETY: as above; shared access only reads the value.
unsafe impl Sync for ExternRef {}

impl ExternRef {
    /// Wraps a host value.
    pub fn new<T: Any + Send + Sync>(value: T) -> ExternRef {
        let block = Box::new(VMExternData {
            ref_count: AtomicUsize::new(1),
            header: gc::KIND_HOST | gc::FLAG_ACYCLIC,
            type_id: gc::HOST_TYPE_ID,
            value: Box::new(value),
        });
        ExternRef { data: NonNull::from(Box::leak(block)) }
    }

    /// The host value, if it is a `T` (never for a GC object seen as an
    /// externref, which has no host value).
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.host_data()?.value.downcast_ref::<T>()
    }

    /// Whether the block is a host value or an exception rather than a GC
    /// object that `extern.convert_any` made an externref.
    pub(crate) fn is_host(&self) -> bool {
        // SAFETY: `self` owns a count, so the block and its header are live.
        unsafe { object::kind(self.data.as_ptr().cast()) == gc::KIND_HOST }
    }

    /// The block as a host block, if it is one.
    fn host_data(&self) -> Option<&VMExternData> {
        self.is_host().then(|| self.data())
    }

    /// Whether both refer to the same host value.
    pub fn ptr_eq(a: &ExternRef, b: &ExternRef) -> bool {
        a.data == b.data
    }

    /// The host value, mutably, if it is a `T` and this is its only
    /// reference.
    pub(crate) fn unique_value_mut<T: Any>(&mut self) -> Option<&mut T> {
        if self.data().ref_count.load(Ordering::Acquire) != 1 || !self.is_host() {
            return None;
        }
        // SAFETY: `self` owns the only count, so nothing else reaches the
        // block (references that Wasm frames hold uncounted are counted by
        // the activations table), and `&mut self` keeps this reference from
        // being used or cloned while the value is borrowed.
        unsafe { (*self.data.as_ptr()).value.downcast_mut::<T>() }
    }

    /// The current reference count (for tests and diagnostics).
    pub fn strong_count(&self) -> usize {
        self.data().ref_count.load(Ordering::Acquire)
    }

    /// The block; only its count and header may be read unless it is a
    /// host block (a GC object has fields where a host block has its value).
    fn data(&self) -> &VMExternData {
        // SAFETY: `self` owns a count, so the block is live.
        unsafe { self.data.as_ref() }
    }

    /// The raw pointer, without changing the count.
    pub(crate) fn as_raw(&self) -> *mut VMExternData {
        self.data.as_ptr()
    }

    /// Gives up this count to whoever stores the raw pointer.
    pub(crate) fn into_raw(self) -> *mut VMExternData {
        let raw = self.data.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// Takes over one count owned by the raw pointer's holder. An `i31`
    /// word owns no count and is no block: it gives `None`.
    ///
    /// # Safety
    /// `raw` must be null, an `i31`, or a live counted block whose count
    /// the caller owns.
    pub(crate) unsafe fn from_raw(raw: *mut VMExternData) -> Option<ExternRef> {
        if object::is_i31(raw as usize) {
            return None;
        }
        NonNull::new(raw).map(|data| ExternRef { data })
    }

    /// A new reference to a block that someone else keeps alive (`None`
    /// for null or an `i31`).
    ///
    /// # Safety
    /// `raw` must be null, an `i31`, or a live counted block.
    pub(crate) unsafe fn clone_from_raw(raw: *mut VMExternData) -> Option<ExternRef> {
        if object::is_i31(raw as usize) {
            return None;
        }
        let data = NonNull::new(raw)?;
        // SAFETY: the caller guarantees the block is live.
        unsafe { data.as_ref() }.ref_count.fetch_add(1, Ordering::Relaxed);
        Some(ExternRef { data })
    }
}

/// Adds one count to a raw reference (null and `i31` are ignored).
///
/// # Safety
/// `raw` must be null, an `i31`, or a live counted block.
pub(crate) unsafe fn increment_raw(raw: *mut VMExternData) {
    // SAFETY: forwarded from the caller.
    unsafe { object::increment(raw as usize) }
}

/// Frees a counted block whose count compiled code has just taken to
/// zero, by its kind: a host value's box, or a GC object and whatever only
/// it held, iteratively.
///
/// # Safety
/// `raw` must be null, an `i31`, or a block whose last count was just
/// dropped (so nothing else can reach it).
pub(crate) unsafe fn free_unreferenced(raw: *mut VMExternData) {
    // SAFETY: forwarded from the caller.
    unsafe { object::free_unreferenced(raw as usize) }
}

/// Frees a host block (kind `KIND_HOST`) whose count is zero.
///
/// # Safety
/// `raw` must be a host block made by [`ExternRef::new`] whose last count
/// was dropped.
pub(crate) unsafe fn free_host_block(raw: *mut VMExternData) {
    fence(Ordering::Acquire);
    // SAFETY: the count is zero, and `ExternRef::new` allocated the block as a `Box`.
    drop(unsafe { Box::from_raw(raw) });
}

/// Drops one count of a raw reference (null and `i31` are ignored); may
/// free it, or buffer a GC object as a candidate root of a cycle.
///
/// # Safety
/// `raw` must be null, an `i31`, or a live counted block of which the
/// caller owns one count.
pub(crate) unsafe fn decrement_raw(raw: *mut VMExternData) {
    // SAFETY: forwarded from the caller.
    unsafe { object::decrement(raw as usize) }
}

impl Clone for ExternRef {
    fn clone(&self) -> ExternRef {
        self.data().ref_count.fetch_add(1, Ordering::Relaxed);
        ExternRef { data: self.data }
    }
}

impl Drop for ExternRef {
    fn drop(&mut self) {
        // SAFETY: `self` owns one count of a live counted block, given up
        // here; the block may be a GC object seen as an externref.
        unsafe { object::decrement(self.data.as_ptr() as usize) }
    }
}

impl fmt::Debug for ExternRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExternRef({:p})", self.data.as_ptr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn clone_and_drop_count_and_free_at_zero() {
        let witness = Arc::new(());
        let a = ExternRef::new(witness.clone());
        assert_eq!(a.strong_count(), 1);
        let b = a.clone();
        assert_eq!(a.strong_count(), 2);
        assert!(ExternRef::ptr_eq(&a, &b));
        drop(a);
        assert_eq!(b.strong_count(), 1);
        assert_eq!(Arc::strong_count(&witness), 2);
        drop(b);
        assert_eq!(Arc::strong_count(&witness), 1, "value freed at zero");
    }

    #[test]
    fn raw_round_trip_keeps_counts() {
        let a = ExternRef::new(7u32);
        let raw = a.clone().into_raw();
        assert_eq!(a.strong_count(), 2);
        // SAFETY: `raw` owns the count taken above.
        unsafe { increment_raw(raw) };
        assert_eq!(a.strong_count(), 3);
        // SAFETY: two counts are owned through `raw`.
        unsafe {
            decrement_raw(raw);
            decrement_raw(raw);
        }
        assert_eq!(a.strong_count(), 1);
        assert_eq!(a.downcast_ref::<u32>(), Some(&7));
        assert_eq!(a.downcast_ref::<i64>(), None);
    }
}
