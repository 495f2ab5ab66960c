//! kiln's side: the module compiled as `kilnc` compiles it, loaded from the
//! artifact's bytes, instantiated and called through the embedding API.

use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{Engine, Error, Instance, Linker, Module, Store, Val};

use super::outcome::{CallOutcome, Failure};
use super::value::{ValType, Value};

/// kiln's native stack budget for the driver's calls. Fuel bounds
/// recursion to [`FUEL`](super::FUEL) frames, so this is never reached on
/// the campaign's thread (whose stack is larger still); the default budget
/// could be, by frames of many `v128` locals.
pub const KILN_MAX_WASM_STACK: usize = 32 << 20;

/// Why kiln did not get to instantiating a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KilnRefusal {
    /// kilnc refused a valid module.
    Compile(String),
    /// The loader refused the artifact kilnc made.
    Load(String),
}

/// A module loaded into kiln, ready to be instantiated.
pub(crate) struct KilnModule {
    module: Module,
}

impl KilnModule {
    /// Compiles and loads `wasm`.
    pub(crate) fn new(engine: &Engine, wasm: &[u8]) -> Result<KilnModule, KilnRefusal> {
        let artifact = compile(wasm, &CompileOptions::default()).map_err(|e| KilnRefusal::Compile(format!("{e:#}")))?;
        let module = crate::module_from_bytes(engine, &artifact).map_err(|e| KilnRefusal::Load(e.to_string()))?;
        Ok(KilnModule { module })
    }

    /// Instantiates the module in a new store (its start function runs).
    pub(crate) fn instantiate(&self) -> Result<KilnInstance, Failure> {
        let engine = self.module.engine();
        let mut store = Store::new(engine, ());
        store.set_max_wasm_stack(KILN_MAX_WASM_STACK);
        let instance = Linker::new(engine).instantiate(&mut store, &self.module).map_err(failure)?;
        Ok(KilnInstance { store, instance })
    }
}

/// An instance of the module in its own store.
pub(crate) struct KilnInstance {
    store: Store<()>,
    instance: Instance,
}

impl KilnInstance {
    /// Calls an exported function.
    pub(crate) fn call(&mut self, name: &str, args: &[Value], results: &[ValType]) -> CallOutcome {
        let func = self
            .instance
            .get_func(&self.store, name)
            .ok_or_else(|| Failure::Error(format!("no function export {name:?}")))?;
        let args: Vec<Val> = args.iter().map(to_val).collect();
        let mut out: Vec<Val> = results.iter().map(|&ty| Val::default_for(ty)).collect();
        func.call(&mut self.store, &args, &mut out).map_err(failure)?;
        Ok(out.iter().map(from_val).collect())
    }

    /// The value of an exported global.
    pub(crate) fn global(&self, name: &str) -> Option<Value> {
        Some(from_val(&self.instance.get_global(&self.store, name)?.get(&self.store)))
    }

    /// Sets an exported global; false if there is none to set.
    pub(crate) fn set_global(&mut self, name: &str, value: Value) -> bool {
        let Some(global) = self.instance.get_global(&self.store, name) else { return false };
        global.set(&mut self.store, to_val(&value)).is_ok()
    }

    /// The bytes of an exported memory.
    pub(crate) fn memory(&self, name: &str) -> Option<&[u8]> {
        Some(self.instance.get_memory(&self.store, name)?.data(&self.store))
    }

    /// Whether each element of an exported table is null.
    pub(crate) fn table(&self, name: &str) -> Option<Vec<bool>> {
        let table = self.instance.get_table(&self.store, name)?;
        let size = table.size(&self.store);
        Some((0..size).map(|i| table.get(&self.store, i).is_none_or(|v| v.is_null())).collect())
    }
}

fn failure(error: Error) -> Failure {
    match error.trap() {
        Some(trap) => match trap.code {
            Some(code) => Failure::Trap(code),
            None => Failure::Fault(trap.message.clone()),
        },
        None => Failure::Error(error.to_string()),
    }
}

/// References passed in are always null: the driver has no handles of the
/// other engine to relate a non-null one to.
fn to_val(value: &Value) -> Val {
    match *value {
        Value::I32(v) => Val::I32(v),
        Value::I64(v) => Val::I64(v),
        Value::F32(bits) => Val::F32(bits),
        Value::F64(bits) => Val::F64(bits),
        Value::V128(bits) => Val::V128(bits),
        Value::FuncRef { .. } => Val::FuncRef(None),
        Value::ExternRef { .. } => Val::ExternRef(None),
    }
}

fn from_val(val: &Val) -> Value {
    match val {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(bits) => Value::F32(*bits),
        Val::F64(bits) => Value::F64(*bits),
        Val::V128(bits) => Value::V128(*bits),
        Val::FuncRef(f) => Value::FuncRef { null: f.is_none() },
        Val::ExternRef(r) => Value::ExternRef { null: r.is_none() },
        Val::ExnRef(_) => unreachable!("modules of WebAssembly 2.0 have no exnref"),
        Val::AnyRef(_) => unreachable!("modules of WebAssembly 2.0 have no anyref"),
    }
}
