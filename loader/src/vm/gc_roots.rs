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
use std::sync::Arc;

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

/// An owned root: the store's list holds one `Arc`, the handle the
/// other. A handle's drop cannot reach the store (it may run on another
/// thread, or after the store is gone), so the store releases the count
/// of a root whose handle is gone when it next sweeps its list.
#[derive(Debug)]
pub(crate) struct OwnedRoot {
    store: StoreId,
    /// A counted reference word: never null, never an `i31`.
    word: u64,
}

/// The roots of one store. Interior mutability lets conversions that see
/// the store shared (reading a value slot, a table element) root what
/// they read.
pub(crate) struct RootTable {
    store: StoreId,
    entries: RefCell<Vec<Entry>>,
    next_id: Cell<u64>,
    owned: RefCell<Vec<Arc<OwnedRoot>>>,
    /// The owned list's length after the last sweep; the next sweep comes
    /// when it has doubled, so sweeping costs a constant per root.
    swept_len: Cell<usize>,
}

impl RootTable {
    pub(crate) fn new(store: StoreId) -> RootTable {
        RootTable {
            store,
            entries: RefCell::default(),
            next_id: Cell::new(0),
            owned: RefCell::default(),
            swept_len: Cell::new(0),
        }
    }

    /// An owned root of a word that `root` keeps alive, with a new count.
    pub(crate) fn own(&self, root: GcRoot) -> Result<Arc<OwnedRoot>, Error> {
        let word = self.word(root)?;
        if self.owned.borrow().len() >= 2 * self.swept_len.get().max(8) {
            self.sweep_owned().map_err(Error::from)?;
        }
        // SAFETY: `root` owns a count of the live block `word`; the new
        // count belongs to the owned root.
        unsafe { super::externref::increment_raw(word as usize as *mut VMExternData) };
        let owned = Arc::new(OwnedRoot { store: self.store, word });
        self.owned.borrow_mut().push(owned.clone());
        Ok(owned)
    }

    /// A new LIFO root of what an owned root holds.
    pub(crate) fn root_owned(&self, owned: &OwnedRoot) -> Result<GcRoot, Error> {
        if owned.store != self.store {
            return Err(Error::foreign_handle("GC reference"));
        }
        // SAFETY: the store's list holds this owned root (its handle is
        // alive, so no sweep released it), whose count keeps the word live.
        Ok(unsafe { self.push_clone(owned.word) })
    }

    /// Releases the counts of owned roots whose handles are gone.
    pub(crate) fn sweep_owned(&self) -> Result<(), DestructorPanicked> {
        let released: Vec<u64> = {
            let mut owned = self.owned.borrow_mut();
            let mut released = Vec::new();
            owned.retain(|root| {
                // The list's own `Arc` is the only one left.
                let alive = Arc::strong_count(root) > 1;
                if !alive {
                    released.push(root.word);
                }
                alive
            });
            self.swept_len.set(owned.len());
            released
        };
        release_counts(released.into_iter().map(|word| word as usize as *mut VMExternData))
    }

    /// Number of owned roots in the list (some may await a sweep).
    pub(crate) fn owned_len(&self) -> usize {
        self.owned.borrow().len()
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

impl RootTable {
    /// Releases every root, owned ones too, as the store goes.
    pub(crate) fn release_all(&self) -> Result<(), DestructorPanicked> {
        let lifo = self.release_to(0);
        let owned = std::mem::take(&mut *self.owned.borrow_mut());
        lifo.and(release_counts(owned.into_iter().map(|root| root.word as usize as *mut VMExternData)))
    }
}

impl Drop for RootTable {
    fn drop(&mut self) {
        // Nothing can report a destructor's panic here; every count drops.
        let _ = self.release_all();
    }
}
