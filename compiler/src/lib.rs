//! kilnc: compiles WebAssembly ahead of time into kiln ELF objects.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod abi;
mod error;
pub mod translate;

pub use error::{CompileError, CompileErrorKind, Result};
