//! The cycle collector: synchronous trial deletion (Bacon and Rajan 2001,
//! "Concurrent Cycle Collection in Reference Counted Systems", section 3).
//!
//! A GC object whose count falls to a non-zero value may be the last
//! thing outside a garbage cycle holding it, so it is buffered as a
//! candidate root (`FLAG_BUFFERED`, colour purple). A collection then
//! - marks grey the candidates' subgraphs, subtracting the count of every
//!   reference inside them (MarkRoots);
//! - scans them: an object whose count stays non-zero is held from
//!   outside (a Wasm frame through the activations table, a table, a
//!   global, a host handle, an exception), and it and everything it
//!   reaches are restored black; what is left is white (ScanRoots);
//! - frees every white object (CollectRoots).
//!
//! Only references between GC objects of this heap are followed: a host
//! block (a host value or an exception) is acyclic by definition (SPEC
//! 3.14), so a reference from one counts as external, which is safe. The
//! activations table over-approximates what Wasm frames hold, so its
//! counts are external counts at any time, before or after its own GC.
//! Every phase uses an explicit stack; the work is proportional to the
//! candidates' subgraphs, never to the heap.
#![allow(unsafe_code)]

use std::sync::atomic::Ordering;

use kiln_format::gc;

use super::heap::{is_foreign, GcHeap, HeapState};
use super::object::{self, count, header, is_block, set_header};

/// The collector's colour bits in the header word.
pub(super) const COLOUR_MASK: u32 = 0b11 << gc::RUNTIME_BITS_SHIFT;
/// In use or free (every object outside a collection, but candidates).
const BLACK: u32 = 0;
/// Possibly garbage: its count is being trial-decremented.
const GREY: u32 = 1 << gc::RUNTIME_BITS_SHIFT;
/// Garbage, once scanning is over.
const WHITE: u32 = 2 << gc::RUNTIME_BITS_SHIFT;
/// A candidate root.
const PURPLE: u32 = 3 << gc::RUNTIME_BITS_SHIFT;

/// # Safety
/// `object` must be a live GC object.
#[inline]
unsafe fn colour(object: *mut u8) -> u32 {
    // SAFETY: per the contract.
    unsafe { header(object) & COLOUR_MASK }
}

/// # Safety
/// `object` must be a live GC object.
#[inline]
unsafe fn paint(object: *mut u8, colour: u32) {
    // SAFETY: per the contract.
    unsafe { set_header(object, (header(object) & !COLOUR_MASK) | colour) }
}

/// Buffers `object` as a candidate root, unless it is buffered already
/// or acyclic.
///
/// # Safety
/// `object` must be a live GC object of the heap whose state this is.
#[inline]
pub(super) unsafe fn buffer(state: &mut HeapState, object: *mut u8) {
    // SAFETY: per the contract.
    let word = unsafe { header(object) };
    if word & gc::NOT_A_CANDIDATE != 0 {
        return;
    }
    // SAFETY: as above.
    unsafe { set_header(object, (word & !COLOUR_MASK) | PURPLE | gc::FLAG_BUFFERED) };
    state.candidates.push(object as usize);
}

/// Subtracts or gives back one trial count: a plain load and store, not a
/// locked read-modify-write, since only the store's thread touches its
/// heap's objects and it runs no compiled code during a collection.
///
/// # Safety
/// `object` must be a live GC object of the heap being collected.
#[inline]
unsafe fn adjust_count(object: *mut u8, op: fn(usize, usize) -> usize) {
    // SAFETY: per the contract.
    let count = unsafe { count(object) };
    count.store(op(count.load(Ordering::Relaxed), 1), Ordering::Relaxed);
}

/// Calls `f` with every GC object of `heap` that `object` references.
///
/// # Safety
/// `object` must be a live GC object of `heap`.
#[inline]
unsafe fn for_each_child(heap: &GcHeap, state: &HeapState, object: *mut u8, mut f: impl FnMut(*mut u8)) {
    // SAFETY: per the contract.
    let layout = unsafe { state.layout_of(object) };
    // SAFETY: as above; each field the object owns is a live reference.
    unsafe {
        object::for_each_counted_field(object, layout, |field| {
            let word = field.read();
            if is_block(word) && !is_foreign(heap, word) {
                f(word as *mut u8);
            }
        })
    };
}

/// What one collection did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CycleStats {
    /// Objects visited.
    pub visited: usize,
    /// Garbage objects freed.
    pub freed: usize,
}

