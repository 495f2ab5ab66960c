//! The host's roots of one store: the counted references (GC objects, and
//! host values seen as `anyref`) that host handles such as `AnyRef`
//! name (SPEC 3.14).
//!
//! A handle owns no count itself: it is a `Copy` index into this table,
//! whose entry owns one. Roots are released last in, first out: a
//! `RootScope` or a host function call records the table's length and
//! releases every root above it when it ends. Each entry carries an id
//! that is never reused within the store, so a handle whose root was
//! released matches no entry and is refused rather than read.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};

use super::externref::VMExternData;
use super::store::{release_counts, DestructorPanicked, StoreId};
use crate::error::Error;

/// A handle's reference to one root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct GcRoot {
    pub(crate) store: StoreId,
    index: u32,
    id: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    /// A counted reference word: never null, never an `i31`.
    word: u64,
    id: u64,
}

/// The roots of one store. Interior mutability lets conversions that see
/// the store shared (reading a value slot, a table element) root what
/// they read.
pub(crate) struct RootTable {
    store: StoreId,
    entries: RefCell<Vec<Entry>>,
    next_id: Cell<u64>,
}

impl RootTable {
    pub(crate) fn new(store: StoreId) -> RootTable {
        RootTable { store, entries: RefCell::default(), next_id: Cell::new(0) }
    }

    /// Roots a counted reference, taking over one count of it.
    ///
    /// # Safety
    /// `word` must be a live counted block (not null, not an `i31`) of
    /// which the caller owns one count, which moves into the table.
    pub(crate) unsafe fn push_owned(&self, word: u64) -> GcRoot {
        debug_assert!(word != 0 && word & kiln_format::gc::I31_TAG == 0, "only counted blocks are rooted");
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut entries = self.entries.borrow_mut();
        entries.push(Entry { word, id });
        GcRoot { store: self.store, index: entries.len() as u32 - 1, id }
    }

    /// Roots a counted reference with a new count.
    ///
    /// # Safety
    /// `word` must be a live counted block (not null, not an `i31`).
    pub(crate) unsafe fn push_clone(&self, word: u64) -> GcRoot {
        // SAFETY: forwarded from the caller; the new count moves into the table.
        unsafe {
            super::externref::increment_raw(word as usize as *mut VMExternData);
            self.push_owned(word)
        }
    }

    /// The word a handle's root holds, kept alive by the root's count; an
    /// error for a handle of another store or a released root.
    pub(crate) fn word(&self, root: GcRoot) -> Result<u64, Error> {
        if root.store != self.store {
            return Err(Error::foreign_handle("GC reference"));
        }
        match self.entries.borrow().get(root.index as usize) {
            Some(entry) if entry.id == root.id => Ok(entry.word),
            _ => Err(Error::ty("the GC reference's root was released (its root scope ended)")),
        }
    }

    /// Number of roots held.
    pub(crate) fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Releases every root above the first `len`, dropping their counts.
    /// The table is consistent before any count drops, since a host
    /// destructor may re-enter the store.
    pub(crate) fn release_to(&self, len: usize) -> Result<(), DestructorPanicked> {
        let released: Vec<Entry> = {
            let mut entries = self.entries.borrow_mut();
            if len >= entries.len() {
                return Ok(());
            }
            entries.split_off(len)
        };
        release_counts(released.into_iter().rev().map(|e| e.word as usize as *mut VMExternData))
    }
}

impl Drop for RootTable {
    fn drop(&mut self) {
        // Nothing can report a destructor's panic here; every count drops.
        let _ = self.release_to(0);
    }
}
