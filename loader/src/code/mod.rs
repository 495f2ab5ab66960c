//! Loading artifacts: header checks, ELF parsing, mapping code executable
//! where it lies, and the global code registry.
//!
//! An artifact is validated completely before any memory is mapped; a
//! refused artifact costs nothing but the error.

mod artifact;
mod elf;
mod error;
mod host;
mod image;
mod loaded;
mod mapping;
mod registry;
mod shared;
mod trust;
pub mod wasm_source;

pub use elf::meta_offset;
pub use error::*;
pub use host::*;
pub(crate) use image::ImageSource;
pub use loaded::*;
pub use registry::lookup_code;

pub(crate) use registry::{with_code_ranges, CodeRanges};
