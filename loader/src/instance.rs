//! Instances, as handles.

use kiln_format::ExternKind;

use crate::error::Error;
use crate::externals::Extern;
use crate::func::Func;
use crate::global::Global;
use crate::memory::Memory;
use crate::module::Module;
use crate::shared_memory::SharedMemory;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::table::Table;
use crate::tag::Tag;
use crate::typed_func::{TypedFunc, WasmParams, WasmResults};
use crate::vm::instance::{instantiate, ImportItem, InstanceData};
use crate::vm::store::{StoreId, StoreOpaque};
use crate::vm::FuncRefPtr;

/// An instance of a module in a store. A small `Copy` handle; the store
/// owns the instance, which lives as long as the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    store: StoreId,
    index: usize,
}

impl Instance {
    pub(crate) fn from_index(store: StoreId, index: usize) -> Instance {
        Instance { store, index }
    }

    /// Instantiates `module` with `imports` given in the order of its
    /// imports, each checked against its import's type.
    pub fn new(mut store: impl AsContextMut, module: &Module, imports: &[Extern]) -> Result<Instance, Error> {
        let items: Vec<ImportItem<'_>> = imports.iter().map(ImportItem::Extern).collect();
        Instance::instantiate(opaque_mut(&mut store), module, &items)
    }

    pub(crate) fn instantiate(
        store: &mut StoreOpaque,
        module: &Module,
        items: &[ImportItem<'_>],
    ) -> Result<Instance, Error> {
        let index = instantiate(store, module, items)?;
        Ok(Instance::from_index(store.id(), index))
    }

    pub(crate) fn store_id(&self) -> StoreId {
        self.store
    }

    fn data<'a>(&self, store: &'a StoreOpaque) -> Result<&'a InstanceData, Error> {
        store.check(self.store, "instance")?;
        Ok(&store.instances[self.index])
    }

    /// The module it instantiates.
    ///
    /// # Panics
    /// If the instance belongs to another store.
    pub fn module<'a, T: 'a>(&self, store: impl Into<crate::store::StoreContext<'a, T>>) -> &'a Module {
        let store = store.into().0;
        &self.data(&store.opaque).unwrap_or_else(|e| panic!("{e}")).module
    }

    /// The export called `name` (nothing for an instance of another store).
    pub fn get_export(&self, store: impl AsContext, name: &str) -> Option<Extern> {
        let store = opaque(&store);
        let data = self.data(store).ok()?;
        let export = data.module.exports().iter().find(|e| e.name == name)?;
        self.item(store, data, export.kind, export.index)
    }

    fn item(&self, store: &StoreOpaque, data: &InstanceData, kind: ExternKind, index: u32) -> Option<Extern> {
        let id = store.id();
        Some(match kind {
            ExternKind::Func => Extern::Func(Func::from_raw(id, FuncRefPtr::new(data.func_ref(index)?)?)),
            ExternKind::Table => Extern::Table(Table { store: id, index: *data.tables.get(index as usize)? }),
            ExternKind::Memory => {
                let index = *data.memories.get(index as usize)?;
                match store.memories.get(index as usize)?.shared() {
                    Some(inner) => {
                        Extern::SharedMemory(SharedMemory { inner: inner.clone(), engine: store.engine.clone() })
                    }
                    None => Extern::Memory(Memory { store: id, index }),
                }
            }
            ExternKind::Global => Extern::Global(Global { store: id, index: *data.globals.get(index as usize)? }),
            ExternKind::Tag => Extern::Tag(Tag { store: id, index: *data.tags.get(index as usize)? }),
        })
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: impl AsContext, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported function `name`, or an [`Error::UnknownExport`] that
    /// says why there is none: no export of that name (with the nearest
    /// name, or the list of the functions there are), or one of another kind.
    pub fn require_func(&self, store: impl AsContext, name: &str) -> Result<Func, Error> {
        if let Some(func) = self.get_func(&store, name) {
            return Ok(func);
        }
        let store = opaque(&store);
        let data = self.data(store)?;
        Err(crate::missing_export::missing_export(data.module.exports(), name, ExternKind::Func))
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: impl AsContext, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: impl AsContext, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// The exported memory `name`, if it is not shared.
    pub fn get_memory(&self, store: impl AsContext, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported shared memory `name`.
    pub fn get_shared_memory(&self, store: impl AsContext, name: &str) -> Option<SharedMemory> {
        self.get_export(store, name)?.into_shared_memory()
    }

    /// Every export, in order.
    pub fn exports(&self, store: impl AsContext) -> Vec<(String, Extern)> {
        let store = opaque(&store);
        let Ok(data) = self.data(store) else { return Vec::new() };
        data.module
            .exports()
            .iter()
            .filter_map(|e| Some((e.name.clone(), self.item(store, data, e.kind, e.index)?)))
            .collect()
    }

    /// The exported function `name`, checked against the signature `P -> R`.
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
        name: &str,
    ) -> Result<TypedFunc<P, R>, Error> {
        let func = self.require_func(&store, name)?;
        func.typed(&store)
    }
}
