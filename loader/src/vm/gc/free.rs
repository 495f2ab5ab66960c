//! Freeing GC objects whose count reached zero (SPEC 3.14 "Freeing").
//!
//! One work list, never recursion: an object about to be freed gives up
//! its counted fields; each field's object whose count this takes to zero
//! joins the list, each left with a non-zero count becomes a candidate
//! root of a cycle. A list of any length is freed in constant native
//! stack. An object in the candidate buffer keeps its memory (fields
//! cleared, coloured black) until the collector drops it from the buffer.
#![allow(unsafe_code)]

use std::any::Any;
use std::sync::atomic::{fence, Ordering};

use kiln_format::gc;

use super::cycles::{self, COLOUR_MASK};
use super::heap::{is_foreign, GcHeap};
use super::object::{self, count, header, is_block, set_header};

/// Frees `object` and everything only it held.
///
/// # Safety
/// `object` must be a GC object of `heap` whose count is zero and that
/// nothing reaches.
pub(super) unsafe fn release(heap: &GcHeap, object: *mut u8) {
    fence(Ordering::Acquire);
    let mut foreign = Vec::new();
    {
        let mut state = heap.state.borrow_mut();
        let mut work = std::mem::take(&mut state.work);
        work.push(object as usize);
        while let Some(next) = work.pop() {
            let next = next as *mut u8;
            // SAFETY: every object on the list is a GC object of this heap
            // with a zero count that nothing reaches.
            let layout = unsafe { state.layout_of(next) };
            // SAFETY: as above; each field is a counted reference the
            // object owned, cleared as its count is dropped.
            unsafe {
                object::for_each_counted_field(next, layout, |field| {
                    let word = field.read();
                    field.write(0);
                    if !is_block(word) {
                        return;
                    }
                    if is_foreign(heap, word) {
                        foreign.push(word);
                        return;
                    }
                    let child = word as *mut u8;
                    if count(child).fetch_sub(1, Ordering::Release) == 1 {
                        work.push(word);
                    } else {
                        cycles::buffer(&mut state, child);
                    }
                })
            };
            // SAFETY: as above.
            let word = unsafe { header(next) };
            if word & gc::FLAG_BUFFERED != 0 {
                // The collector holds it in its buffer and frees it there.
                // SAFETY: as above.
                unsafe { set_header(next, word & !COLOUR_MASK) };
            } else {
                // SAFETY: as above.
                unsafe { state.free_memory(next) };
            }
        }
        state.work = work;
    }
    if let Err(payload) = release_foreign(foreign) {
        std::panic::resume_unwind(payload);
    }
}

/// Drops one count of each block (host values, another heap's objects)
/// once no heap state is borrowed: a host destructor may drop counts of
/// this heap's objects. Every count is dropped even if a destructor
/// panics; the first panic is returned.
pub(super) fn release_foreign(words: Vec<usize>) -> Result<(), Box<dyn Any + Send>> {
    let mut outcome = Ok(());
    for word in words {
        // SAFETY: each word is a live block of which the caller gave up one count.
        let dropped = std::panic::catch_unwind(|| unsafe { object::decrement(word) });
        if let Err(payload) = dropped {
            if outcome.is_ok() {
                outcome = Err(payload);
            }
        }
    }
    outcome
}
