//! The raw store: every runtime object of one store, in arenas, and the
//! per-store blocks that compiled code reaches through VMContexts.
//!
//! The public `Store<T>` owns a boxed [`StoreInner<T>`], so these never
//! move. Compiled code and the runtime's entry points reach the store only
//! through [`VMStoreContext::store`], which every call into Wasm refreshes
//! from the `&mut Store` it was given. Handles are indices (or pointers)
//! tagged with the store's [`StoreId`] and own nothing, so no handle can
//! keep a store alive and dropping the store frees everything.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kiln_format::Instrumentation;

use super::abi::{FuncRefPtr, VMFuncRef, ValueSlot};
use super::abi::{VMActivationsTable, VMRuntimeLimits};
use super::activations::{ActivationRecord, ActivationsTable, GcStats};
use super::epoch::EpochState;
use super::exception::VMTag;
use super::externref::{ExternRef, VMExternData};
use super::gc::heap::GcHeap;
use super::gc_roots::RootTable;
use super::global::GlobalInner;
use super::host_func::HostFuncRef;
use super::host_func::VMHostFuncContext;
use super::instance::InstanceData;
use super::memory::MemoryInner;
use super::pinned::Pinned;
use super::shared_memory::SharedMemoryInner;
use super::store_memory::StoreMemory;
use super::table::TableInner;
use crate::engine::Engine;
use crate::error::Error;
use crate::func::Func;
use crate::limits::ResourceLimiter;
use crate::module::Module;

/// Default budget of native stack that Wasm may use below the outermost entry.
pub const DEFAULT_MAX_WASM_STACK: usize = 1 << 20;

/// The identity of a store. Ids are never reused within a process, so a
/// handle of a dropped store matches no live one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(NonZeroU64);

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

impl StoreId {
    fn allocate() -> StoreId {
        let id = NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed);
        // 2^64 stores would take millennia at a billion per second.
        StoreId(NonZeroU64::new(id).expect("store ids exhausted"))
    }
}

/// What every VMContext of the store points at from offset 0: the runtime
/// limits of the ABI, followed by runtime-private fields that compiled code
/// never reads.
#[repr(C)]
pub(crate) struct VMStoreContext {
    pub limits: VMRuntimeLimits,
    /// The epoch deadline, at `store_context::EPOCH_DEADLINE`.
    pub epoch_deadline: u64,
    /// The engine's epoch, at `store_context::EPOCH_COUNTER`.
    pub epoch_counter: *const AtomicU64,
    /// The fuel counter, at `store_context::FUEL_CONSUMED`: fuel consumed
    /// minus fuel injected.
    pub fuel_consumed: i64,
    /// The `StoreInner<T>` (whose first field is the `StoreOpaque`) of the
    /// store, as the innermost call into Wasm derived it from its `&mut`.
    pub store: *mut u8,
}

/// The store's data, with its host state: the first field must stay the
/// opaque part, since builtins see `StoreInner<T>` as a `StoreOpaque`.
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub opaque: StoreOpaque,
    pub data: T,
    /// Finds the store's resource limiter in its host state.
    pub limiter: Option<Box<LimiterAccessor<T>>>,
}

/// How a store finds its [`ResourceLimiter`] in its host state.
pub(crate) type LimiterAccessor<T> = dyn (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync;

/// One question to a store's resource limiter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LimiterQuery {
    MemoryGrowing { current: usize, desired: usize, maximum: Option<usize> },
    TableGrowing { current: usize, desired: usize, maximum: Option<usize> },
    GcHeapGrowing { current: usize, desired: usize },
    Instances,
    Tables,
    Memories,
}

/// Asks the limiter of the `StoreInner<T>` that `store` heads; a yes/no
/// answer is 1 or 0, a count is the count.
type LimiterHook = unsafe fn(*mut StoreOpaque, LimiterQuery) -> anyhow::Result<usize>;

