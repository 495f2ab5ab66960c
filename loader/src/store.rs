//! The store: owner of everything that instances, host functions, memories,
//! tables and globals need while any of them can still run.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::rc::{Rc, Weak};

use kiln_format::FuncType;

use crate::activations::{ActivationRecord, ActivationsTable, GcStats};
use crate::error::Error;
use crate::externref::ExternRef;
use crate::func::VMHostFuncContext;
use crate::global::GlobalInner;
use crate::instance::{InstanceData, VMContextAlloc};
use crate::memory::MemoryInner;
use crate::table::TableInner;
use crate::vm::{VMActivationsTable, VMRuntimeLimits};

/// Default budget of native stack that Wasm may use below the outermost entry.
pub const DEFAULT_MAX_WASM_STACK: usize = 1 << 20;

/// A store. Cheap to clone (all clones are the same store); not `Send`.
///
/// Everything created in a store stays alive until the last handle to the
/// store (including handles held inside `Func`, `Instance`, ... values) is
/// dropped. Instances of different modules in one store share its runtime
/// limits, canonical type ids and externref activations table (the table is
/// per store: compiled code reaches it through every VMContext of the store).
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Rc<StoreInner>,
}

/// A [`Store`] handle that does not keep it alive.
#[derive(Clone)]
pub struct WeakStore(Weak<StoreInner>);

impl WeakStore {
    /// The store, if some strong handle still keeps it alive.
    pub fn upgrade(&self) -> Option<Store> {
        Store::from_weak(&self.0)
    }
}

impl std::fmt::Debug for WeakStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeakStore")
    }
}

/// Canonical, store-wide ids of function types, compared by `call_indirect`.
///
/// Each type is stored once, in `types`; the map goes from a type's hash to
/// the ids with that hash. Keying a map by the types themselves cloned
/// every new type twice and hashed it twice, which was half the cost of
/// instantiating a module in a fresh store.
#[derive(Default)]
pub(crate) struct TypeRegistry {
    /// Hash of a type to the newest id with that hash.
    by_hash: HashMap<u64, u32, BuildHasherDefault<HashIsKey>>,
    /// For each id, the next older id with the same hash, or `NO_TYPE`.
    same_hash: Vec<u32>,
    types: Vec<FuncType>,
    hasher: RandomState,
}

const NO_TYPE: u32 = u32::MAX;

/// The hasher of keys that are hashes already.
#[derive(Default)]
struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl TypeRegistry {
    pub fn intern(&mut self, ty: &FuncType) -> u32 {
        let hash = self.hasher.hash_one(ty);
        let mut candidate = self.by_hash.get(&hash).copied().unwrap_or(NO_TYPE);
        while let (Some(known), Some(&next)) =
            (self.types.get(candidate as usize), self.same_hash.get(candidate as usize))
        {
            if known == ty {
                return candidate;
            }
            candidate = next;
        }
        let id = self.types.len() as u32;
        self.types.push(ty.clone());
        self.same_hash.push(self.by_hash.insert(hash, id).unwrap_or(NO_TYPE));
        id
    }

    /// Interns every type of a module at once, growing the tables once
    /// instead of rehashing as they fill (a fresh store per instance is
    /// the common case, where every type is new).
    pub fn intern_all(&mut self, tys: &[FuncType]) -> Vec<u32> {
        self.by_hash.reserve(tys.len());
        self.same_hash.reserve(tys.len());
        self.types.reserve(tys.len());
        tys.iter().map(|ty| self.intern(ty)).collect()
    }

    pub fn get(&self, id: u32) -> Option<&FuncType> {
        self.types.get(id as usize)
    }
}

