//! The native stack budget of Wasm code.
#![allow(unsafe_code)]

use std::cell::Cell;

/// Native stack that Wasm code never uses, between the lowest address its
/// stack limit may reach and the real end of the thread's stack, whatever
/// the store's `max_wasm_stack` says: room for a host function called from
/// the deepest Wasm frame (and what it calls), the trap path and signal
/// delivery. A host function that needs more than this, minus a few KiB for
/// the call machinery, can overflow the thread's stack, which aborts.
pub const HOST_STACK_RESERVE: usize = 128 << 10;

thread_local! {
    /// Lowest address of this thread's stack, or 0 if unknown.
    static STACK_BOTTOM: Cell<Option<usize>> = const { Cell::new(None) };
}

#[inline]
fn stack_bottom() -> usize {
    STACK_BOTTOM.with(|cell| {
        if let Some(bottom) = cell.get() {
            return bottom;
        }
        let bottom = query_stack_bottom().unwrap_or(0);
        cell.set(Some(bottom));
        bottom
    })
}

fn query_stack_bottom() -> Option<usize> {
    // SAFETY: plain libc queries on the calling thread with a zeroed attr
    // that is destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (rc == 0).then_some(addr as usize)
    }
}

/// An address close to the current stack pointer.
#[inline(never)]
pub(crate) fn approximate_sp() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

thread_local! {
    static THREAD_TOKEN: u8 = const { 0 };
}

/// A number unique to the calling thread among live threads: the address
/// of a thread-local, so reading it costs no more than a TLS access.
#[inline]
pub(crate) fn thread_token() -> usize {
    THREAD_TOKEN.with(|token| token as *const u8 as usize)
}

/// The stack limit for an outermost call into Wasm made from here:
/// `budget` below the current stack pointer, but never closer than
/// [`HOST_STACK_RESERVE`] to the bottom of the thread's stack.
#[inline]
pub(crate) fn stack_limit_for(budget: usize) -> usize {
    let sp = approximate_sp();
    let wanted = sp.saturating_sub(budget);
    let bottom = stack_bottom();
    if bottom == 0 {
        return wanted;
    }
    // Already within the reserve: the first Wasm prologue must trap.
    wanted.max(bottom.saturating_add(HOST_STACK_RESERVE)).min(sp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_lies_below_the_stack_pointer_and_above_the_bottom() {
        let sp = approximate_sp();
        let limit = stack_limit_for(1 << 20);
        assert!(limit < sp);
        assert!(limit >= stack_bottom());
        let huge = stack_limit_for(usize::MAX);
        assert!(huge >= stack_bottom() + HOST_STACK_RESERVE || stack_bottom() == 0);
    }
}
