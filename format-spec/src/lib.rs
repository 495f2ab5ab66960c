//! The kiln artifact format and ABI.
//!
//! Everything that the compiler (`kilnc`) and the loader (`kiln`) must agree
//! on lives here, written once: section and symbol names, the artifact
//! header and its field offsets, the relaxed-SIMD semantics, the module
//! info records, trap codes,
//! stack-map records, Wasm offsets and source lines, builtin indices, the VMContext layout, and the page
//! size and address-space reservation of linear memories, and the media types
//! of kiln's OCI image layers. `SPEC.md` next to
//! this crate is the normative, byte-by-byte description.
//!
//! ```
//! use kiln_format::{ArtifactHeader, CpuFeatures, FORMAT_VERSION};
//!
//! let header = ArtifactHeader::new("x86_64-unknown-linux-gnu", CpuFeatures::BASELINE_X86_64, 7, 0);
//! let bytes = header.to_bytes();
//! let back = ArtifactHeader::from_bytes(&bytes).unwrap();
//! assert_eq!(back.format_version, FORMAT_VERSION);
//! assert_eq!(back.target(), "x86_64-unknown-linux-gnu");
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builtins;
mod cpu;
mod digest;
mod error;
mod executable;
mod func_names;
pub mod gc;
mod handlers;
mod header;
mod inlined;
mod instrumentation;
mod le_table;
mod memory;
mod module_info;
mod names;
mod oci;
mod relaxed_simd;
pub mod signature;
mod source_lines;
mod stackmap;
mod trap;
mod types;
mod value;
mod vmoffsets;
mod wasm_offsets;

pub use builtins::*;
pub use cpu::*;
pub use digest::*;
pub use error::*;
pub use executable::*;
pub use func_names::*;
pub use handlers::*;
pub use header::*;
pub use inlined::*;
pub use instrumentation::*;
pub use memory::*;
pub use module_info::*;
pub use names::*;
pub use oci::*;
pub use relaxed_simd::*;
pub use source_lines::*;
pub use stackmap::*;
pub use trap::*;
pub use types::*;
pub use value::*;
pub use vmoffsets::*;
pub use wasm_offsets::*;