pub(crate) struct StoreInner {
    limits: Box<UnsafeCell<VMRuntimeLimits>>,
    activations: ActivationsTable,
    /// Boundary records of the Wasm activations that enclose the current
    /// one (host called Wasm, which called the host, which called Wasm
    /// again), outermost first; the GC walks them all.
    outer_activations: RefCell<Vec<ActivationRecord>>,
    pub(crate) types: RefCell<TypeRegistry>,
    /// A Wasm-to-host trampoline for each canonical type id seen so far, so
    /// that host functions stored straight into tables can be called from
    /// Wasm. Indexed by type id (ids are dense); null where there is none.
    host_trampolines: RefCell<Vec<*const u8>>,
    /// A host-to-Wasm entry trampoline for each canonical type id seen so far,
    /// for functions whose own module did not need one; indexed likewise.
    entry_trampolines: RefCell<Vec<*const u8>>,
    pub(crate) instances: RefCell<Vec<Rc<InstanceData>>>,
    pub(crate) vmctxs: RefCell<Vec<Rc<VMContextAlloc>>>,
    /// Boxed: funcrefs and importing VMContexts point into each context.
    #[allow(clippy::vec_box)]
    pub(crate) host_funcs: RefCell<Vec<Box<VMHostFuncContext>>>,
    pub(crate) memories: RefCell<Vec<Rc<MemoryInner>>>,
    pub(crate) tables: RefCell<Vec<Rc<TableInner>>>,
    pub(crate) globals: RefCell<Vec<Rc<GlobalInner>>>,
    pub(crate) wasm_depth: Cell<u32>,
    max_wasm_stack: Cell<usize>,
    /// The error of a host function, carried across the unwind to the entry.
    pub(crate) pending_error: RefCell<Option<Error>>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// A new, empty store.
    pub fn new() -> Store {
        crate::traps::init_signal_handlers();
        Store {
            inner: Rc::new(StoreInner {
                limits: Box::default(),
                activations: ActivationsTable::new(),
                outer_activations: RefCell::default(),
                types: RefCell::default(),
                host_trampolines: RefCell::default(),
                entry_trampolines: RefCell::default(),
                instances: RefCell::default(),
                vmctxs: RefCell::default(),
                host_funcs: RefCell::default(),
                memories: RefCell::default(),
                tables: RefCell::default(),
                globals: RefCell::default(),
                wasm_depth: Cell::new(0),
                max_wasm_stack: Cell::new(DEFAULT_MAX_WASM_STACK),
                pending_error: RefCell::default(),
            }),
        }
    }

    /// Sets how much native stack Wasm may use below the outermost call into it.
    pub fn set_max_wasm_stack(&self, bytes: usize) {
        self.inner.max_wasm_stack.set(bytes);
    }

    /// The native stack budget of Wasm calls.
    pub fn max_wasm_stack(&self) -> usize {
        self.inner.max_wasm_stack.get()
    }

    /// Runs an externref GC: walks the stack of every Wasm activation of
    /// this store (it may be called from a host function that Wasm called),
    /// keeps the references live Wasm frames hold and drops the counts of
    /// every other reference the activations table held. Host destructors
    /// run at the end and may call back into Wasm or collect again.
    pub fn gc(&self) -> GcStats {
        let mut records = Vec::new();
        if self.inner.wasm_depth.get() > 0 {
            // SAFETY: the store owns the limits; Wasm is suspended in a host
            // call or builtin, so its exit record is current.
            records.push(ActivationRecord::from_limits(unsafe { &*self.limits_ptr() }));
            records.extend(self.inner.outer_activations.borrow().iter().rev().copied());
        }
        // SAFETY: the current record is fresh (above) and each outer one was
        // saved when its activation called the host that entered the next.
        unsafe { self.inner.activations.collect(&records) }
    }

    /// Collects if the activations chunk is full. Called by the runtime
    /// before it moves references into Wasm, while the host still owns them,
    /// never between two such moves.
    pub(crate) fn collect_if_full(&self) {
        if self.inner.activations.chunk_is_full() {
            self.gc();
        }
    }

    /// Number of counts the activations table holds (chunk and retained list).
    pub fn activations_len(&self) -> usize {
        self.inner.activations.len()
    }

    /// Number of GCs this store has run.
    pub fn gc_count(&self) -> u64 {
        self.inner.activations.gc_count()
    }

