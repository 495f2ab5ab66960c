//! kiln's WebAssembly script (`.wast`) runner and test support.
//!
//! Every module of a script takes the path that a user's module takes: its
//! binary is written to a file, compiled by [`kiln_compiler::compile_file`]
//! into a real object file (the bytes `kilnc` writes), and loaded with
//! [`kiln_loader::Module::from_file`] (the path `kiln` takes). Nothing is
//! shortcut in-process, so a passing script says something about the
//! artifacts kiln ships.
//!
//! ```no_run
//! use kiln_tests::{run_script_file, RunOptions};
//!
//! let report = run_script_file("tests/testsuite/wasm-2.0/i32.wast".as_ref(), &RunOptions::default());
//! println!("{}: {} passed, {} failed", report.file.display(), report.passed, report.failures.len());
//! ```
//!
//! [`run_script_isolated`] runs a script in a child process instead, so that
//! a crash of compiled code or of the loader costs only that script.
#![deny(missing_docs)]
#![deny(unsafe_code)]

// Keeps the README's embedding example compiling and passing.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;

mod artifact;
pub mod differential;
pub mod fuzzing;
mod isolate;
pub mod legacy_syntax;
mod report;
mod runner;
mod spectest;
mod trusted;
mod values;

pub use artifact::*;
pub use isolate::*;
pub use report::*;
pub use runner::*;
pub use spectest::*;
pub use trusted::{module_from_bytes, module_from_file};
pub use values::*;
