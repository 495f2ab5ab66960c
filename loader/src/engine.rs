//! The engine: what every store and module that work together share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use kiln_format::{CompositeType, FuncType, TypeShape};

use crate::config::{Config, InstanceAllocationStrategy};
use crate::error::Error;
use crate::vm::pooling::PoolingAllocator;
use crate::vm::TypeRegistry;
use crate::ProfilingStrategy;

/// A shared handle to the runtime's global state; cheap to clone, `Send`
/// and `Sync`. `Engine::default()` is an engine with the default
/// [`Config`]. Modules, linkers and stores of one engine work together:
/// function types get engine-wide ids, so import matching and
/// `call_indirect` compare integers, and instantiation hashes nothing.
#[derive(Clone, Default)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

#[derive(Default)]
struct EngineInner {
    types: RwLock<TypeRegistry>,
    /// The epoch: compiled epoch checks of every store of the engine read
    /// it through a pointer in their store context.
    epoch: AtomicU64,
    /// The slots of the pooling allocator, if the engine uses one.
    pooling: Option<PoolingAllocator>,
    /// Whether loaded modules are written to the perf map.
    profiler: ProfilingStrategy,
}

impl Engine {
    /// An engine with `config`. Fails only when the pooling allocator
    /// cannot reserve its slots.
    pub fn new(config: &Config) -> Result<Engine, Error> {
        let pooling = match &config.allocation {
            InstanceAllocationStrategy::OnDemand => None,
            InstanceAllocationStrategy::Pooling(pool) => Some(PoolingAllocator::new(pool)?),
        };
        Ok(Engine { inner: Arc::new(EngineInner { pooling, profiler: config.profiler, ..EngineInner::default() }) })
    }

    /// How the engine tells profilers about the code it loads.
    pub(crate) fn profiler(&self) -> ProfilingStrategy {
        self.inner.profiler
    }

    /// The pooling allocator's slots, if the engine was configured with one.
    pub(crate) fn pooling(&self) -> Option<&PoolingAllocator> {
        self.inner.pooling.as_ref()
    }

    /// Whether both handles are the same engine.
    pub fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Advances the epoch by one tick. Callable from any thread (a timer
    /// thread, say): code compiled with `--epoch-interruption` in a store
    /// whose deadline this reaches calls the store's deadline behaviour at
    /// its next function entry or loop header. See
    /// [`Store::set_epoch_deadline`](crate::Store::set_epoch_deadline).
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Release);
    }

    /// The current epoch: the number of ticks since the engine was made.
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// The counter that store contexts point compiled code at; it lives as
    /// long as the engine, which every store keeps alive.
    pub(crate) fn epoch_counter(&self) -> *const AtomicU64 {
        &self.inner.epoch
    }

    /// The engine's id for a function type.
    pub(crate) fn intern_type(&self, ty: &FuncType) -> u32 {
        self.inner.types.write().unwrap_or_else(|e| e.into_inner()).intern(ty)
    }

    /// The engine's id for a struct or array type (see
    /// `TypeRegistry::intern_composite`).
    pub(crate) fn intern_composite_type(&self, ty: &CompositeType) -> u32 {
        self.inner.types.write().unwrap_or_else(|e| e.into_inner()).intern_composite(ty)
    }

    /// The engine's ids for a module's types, given each one's shape;
    /// an error names what is inconsistent in them.
    pub(crate) fn intern_module_types(&self, tys: &[CompositeType], shapes: &[TypeShape]) -> Result<Vec<u32>, String> {
        self.inner.types.write().unwrap_or_else(|e| e.into_inner()).intern_module(tys, shapes).map_err(|e| e.0)
    }

    /// Whether engine type `sub` is `sup` or declares it as a supertype,
    /// directly or not.
    pub(crate) fn is_subtype(&self, sub: u32, sup: u32) -> bool {
        sub == sup || self.inner.types.read().unwrap_or_else(|e| e.into_inner()).is_subtype(sub, sup)
    }

    /// The type (function, struct or array) with id `id`, concrete
    /// references as engine ids.
    pub(crate) fn composite_type(&self, id: u32) -> Option<CompositeType> {
        self.inner.types.read().unwrap_or_else(|e| e.into_inner()).get_composite(id).cloned()
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
