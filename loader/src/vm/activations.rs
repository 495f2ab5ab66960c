//! The activations table of one store and its GC (deferred reference
//! counting, SPEC 3.8).
//!
//! The table over-approximates the externrefs that live Wasm frames of the
//! store hold. Every entry owns one count. It has two parts:
//!
//! - the bump chunk, whose `next`/`end` pointers compiled code reaches
//!   through the VMContext to insert inline;
//! - the retained list: what the last GC found on the stack, plus anything
//!   inserted from the host while the chunk was full.
//!
//! A GC walks every Wasm activation of the store between its exit and entry
//! records, reads the live slots named by the stack maps, keeps one count
//! per reference found and drops every other count. The table is made
//! consistent (chunk reset, retained list replaced) before any count is
//! dropped, because dropping may run a host destructor that re-enters Wasm
//! or starts another GC.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell, UnsafeCell};
use std::sync::Arc;

use super::abi::{VMActivationsTable, VMRuntimeLimits};
use super::externref::VMExternData;
use super::traps::{walk_wasm_frames, WasmFrame};
use crate::code::{lookup_code, LoadedCode};

/// Entries of the bump chunk: how many `table.get`/`global.get` results
/// compiled code inserts between two GCs.
pub const ACTIVATIONS_CHUNK_CAPACITY: usize = kiln_format::activations::CHUNK_CAPACITY;

/// The boundary records of one Wasm activation: where its innermost frame
/// left Wasm (`exit_fp`, `exit_pc`) and the entry trampoline's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ActivationRecord {
    pub exit_fp: usize,
    pub exit_pc: usize,
    pub entry_fp: usize,
}

impl ActivationRecord {
    pub fn from_limits(limits: &VMRuntimeLimits) -> Self {
        ActivationRecord { exit_fp: limits.last_exit_fp, exit_pc: limits.last_exit_pc, entry_fp: limits.entry_fp }
    }
}

/// What a GC did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Distinct references found in live Wasm frames (kept).
    pub live: usize,
    /// Counts dropped.
    pub released: usize,
    /// Whether the stack walk failed and the sweep was skipped (nothing freed).
    pub skipped: bool,
}

pub(crate) struct ActivationsTable {
    /// Read and written by compiled code; `next` lies in `chunk..=end`.
    vm: Box<UnsafeCell<VMActivationsTable>>,
    chunk: *mut *mut VMExternData,
    retained: RefCell<Vec<*mut VMExternData>>,
    /// The references a GC finds on the stack, kept between GCs for its
    /// allocation. Sorted and searched rather than hashed: a GC looks up
    /// every entry of the table, and a binary search of the few references
    /// frames hold costs less than a hash-set removal.
    scratch: RefCell<Vec<*mut VMExternData>>,
    gcs: Cell<u64>,
}

impl ActivationsTable {
    pub fn new() -> Self {
        let chunk: Box<[*mut VMExternData]> = vec![std::ptr::null_mut(); ACTIVATIONS_CHUNK_CAPACITY].into_boxed_slice();
        let chunk = Box::into_raw(chunk).cast::<*mut VMExternData>();
        // SAFETY: one past the end of the allocation just made.
        let end = unsafe { chunk.add(ACTIVATIONS_CHUNK_CAPACITY) };
        ActivationsTable {
            vm: Box::new(UnsafeCell::new(VMActivationsTable { next: chunk, end })),
            chunk,
            retained: RefCell::default(),
            scratch: RefCell::default(),
            gcs: Cell::new(0),
        }
    }

    /// What VMContexts point at.
    pub fn vm_ptr(&self) -> *mut VMActivationsTable {
        self.vm.get()
    }

    /// Number of GCs run so far.
    pub fn gc_count(&self) -> u64 {
        self.gcs.get()
    }

    /// Entries (counts) currently held.
    pub fn len(&self) -> usize {
        // SAFETY: compiled code only moves `next` inside the chunk, and no
        // Wasm runs while the host is here.
        let next = unsafe { (*self.vm.get()).next };
        (next as usize - self.chunk as usize) / size_of::<usize>() + self.retained.borrow().len()
    }

    /// Whether the chunk is full: the host collects before inserting more,
    /// so that calls made only from the host do not grow the table forever.
    #[inline]
    pub fn chunk_is_full(&self) -> bool {
        let vm = self.vm.get();
        // SAFETY: plain reads of the two pointers; no Wasm runs while the host is here.
        unsafe { (*vm).next == (*vm).end }
    }

    /// Takes over one count of `raw` (non-null). Never collects: a host
    /// moving several references into a call must not have the first
    /// freed while it inserts the next.
    #[inline]
    pub fn insert(&self, raw: *mut VMExternData) {
        let vm = self.vm.get();
        // SAFETY: `next` and `end` bound free entries of the chunk; nothing
        // else touches them while the host runs.
        unsafe {
            if (*vm).next != (*vm).end {
                (*vm).next.write(raw);
                (*vm).next = (*vm).next.add(1);
                return;
            }
        }
        self.retained.borrow_mut().push(raw);
    }