    /// A handle that does not keep the store alive: what a host function
    /// that needs its own store (to collect, say) should capture, since a
    /// strong handle inside the store would keep it alive forever.
    pub fn weak(&self) -> WeakStore {
        WeakStore(self.downgrade())
    }

    /// Whether two handles are the same store.
    pub fn same(a: &Store, b: &Store) -> bool {
        Rc::ptr_eq(&a.inner, &b.inner)
    }

    pub(crate) fn downgrade(&self) -> Weak<StoreInner> {
        Rc::downgrade(&self.inner)
    }

    pub(crate) fn from_weak(weak: &Weak<StoreInner>) -> Option<Store> {
        weak.upgrade().map(|inner| Store { inner })
    }

    pub(crate) fn limits_ptr(&self) -> *mut VMRuntimeLimits {
        self.inner.limits.get()
    }

    pub(crate) fn activations_table_ptr(&self) -> *mut VMActivationsTable {
        self.inner.activations.vm_ptr()
    }

    /// Moves a reference that the host hands to Wasm into the activations
    /// table, which keeps it alive until a GC finds no Wasm frame holding it.
    pub(crate) fn move_into_activations(&self, r: ExternRef) {
        self.inner.activations.insert(r.into_raw());
    }

    /// Notes the enclosing activation's records before entering Wasm again
    /// from a host call.
    pub(crate) fn push_outer_activation(&self, record: ActivationRecord) {
        self.inner.outer_activations.borrow_mut().push(record);
    }

    pub(crate) fn pop_outer_activation(&self) {
        self.inner.outer_activations.borrow_mut().pop();
    }

    pub(crate) fn intern_type(&self, ty: &FuncType) -> u32 {
        self.inner.types.borrow_mut().intern(ty)
    }

    /// Interns a module's types; the trampoline tables then have a slot for
    /// each, so registering its trampolines grows nothing.
    pub(crate) fn intern_types(&self, tys: &[FuncType]) -> Vec<u32> {
        let mut types = self.inner.types.borrow_mut();
        let ids = types.intern_all(tys);
        for slots in [&self.inner.host_trampolines, &self.inner.entry_trampolines] {
            let mut slots = slots.borrow_mut();
            if slots.len() < types.types.len() {
                slots.resize(types.types.len(), std::ptr::null());
            }
        }
        ids
    }

    pub(crate) fn type_of_id(&self, id: u32) -> Option<FuncType> {
        self.inner.types.borrow().get(id).cloned()
    }

    pub(crate) fn host_trampoline_for(&self, type_id: u32) -> Option<*const u8> {
        trampoline_in(&self.inner.host_trampolines.borrow(), type_id)
    }

    pub(crate) fn entry_trampoline_for(&self, type_id: u32) -> Option<*const u8> {
        trampoline_in(&self.inner.entry_trampolines.borrow(), type_id)
    }

    pub(crate) fn register_entry_trampoline(&self, type_id: u32, code: *const u8) {
        let mut slots = self.inner.entry_trampolines.borrow_mut();
        let slot = trampoline_slot(&mut slots, type_id);
        if slot.is_null() {
            *slot = code;
        }
    }

    /// Records a module's Wasm-to-host trampoline for a type, and gives it
    /// to host functions of that type that had none yet.
    pub(crate) fn register_host_trampoline(&self, type_id: u32, code: *const u8) {
        let previous = std::mem::replace(trampoline_slot(&mut self.inner.host_trampolines.borrow_mut(), type_id), code);
        if !previous.is_null() {
            return;
        }
        for ctx in self.inner.host_funcs.borrow_mut().iter_mut() {
            if ctx.func_ref.type_id == type_id && ctx.func_ref.wasm_call.is_null() {
                ctx.func_ref.wasm_call = code;
            }
        }
    }
}

fn trampoline_in(slots: &[*const u8], type_id: u32) -> Option<*const u8> {
    slots.get(type_id as usize).copied().filter(|code| !code.is_null())
}

