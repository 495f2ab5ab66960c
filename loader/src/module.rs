//! Modules: loaded artifacts, ready to be instantiated any number of times.

use std::path::Path;
use std::sync::Arc;

use kiln_format::{Export, FuncType, Import, ModuleInfo};

use crate::code::{load_bytes, load_file, LoadedCode};
use crate::error::Error;

/// A loaded, relocated artifact. Cheap to clone; shareable across threads.
#[derive(Clone)]
pub struct Module {
    code: Arc<LoadedCode>,
}

impl Module {
    /// Loads an artifact file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Module, Error> {
        Ok(Module { code: load_file(path.as_ref())? })
    }

    /// Loads an artifact from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Module, Error> {
        Ok(Module { code: load_bytes(bytes)? })
    }

    /// Wraps already loaded code.
    pub fn from_code(code: Arc<LoadedCode>) -> Module {
        Module { code }
    }

    /// The loaded code.
    pub fn code(&self) -> &Arc<LoadedCode> {
        &self.code
    }

    /// The module info.
    pub fn info(&self) -> &ModuleInfo {
        self.code.info()
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.info().name.as_deref()
    }

    /// Its imports, in order.
    pub fn imports(&self) -> &[Import] {
        &self.info().imports
    }

    /// Its exports, in order.
    pub fn exports(&self) -> &[Export] {
        &self.info().exports
    }

    /// The type of function `func_index` of its function space.
    pub fn func_type(&self, func_index: u32) -> Option<&FuncType> {
        let info = self.info();
        info.types.get(info.functions.get(func_index as usize)?.type_index as usize)
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.name()).finish()
    }
}
