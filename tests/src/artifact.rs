//! The kilnc/kiln code path: Wasm bytes to an object file on disk, and back to a loaded module.

use std::fs;
use std::path::{Path, PathBuf};

use kiln_compiler::{compile_file, CompileOptions, Emit};
use kiln_loader::{Engine, Module};

/// Why a module did not become a loaded [`Module`].
#[derive(Debug)]
pub enum BuildFailure {
    /// `kilnc` refused the module (what `assert_invalid` and `assert_malformed` expect).
    Compile(String),
    /// The loader refused the object that `kilnc` wrote: always a kiln bug.
    Load(String),
    /// The scratch directory could not be written.
    Io(String),
}

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildFailure::Compile(m) => write!(f, "compile error: {m}"),
            BuildFailure::Load(m) => write!(f, "load error: {m}"),
            BuildFailure::Io(m) => write!(f, "i/o error: {m}"),
        }
    }
}

/// Compiles modules into numbered files of one directory.
///
/// The files stay until the directory is removed, so that a failing
/// directive's object can be inspected with `kiln inspect` when the
/// directory was chosen by the caller.
pub struct ArtifactBuilder {
    dir: PathBuf,
    next: usize,
    options: CompileOptions,
}

impl ArtifactBuilder {
    /// Writes into `dir`, which must exist.
    pub fn new(dir: impl Into<PathBuf>, options: CompileOptions) -> Self {
        ArtifactBuilder { dir: dir.into(), next: 0, options }
    }

    /// Writes `wasm` to `mN.wasm` and compiles it to `mN.o` (`mN.so` for a
    /// shared object) with [`compile_file`], the function behind `kilnc`;
    /// returns the artifact's path.
    pub fn compile(&mut self, wasm: &[u8]) -> Result<PathBuf, BuildFailure> {
        let n = self.next;
        self.next += 1;
        let input = self.dir.join(format!("m{n}.wasm"));
        let extension = if self.options.emit == Emit::SharedObject { "so" } else { "o" };
        let output = self.dir.join(format!("m{n}.{extension}"));
        fs::write(&input, wasm).map_err(|e| BuildFailure::Io(format!("{}: {e}", input.display())))?;
        compile_file(&input, &output, &self.options).map_err(|e| BuildFailure::Compile(e.to_string()))?;
        Ok(output)
    }

    /// Compiles `wasm`, then loads the object file into `engine` as `kiln` does.
    pub fn build(&mut self, engine: &Engine, wasm: &[u8]) -> Result<Module, BuildFailure> {
        let object = self.compile(wasm)?;
        load_object(engine, &object)
    }
}

/// Loads an object file into `engine` with [`Module::from_file`].
pub fn load_object(engine: &Engine, path: &Path) -> Result<Module, BuildFailure> {
    crate::module_from_file(engine, path).map_err(|e| BuildFailure::Load(e.to_string()))
}
