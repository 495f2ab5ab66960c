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

/// The heap block behind an externref.
#[repr(C)]
pub(crate) struct VMExternData {
    ref_count: AtomicUsize,
    value: Box<dyn Any + Send + Sync>,
}

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
        let block = Box::new(VMExternData { ref_count: AtomicUsize::new(1), value: Box::new(value) });
        ExternRef { data: NonNull::from(Box::leak(block)) }
    }

    /// The host value, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.data().value.downcast_ref::<T>()
    }

    /// Whether both refer to the same host value.
    pub fn ptr_eq(a: &ExternRef, b: &ExternRef) -> bool {
        a.data == b.data
    }

    /// The host value, mutably, if it is a `T` and this is its only
    /// reference.
    pub(crate) fn unique_value_mut<T: Any>(&mut self) -> Option<&mut T> {
        if self.data().ref_count.load(Ordering::Acquire) != 1 {
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

    /// Takes over one count owned by the raw pointer's holder.
    ///
    /// # Safety
    /// `raw` must be null or a live block whose count the caller owns.
    pub(crate) unsafe fn from_raw(raw: *mut VMExternData) -> Option<ExternRef> {
        NonNull::new(raw).map(|data| ExternRef { data })
    }

    /// A new reference to a block that someone else keeps alive.
    ///
    /// # Safety
    /// `raw` must be null or a live block.
    pub(crate) unsafe fn clone_from_raw(raw: *mut VMExternData) -> Option<ExternRef> {
        let data = NonNull::new(raw)?;
        // SAFETY: the caller guarantees the block is live.
        unsafe { data.as_ref() }.ref_count.fetch_add(1, Ordering::Relaxed);
        Some(ExternRef { data })
    }
}

/// Adds one count to a raw reference (null is ignored).
///
/// # Safety
/// `raw` must be null or a live block.
pub(crate) unsafe fn increment_raw(raw: *mut VMExternData) {
    // SAFETY: forwarded from the caller; the new count is given up at once.
    if let Some(r) = unsafe { ExternRef::clone_from_raw(raw) } {
        std::mem::forget(r);
    }
}

/// Frees a block whose count compiled code has just taken to zero.
///
/// # Safety
/// `raw` must be a block whose last count was just dropped (so nothing else
/// can reach it).
pub(crate) unsafe fn free_unreferenced(raw: *mut VMExternData) {
    if raw.is_null() {
        return;
    }
    fence(Ordering::Acquire);
    // SAFETY: the count is zero, and `ExternRef::new` allocated the block as a `Box`.
    drop(unsafe { Box::from_raw(raw) });
}

/// Drops one count of a raw reference (null is ignored); may free it.
///
/// # Safety
/// `raw` must be null or a live block of which the caller owns one count.
pub(crate) unsafe fn decrement_raw(raw: *mut VMExternData) {
    // SAFETY: forwarded from the caller.
    drop(unsafe { ExternRef::from_raw(raw) });
}

impl Clone for ExternRef {
    fn clone(&self) -> ExternRef {
        self.data().ref_count.fetch_add(1, Ordering::Relaxed);
        ExternRef { data: self.data }
    }
}

impl Drop for ExternRef {
    fn drop(&mut self) {
        if self.data().ref_count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: that was the last count, so nothing else can reach the block,
        // which `ExternRef::new` allocated as a `Box`.
        drop(unsafe { Box::from_raw(self.data.as_ptr()) });
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
