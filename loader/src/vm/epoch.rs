//! Epoch deadlines: the per-store half of epoch interruption.
//!
//! Code compiled with `--epoch-interruption` compares the engine's epoch
//! with the deadline in the store context block at every function entry
//! and loop header, and calls the `epoch_deadline` builtin once the epoch
//! reaches it. The builtin ends the call with an `interrupt` trap, or runs
//! the store's deadline callback, which sets a later deadline or fails the
//! call with its error.
#![allow(unsafe_code)]

use super::store::{StoreInner, StoreOpaque};
use crate::error::Error;
use crate::store::StoreContextMut;

/// What a store's epoch deadline callback decides when the deadline is
/// reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateDeadline {
    /// Go on running, with the deadline this many ticks past the current epoch.
    Continue(u64),
}

/// A deadline callback with the store's host state erased: it gets the
/// `StoreInner<T>` it was made for.
pub(crate) type DeadlineCallback = dyn FnMut(*mut u8) -> anyhow::Result<UpdateDeadline> + Send;

/// The deadline behaviour of a store (the store's instrumentation
/// requirements record that a deadline was set). The deadline itself lives in the
/// store context block, where compiled code reads it.
#[derive(Default)]
pub(crate) struct EpochState {
    /// Runs instead of the `interrupt` trap when the deadline is reached.
    pub callback: Option<Box<DeadlineCallback>>,
}

/// How a reached deadline ends the Wasm call, if it does.
pub(crate) enum Interrupt {
    /// With an `interrupt` trap.
    Trap,
    /// With the deadline callback's error.
    Error(Error),
}

/// Erases the host state type of a deadline callback.
pub(crate) fn erase_callback<T: 'static>(
    mut callback: impl FnMut(StoreContextMut<'_, T>) -> anyhow::Result<UpdateDeadline> + Send + 'static,
) -> Box<DeadlineCallback> {
    Box::new(move |store: *mut u8| {
        // SAFETY: `deadline_reached` passes the `StoreInner<T>` of the store
        // that holds this callback, and nothing else borrows it meanwhile.
        let inner = unsafe { &mut *store.cast::<StoreInner<T>>() };
        callback(StoreContextMut(inner))
    })
}

impl StoreOpaque {
    /// The epoch at or past which compiled code calls `epoch_deadline`.
    pub(crate) fn epoch_deadline(&self) -> u64 {
        // SAFETY: the store owns its context block; Wasm code of this
        // store only runs on the thread that holds the store.
        unsafe { (*self.context_ptr()).epoch_deadline }
    }

    /// Sets the deadline `ticks` past the engine's current epoch.
    pub(crate) fn set_epoch_deadline(&mut self, ticks: u64) {
        let deadline = self.engine.current_epoch().saturating_add(ticks);
        // SAFETY: as in `epoch_deadline`.
        unsafe { (*self.context_ptr()).epoch_deadline = deadline };
    }
}

/// The `epoch_deadline` builtin's work: the epoch has reached the deadline
/// of the store whose `StoreInner<T>` is `store`.
///
/// # Safety
/// `store` must be the store pointer of the store context of the Wasm
/// code calling the builtin, which nothing else borrows while it runs.
pub(crate) unsafe fn deadline_reached(store: *mut u8) -> Result<(), Interrupt> {
    let opaque = store.cast::<StoreOpaque>();
    // SAFETY: per the contract; this borrow ends before the callback runs.
    let callback = unsafe {
        let opaque = &mut *opaque;
        // Another thread's tick raced with a deadline set since the check.
        if opaque.engine.current_epoch() < opaque.epoch_deadline() {
            return Ok(());
        }
        opaque.epoch.callback.take()
    };
    let Some(mut callback) = callback else { return Err(Interrupt::Trap) };
    // Taken out of the store while it runs, since it borrows the whole store.
    let outcome = super::host_func::run_host_code("epoch deadline callback", || callback(store));
    // SAFETY: per the contract; the callback's borrow has ended.
    let opaque = unsafe { &mut *opaque };
    opaque.epoch.callback = Some(callback);
    match outcome {
        Ok(UpdateDeadline::Continue(ticks)) => {
            opaque.set_epoch_deadline(ticks);
            Ok(())
        }
        Err(error) => Err(Interrupt::Error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::VMStoreContext;
    use kiln_format::store_context;
    use std::mem::offset_of;

    #[test]
    fn store_context_layout_matches_the_format() {
        assert_eq!(offset_of!(VMStoreContext, epoch_deadline) as u32, store_context::EPOCH_DEADLINE);
        assert_eq!(offset_of!(VMStoreContext, epoch_counter) as u32, store_context::EPOCH_COUNTER);
        assert!(offset_of!(VMStoreContext, store) as u32 >= store_context::ABI_SIZE);
    }
}