/// The [`LimiterHook`] of stores of host state `T`.
///
/// # Safety
/// `store` must be the opaque part of a live `StoreInner<T>` whose
/// `limiter` is set, borrowed by nothing but the caller.
pub(crate) unsafe fn ask_limiter<T>(store: *mut StoreOpaque, query: LimiterQuery) -> anyhow::Result<usize> {
    let inner = store.cast::<StoreInner<T>>();
    // SAFETY: per the contract; the accessor and the data are fields of the
    // store that the opaque part (which the caller holds) does not overlap.
    let (accessor, data) = unsafe { (&mut (*inner).limiter, &mut (*inner).data) };
    let Some(accessor) = accessor.as_mut() else { return Ok(usize::MAX) };
    let limiter = accessor(data);
    Ok(match query {
        LimiterQuery::MemoryGrowing { current, desired, maximum } => {
            usize::from(limiter.memory_growing(current, desired, maximum)?)
        }
        LimiterQuery::TableGrowing { current, desired, maximum } => {
            usize::from(limiter.table_growing(current, desired, maximum)?)
        }
        LimiterQuery::GcHeapGrowing { current, desired } => usize::from(limiter.gc_heap_growing(current, desired)?),
        LimiterQuery::Instances => limiter.instances(),
        LimiterQuery::Tables => limiter.tables(),
        LimiterQuery::Memories => limiter.memories(),
    })
}

/// The part of a store that does not depend on its host state.
pub(crate) struct StoreOpaque {
    id: StoreId,
    pub(crate) engine: Engine,
    /// The host's roots of GC references. Declared before the arenas, so
    /// that its counts drop while everything they reach is still there.
    pub(crate) roots: RootTable,
    context: Box<UnsafeCell<VMStoreContext>>,
    pub(crate) activations: ActivationsTable,
    /// Boundary records of the Wasm activations that enclose the current
    /// one (host called Wasm, which called the host, which called Wasm
    /// again), outermost first; the GC walks them all.
    pub(crate) outer_activations: Vec<ActivationRecord>,
    /// Pinned: each VMContext points at its instance's data.
    pub(crate) instances: Vec<Pinned<InstanceData>>,
    /// Pinned: funcrefs and importing VMContexts point into each context.
    pub(crate) host_funcs: Vec<Pinned<VMHostFuncContext>>,
    /// Host functions that no module of the store had a Wasm-to-host
    /// trampoline for when they were made; instantiation fills them in.
    pub(crate) unresolved_host_funcs: usize,
    pub(crate) memories: Vec<StoreMemory>,
    pub(crate) tables: Vec<TableInner>,
    pub(crate) globals: Vec<GlobalInner>,
    /// Every tag of the store, defined by instances or by the host.
    pub(crate) tags: Vec<Arc<VMTag>>,
    pub(crate) wasm_depth: u32,
    /// `stack::thread_token` of the thread running the outermost call.
    pub(crate) entry_thread: usize,
    pub(crate) max_wasm_stack: usize,
    /// What happens at the epoch deadline, and whether one was set.
    pub(crate) epoch: EpochState,
    /// The checks that the store's settings (a deadline, fuel) need in
    /// every instance.
    pub(crate) required_instrumentation: Instrumentation,
    /// Fuel beyond what the `i64` counter in the context block holds.
    pub(crate) fuel_reserve: u64,
    /// Asks the store's resource limiter, when it has one.
    pub(crate) limiter: Option<LimiterHook>,
    /// The error of a host function, carried across the unwind to the entry.
    pub(crate) pending_error: Option<Error>,
    /// The store's structs and arrays. Last: it is dropped after every
    /// table, global and instance has dropped the counts it held, and frees
    /// every object still allocated, whatever exceptions that outlive the
    /// store still hold (no store can read their GC values any more).
    pub(crate) gc_heap: Box<GcHeap>,
}

/// Host destructors (of externref values) panicked while counts were
/// dropped; every count was dropped all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DestructorPanicked;

