//! `InstancePre`: a module with its imports resolved and checked once,
//! instantiated many times.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::Error;
use crate::externals::Extern;
use crate::instance::Instance;
use crate::module::Module;
use crate::store::{opaque_mut, AsContextMut};
use crate::vm::host_func::HostFuncRef;
use crate::vm::instance::ImportItem;

/// One resolved import.
#[derive(Clone)]
pub(crate) enum PreImport {
    Extern(Extern),
    Host(HostFuncRef),
}

/// A module whose imports a [`Linker`](crate::Linker) resolved; the host
/// functions among them are type-checked already, so instantiating looks
/// nothing up by name and hashes nothing. Cheap to clone, and shared by
/// threads when `T` allows.
pub struct InstancePre<T> {
    module: Module,
    imports: Arc<[PreImport]>,
    _state: PhantomData<fn(T) -> T>,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre { module: self.module.clone(), imports: self.imports.clone(), _state: PhantomData }
    }
}

impl<T: 'static> InstancePre<T> {
    pub(crate) fn new(module: Module, imports: Arc<[PreImport]>) -> InstancePre<T> {
        InstancePre { module, imports, _state: PhantomData }
    }

    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Instantiates the module in `store`.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance, Error> {
        const INLINE: usize = 16;
        fn item(import: &PreImport) -> ImportItem<'_> {
            match import {
                PreImport::Extern(item) => ImportItem::Extern(item),
                PreImport::Host(host) => ImportItem::Host(host),
            }
        }
        let store = opaque_mut(&mut store);
        // Most modules import a handful of items: gather them on the stack.
        if let Some(first) = self.imports.first().filter(|_| self.imports.len() <= INLINE) {
            let mut items = [item(first); INLINE];
            for (slot, import) in items.iter_mut().zip(self.imports.iter()) {
                *slot = item(import);
            }
            return Instance::instantiate(store, &self.module, &items[..self.imports.len()]);
        }
        let items: Vec<ImportItem<'_>> = self.imports.iter().map(item).collect();
        Instance::instantiate(store, &self.module, &items)
    }
}

impl<T> std::fmt::Debug for InstancePre<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancePre").field("module", &self.module).field("imports", &self.imports.len()).finish()
    }
}