    /// Empties the chunk, returning its entries.
    fn drain_chunk(&self) -> Vec<*mut VMExternData> {
        let vm = self.vm.get();
        // SAFETY: `chunk..next` are entries written by inserts.
        unsafe {
            let len = ((*vm).next as usize - self.chunk as usize) / size_of::<usize>();
            let entries = std::slice::from_raw_parts(self.chunk, len).to_vec();
            (*vm).next = self.chunk;
            entries
        }
    }

    /// Runs a GC over the Wasm activations described by `records`
    /// (innermost first), each of which must be live on this thread. Returns
    /// the counts to drop: the table is consistent by then, and the caller
    /// drops them under its destructor guard.
    ///
    /// # Safety
    /// Every record must describe a Wasm activation live on the current
    /// thread's stack, whose exit record is current.
    pub unsafe fn collect(&self, records: &[ActivationRecord]) -> (GcStats, Vec<*mut VMExternData>) {
        self.gcs.set(self.gcs.get() + 1);
        // Taken, not borrowed: a destructor run at the end may start a
        // nested GC, which then builds its own set.
        let mut live = std::mem::take(&mut *self.scratch.borrow_mut());
        live.clear();
        let mut complete = true;
        for record in records {
            // SAFETY: forwarded from the caller.
            complete &= unsafe { find_live_references(record, &mut live) };
        }
        live.sort_unstable();
        live.dedup();
        let mut entries = self.drain_chunk();
        if !complete {
            // A frame may have been missed: keep every count (leak a little
            // until a later GC succeeds) rather than free a live reference.
            self.retained.borrow_mut().append(&mut entries);
            let stats = GcStats { live: live.len(), released: 0, skipped: true };
            *self.scratch.borrow_mut() = live;
            return (stats, Vec::new());
        }
        entries.append(&mut self.retained.borrow_mut());
        let mut kept = Vec::with_capacity(live.len());
        let mut released = Vec::new();
        // One entry (count) is kept per live reference, the first found.
        let mut claimed = vec![false; live.len()];
        for raw in entries {
            match live.binary_search(&raw) {
                Ok(at) if !claimed[at] => {
                    claimed[at] = true;
                    kept.push(raw);
                }
                _ => released.push(raw),
            }
        }
        // A live reference without an entry is one whose count a builtin
        // still holds on its way into the table (`activations_insert_slow`).
        let stats = GcStats { live: kept.len(), released: released.len(), skipped: false };
        *self.retained.borrow_mut() = kept;
        *self.scratch.borrow_mut() = live;
        // Each entry owned one count, now the caller's to drop. The table is
        // consistent, so a destructor may start another GC.
        (stats, released)
    }

    /// Empties the table, handing over every count it held; the store
    /// drops them when it is dropped.
    pub fn take_all(&self) -> Vec<*mut VMExternData> {
        let mut entries = self.drain_chunk();
        entries.append(&mut self.retained.borrow_mut());
        entries
    }
}

impl Drop for ActivationsTable {
    fn drop(&mut self) {
        let _ = super::store::release_counts(self.take_all());
        let slice = std::ptr::slice_from_raw_parts_mut(self.chunk, ACTIVATIONS_CHUNK_CAPACITY);
        // SAFETY: allocated in `new` as a boxed slice of this length.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Adds the externrefs held by the frames of one activation to `live`.
/// Returns false if the walk did not reach the entry record.
///
/// # Safety
/// As [`ActivationsTable::collect`].
unsafe fn find_live_references(record: &ActivationRecord, live: &mut Vec<*mut VMExternData>) -> bool {
    if record.exit_pc == 0 || record.exit_fp == 0 || record.entry_fp == 0 {
        return false;
    }
    let mut complete = true;
    // Consecutive frames are nearly always in the same module: skip the
    // registry's lock for them.
    let mut module: Option<Arc<LoadedCode>> = None;
    let visit = |frame: WasmFrame| {
        if module.as_ref().is_none_or(|m| m.text_offset(frame.pc.wrapping_sub(1)).is_none()) {
            module = lookup_code(frame.pc.wrapping_sub(1));
        }
        let Some(code) = module.as_deref() else {
            complete = false;
            return;
        };
        let Some(map) = code.stack_map_at(frame.pc) else {
            return;
        };
        // Cranelift's frame size is the distance from SP at the call up to FP.
        let sp = frame.fp.wrapping_sub(map.frame_size as usize);
        for slot in map.slots() {
            // SAFETY: the stack map of this exact return address names
            // 8-byte slots of this live frame: `slots` yields only those
            // with `slot + 8 <= frame_size`, so `sp + slot` lies below `fp`.
            let raw = unsafe { ((sp + slot as usize) as *const *mut VMExternData).read() };
            // An `i31` is no block and owns no count.
            if super::gc::object::is_block(raw as usize) {
                live.push(raw);
            }
        }
    };
    // SAFETY: the caller vouches that the records describe a live activation.
    let reached = unsafe { walk_wasm_frames(record.exit_pc, record.exit_fp, record.entry_fp, visit) };
    reached && complete
}