fn trampoline_slot(slots: &mut Vec<*const u8>, type_id: u32) -> &mut *const u8 {
    let index = type_id as usize;
    if index >= slots.len() {
        slots.resize(index + 1, std::ptr::null());
    }
    &mut slots[index]
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        // Tables and globals own counts of the externrefs stored in them.
        // Defined globals live inside VMContexts, so this happens before any
        // instance frees its VMContext.
        for global in self.globals.get_mut().iter() {
            global.release_reference();
        }
        for table in self.tables.get_mut().iter() {
            table.release_references();
        }
        self.activations.release_all();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("instances", &self.inner.instances.borrow().len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gc_skips_the_sweep_when_the_stack_walk_fails() {
        let store = Store::new();
        let r = ExternRef::new(1u8);
        store.move_into_activations(r.clone());
        // Wasm "running" with no valid exit record: the walk cannot reach
        // the entry, so nothing may be freed.
        store.inner.wasm_depth.set(1);
        let stats = store.gc();
        assert!(stats.skipped);
        assert_eq!(r.strong_count(), 2, "a running activation may still use it");
        store.inner.wasm_depth.set(0);
        let stats = store.gc();
        assert_eq!((stats.skipped, stats.released), (false, 1));
        assert_eq!(r.strong_count(), 1);
        assert_eq!(store.activations_len(), 0);
    }

    #[test]
    fn types_sharing_a_hash_keep_their_own_ids() {
        use kiln_format::ValType;
        let mut registry = TypeRegistry::default();
        let tys: Vec<FuncType> = [vec![], vec![ValType::I32], vec![ValType::I64], vec![ValType::I32, ValType::I32]]
            .into_iter()
            .map(|params| FuncType { params, results: vec![] })
            .collect();
        // The first three are chained under the last one's hash, as if
        // their hashes collided with it.
        let hash = registry.hasher.hash_one(&tys[3]);
        for (id, ty) in tys[..3].iter().enumerate() {
            registry.types.push(ty.clone());
            registry.same_hash.push(registry.by_hash.insert(hash, id as u32).unwrap_or(NO_TYPE));
        }
        assert_eq!(registry.intern(&tys[3]), 3, "no type of the chain equals it");
        assert_eq!(registry.same_hash[3], 2, "it heads the chain");
        assert_eq!(registry.intern(&tys[3]), 3);
        assert_eq!(registry.intern(&tys[3].clone()), 3);
        assert_eq!(registry.types.len(), 4);
    }

    #[test]
    fn type_ids_are_canonical() {
        let store = Store::new();
        let a = FuncType { params: vec![kiln_format::ValType::I32], results: vec![] };
        let b = FuncType { params: vec![], results: vec![] };
        let ia = store.intern_type(&a);
        assert_ne!(ia, store.intern_type(&b));
        assert_eq!(ia, store.intern_type(&a.clone()));
        assert_eq!(store.type_of_id(ia), Some(a));
    }

    #[test]
    fn dropping_the_store_releases_host_globals_and_tables() {
        use crate::{Global, Table, Val};
        use kiln_format::{GlobalType, RefType, TableType, ValType};
        let r = ExternRef::new("x");
        let store = Store::new();
        let ty = GlobalType { content: ValType::ExternRef, mutable: true };
        let g = Global::new(&store, ty, Val::ExternRef(Some(r.clone()))).unwrap();
        let t = Table::new(
            &store,
            TableType { element: RefType::ExternRef, minimum: 3, maximum: None },
            Val::ExternRef(Some(r.clone())),
        )
        .unwrap();
        assert_eq!(r.strong_count(), 5);
        assert!(ExternRef::ptr_eq(t.get(2).unwrap().externref().unwrap(), &r));
        assert!(t.get(3).is_none());
        assert!(g.set(Val::I32(0)).is_err());
        drop((g, t));
        assert_eq!(r.strong_count(), 5, "the store still owns them");
        drop(store);
        assert_eq!(r.strong_count(), 1);
    }
}
