//! Loading artifacts: header checks, ELF parsing, relocation, executable
//! memory and the global code registry.
//!
//! An artifact is validated completely before any memory is mapped; a
//! refused artifact costs nothing but the error.

mod artifact;
mod elf;
mod error;
mod file;
mod host;
mod image;
mod loaded;
mod memory;
mod registry;
mod reloc;
mod shared;

pub use error::*;
pub use host::*;
pub(crate) use image::ImageSource;
pub use loaded::*;
pub use registry::lookup_code;

pub(crate) use registry::{with_code_ranges, CodeRanges};
