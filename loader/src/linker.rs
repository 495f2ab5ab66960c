//! The linker: named definitions that satisfy imports.

use std::collections::HashMap;

use kiln_format::FuncType;

use crate::error::Error;
use crate::externals::Extern;
use crate::func::Func;
use crate::instance::Instance;
use crate::matching::check_import_item;
use crate::module::Module;
use crate::store::Store;
use crate::values::Val;

/// Definitions by `(module, name)`, used to resolve a module's imports.
/// A later definition of the same name replaces the earlier one.
#[derive(Clone, Default)]
pub struct Linker {
    definitions: HashMap<(String, String), Extern>,
}

impl Linker {
    /// An empty linker.
    pub fn new() -> Linker {
        Linker::default()
    }

    /// Defines `module`.`name`.
    pub fn define(&mut self, module: &str, name: &str, item: impl Into<Extern>) -> Result<&mut Linker, Error> {
        self.definitions.insert((module.to_string(), name.to_string()), item.into());
        Ok(self)
    }

    /// Defines `module`.`name` as a new host function of `store`.
    pub fn func_new(
        &mut self,
        store: &Store,
        module: &str,
        name: &str,
        ty: FuncType,
        closure: impl Fn(&[Val], &mut [Val]) -> Result<(), Error> + 'static,
    ) -> Result<&mut Linker, Error> {
        self.define(module, name, Func::new(store, ty, closure))
    }

    /// Defines every export of `instance` under the module name `name`.
    pub fn instance(&mut self, name: &str, instance: &Instance) -> Result<&mut Linker, Error> {
        for (export, item) in instance.exports() {
            self.define(name, &export, item)?;
        }
        Ok(self)
    }

    /// The definition of `module`.`name`.
    pub fn get(&self, module: &str, name: &str) -> Option<&Extern> {
        self.definitions.get(&(module.to_string(), name.to_string()))
    }

    /// Resolves `module`'s imports, in order, checking their types.
    pub fn resolve_imports(&self, store: &Store, module: &Module) -> Result<Vec<Extern>, Error> {
        let types = &module.info().types;
        module
            .imports()
            .iter()
            .map(|import| {
                let item = self.get(&import.module, &import.name).ok_or_else(|| {
                    Error::Link(format!("unknown import: `{}`.`{}` is not defined", import.module, import.name))
                })?;
                check_import_item(store, import, item, types)?;
                Ok(item.clone())
            })
            .collect()
    }

    /// Resolves the imports and instantiates `module` in `store`.
    pub fn instantiate(&self, store: &Store, module: &Module) -> Result<Instance, Error> {
        let imports = self.resolve_imports(store, module)?;
        Instance::new(store, module, &imports)
    }
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker").field("definitions", &self.definitions.len()).finish()
    }
}
