//! `Caller`: what a host function sees of the store and instance that called it.

use crate::engine::Engine;
use crate::error::Error;
use crate::externals::Extern;
use crate::instance::Instance;
use crate::store::{AsContext, AsContextMut, StoreContext, StoreContextMut};
use crate::vm::store::StoreInner;
use crate::vm::GcStats;

/// The store and calling instance of a host function call.
///
/// The caller is the instance that imported the host function; a host
/// function called straight from the host, or one stored in a table by the
/// host, has none, and [`Caller::get_export`] finds nothing for it.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    caller: Option<Instance>,
}

impl<'a, T> Caller<'a, T> {
    pub(crate) fn new(store: &'a mut StoreInner<T>, caller: Option<Instance>) -> Caller<'a, T> {
        Caller { store, caller }
    }

    /// The same caller, reborrowed for a shorter time.
    pub(crate) fn reborrow(&mut self) -> Caller<'_, T> {
        Caller { store: &mut *self.store, caller: self.caller }
    }

    /// The host state of the store.
    pub fn data(&self) -> &T {
        &self.store.data
    }

    /// The host state of the store, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.data
    }

    /// The engine of the store.
    pub fn engine(&self) -> &Engine {
        &self.store.opaque.engine
    }

    /// The calling instance, if the function was imported by one.
    pub fn instance(&self) -> Option<Instance> {
        self.caller
    }

    /// The calling instance's export `name` (its memory, say).
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        self.caller?.get_export(self, name)
    }

    /// Runs a GC, walking every Wasm frame of the store, the caller's
    /// included, then dropping the GC counts that dropped exceptions left
    /// to the store, then the cycle collector over the GC heap's
    /// candidates. A
    /// host value's destructor that panics becomes the error, after every
    /// count has been dropped.
    pub fn gc(&mut self) -> Result<GcStats, Error> {
        self.store.opaque.full_gc()
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.store)
    }
}

impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.store)
    }
}
