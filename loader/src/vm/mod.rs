//! The runtime's raw layer, under the handles of the public API: the
//! `#[repr(C)]` structures compiled code reads, instances and their
//! VMContexts, host-function contexts, tables, memories, globals, the
//! builtins, the externref activations table and its GC, traps, and the
//! call into Wasm. Nearly all of the loader's unsafe code lives here; the
//! handle layer above it reaches the store's arenas through safe methods.

mod abi;
mod activations;
pub(crate) mod builtins;
pub(crate) mod epoch;
pub(crate) mod exception;
mod externref;
mod fuel;
pub(crate) mod gc;
pub(crate) mod gc_object;
pub(crate) mod gc_roots;
pub(crate) mod global;
pub(crate) mod host_func;
pub(crate) mod instance;
mod instrumentation;
pub(crate) mod invoke;
pub(crate) mod memory;
mod parking;
mod pinned;
pub(crate) mod pooling;
pub(crate) mod shared_memory;
mod stack;
pub(crate) mod store;
pub(crate) mod store_memory;
pub(crate) mod table;
pub(crate) mod traps;
mod type_registry;
pub(crate) mod unwind;
pub(crate) mod values;

pub(crate) use abi::*;
pub use activations::{GcStats, ACTIVATIONS_CHUNK_CAPACITY};
pub use epoch::UpdateDeadline;
pub use externref::ExternRef;
pub use gc::GcHeapStats;
pub use memory::{MAX_MEMORY64_PAGES, MAX_WASM_PAGES, WASM_PAGE_SIZE};
pub use parking::WaitOutcome;
pub(crate) use pinned::Pinned;
pub use stack::HOST_STACK_RESERVE;
pub use store::DEFAULT_MAX_WASM_STACK;
pub use table::MAX_TABLE_ELEMENTS;
pub(crate) use type_registry::TypeRegistry;
