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
use super::store::StoreOpaque;
use crate::error::Error;
use crate::gc_ref::AnyRef;
use crate::store::{opaque, AsContext};

/// The heap block behind an externref: a counted block with the header
/// that host values share with GC objects (SPEC 3.14).
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

/// A reference that Wasm can hold as an `externref`: a host value, or an
/// internal reference (a GC object or an `i31`) made external by
/// `extern.convert_any` (see [`ExternRef::from_any`]).
pub struct ExternRef {
    repr: Repr,
}

enum Repr {
    /// A host value or exception, owning one count of it. Never a GC
    /// object: an `ExternRef` may be dropped on any thread, and a count of
    /// a GC object is dropped only on its store's (SPEC 3.14). Dropping a
    /// host block touches no heap; an exception's destructor queues its
    /// GC counts for the store.
    Host(NonNull<VMExternData>),
    /// An internal reference; its root owns the count, so this is tied to
    /// the store the root is in.
    Internal(AnyRef),
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
        ExternRef::host(NonNull::from(Box::leak(block)))
    }

    fn host(data: NonNull<VMExternData>) -> ExternRef {
        ExternRef { repr: Repr::Host(data) }
    }

    /// An internal reference made external, as `extern.convert_any` does:
    /// a host value seen as `anyref` is that host value again; a GC object
    /// or an `i31` stays what it is, and [`AnyRef::from_extern`] gives it
    /// back.
    pub fn from_any(store: impl AsContext, any: &AnyRef) -> Result<ExternRef, Error> {
        let store = opaque(&store);
        let word = any.word(store)?;
        // SAFETY: the root of `any` keeps the word live (or it is an i31).
        unsafe { ExternRef::clone_from_word(store, word) }.ok_or_else(|| Error::ty("a null word in an AnyRef"))
    }

    /// A new reference to the block or `i31` of a non-null externref word.
    ///
    /// # Safety
    /// `word` must be null, an `i31`, or a live counted block.
    pub(crate) unsafe fn clone_from_word(store: &StoreOpaque, word: u64) -> Option<ExternRef> {
        if word != 0 && word & gc::I31_TAG == 0 && header_kind(word) == gc::KIND_HOST {
            // SAFETY: forwarded from the caller: a live host block.
            return unsafe { ExternRef::clone_from_raw(word as usize as *mut VMExternData) };
        }
        // SAFETY: forwarded from the caller.
        unsafe { AnyRef::clone_from_word(store, word) }.map(|any| ExternRef { repr: Repr::Internal(any) })
    }

    /// The internal reference this externref holds, if it is one made
    /// external by `extern.convert_any` rather than a host value.
    pub(crate) fn as_internal(&self) -> Option<&AnyRef> {
        match &self.repr {
            Repr::Internal(any) => Some(any),
            Repr::Host(_) => None,
        }
    }

    /// The reference word, checking that an internal reference belongs to
    /// `store` and is still rooted.
    pub(crate) fn word(&self, store: &StoreOpaque) -> Result<u64, Error> {
        match &self.repr {
            Repr::Host(data) => Ok(data.as_ptr() as usize as u64),
            Repr::Internal(any) => any.word(store),
        }
    }

    /// The host value, if it is a `T` (never for an internal reference).
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.data()?.value.downcast_ref::<T>()
    }

    /// Whether both refer to the same host value, or are the same handle
    /// of an internal reference (see [`AnyRef::ref_eq`] to compare the
    /// objects of two handles).
    pub fn ptr_eq(a: &ExternRef, b: &ExternRef) -> bool {
        match (&a.repr, &b.repr) {
            (Repr::Host(x), Repr::Host(y)) => x == y,
            (Repr::Internal(x), Repr::Internal(y)) => x.same_handle(y),
            _ => false,
        }
    }

    /// The host value, mutably, if it is a `T` and this is its only
    /// reference.
    pub(crate) fn unique_value_mut<T: Any>(&mut self) -> Option<&mut T> {
        let Repr::Host(data) = self.repr else { return None };
        if self.data()?.ref_count.load(Ordering::Acquire) != 1 {
            return None;
        }
        // SAFETY: `self` owns the only count, so nothing else reaches the
        // block (references that Wasm frames hold uncounted are counted by
        // the activations table), and `&mut self` keeps this reference from
        // being used or cloned while the value is borrowed.
        unsafe { (*data.as_ptr()).value.downcast_mut::<T>() }
    }

    /// The current reference count of a host value (for tests and
    /// diagnostics); 0 for an internal reference, whose count its root in
    /// the store holds.
    pub fn strong_count(&self) -> usize {
        match &self.repr {
            // SAFETY: `self` owns a count, so the block is live.
            Repr::Host(data) => unsafe { data.as_ref() }.ref_count.load(Ordering::Acquire),
            Repr::Internal(_) => 0,
        }
    }

    /// The host block, if this is one (a GC object has fields where a host
    /// block has its value).
    fn data(&self) -> Option<&VMExternData> {
        match &self.repr {
            // SAFETY: `self` owns a count, so the block and its header are live.
            Repr::Host(data) if unsafe { object::kind(data.as_ptr().cast()) } == gc::KIND_HOST => {
                // SAFETY: as above, and it is a host block.
                Some(unsafe { data.as_ref() })
            }
            _ => None,
        }
    }

    /// The raw pointer of a host value, without changing the count; null
    /// for an internal reference (whose word [`ExternRef::word`] gives).
    pub(crate) fn as_raw(&self) -> *mut VMExternData {
        match &self.repr {
            Repr::Host(data) => data.as_ptr(),
            Repr::Internal(_) => std::ptr::null_mut(),
        }
    }

    /// Gives up the count of a host value to whoever stores the raw
    /// pointer; null (and nothing given up) for an internal reference.
    pub(crate) fn into_raw(self) -> *mut VMExternData {
        let raw = self.as_raw();
        std::mem::forget(self);
        raw
    }

    /// Takes over one count owned by the raw pointer's holder. An `i31`
    /// word owns no count and is no block: it gives `None`. A GC object is
    /// never wrapped so (see [`Repr::Host`]): [`ExternRef::clone_from_word`]
    /// roots it in its store instead.
    ///
    /// # Safety
    /// `raw` must be null, an `i31`, or a live host block (kind
    /// `KIND_HOST`) whose count the caller owns.
    pub(crate) unsafe fn from_raw(raw: *mut VMExternData) -> Option<ExternRef> {
        if object::is_i31(raw as usize) {
            return None;
        }
        // SAFETY: per the contract, a live block.
        debug_assert!(raw.is_null() || unsafe { object::kind(raw.cast()) } == gc::KIND_HOST);
        NonNull::new(raw).map(ExternRef::host)
    }

    /// A new reference to a host block that someone else keeps alive
    /// (`None` for null or an `i31`), as [`ExternRef::from_raw`].
    ///
    /// # Safety
    /// `raw` must be null, an `i31`, or a live host block.
    pub(crate) unsafe fn clone_from_raw(raw: *mut VMExternData) -> Option<ExternRef> {
        if object::is_i31(raw as usize) {
            return None;
        }
        let data = NonNull::new(raw)?;
        // SAFETY: per the contract, a live block.
        debug_assert!(unsafe { object::kind(raw.cast()) } == gc::KIND_HOST);
        // SAFETY: the caller guarantees the block is live.
        unsafe { data.as_ref() }.ref_count.fetch_add(1, Ordering::Relaxed);
        Some(ExternRef::host(data))
    }
}

