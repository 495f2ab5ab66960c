//! kilnc: compiles WebAssembly ahead of time into kiln ELF objects.
//!
//! ```
//! use kiln_compiler::{compile, CompileOptions, OptLevel};
//!
//! let wat = br#"(module (func (export "add") (param i32 i32) (result i32)
//!                  local.get 0 local.get 1 i32.add))"#;
//! let options = CompileOptions { opt_level: OptLevel::Speed, threads: Some(1), ..Default::default() };
//! let object = compile(wat, &options).unwrap();
//! assert_eq!(&object[..4], b"\x7fELF");
//! ```
//!
//! A program's build script compiles its modules with [`build`], for the
//! program to embed them (`kiln_loader::include_artifact!`).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod abi;
pub mod build;
mod compile;
mod debug_lines;
mod driver;
mod emit;
mod environ;
mod error;
mod executable;
mod features;
mod inline;
mod link;
mod memory_image;
mod options;
mod prescan;
mod progress;
mod report;
mod seal;
mod signing;
mod text_format;
mod text_layout;
mod trampolines;
pub mod translate;

pub use driver::{compile, compile_file, compile_file_with_report, compile_with_report};
pub use error::{CompileError, CompileErrorKind, Result};
pub use executable::link_executable;
pub use features::{Features, WasmFeature};
pub use kiln_format::{CpuFeatures, Preopen, RunPolicy};
pub use link::link_shared_object;
pub use options::{CompileOptions, CpuChoice, Emit, ExecutableOptions, Inlining, OptLevel, DEFAULT_TARGET};
pub use progress::Progress;
pub use report::{CompileReport, FunctionTime, Phase, PhaseTime};
pub use signing::Signer;
pub use translate::{FuncEnvironment, FuncTranslator};
