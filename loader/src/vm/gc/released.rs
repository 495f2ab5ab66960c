//! Counts of GC objects given up away from the store: the heap's
//! thread-safe queue (SPEC 3.14 "Counts released elsewhere").
//!
//! The heap's state (free lists, statistics, the candidate buffer, the
//! colours in headers) is not thread-safe and belongs to the thread that
//! runs the store. An exception is `Send + Sync` (an `Exn`, an
//! `Error::Exception`, a host value holding either), so it may be dropped
//! on any thread, while its store runs or after the store is gone. Its
//! destructor therefore never touches the heap: it moves the counts it
//! held of the heap's objects to this queue, and the store drops them on
//! its own thread at every GC (before the cycle collector runs), when the
//! heap must grow, and at its teardown. Once the heap is torn down the
//! queue is closed and a count moved to it is discarded: the teardown freed
//! every object, and no store can read the values of such an exception.
//!
//! Every other holder of a count of a GC object is the store's (its
//! tables, globals, activations table, root table and the heap's own
//! objects) and drops it on the store's thread; host handles (`AnyRef`,
//! `OwnedAnyRef`, an `ExternRef` of an internal reference) own no count
//! themselves but a root that only the store releases.

use std::sync::{Arc, Mutex, PoisonError};

/// The queue, shared by the heap and every exception that holds counts of
/// its objects.
#[derive(Default)]
struct Queue {
    /// Counted words of the heap's objects, one count each.
    words: Vec<usize>,
    /// Set when the heap is torn down.
    closed: bool,
}

/// A shared reference to a heap's queue of released counts. It reaches
/// nothing but the mutex, so it is `Send + Sync` by construction: no
/// `unsafe impl` vouches for it, and holding one gives no access to the
/// heap itself.
#[derive(Clone)]
pub(crate) struct HeapRef(Arc<Mutex<Queue>>);

impl HeapRef {
    /// The queue of a new heap.
    pub(super) fn new() -> HeapRef {
        HeapRef(Arc::default())
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Nothing panics while the lock is held but a failed allocation,
        // which leaves the queue consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives up one count of each word, objects of this queue's heap, for
    /// the store to drop on its thread; discarded once the heap is gone.
    /// `words` is consumed in full either way (the caller may clear its
    /// slots as it goes).
    pub(crate) fn release(&self, words: impl IntoIterator<Item = usize>) {
        let mut queue = self.queue();
        if queue.closed {
            words.into_iter().for_each(drop);
        } else {
            queue.words.extend(words);
        }
    }

    /// Moves the queued counts into `out` (empty), which the caller now
    /// owns; whether there were any.
    pub(crate) fn take(&self, out: &mut Vec<usize>) -> bool {
        debug_assert!(out.is_empty());
        std::mem::swap(&mut self.queue().words, out);
        !out.is_empty()
    }

    /// Whether counts wait in the queue.
    pub(crate) fn has_released(&self) -> bool {
        !self.queue().words.is_empty()
    }

    /// Closes the queue as the heap is torn down: queued counts and later
    /// ones are discarded, as the teardown frees every object.
    pub(super) fn close(&self) {
        let mut queue = self.queue();
        queue.closed = true;
        queue.words = Vec::new();
    }
}
