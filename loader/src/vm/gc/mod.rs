//! The GC heap of a store and the objects in it: structs and arrays
//! (SPEC 3.14).
//!
//! GC objects are counted exactly like externrefs (deferred reference
//! counting, SPEC 3.8) and share their header. This module holds
//! - `layout`: the runtime's layout of each struct and array type;
//! - `object`: header access, field access and the counting of reference
//!   words, dispatching on a block's kind;
//! - `heap`: the allocator (size classes, free lists, chunks);
//! - `free`: iterative freeing at count zero;
//! - `cycles`: the trial-deletion cycle collector;
//! - `store`: the store's allocation entry points under its limiter;
//! - `raw`: the raw object API the host-facing handles build on;
//! - `released`: the queue of counts given up away from the store's thread;
//! - `builtins`: the GC builtins compiled code calls;
//! - `stats`: the heap's numbers.
#![allow(unsafe_code)]

pub(crate) mod builtins;
pub(crate) mod cycles;
mod free;
pub(crate) mod heap;
pub(crate) mod layout;
pub(crate) mod object;
pub(crate) mod raw;
pub(crate) mod released;
mod stats;
pub(crate) mod store;

pub use stats::GcHeapStats;

#[cfg(test)]
mod tests;