impl From<DestructorPanicked> for Error {
    fn from(_: DestructorPanicked) -> Error {
        Error::Host(anyhow::anyhow!("a host value's destructor panicked"))
    }
}

/// Drops one count of each raw reference, catching a panicking destructor
/// so that the rest are still dropped and no panic unwinds into Wasm frames
/// or out of a builtin.
pub(crate) fn release_counts(raws: impl IntoIterator<Item = *mut VMExternData>) -> Result<(), DestructorPanicked> {
    let mut outcome = Ok(());
    for raw in raws {
        // SAFETY: the caller gives up one count of each reference it owned.
        let dropped =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { super::externref::decrement_raw(raw) }));
        if dropped.is_err() {
            outcome = Err(DestructorPanicked);
        }
    }
    outcome
}

impl StoreOpaque {
    pub(crate) fn new(engine: &Engine) -> StoreOpaque {
        super::traps::init_signal_handlers();
        let id = StoreId::allocate();
        StoreOpaque {
            id,
            engine: engine.clone(),
            roots: RootTable::new(id),
            context: Box::new(UnsafeCell::new(VMStoreContext {
                limits: VMRuntimeLimits::default(),
                epoch_deadline: u64::MAX,
                epoch_counter: engine.epoch_counter(),
                fuel_consumed: 0,
                store: std::ptr::null_mut(),
            })),
            activations: ActivationsTable::new(),
            outer_activations: Vec::new(),
            instances: Vec::new(),
            host_funcs: Vec::new(),
            unresolved_host_funcs: 0,
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            tags: Vec::new(),
            wasm_depth: 0,
            entry_thread: 0,
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            epoch: EpochState::default(),
            required_instrumentation: Instrumentation::NONE,
            fuel_reserve: 0,
            limiter: None,
            pending_error: None,
            gc_heap: GcHeap::new(),
        }
    }

    #[inline]
    pub(crate) fn id(&self) -> StoreId {
        self.id
    }

    /// What VMContexts and host contexts point at as their runtime limits.
    #[inline]
    pub(crate) fn limits_ptr(&self) -> *mut VMRuntimeLimits {
        self.context.get().cast()
    }

    #[inline]
    pub(crate) fn context_ptr(&self) -> *mut VMStoreContext {
        self.context.get()
    }

    pub(crate) fn activations_table_ptr(&self) -> *mut VMActivationsTable {
        self.activations.vm_ptr()
    }

    /// Runs a GC: walks the stack of every Wasm activation of this store
    /// (it may be called from a host function that Wasm called), keeps the
    /// references live Wasm frames hold and drops the counts of every other
    /// reference the activations table held; then, the table precise, runs
    /// the cycle collector over the GC heap's candidates if their buffer
    /// passed its threshold. The threshold follows the work of the last
    /// collection, so the collector's work stays proportional to the
    /// candidates buffered: running it at every GC (every full activations
    /// chunk) would walk a large live subgraph again each time. Every count
    /// is dropped even if a host destructor panics; the panic becomes the
    /// error.
    pub(crate) fn gc(&mut self) -> Result<GcStats, Error> {
        self.gc_with_cycles(false)
    }

    /// [`StoreOpaque::gc`], then the cycle collector whatever the buffer
    /// holds: what the host's `Store::gc` and a GC heap that cannot grow ask.
    pub(crate) fn full_gc(&mut self) -> Result<GcStats, Error> {
        self.gc_with_cycles(true)
    }

    fn gc_with_cycles(&mut self, always: bool) -> Result<GcStats, Error> {
        let mut records = Vec::new();
        if self.wasm_depth > 0 {
            // SAFETY: the store owns the context; Wasm is suspended in a
            // host call or builtin, so its exit record is current.
            records.push(ActivationRecord::from_limits(unsafe { &(*self.context.get()).limits }));
            records.extend(self.outer_activations.iter().rev().copied());
        }
        // SAFETY: the current record is fresh (above) and each outer one was
        // saved when its activation called the host that entered the next.
        let (stats, released) = unsafe { self.activations.collect(&records) };
        let swept = self.roots.sweep_owned();
        release_counts(released)?;
        swept?;
        // Counts that exceptions gave up elsewhere: before the collector,
        // which would take them for external references.
        self.release_queued()?;
        if always || self.gc_heap.wants_collection() {
            self.collect_cycles()?;
        }
        Ok(stats)
    }

