//! kiln's C API: the functions declared in `include/kiln.h`, over the Rust
//! API of kiln-loader, for services in C, C++, Go (cgo) or Python (ctypes).
//!
//! The crate builds `libkiln.a` and `libkiln.so`. The header is the
//! reference for users: ownership, NULL and error rules are written there,
//! once, and each function here follows them. Every entry point
//!
//! - checks its pointers, a NULL one giving an error (`ffi::required`),
//! - runs inside `ffi::catch`, so that no Rust panic unwinds into C,
//! - takes a store through `kiln_store_t::enter`, which refuses a store
//!   that is running Wasm: a host callback reaches its store only through
//!   its `kiln_caller_t`, so no two mutable borrows of a store exist.
//!
//! The unsafe code of the API is here, at the boundary, and nowhere else:
//! dereferencing the pointers C passes, and calling C's callbacks.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
// The C names are the API's: `kiln_engine_t`, not `KilnEngine`.
#![allow(non_camel_case_types)]

mod caller;
mod engine;
mod error;
mod ffi;
mod func;
mod instance;
mod linker;
mod module;
mod store;
mod val;
mod wasi;

pub use caller::*;
pub use engine::*;
pub use error::*;
pub use func::*;
pub use instance::*;
pub use linker::*;
pub use module::*;
pub use store::*;
pub use val::*;
pub use wasi::*;
