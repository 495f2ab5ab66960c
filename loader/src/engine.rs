//! The engine: what every store and module that work together share.

use std::sync::{Arc, RwLock};

use kiln_format::FuncType;

use crate::vm::TypeRegistry;

/// A shared handle to the runtime's global state; cheap to clone, `Send`
/// and `Sync`. Modules, linkers and stores of one engine work together:
/// function types get engine-wide ids, so import matching and
/// `call_indirect` compare integers, and instantiation hashes nothing.
#[derive(Clone, Default)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

#[derive(Default)]
struct EngineInner {
    types: RwLock<TypeRegistry>,
}

impl Engine {
    /// A new engine.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Whether both handles are the same engine.
    pub fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The engine's id for a function type.
    pub(crate) fn intern_type(&self, ty: &FuncType) -> u32 {
        self.inner.types.write().unwrap_or_else(|e| e.into_inner()).intern(ty)
    }

    /// The engine's ids for a module's types.
    pub(crate) fn intern_types(&self, tys: &[FuncType]) -> Vec<u32> {
        self.inner.types.write().unwrap_or_else(|e| e.into_inner()).intern_all(tys)
    }

    /// The type with id `id`.
    pub(crate) fn func_type(&self, id: u32) -> Option<FuncType> {
        self.inner.types.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}
