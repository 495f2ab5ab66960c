//! The linker: named definitions that satisfy imports, independent of any store.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use kiln_format::{FuncType, ImportKind};

use crate::caller::Caller;
use crate::engine::Engine;
use crate::error::Error;
use crate::externals::Extern;
use crate::func::{host_func_from_vals, Func};
use crate::instance::Instance;
use crate::instance_pre::{InstancePre, PreImport};
use crate::into_func::IntoFunc;
use crate::module::Module;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::values::Val;
use crate::vm::host_func::HostFuncRef;

/// Definitions by `(module, name)`, used to resolve a module's imports.
///
/// A linker belongs to no store: host functions defined with
/// [`Linker::func_wrap`] or [`Linker::func_new`] get a context of their own
/// in each store they are instantiated in, whose [`Caller`] sees the
/// importing instance. Items of a store ([`Linker::define`],
/// [`Linker::instance`]) bind their definition to that store. Defining a
/// name twice is an error unless [`Linker::allow_shadowing`] is on.
pub struct Linker<T> {
    engine: Engine,
    definitions: HashMap<(String, String), Definition>,
    allow_shadowing: bool,
    _state: PhantomData<fn(T) -> T>,
}

#[derive(Clone)]
enum Definition {
    Extern(Extern),
    Host(HostFuncRef),
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            definitions: self.definitions.clone(),
            allow_shadowing: self.allow_shadowing,
            _state: PhantomData,
        }
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker for modules and stores of `engine`.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker { engine: engine.clone(), definitions: HashMap::new(), allow_shadowing: false, _state: PhantomData }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a later definition of a name replaces the earlier one
    /// (off by default: defining a name twice is an error).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Linker<T> {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, definition: Definition) -> Result<&mut Linker<T>, Error> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.definitions.contains_key(&key) {
            return Err(Error::Link(format!("`{module}`.`{name}` is defined twice")));
        }
        self.definitions.insert(key, definition);
        Ok(self)
    }

    /// Defines `module`.`name` as an item of `store`.
    pub fn define(
        &mut self,
        store: impl AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Linker<T>, Error> {
        let item = item.into();
        let store = opaque(&store);
        if let Some(id) = item.store_id() {
            store.check(id, item.kind_name())?;
        }
        if !store.engine.same(&self.engine) {
            return Err(Error::Link("the store belongs to another engine than the linker".into()));
        }
        if let Extern::SharedMemory(memory) = &item {
            if !memory.engine().same(&self.engine) {
                return Err(Error::Link("the shared memory belongs to another engine than the linker".into()));
            }
        }
        self.insert(module, name, Definition::Extern(item))
    }

    /// Defines `module`.`name` as a host function of type `ty`, called with
    /// untyped values.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        closure: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Linker<T>, Error> {
        let host = host_func_from_vals(&self.engine, ty, closure);
        self.insert(module, name, Definition::Host(host))
    }

    /// Defines `module`.`name` as a host function from a typed Rust
    /// closure; see [`Func::wrap`] for the closures it takes.
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Linker<T>, Error> {
        let host = func.into_host_func_ref(&self.engine);
        self.insert(module, name, Definition::Host(host))
    }

    /// Defines a host function made elsewhere, already erased.
    pub(crate) fn define_host(&mut self, module: &str, name: &str, host: HostFuncRef) -> Result<&mut Linker<T>, Error> {
        self.insert(module, name, Definition::Host(host))
    }

    /// Defines every export of `instance` under the module name `name`.
    pub fn instance(
        &mut self,
        store: impl AsContext<Data = T>,
        name: &str,
        instance: Instance,
    ) -> Result<&mut Linker<T>, Error> {
        opaque(&store).check(instance.store_id(), "instance")?;
        for (export, item) in instance.exports(&store) {
            self.define(&store, name, &export, item)?;
        }
        Ok(self)
    }

    /// The definition of `module`.`name` as an item of `store`; a host
    /// function gets a context in the store (with no calling instance).
    pub fn get(&self, mut store: impl AsContextMut<Data = T>, module: &str, name: &str) -> Option<Extern> {
        match self.definitions.get(&(module.to_string(), name.to_string()))? {
            Definition::Extern(item) => Some(item.clone()),
            Definition::Host(host) => {
                let store = opaque_mut(&mut store);
                // Type ids are the engine's: a host function of another
                // engine would have another signature in this store.
                if !store.engine.same(&self.engine) {
                    return None;
                }
                Some(Extern::Func(Func::from_raw(store.id(), store.new_host_func(host.clone()))))
            }
        }
    }

    /// Resolves `module`'s imports and checks the types of the host
    /// functions among them, once; the result instantiates `module` in any
    /// store of the engine.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>, Error> {
        if !module.engine().same(&self.engine) {
            return Err(Error::Link("the module was loaded with another engine than the linker's".into()));
        }
        let imports = module
            .imports()
            .iter()
            .map(|import| {
                let definition =
                    self.definitions.get(&(import.module.clone(), import.name.clone())).ok_or_else(|| {
                        Error::Link(format!("unknown import: `{}`.`{}` is not defined", import.module, import.name))
                    })?;
                Ok(match definition {
                    Definition::Extern(item) => PreImport::Extern(item.clone()),
                    Definition::Host(host) => {
                        let wanted = match import.kind {
                            ImportKind::Func(type_index) => module.type_ids().get(type_index as usize).copied(),
                            _ => None,
                        };
                        if wanted != Some(host.type_id) {
                            return Err(Error::Link(format!(
                                "incompatible import type for `{}`.`{}`: the host function has type `{}`",
                                import.module,
                                import.name,
                                self.engine.func_type(host.type_id).map_or_else(|| "?".to_string(), |t| t.to_string())
                            )));
                        }
                        PreImport::Host(host.clone())
                    }
                })
            })
            .collect::<Result<Arc<[PreImport]>, Error>>()?;
        Ok(InstancePre::new(module.clone(), imports))
    }

    /// Resolves the imports and instantiates `module` in `store`.
    pub fn instantiate(&self, store: impl AsContextMut<Data = T>, module: &Module) -> Result<Instance, Error> {
        self.instantiate_pre(module)?.instantiate(store)
    }
}

impl<T> std::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker").field("definitions", &self.definitions.len()).finish()
    }
}
