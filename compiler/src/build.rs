//! Compiling a module in a build script (`build.rs`), into `OUT_DIR`, for
//! the program to embed with `kiln_loader::include_artifact!`.
//!
//! Add kiln-compiler as a build dependency and compile the module in
//! `build.rs`; the artifact is `$OUT_DIR/NAME.o`, named after the input:
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     // Writes $OUT_DIR/app.o, and reruns the build script when app.wat changes.
//!     kiln_compiler::build::compile("app.wat");
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs
//! let engine = kiln_loader::Engine::default();
//! let module = kiln_loader::include_artifact!(&engine, concat!(env!("OUT_DIR"), "/app.o"))?;
//! ```
//!
//! [`compile`] and [`Build::compile`] panic with a readable message on any
//! error, which is how a build script fails a build; [`Build::try_compile`]
//! returns the error instead. Options other than the default go through
//! [`Build::options`]:
//!
//! ```
//! use kiln_compiler::build::Build;
//! use kiln_compiler::{CompileOptions, OptLevel};
//!
//! let dir = tempfile::tempdir()?;
//! let input = dir.path().join("answer.wat");
//! std::fs::write(&input, r#"(module (func (export "answer") (result i32) i32.const 42))"#)?;
//! let artifact = Build::new(&input)
//!     .options(CompileOptions { opt_level: OptLevel::SpeedAndSize, ..Default::default() })
//!     .out_dir(dir.path()) // OUT_DIR when not given, as in a build script
//!     .try_compile()?;
//! assert_eq!(artifact, dir.path().join("answer.o"));
//! assert_eq!(&std::fs::read(&artifact)?[..4], b"\x7fELF");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Compiling prints `cargo:rerun-if-changed=` for the input on standard
//! output, which cargo reads from a build script, so cargo runs it again
//! when the module changes. Cargo then no longer reruns it on
//! any other change of the package: a build script that reads other files
//! names them itself.
//!
//! The CPU is [`CpuChoice::Baseline`](crate::CpuChoice::Baseline) unless the
//! options say otherwise, so that the program runs on any x86-64-v2 machine,
//! not only on the one that built it. A build for a target kiln generates
//! no code for (cargo's `TARGET`) is refused.

use std::path::{Path, PathBuf};

use crate::{compile_file, CompileError, CompileOptions, Result};

/// A module to compile in a build script: the input, `.wasm` or `.wat`, and
/// the options. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Build {
    input: PathBuf,
    options: CompileOptions,
    out_dir: Option<PathBuf>,
}

/// Compiles `input`, a `.wasm` or `.wat` file (relative to the package,
/// where cargo runs build scripts), with the default options into
/// `$OUT_DIR/NAME.o`, and returns that path. Panics with the error's
/// message on failure, failing the build.
pub fn compile(input: impl AsRef<Path>) -> PathBuf {
    Build::new(input).compile()
}

impl Build {
    /// The module `input`, a `.wasm` or `.wat` file, with the default
    /// options.
    pub fn new(input: impl AsRef<Path>) -> Build {
        Build { input: input.as_ref().to_path_buf(), options: CompileOptions::default(), out_dir: None }
    }

    /// Compiles with `options`. [`CompileOptions::emit`] picks the
    /// artifact: [`Emit::Object`](crate::Emit::Object) (`NAME.o`, what
    /// `include_artifact!` loads) or
    /// [`Emit::SharedObject`](crate::Emit::SharedObject) (`NAME.so`).
    pub fn options(mut self, options: CompileOptions) -> Build {
        self.options = options;
        self
    }

