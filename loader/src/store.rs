//! The store: owner of every runtime object, and the contexts through which
//! handles reach it.

use kiln_format::Instrumentation;

use crate::engine::Engine;
use crate::error::Error;
use crate::limits::ResourceLimiter;
use crate::vm::epoch::erase_callback;
use crate::vm::store::{ask_limiter, StoreInner, StoreOpaque};
use crate::vm::{GcStats, UpdateDeadline};

pub use crate::vm::DEFAULT_MAX_WASM_STACK;

/// A store: the instances, host functions, memories, tables and globals of
/// one tenant, plus the host's state `T`.
///
/// Everything is owned by the store, in arenas, and freed when the store is
/// dropped. Handles ([`Func`](crate::Func), [`Memory`](crate::Memory),
/// [`Instance`](crate::Instance), ...) are small `Copy` indices tagged with
/// the store's id; they own nothing, so no cycle can keep a store alive.
/// Using a handle with another store is an error (or, for the infallible
/// accessors, a panic), never undefined behaviour.
///
/// `Store<T>` is `Send` when `T` is: a service can move a store to
/// whichever thread handles the next request.
pub struct Store<T> {
    inner: Box<StoreInner<T>>,
}

impl<T> Store<T> {
    /// A new, empty store of `engine` with host state `data`.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store { inner: Box::new(StoreInner { opaque: StoreOpaque::new(engine), data, limiter: None }) }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.opaque.engine
    }

    /// The host state.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The host state, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// Drops the store and everything in it, giving back the host state.
    pub fn into_data(self) -> T {
        let StoreInner { opaque, data, limiter } = *self.inner;
        drop((opaque, limiter));
        data
    }

    /// Installs the store's resource limiter, found in its host state by
    /// `limiter`. It decides every growth of the store's memories and
    /// tables (their initial sizes included) and how many instances,
    /// memories and tables the store may hold; see [`ResourceLimiter`].
    pub fn limiter(&mut self, limiter: impl (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync + 'static) {
        self.inner.limiter = Some(Box::new(limiter));
        self.inner.opaque.limiter = Some(ask_limiter::<T>);
    }

    /// Sets the epoch deadline `ticks` ticks of
    /// [`Engine::increment_epoch`] past the current epoch. Once the epoch
    /// reaches it, code compiled with `kilnc --epoch-interruption` traps
    /// with [`TrapCode::INTERRUPT`](crate::TrapCode::INTERRUPT) at its next
    /// function entry or loop header, or runs the
    /// [deadline callback](Store::epoch_deadline_callback). Until a deadline
    /// is set, none fires.
    ///
    /// A deadline needs every instance of the store to have epoch checks:
    /// it is refused if the store already holds an instance of code compiled
    /// without them, and once it is set, instantiating such code fails.
    pub fn set_epoch_deadline(&mut self, ticks: u64) -> Result<(), Error> {
        self.inner.opaque.require_instrumentation(Instrumentation::EPOCH)?;
        self.inner.opaque.set_epoch_deadline(ticks);
        Ok(())
    }

    /// Gives the store `fuel` units of fuel, replacing what it had. Code
    /// compiled with `kilnc --fuel` consumes it with Wasmtime's cost model
    /// (one unit per operator; `nop`, `drop`, `block`, `loop`,
    /// `unreachable`, `return`, `else` and `end` are free) and traps with
    /// [`TrapCode::OUT_OF_FUEL`](crate::TrapCode::OUT_OF_FUEL), "all fuel
    /// consumed", at the first function entry or loop header that finds it
    /// used up. A store starts with none: instrumented code traps at once
    /// until fuel is set.
    ///
    /// Fuel needs every instance of the store to be metered: it is refused
    /// if the store already holds an instance of code compiled without
    /// `--fuel`, and once it is set, instantiating such code fails.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        self.inner.opaque.require_instrumentation(Instrumentation::FUEL)?;
        self.inner.opaque.set_fuel_left(fuel);
        Ok(())
    }

    /// The fuel left. Exact between calls into Wasm and in host functions
    /// that Wasm calls; after a trap other than `out_of_fuel`, the cost of
    /// the trapping function's last straight-line run may be missing.
    /// An error if an instance of the store is not metered, since its code
    /// runs without consuming fuel.
    pub fn get_fuel(&self) -> Result<u64, Error> {
        self.inner.opaque.check_instrumentation(Instrumentation::FUEL)?;
        Ok(self.inner.opaque.fuel())
    }

    /// At the epoch deadline, runs `callback` instead of trapping. It sees
    /// the store, and either lets the code go on with a new deadline
    /// ([`UpdateDeadline::Continue`] of some ticks past the current epoch)
    /// or fails the call into Wasm with its error.
    pub fn epoch_deadline_callback(
        &mut self,
        callback: impl FnMut(StoreContextMut<'_, T>) -> anyhow::Result<UpdateDeadline> + Send + 'static,
    ) where
        T: 'static,
    {
        self.inner.opaque.epoch.callback = Some(erase_callback(callback));
    }

    /// At the epoch deadline, traps with `interrupt` (the default): drops
    /// the deadline callback, if any.
    pub fn epoch_deadline_trap(&mut self) {
        self.inner.opaque.epoch.callback = None;
    }

    /// Sets how much native stack Wasm may use below the outermost call into
    /// it. Whatever the budget, Wasm never comes closer than
    /// [`HOST_STACK_RESERVE`](crate::HOST_STACK_RESERVE) (128 KiB) to the end
    /// of the thread's stack: that much stays for host functions called from
    /// the deepest Wasm frame. On a thread of 256 KiB, Wasm thus gets less
    /// than 128 KiB; running out traps with `stack_overflow`.
    pub fn set_max_wasm_stack(&mut self, bytes: usize) {
        self.inner.opaque.max_wasm_stack = bytes;
    }

    /// The native stack budget of Wasm calls.
    pub fn max_wasm_stack(&self) -> usize {
        self.inner.opaque.max_wasm_stack
    }

    /// Runs a GC now: the activations table's (deferred reference
    /// counting, which frees what only stale table entries held), then the
    /// counts of GC objects that dropped exceptions gave up (an exception
    /// may be dropped on any thread, so it leaves them to the store's next
    /// GC), then the cycle collector over the GC heap's candidate roots,
    /// which frees garbage cycles of structs and arrays. See
    /// [`Caller::gc`](crate::Caller::gc).
    pub fn gc(&mut self) -> Result<GcStats, Error> {
        self.inner.opaque.full_gc()
    }

    /// The numbers of the store's GC heap: live objects and bytes, and
    /// what freeing and the cycle collector have done.
    pub fn gc_heap_stats(&self) -> crate::GcHeapStats {
        self.inner.opaque.gc_heap.stats()
    }

    /// Number of counts the activations table holds (chunk and retained list).
    pub fn activations_len(&self) -> usize {
        self.inner.opaque.activations.len()
    }

    /// Number of host roots of GC references the store holds (each owns
    /// one count; see [`RootScope`](crate::RootScope)).
    pub fn gc_roots_len(&self) -> usize {
        self.inner.opaque.roots.len()
    }

    /// Number of owned roots the store keeps (see
    /// [`OwnedAnyRef`](crate::OwnedAnyRef)), counting those whose handles
    /// are gone until the next sweep releases them.
    pub fn gc_owned_roots_len(&self) -> usize {
        self.inner.opaque.roots.owned_len()
    }

    /// Number of GCs this store has run.
    pub fn gc_count(&self) -> u64 {
        self.inner.opaque.activations.gc_count()
    }
}