/// Runs the collector over the heap's candidates. Counts of host blocks
/// that the freed objects held are dropped at the end, outside the
/// heap's borrow; a panic of one of their destructors is returned.
pub(crate) fn collect(heap: &GcHeap) -> Result<CycleStats, Box<dyn std::any::Any + Send>> {
    let mut stats = CycleStats::default();
    let mut foreign = Vec::new();
    {
        let mut state = heap.state.borrow_mut();
        if state.candidates.is_empty() {
            return Ok(stats);
        }
        state.collections += 1;
        let candidates = std::mem::take(&mut state.candidates);
        let mut stack = Vec::new();
        // SAFETY: every candidate is a live GC object of this heap (or one
        // whose count reached zero while buffered, kept for the collector),
        // and everything the walks reach is referenced by a live object.
        unsafe {
            let roots = mark_roots(heap, &mut state, candidates, &mut stack, &mut stats);
            let mut pending = Vec::new();
            for &root in &roots {
                scan(heap, &state, root as *mut u8, &mut pending, &mut stack, &mut stats);
            }
            let mut garbage = Vec::new();
            for &root in &roots {
                let root = root as *mut u8;
                set_header(root, header(root) & !gc::FLAG_BUFFERED);
                collect_white(heap, &state, root, &mut stack, &mut garbage);
            }
            // Freed only now that no walk can read them: a large object's
            // memory goes back to the system.
            for &object in &garbage {
                let object = object as *mut u8;
                let layout = state.layout_of(object);
                object::for_each_counted_field(object, layout, |field| {
                    let word = field.read();
                    if is_block(word) && is_foreign(heap, word) {
                        foreign.push(word);
                    }
                });
            }
            for &object in &garbage {
                state.free_memory(object as *mut u8);
            }
            stats.freed = garbage.len();
        }
        state.cycles_collected += stats.freed as u64;
        GcHeap::adapt_threshold(&mut state, stats.visited);
    }
    super::free::release_foreign(foreign)?;
    Ok(stats)
}

/// MarkRoots: greys the subgraph of every candidate still purple with a
/// non-zero count; drops the others from the buffer, freeing those whose
/// count reached zero while buffered. Returns the roots kept.
///
/// # Safety
/// As in [`collect`].
unsafe fn mark_roots(
    heap: &GcHeap,
    state: &mut HeapState,
    candidates: Vec<usize>,
    stack: &mut Vec<*mut u8>,
    stats: &mut CycleStats,
) -> Vec<usize> {
    let mut roots = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let object = candidate as *mut u8;
        // SAFETY: per the contract.
        unsafe {
            let live = count(object).load(Ordering::Acquire) != 0;
            if colour(object) == PURPLE && live {
                mark_grey(heap, state, object, stack, stats);
                roots.push(candidate);
                continue;
            }
            set_header(object, header(object) & !gc::FLAG_BUFFERED);
            if colour(object) == BLACK && !live {
                // Released while buffered: its fields are cleared already.
                state.free_memory(object);
            }
        }
    }
    roots
}

/// MarkGrey: greys everything `root` reaches, subtracting one count per
/// reference inside the subgraph.
///
/// # Safety
/// As in [`collect`].
unsafe fn mark_grey(heap: &GcHeap, state: &HeapState, root: *mut u8, stack: &mut Vec<*mut u8>, stats: &mut CycleStats) {
    // SAFETY: per the contract.
    unsafe {
        if colour(root) == GREY {
            return;
        }
        paint(root, GREY);
        stack.push(root);
        while let Some(object) = stack.pop() {
            stats.visited += 1;
            for_each_child(heap, state, object, |child| {
                adjust_count(child, usize::wrapping_sub);
                if colour(child) != GREY {
                    paint(child, GREY);
                    stack.push(child);
                }
            });
        }
    }
}

/// Scan: whitens the grey objects whose counts fell to zero, and restores
/// black what is held from outside, with everything it reaches.
///
/// # Safety
/// As in [`collect`].
unsafe fn scan(
    heap: &GcHeap,
    state: &HeapState,
    root: *mut u8,
    pending: &mut Vec<*mut u8>,
    stack: &mut Vec<*mut u8>,
    stats: &mut CycleStats,
) {
    pending.push(root);
    while let Some(object) = pending.pop() {
        // SAFETY: per the contract.
        unsafe {
            if colour(object) != GREY {
                continue;
            }
            if count(object).load(Ordering::Relaxed) > 0 {
                scan_black(heap, state, object, stack, stats);
            } else {
                paint(object, WHITE);
                for_each_child(heap, state, object, |child| pending.push(child));
            }
        }
    }
}

/// ScanBlack: blackens `root` and everything it reaches that is not black,
/// giving back the counts that MarkGrey subtracted.
///
/// # Safety
/// As in [`collect`].
unsafe fn scan_black(
    heap: &GcHeap,
    state: &HeapState,
    root: *mut u8,
    stack: &mut Vec<*mut u8>,
    stats: &mut CycleStats,
) {
    // SAFETY: per the contract.
    unsafe {
        paint(root, BLACK);
        stack.push(root);
        while let Some(object) = stack.pop() {
            stats.visited += 1;
            for_each_child(heap, state, object, |child| {
                adjust_count(child, usize::wrapping_add);
                if colour(child) != BLACK {
                    paint(child, BLACK);
                    stack.push(child);
                }
            });
        }
    }
}

/// CollectWhite: gathers every white object `root` reaches that is not
/// buffered into `garbage`, painting it black so it is gathered once.
///
/// # Safety
/// As in [`collect`].
unsafe fn collect_white(
    heap: &GcHeap,
    state: &HeapState,
    root: *mut u8,
    stack: &mut Vec<*mut u8>,
    garbage: &mut Vec<usize>,
) {
    stack.push(root);
    while let Some(object) = stack.pop() {
        // SAFETY: per the contract.
        unsafe {
            if colour(object) != WHITE || header(object) & gc::FLAG_BUFFERED != 0 {
                continue;
            }
            paint(object, BLACK);
            garbage.push(object as usize);
            for_each_child(heap, state, object, |child| stack.push(child));
        }
    }
}