    /// Collects if the activations chunk is full. Called by the runtime
    /// before it moves references into Wasm, while the host still owns them,
    /// never between two such moves.
    #[inline]
    pub(crate) fn collect_if_full(&mut self) -> Result<(), Error> {
        if self.activations.chunk_is_full() {
            self.gc()?;
        }
        Ok(())
    }

    /// Adds a tag to the store; its handle.
    pub(crate) fn new_tag(&mut self, tag: Arc<VMTag>) -> crate::tag::Tag {
        self.tags.push(tag);
        crate::tag::Tag { store: self.id, index: self.tags.len() as u32 - 1 }
    }

    /// The handle of `tag` in this store, if it is one of its tags.
    pub(crate) fn tag_handle(&self, tag: &Arc<VMTag>) -> Option<crate::tag::Tag> {
        let index = self.tags.iter().position(|t| Arc::ptr_eq(t, tag))?;
        Some(crate::tag::Tag { store: self.id, index: index as u32 })
    }

    /// Moves a reference that the host hands to Wasm into the activations
    /// table, which keeps it alive until a GC finds no Wasm frame holding it.
    #[inline]
    pub(crate) fn move_into_activations(&mut self, r: ExternRef) {
        self.activations.insert(r.into_raw());
    }

    /// Inserts a new count of a counted reference word (not null, not an
    /// `i31`) that the host hands to Wasm into the activations table.
    ///
    /// # Safety
    /// `word` must be a live counted block.
    #[inline]
    pub(crate) unsafe fn clone_into_activations(&mut self, word: u64) {
        let raw = word as usize as *mut VMExternData;
        // SAFETY: forwarded from the caller; the new count moves into the table.
        unsafe { super::externref::increment_raw(raw) };
        self.activations.insert(raw);
    }

    /// The limiter's answer to `query`; a store without one allows everything.
    fn ask(&mut self, query: LimiterQuery) -> Result<usize, Error> {
        let Some(hook) = self.limiter else { return Ok(usize::MAX) };
        let this: *mut StoreOpaque = self;
        // SAFETY: `limiter` is set only by `Store::limiter`, with the hook of
        // the store's own host state, and the limiter is a field apart from
        // this opaque part.
        super::host_func::run_host_code("resource limiter", || unsafe { hook(this, query) })
    }

    /// Whether a memory or table may grow (or be created, from 0).
    pub(crate) fn may_grow(&mut self, query: LimiterQuery) -> Result<bool, Error> {
        Ok(self.ask(query)? != 0)
    }

