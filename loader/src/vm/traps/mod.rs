//! Traps: signal handlers, unwinding to the host-to-Wasm entry, and Wasm
//! backtraces.
//!
//! A trap ends the innermost [`catch_traps`] of the thread with an error.
//! It comes from a signal in Wasm code (an out-of-bounds access on a guard
//! page, `ud2`, a division fault), or from Rust code called by Wasm through
//! [`raise_trap`] or [`raise_host_error`]. Recovery uses
//! `sigsetjmp`/`siglongjmp` in a small C helper, because `setjmp` returns
//! twice, which Rust cannot express soundly.

mod backtrace;
mod recovery;
mod signals;
mod trap;

#[cfg(test)]
mod tests;

pub use backtrace::{walk_wasm_frames, WasmFrame};
pub use recovery::{catch_traps, catch_traps_with_limits};
pub(crate) use recovery::{raise_host_error, raise_trap};
pub use signals::init_signal_handlers;
pub use trap::*;