/// The kind in the header of a counted block (`gc::KIND_*`).
///
/// # Safety
/// `word` must be a live counted block.
pub(crate) unsafe fn header_kind(word: u64) -> u32 {
    // SAFETY: forwarded from the caller.
    unsafe { object::kind(word as usize as *mut u8) }
}

/// The value of a host block.
///
/// # Safety
/// `raw` must be a live host block (kind `KIND_HOST`), which outlives the
/// borrow.
pub(crate) unsafe fn host_value<'a>(raw: *mut VMExternData) -> &'a (dyn Any + Send + Sync) {
    // SAFETY: per the contract.
    unsafe { &*(*raw).value }
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
        match &self.repr {
            Repr::Host(data) => {
                // SAFETY: `self` owns a count, so the block is live.
                unsafe { data.as_ref() }.ref_count.fetch_add(1, Ordering::Relaxed);
                ExternRef::host(*data)
            }
            Repr::Internal(any) => ExternRef { repr: Repr::Internal(*any) },
        }
    }
}

impl Drop for ExternRef {
    fn drop(&mut self) {
        let Repr::Host(data) = self.repr else { return };
        // SAFETY: `self` owns one count of a live counted block, given up
        // here; dropping it dispatches on the block's kind.
        unsafe { object::decrement(data.as_ptr() as usize) }
    }
}

impl fmt::Debug for ExternRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Host(data) => write!(f, "ExternRef({:p})", data.as_ptr()),
            Repr::Internal(any) => write!(f, "ExternRef({any:?})"),
        }
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
    fn host_blocks_carry_the_shared_header() {
        use std::mem::offset_of;
        assert_eq!(offset_of!(VMExternData, ref_count) as u32, gc::REF_COUNT);
        assert_eq!(offset_of!(VMExternData, header) as u32, gc::HEADER);
        assert_eq!(offset_of!(VMExternData, type_id) as u32, gc::TYPE_ID);
        let r = ExternRef::new(1u8);
        // SAFETY: `r` keeps its block live.
        assert_eq!(unsafe { header_kind(r.as_raw() as usize as u64) }, gc::KIND_HOST);
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
