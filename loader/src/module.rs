//! Modules: loaded artifacts, ready to be instantiated any number of times.

use std::path::Path;
use std::sync::Arc;

use kiln_format::{Export, FuncType, Import, ModuleInfo, RefType, ValType};

use crate::code::{self, LoadedCode};
use crate::engine::Engine;
use crate::error::Error;
use crate::ProfilingStrategy;
#[cfg(feature = "verify")]
use crate::TrustedKeys;

/// A loaded, relocated artifact. Cheap to clone, `Send` and `Sync`: one
/// module serves any number of stores of its engine on any threads.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    engine: Engine,
    code: Arc<LoadedCode>,
    /// The engine's id of each of the module's types, interned once here so
    /// that instantiation copies them.
    type_ids: Box<[u32]>,
}

impl Module {
    /// Loads an artifact file that the caller vouches for.
    ///
    /// The loader checks everything it can (the digest, the format version,
    /// the target and CPU features, the bounds of every table), which
    /// refuses damaged and foreign files, but it cannot tell the code of an
    /// artifact kilnc made from any other machine code.
    ///
    /// # Safety
    ///
    /// Loading runs the artifact's code as native code of this process
    /// (SPEC.md 2.1.1). The caller must know that `path` is an artifact
    /// that kilnc made from a module it is willing to run, as it would know
    /// a shared library it links, and that nobody it does not trust can
    /// write the file while the module is loaded. An artifact from anywhere
    /// else is loaded safely with [`Module::from_file_verified`].
    #[allow(unsafe_code)]
    pub unsafe fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
        // SAFETY: the caller vouches for the artifact, as this function's
        // own contract requires.
        Module::from_code(engine, unsafe { code::load_file(path.as_ref()) }?)
    }

    /// Loads an artifact from its bytes, copying them; the caller vouches
    /// for them.
    ///
    /// # Safety
    ///
    /// As for [`Module::from_file`]: `bytes` must be an artifact that kilnc
    /// made from a module the caller is willing to run.
    /// [`Module::from_bytes_verified`] checks a signature instead.
    #[allow(unsafe_code)]
    pub unsafe fn from_bytes(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        // SAFETY: the caller vouches for the artifact.
        Module::from_code(engine, unsafe { code::load_bytes(bytes) }?)
    }

    /// Loads an artifact file once its signature is found to be by one of
    /// `keys` (`kiln sign`, `kilnc --sign`): an unsigned artifact, one signed
    /// by another key, or one changed since it was signed is refused before
    /// any of it is mapped executable.
    ///
    /// The file must still not be written by anyone untrusted while the
    /// module is loaded: its code runs from the file's pages, as a shared
    /// library's does.
    #[cfg(feature = "verify")]
    pub fn from_file_verified(engine: &Engine, path: impl AsRef<Path>, keys: &TrustedKeys) -> Result<Module, Error> {
        Module::from_code(engine, code::load_file_verified(path.as_ref(), keys)?)
    }

    /// Loads an artifact from its bytes, as [`Module::from_bytes`] does,
    /// once its signature is found to be by one of `keys`.
    #[cfg(feature = "verify")]
    pub fn from_bytes_verified(engine: &Engine, bytes: &[u8], keys: &TrustedKeys) -> Result<Module, Error> {
        Module::from_code(engine, code::load_bytes_verified(bytes, keys)?)
    }

    /// Loads an artifact embedded in the program, running its code where
    /// the bytes lie when it can: usually through
    /// [`include_artifact!`](crate::include_artifact), which places an
    /// artifact compiled by the build script so that it can.
    ///
    /// Nothing is copied when the artifact's `.text` is whole pages of
    /// memory where `bytes` lie, as it is when `bytes` start on a page
    /// (kilnc places `.text` on a page of the file): those pages are made
    /// read + execute in place, and stay so for as long as the program
    /// runs; the rest of `bytes` is only read. Otherwise the code runs from
    /// an anonymous copy, as with [`Module::from_bytes`].
    /// [`LoadedCode::runs_in_place`] tells which. Loading the same bytes
    /// again while a module of them lives gives a module of the same code.
    ///
    /// The artifact is checked completely, as every load checks it, before
    /// any page is made executable: a damaged artifact is an error.
    ///
    /// # Safety
    ///
    /// The bytes run as native code, with no sandbox of their own beyond
    /// what kilnc compiled into them: the caller vouches that they are an
    /// artifact it trusts, made by kilnc (as one produced by the program's
    /// own build is). Their `.text` pages are made executable and never
    /// writable again, so `bytes` must be memory that nothing writes
    /// (which `&'static [u8]` already promises).
    #[allow(unsafe_code)]
    pub unsafe fn from_static(engine: &Engine, bytes: &'static [u8]) -> Result<Module, Error> {
        Module::from_code(engine, code::load_static(bytes)?)
    }

    /// Wraps already loaded code, checking that its module info is
    /// consistent enough to instantiate.
    pub fn from_code(engine: &Engine, code: Arc<LoadedCode>) -> Result<Module, Error> {
        crate::vm::instance::check_counts(code.info())?;
        let info = code.info();
        let type_ids = engine
            .intern_module_types(&info.types, &info.type_shapes)
            .map_err(|e| Error::Instantiation(format!("bad type section: {e}")))?
            .into_boxed_slice();
        if engine.profiler() == ProfilingStrategy::PerfMap {
            crate::profiling::write_perf_map(&code)?;
        }
        Ok(Module { inner: Arc::new(ModuleInner { engine: engine.clone(), code, type_ids }) })
    }

    /// The engine it was loaded with.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The loaded code.
    pub fn code(&self) -> &Arc<LoadedCode> {
        &self.inner.code
    }

    pub(crate) fn type_ids(&self) -> &[u32] {
        &self.inner.type_ids
    }

    /// `ty` of this module's info with concrete types named by engine id,
    /// as the store's entities and the API name them.
    pub(crate) fn engine_type(&self, ty: ValType) -> ValType {
        ty.map_concrete(|index| self.engine_type_id(index))
    }

    /// See [`Module::engine_type`].
    pub(crate) fn engine_ref_type(&self, ty: RefType) -> RefType {
        ty.map_concrete(|index| self.engine_type_id(index))
    }

    /// The engine id of type `index`; an index out of range (which
    /// `check_counts` refuses at load) names no type.
    fn engine_type_id(&self, index: u32) -> u32 {
        self.inner.type_ids.get(index as usize).copied().unwrap_or(u32::MAX)
    }

    /// The module info.
    pub fn info(&self) -> &ModuleInfo {
        self.inner.code.info()
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.info().name.as_deref()
    }

    /// Its imports, in order.
    pub fn imports(&self) -> &[Import] {
        &self.info().imports
    }

    /// Its exports, in order.
    pub fn exports(&self) -> &[Export] {
        &self.info().exports
    }

    /// The type of function `func_index` of its function space.
    pub fn func_type(&self, func_index: u32) -> Option<&FuncType> {
        let info = self.info();
        info.func_type(func_index)
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.name()).finish()
    }
}
