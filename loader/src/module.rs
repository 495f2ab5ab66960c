//! Modules: loaded artifacts, ready to be instantiated any number of times.

use std::path::Path;
use std::sync::Arc;

use kiln_format::{Export, FuncType, Import, ModuleInfo, RefType, ValType};

use crate::code::{load_bytes, load_file, load_static, LoadedCode};
use crate::engine::Engine;
use crate::error::Error;
use crate::ProfilingStrategy;

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
    /// Loads an artifact file.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
        Module::from_code(engine, load_file(path.as_ref())?)
    }

    /// Loads an artifact from its bytes.
    pub fn from_bytes(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        Module::from_code(engine, load_bytes(bytes)?)
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
        Module::from_code(engine, load_static(bytes)?)
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
