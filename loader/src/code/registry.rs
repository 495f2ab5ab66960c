//! The one global registry of loaded code ranges.
//!
//! Two views are kept in step under one lock:
//!
//! - a `RwLock<BTreeMap>` of weak handles, for ordinary lookups that want an
//!   `Arc<LoadedCode>` ([`lookup_code`]);
//! - an immutable, sorted snapshot published through an `AtomicPtr`, for the
//!   signal handler, which must neither allocate nor take a lock (the
//!   faulting thread could be the one holding it, or be interrupted while a
//!   writer on another thread holds it, and `try_read` would then misreport a
//!   Wasm trap as a foreign crash).
//!
//! Readers of the snapshot bump `READERS` around their use. A writer swaps in
//! a new snapshot and then waits for `READERS` to drop to zero before freeing
//! the old one, so a handler never reads freed memory. The wait is short:
//! readers only do binary searches and a bounded stack walk. Because
//! [`LoadedCode`]'s `Drop` unregisters (and so waits) before its fields are
//! dropped, a `&LoadedCode` taken from the snapshot is valid for the whole
//! read section too.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, RwLock, Weak};

use super::{LoadError, LoadedCode};

struct Registered {
    end: usize,
    code: Weak<LoadedCode>,
}

static MAP: RwLock<BTreeMap<usize, Registered>> = RwLock::new(BTreeMap::new());
static SNAPSHOT: AtomicPtr<Snapshot> = AtomicPtr::new(std::ptr::null_mut());
static READERS: AtomicUsize = AtomicUsize::new(0);

struct Entry {
    start: usize,
    end: usize,
    code: *const LoadedCode,
}

struct Snapshot {
    entries: Vec<Entry>,
}

/// Adds `code`'s address range to the registry and returns it, or returns
/// the live module already registered for the same artifact at the same
/// address: a shared object opened twice is mapped once, and static bytes
/// loaded twice run in place once, and their two loads are one module.
///
/// A range that overlaps another module's is refused: it can only come from
/// static bytes that overlap another artifact's, and a PC in both would
/// belong to neither for sure.
pub(crate) fn register(code: Arc<LoadedCode>) -> Result<Arc<LoadedCode>, LoadError> {
    let start = code.text() as usize;
    let end = start + code.mapped_len();
    let mut map = MAP.write().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = map.get(&start).and_then(|r| r.code.upgrade()) {
        drop(map);
        if existing.header().digest != code.header().digest || existing.mapped_len() != code.mapped_len() {
            return Err(overlap(start, end));
        }
        // `code`'s Drop finds the entry is not its own and leaves it.
        return Ok(existing);
    }
    // An entry at `start` itself is a module being dropped, which this one
    // replaces (its Drop then leaves the entry alone).
    let before = map.range(..start).next_back().filter(|(_, r)| r.end > start);
    let after = map.range(start + 1..end).next();
    if before.is_some() || after.is_some() {
        drop(map);
        return Err(overlap(start, end));
    }
    map.insert(start, Registered { end, code: Arc::downgrade(&code) });
    publish(&map);
    Ok(code)
}

#[cold]
fn overlap(start: usize, end: usize) -> LoadError {
    LoadError::new(format!(
        "the code at {start:#x}..{end:#x} overlaps the code of another loaded artifact: static artifact bytes must \
         not overlap"
    ))
}

/// Removes `code`'s range starting at `start`, unless another module has
/// taken that address since; returns once no signal handler can still be
/// looking at it.
pub(crate) fn unregister(start: usize, code: *const LoadedCode) {
    let mut map = MAP.write().unwrap_or_else(|e| e.into_inner());
    if map.get(&start).is_some_and(|r| std::ptr::eq(r.code.as_ptr(), code)) {
        map.remove(&start);
        publish(&map);
    }
}

fn publish(map: &BTreeMap<usize, Registered>) {
    let entries = map.iter().map(|(&start, r)| Entry { start, end: r.end, code: r.code.as_ptr() }).collect();
    let fresh = Box::into_raw(Box::new(Snapshot { entries }));
    let old = SNAPSHOT.swap(fresh, SeqCst);
    while READERS.load(SeqCst) != 0 {
        std::thread::yield_now();
    }
    if !old.is_null() {
        // SAFETY: `old` came from `Box::into_raw` in an earlier `publish`
        // (serialised by the MAP lock), is no longer reachable from
        // SNAPSHOT, and no reader that could have loaded it is still running.
        drop(unsafe { Box::from_raw(old) });
    }
}

/// The loaded code whose address range contains `pc`, if any.
pub fn lookup_code(pc: usize) -> Option<Arc<LoadedCode>> {
    let map = MAP.read().unwrap_or_else(|e| e.into_inner());
    let (_, r) = map.range(..=pc).next_back()?;
    if pc < r.end {
        r.code.upgrade()
    } else {
        None
    }
}

/// A lock-free, allocation-free view of the registered ranges, valid for
/// the duration of [`with_code_ranges`].
pub(crate) struct CodeRanges<'a> {
    entries: &'a [Entry],
}

impl CodeRanges<'_> {
    fn entry_at(&self, pc: usize) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.start <= pc);
        self.entries.get(i.checked_sub(1)?).filter(|e| pc < e.end)
    }

    /// The module whose code contains `pc`.
    pub fn code_at(&self, pc: usize) -> Option<&LoadedCode> {
        let entry = self.entry_at(pc)?;
        // SAFETY: the entry is in the current snapshot, so its module's
        // `Drop` has not got past `unregister` (which waits for this read
        // section to end); the pointee is alive until then.
        Some(unsafe { &*entry.code })
    }

    /// Whether `pc` lies in any loaded code.
    pub fn contains(&self, pc: usize) -> bool {
        self.entry_at(pc).is_some()
    }
}

struct ReadGuard;

impl Drop for ReadGuard {
    fn drop(&mut self) {
        READERS.fetch_sub(1, SeqCst);
    }
}

/// Runs `f` on the current snapshot. Async-signal-safe: two atomic
/// operations and no allocation. `f` must not block and must not leave by
/// `longjmp` (which would skip the guard and stall every later writer).
pub(crate) fn with_code_ranges<R>(f: impl FnOnce(&CodeRanges<'_>) -> R) -> R {
    READERS.fetch_add(1, SeqCst);
    let _guard = ReadGuard;
    let snapshot = SNAPSHOT.load(SeqCst);
    let entries: &[Entry] = if snapshot.is_null() {
        &[]
    } else {
        // SAFETY: a published snapshot is freed only after READERS, which
        // this section holds above zero, has been seen at zero.
        unsafe { &(*snapshot).entries }
    };
    f(&CodeRanges { entries })
}
