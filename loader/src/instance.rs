//! Instances: a module's VMContext with its memories, tables and globals.
//!
//! Instantiation allocates and fills the VMContext, runs the element and
//! data segments and the start function. It does no work proportional to the
//! size of the code: functions are reached through their code offsets.

mod const_expr;
mod init;
mod segments;
mod vmctx;

use std::cell::Cell;
use std::rc::{Rc, Weak};

use kiln_format::{ExternKind, VMOffsets};

pub(crate) use vmctx::VMContextAlloc;

use crate::error::Error;
use crate::externals::Extern;
use crate::func::Func;
use crate::global::{Global, GlobalInner};
use crate::memory::{Memory, MemoryInner};
use crate::module::Module;
use crate::store::{Store, StoreInner};
use crate::table::{Table, TableInner};
use crate::typed_func::{TypedFunc, WasmParams, WasmResults};
use crate::vm::VMFuncRef;

/// What builtins reach through `vmctx + VMOffsets::INSTANCE`.
pub(crate) struct InstanceData {
    pub(crate) module: Module,
    /// Owned by the store (see `VMContextAlloc`).
    pub(crate) vmctx: *mut u8,
    pub(crate) offsets: VMOffsets,
    /// The whole memory space, imports first; likewise tables and globals.
    pub(crate) memories: Vec<Rc<MemoryInner>>,
    pub(crate) tables: Vec<Rc<TableInner>>,
    pub(crate) globals: Vec<Rc<GlobalInner>>,
    pub(crate) dropped_elements: Vec<Cell<bool>>,
    pub(crate) dropped_data: Vec<Cell<bool>>,
    pub(crate) store: Weak<StoreInner>,
}

/// An instance of a module.
#[derive(Clone)]
pub struct Instance {
    store: Store,
    data: Rc<InstanceData>,
}

impl Instance {
    /// Instantiates `module` with `imports` given in the order of its imports.
    pub fn new(store: &Store, module: &Module, imports: &[Extern]) -> Result<Instance, Error> {
        let data = init::instantiate(store, module, imports)?;
        Ok(Instance { store: store.clone(), data })
    }

    /// The module it instantiates.
    pub fn module(&self) -> &Module {
        &self.data.module
    }

    /// The store it lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The export called `name`.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let export = self.data.module.exports().iter().find(|e| e.name == name)?;
        self.item(export.kind, export.index)
    }

    fn item(&self, kind: ExternKind, index: u32) -> Option<Extern> {
        let data = &self.data;
        Some(match kind {
            ExternKind::Func => Extern::Func(self.func(index)?),
            ExternKind::Table => {
                Extern::Table(Table { store: self.store.clone(), inner: data.tables.get(index as usize)?.clone() })
            }
            ExternKind::Memory => {
                Extern::Memory(Memory { store: self.store.clone(), inner: data.memories.get(index as usize)?.clone() })
            }
            ExternKind::Global => {
                Extern::Global(Global { store: self.store.clone(), inner: data.globals.get(index as usize)?.clone() })
            }
        })
    }

    fn func(&self, index: u32) -> Option<Func> {
        if index >= self.data.offsets.counts().funcs {
            return None;
        }
        let raw = self.data.vmctx.wrapping_add(self.data.offsets.func_ref(index) as usize) as *const VMFuncRef;
        // SAFETY: the func ref lies in this instance's VMContext, which the store keeps alive.
        #[allow(unsafe_code)]
        unsafe {
            Func::from_raw(&self.store, raw)
        }
    }

    /// The exported function `name`.
    pub fn get_func(&self, name: &str) -> Option<Func> {
        self.get_export(name)?.into_func()
    }

    /// The exported global `name`.
    pub fn get_global(&self, name: &str) -> Option<Global> {
        self.get_export(name)?.into_global()
    }

    /// The exported table `name`.
    pub fn get_table(&self, name: &str) -> Option<Table> {
        self.get_export(name)?.into_table()
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, name: &str) -> Option<Memory> {
        self.get_export(name)?.into_memory()
    }

    /// Every export, in order.
    pub fn exports(&self) -> Vec<(String, Extern)> {
        self.data.module.exports().iter().filter_map(|e| Some((e.name.clone(), self.item(e.kind, e.index)?))).collect()
    }

    /// The exported function `name`, checked against the signature `P -> R`.
    pub fn typed_func<P: WasmParams, R: WasmResults>(&self, name: &str) -> Result<TypedFunc<P, R>, Error> {
        let func = self.get_func(name).ok_or_else(|| Error::ty(format!("no exported function `{name}`")))?;
        TypedFunc::new(func)
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("module", &self.data.module.name()).field("vmctx", &self.data.vmctx).finish()
    }
}