    /// Checks that the store may hold `instances`, `memories` and `tables`
    /// more of each.
    pub(crate) fn check_counts(&mut self, instances: usize, memories: usize, tables: usize) -> Result<(), Error> {
        let held = [
            (self.instances.len(), instances, LimiterQuery::Instances, "instances"),
            (self.memories.len(), memories, LimiterQuery::Memories, "memories"),
            (self.tables.len(), tables, LimiterQuery::Tables, "tables"),
        ];
        for (held, more, query, what) in held {
            if more > 0 {
                let limit = self.ask(query)?;
                if held.saturating_add(more) > limit {
                    return Err(Error::Instantiation(format!(
                        "the store's resource limiter allows {limit} {what}, and it holds {held}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Creates a memory, if the limiter allows its initial size. A shared
    /// memory gets a definition of its own, and a pointer to it goes to
    /// `home` (a defined memory's slot of a VMContext, SPEC 3.3), which must
    /// then not be null.
    pub(crate) fn new_memory(
        &mut self,
        ty: kiln_format::MemoryType,
        home: *mut super::abi::VMDefinition,
        image: Option<super::memory::ImageRef<'_>>,
    ) -> Result<u32, Error> {
        let bytes =
            |pages: u64| usize::try_from(pages.saturating_mul(super::memory::WASM_PAGE_SIZE)).unwrap_or(usize::MAX);
        let query =
            LimiterQuery::MemoryGrowing { current: 0, desired: bytes(ty.minimum), maximum: ty.maximum.map(bytes) };
        if !self.may_grow(query)? {
            return Err(Error::Instantiation(format!(
                "the store's resource limiter refused a memory of {}",
                crate::wording::count(ty.minimum, "page")
            )));
        }
        if ty.shared {
            if home.is_null() || image.is_some() {
                return Err(Error::Instantiation(
                    "a shared memory is made with SharedMemory::new, and has no image".into(),
                ));
            }
            let memory = Arc::new(SharedMemoryInner::new(ty)?);
            // SAFETY: `home` is the 16-byte slot of a defined memory in a
            // VMContext that the store owns; a shared memory's slot holds
            // the pointer to its definition, then zero.
            unsafe {
                home.cast::<u8>()
                    .add(kiln_format::shared_memory_slot::DEFINITION as usize)
                    .cast::<*mut super::abi::VMDefinition>()
                    .write(memory.definition_ptr());
            }
            self.memories.push(StoreMemory::Shared(memory));
            return Ok(self.memories.len() as u32 - 1);
        }
        let pool = self.engine.pooling().map(|p| &p.memories);
        self.memories.push(StoreMemory::Owned(MemoryInner::new(ty, home, image, pool)?));
        Ok(self.memories.len() as u32 - 1)
    }

    /// The store's index of a shared memory that one of its instances
    /// imports: the store keeps a reference to it while it lives, one per
    /// memory however many instances import it.
    pub(crate) fn shared_memory_index(&mut self, memory: &Arc<SharedMemoryInner>) -> u32 {
        let held = self.memories.iter().position(|m| m.shared().is_some_and(|held| Arc::ptr_eq(held, memory)));
        let index = held.unwrap_or_else(|| {
            self.memories.push(StoreMemory::Shared(memory.clone()));
            self.memories.len() - 1
        });
        index as u32
    }

    /// Creates a table of `ty.minimum` copies of `init`, if the limiter
    /// allows its initial size.
    pub(crate) fn new_table(
        &mut self,
        ty: kiln_format::TableType,
        init: usize,
        home: *mut super::abi::VMDefinition,
    ) -> Result<u32, Error> {
        let query = LimiterQuery::TableGrowing {
            current: 0,
            desired: usize::try_from(ty.minimum).unwrap_or(usize::MAX),
            maximum: ty.maximum.map(|m| usize::try_from(m).unwrap_or(usize::MAX)),
        };
        if !self.may_grow(query)? {
            return Err(Error::Instantiation(format!(
                "the store's resource limiter refused a table of {}",
                crate::wording::count(ty.minimum, "element")
            )));
        }
        let pool = self.engine.pooling().map(|p| &p.tables);
        self.tables.push(TableInner::new(ty, init, home, pool)?);
        Ok(self.tables.len() as u32 - 1)
    }

    /// `memory.grow` of memory `index`: the old size in pages, or `None`
    /// when the memory's maximum or the limiter refuses. A shared memory
    /// belongs to no store, so no store's limiter rules its growth.
    pub(crate) fn grow_memory(&mut self, index: u32, delta: u64) -> Result<Option<u64>, Error> {
        let memory = match &self.memories[index as usize] {
            StoreMemory::Shared(memory) => return Ok(memory.grow(delta)),
            StoreMemory::Owned(memory) => memory,
        };
        let ty = memory.current_type();
        let max_pages = memory.max_pages();
        let Some(desired) = ty.minimum.checked_add(delta).filter(|&pages| pages <= max_pages) else { return Ok(None) };
        if delta > 0 {
            let bytes = |pages: u64| (pages * super::memory::WASM_PAGE_SIZE) as usize;
            let query = LimiterQuery::MemoryGrowing {
                current: bytes(ty.minimum),
                desired: bytes(desired),
                maximum: ty.maximum.map(bytes),
            };
            if !self.may_grow(query)? {
                return Ok(None);
            }
        }
        Ok(self.memories[index as usize].grow(delta))
    }

    /// `table.grow` of table `index`: the old size, or `None` when the
    /// table's maximum or the limiter refuses.
    pub(crate) fn grow_table(&mut self, index: u32, delta: u32, init: usize) -> Result<Option<u32>, Error> {
        let ty = self.tables[index as usize].current_type();
        if delta > 0 {
            let query = LimiterQuery::TableGrowing {
                current: ty.minimum as usize,
                desired: (ty.minimum as usize).saturating_add(delta as usize),
                maximum: ty.maximum.map(|m| usize::try_from(m).unwrap_or(usize::MAX)),
            };
            if !self.may_grow(query)? {
                return Ok(None);
            }
        }
        Ok(self.tables[index as usize].grow(delta, init))
    }

    /// Checks that a handle belongs to this store.
    #[inline]
    pub(crate) fn check(&self, handle_store: StoreId, what: &'static str) -> Result<(), Error> {
        if handle_store == self.id {
            Ok(())
        } else {
            Err(Error::foreign_handle(what))
        }
    }

    /// The func ref of a function of this store.
    #[inline]
    pub(crate) fn func_ref(&self, func: &Func) -> Result<VMFuncRef, Error> {
        self.check(func.store, "function")?;
        // SAFETY: the handle belongs to this store, which keeps every func
        // ref it ever handed out alive (in a VMContext or a host context).
        Ok(unsafe { func.func_ref.as_ptr().read() })
    }

    /// The host context behind a func ref of this store, if it is a host
    /// function's rather than a Wasm function's.
    #[inline]
    pub(crate) fn host_context(&self, func_ref: &VMFuncRef) -> Option<&VMHostFuncContext> {
        // A VMContext holds the builtins table where a host context holds
        // its host call, so that word tells them apart.
        // SAFETY: every func ref of the store has a live vmctx of either
        // kind, each at least two words long.
        let word =
            unsafe { func_ref.vmctx.add(kiln_format::host_func_context::HOST_CALL as usize).cast::<usize>().read() };
        if word == super::builtins::table_ptr() as usize {
            return None;
        }
        // SAFETY: checked above; the store keeps the context alive.
        Some(unsafe { &*func_ref.vmctx.cast::<VMHostFuncContext>() })
    }

    /// A host function of this store, with no calling instance.
    pub(crate) fn new_host_func(&mut self, func: HostFuncRef) -> FuncRefPtr {
        let trampoline = self.find_host_trampoline(func.type_id);
        if trampoline.is_null() {
            self.unresolved_host_funcs += 1;
        }
        let ctx = VMHostFuncContext::new(self.context_ptr(), func, trampoline, None);
        // SAFETY: the field of a live allocation, addressed through the
        // pointer that owns it.
        let ptr = FuncRefPtr::new(unsafe { std::ptr::addr_of!((*ctx.as_ptr()).func_ref) }).expect("not null");
        self.host_funcs.push(ctx);
        ptr
    }

    /// A Wasm-to-host trampoline of type `type_id` from a module of the
    /// store, or null if none has one.
    fn find_host_trampoline(&self, type_id: u32) -> *const u8 {
        self.instances
            .iter()
            .find_map(|instance| host_trampoline_of(&instance.module, type_id))
            .unwrap_or(std::ptr::null())
    }

    /// Gives the host functions that had no Wasm-to-host trampoline yet the
    /// one of `module` (just instantiated here, so the store keeps its code
    /// alive), so that Wasm can call them through a table.
    pub(crate) fn resolve_host_trampolines(&mut self, module: &Module) {
        for ctx in self.host_funcs.iter_mut().filter(|ctx| ctx.func_ref.wasm_call.is_null()) {
            if let Some(trampoline) = host_trampoline_of(module, ctx.func_ref.type_id) {
                ctx.func_ref.wasm_call = trampoline;
                self.unresolved_host_funcs -= 1;
            }
        }
    }

    /// Calls a function of this store with its arguments in `slots`, where
    /// its results land: a Wasm function through its entry trampoline, a
    /// host function straight.
    ///
    /// # Safety
    /// `func_ref` must come from [`StoreOpaque::func_ref`], `slots` must
    /// hold a value of each parameter type (references owned by the
    /// activations table) with room for every result, and the store must
    /// be the opaque part of the `StoreInner<T>` its host functions expect.
    #[inline]
    pub(crate) unsafe fn call(&mut self, func_ref: &VMFuncRef, slots: &mut [ValueSlot]) -> Result<(), Error> {
        // Trampolines may touch slot 0 even of a `[] -> []` function.
        let mut spare = [ValueSlot::ZERO];
        let slots_ptr = if slots.is_empty() { spare.as_mut_ptr() } else { slots.as_mut_ptr() };
        if let Some(ctx) = self.host_context(func_ref) {
            let ctx: *const VMHostFuncContext = ctx;
            let this: *mut StoreOpaque = self;
            // SAFETY: the host function finds its store through the store
            // context, pointed here for the call and back afterwards; `ctx`
            // is owned by the store, which no one else borrows meanwhile.
            return unsafe {
                let context = (*this).context_ptr();
                let saved = std::mem::replace(&mut (*context).store, this.cast());
                let outcome = (*ctx).call_from_host(slots_ptr);
                (*context).store = saved;
                outcome
            };
        }
        // SAFETY: forwarded from the caller.
        unsafe { super::invoke::invoke_wasm(self, func_ref, slots_ptr) }
    }

    /// Drops every count that tables, globals and the activations table
    /// hold, catching destructor panics; the rest goes with the arenas.
    fn release_references(&mut self) {
        let mut raws = Vec::new();
        for global in &self.globals {
            raws.extend(global.take_reference());
        }
        for table in &self.tables {
            raws.extend(table.take_references());
        }
        raws.extend(self.activations.take_all());
        raws.extend(self.take_all_element_counts().into_iter().map(|w| w as *mut VMExternData));
        // And the host's roots, whose handles match no store once it is gone.
        let _ = self.roots.release_all();
        // Nothing can report the panic of a destructor run by a drop; every
        // count is dropped all the same.
        let _ = release_counts(raws);
        // Exceptions dropped above (or elsewhere, meanwhile) queued the
        // counts they held; the heap's own drop closes the queue after.
        let _ = self.release_queued();
    }
}

impl Drop for StoreOpaque {
    fn drop(&mut self) {
        // Tables and globals own counts of the externrefs stored in them.
        // Defined globals live inside VMContexts, so this happens before any
        // instance frees its VMContext (the arenas drop after this body).
        self.release_references();
    }
}

// SAFETY: a store is used by one thread at a time (every use goes through
// `&Store` or `&mut Store`), and everything it points at is owned by the
// store itself: its instances, VMContexts, host-function contexts,
// memories, tables and GC heap. Host closures are `Send + Sync` and externref
// values `Send + Sync`; the host state `T` is `Send` by the bound on
// `Store<T>`. The GC heap's state is touched only by the thread using the
// store: the one holder of GC counts that other threads may drop, an
// exception, gives them to the heap's queue (`gc::released`), which is
// thread-safe and drained here. Thread-local trap state exists only during a call, which
// holds the `&mut Store` and so cannot move it.
unsafe impl Send for StoreOpaque {}

/// `module`'s Wasm-to-host trampoline for the engine type `type_id`.
fn host_trampoline_of(module: &Module, type_id: u32) -> Option<*const u8> {
    let type_index = module.type_ids().iter().position(|&id| id == type_id)?;
    module.code().host_trampoline(type_index as u32)
}