impl<T: Default> Default for Store<T> {
    fn default() -> Self {
        Store::new(&Engine::default(), T::default())
    }
}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("instances", &self.inner.opaque.instances.len()).finish_non_exhaustive()
    }
}

/// A shared borrow of a store.
pub struct StoreContext<'a, T>(pub(crate) &'a StoreInner<T>);

/// A unique borrow of a store.
pub struct StoreContextMut<'a, T>(pub(crate) &'a mut StoreInner<T>);

impl<T> StoreContext<'_, T> {
    /// The host state.
    pub fn data(&self) -> &T {
        &self.0.data
    }
}

impl<T> StoreContextMut<'_, T> {
    /// The host state.
    pub fn data(&self) -> &T {
        &self.0.data
    }

    /// The host state, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.0.data
    }
}

/// Something that borrows a store: `Store<T>`, a [`Caller`](crate::Caller),
/// a store context, or a reference to one of these.
pub trait AsContext {
    /// The host state of the store.
    type Data;
    /// The store, shared.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Something that borrows a store uniquely.
pub trait AsContextMut: AsContext {
    /// The store, unique.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(&self.inner)
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(&mut self.inner)
    }
}

impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}

impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

/// The opaque part of a store, for the handle methods that do not depend
/// on the host state.
pub(crate) fn opaque<C: AsContext + ?Sized>(store: &C) -> &StoreOpaque {
    &store.as_context().0.opaque
}

/// The opaque part of a store, uniquely.
pub(crate) fn opaque_mut<C: AsContextMut + ?Sized>(store: &mut C) -> &mut StoreOpaque {
    &mut store.as_context_mut().0.opaque
}

impl<'a, C: AsContext + ?Sized> From<&'a C> for StoreContext<'a, C::Data> {
    fn from(store: &'a C) -> Self {
        store.as_context()
    }
}

impl<'a, C: AsContext + ?Sized> From<&'a mut C> for StoreContext<'a, C::Data> {
    fn from(store: &'a mut C) -> Self {
        (*store).as_context()
    }
}

impl<'a, C: AsContextMut + ?Sized> From<&'a mut C> for StoreContextMut<'a, C::Data> {
    fn from(store: &'a mut C) -> Self {
        store.as_context_mut()
    }
}