    /// Writes the artifact into `dir` instead of cargo's `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Build {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The path [`Build::try_compile`] writes: the output directory, and
    /// the input's file name with its last extension replaced by `o` (or
    /// `so`).
    pub fn output_path(&self) -> Result<PathBuf> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or_else(|| {
                CompileError::output(
                    "OUT_DIR is not set: kiln_compiler::build writes into cargo's OUT_DIR, which cargo sets only \
                     for a build script (build.rs); outside one, name the directory with Build::out_dir",
                )
            })?,
        };
        let name = self
            .options
            .emit
            .artifact_file_name(&self.input)
            .ok_or_else(|| CompileError::input(format!("{} names no file to compile", self.input.display())))?;
        Ok(out_dir.join(name))
    }

    /// Compiles the module and returns the artifact's path; on failure,
    /// panics with a message that names the input and says what is wrong.
    pub fn compile(&self) -> PathBuf {
        self.try_compile()
            .unwrap_or_else(|e| panic!("kiln_compiler::build: cannot compile {}:\n{e}", self.input.display()))
    }

    /// Compiles the module and returns the artifact's path, which is
    /// written whole or not at all ([`compile_file`]).
    pub fn try_compile(&self) -> Result<PathBuf> {
        // First, so that a build that fails on this module reruns once it
        // is fixed.
        println!("cargo:rerun-if-changed={}", self.input.display());
        refuse_foreign_target(std::env::var("TARGET").ok().as_deref())?;
        let output = self.output_path()?;
        compile_file(&self.input, &output, &self.options)?;
        Ok(output)
    }
}

/// Refuses a cargo `TARGET` that kiln generates no code for: the program
/// built for it could not run the artifact.
fn refuse_foreign_target(target: Option<&str>) -> Result<()> {
    let Some(target) = target else { return Ok(()) };
    let arch = target.split('-').next().unwrap_or("");
    if arch == "x86_64" && target.split('-').any(|part| part == "linux") {
        return Ok(());
    }
    Err(CompileError::options(format!(
        "this build is for {target}, and kiln generates code only for x86-64 Linux: the program could not run it"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Emit;

    #[test]
    fn the_artifact_is_named_after_the_input() {
        let build = Build::new("wasm/app.wat").out_dir("/out");
        assert_eq!(build.output_path().unwrap(), Path::new("/out/app.o"));
        let shared = build.options(CompileOptions { emit: Emit::SharedObject, ..Default::default() });
        assert_eq!(shared.output_path().unwrap(), Path::new("/out/app.so"));
        assert_eq!(Build::new("module.v2.wasm").out_dir("/out").output_path().unwrap(), Path::new("/out/module.v2.o"));
        assert!(Build::new("..").out_dir("/out").output_path().is_err());
    }

    #[test]
    fn only_x86_64_linux_targets_pass() {
        for target in [None, Some("x86_64-unknown-linux-gnu"), Some("x86_64-unknown-linux-musl")] {
            assert!(refuse_foreign_target(target).is_ok(), "{target:?}");
        }
        for target in ["aarch64-unknown-linux-gnu", "x86_64-apple-darwin", "x86_64-pc-windows-msvc"] {
            let error = refuse_foreign_target(Some(target)).unwrap_err();
            assert!(error.to_string().contains(target), "{error}");
        }
    }

    #[test]
    fn a_bad_module_is_an_error_and_leaves_no_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bad.wat");
        std::fs::write(&input, "(module (func (result i32)))").unwrap();
        let error = Build::new(&input).out_dir(dir.path()).try_compile().unwrap_err();
        assert_eq!(error.kind(), crate::CompileErrorKind::Invalid, "{error}");
        assert!(!dir.path().join("bad.o").exists(), "no artifact is left behind");
        let missing = Build::new(dir.path().join("missing.wasm")).out_dir(dir.path()).try_compile().unwrap_err();
        assert!(missing.to_string().contains("missing.wasm"), "{missing}");
    }

    #[test]
    fn compile_panics_with_the_input_and_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bad.wat");
        std::fs::write(&input, "(module (func (result i32)))").unwrap();
        let build = Build::new(&input).out_dir(dir.path());
        let panic = std::panic::catch_unwind(|| build.compile()).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert!(message.starts_with("kiln_compiler::build: cannot compile "), "{message}");
        assert!(message.contains("bad.wat") && message.contains("type mismatch"), "{message}");
    }
}
