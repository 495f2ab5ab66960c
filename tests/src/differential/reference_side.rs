//! The reference's side: wasmi, an interpreter that shares no code with
//! kiln or Cranelift.
//!
//! wasmi 1.0, not 2.0.0: 2.0.0 gives `0` for the `select` below (and
//! then traps dividing by it) where the specification, kiln and wasmi
//! 1.0 give `1`. It made 8 of the first 100 seeds disagree.
//!
//! ```wat
//! (module
//!   (global (mut i32) (i32.const 1000))
//!   (func (export "f") (result i32)
//!     (local i32)
//!     (if (global.get 0) (then nop))
//!     (local.set 0 (select (i32.const 1) (local.get 0) (i32.eqz (local.get 0))))
//!     (i32.div_s (local.get 0) (local.get 0))))
//! ```

use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
use wasmi::{CompilationMode, Config, Engine, Error, Instance, Linker, Module, Ref, Store, TrapCode, Val};

use super::outcome::{CallOutcome, Failure};
use super::value::{ValType, Value};

/// wasmi's call depth limit for the driver: far above the recursion that
/// fuel allows, so that only a real difference shows as stack exhaustion.
const REFERENCE_MAX_RECURSION_DEPTH: usize = 100_000;

/// A wasmi engine configured for WebAssembly 2.0 with multi-memory and
/// memory64 (kiln's features that wasmi has), translating eagerly (so
/// that a module it refuses is refused up front, never in the middle of a
/// call).
pub(crate) fn reference_engine() -> Engine {
    let mut config = Config::default();
    config
        .wasm_mutable_global(true)
        .wasm_sign_extension(true)
        .wasm_saturating_float_to_int(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_simd(true)
        .wasm_multi_memory(true)
        .wasm_memory64(true)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .wasm_relaxed_simd(false)
        .set_max_recursion_depth(REFERENCE_MAX_RECURSION_DEPTH)
        .compilation_mode(CompilationMode::Eager);
    Engine::new(&config)
}

/// A module translated by wasmi.
pub(crate) struct ReferenceModule {
    engine: Engine,
    module: Module,
}

impl ReferenceModule {
    /// Translates `wasm`.
    pub(crate) fn new(engine: &Engine, wasm: &[u8]) -> Result<ReferenceModule, String> {
        let module = Module::new(engine, wasm).map_err(|e| e.to_string())?;
        Ok(ReferenceModule { engine: engine.clone(), module })
    }

    /// Instantiates the module in a new store and runs its start function.
    pub(crate) fn instantiate(&self) -> Result<ReferenceInstance, Failure> {
        let mut store = Store::new(&self.engine, ());
        let instance =
            Linker::<()>::new(&self.engine).instantiate_and_start(&mut store, &self.module).map_err(failure)?;
        Ok(ReferenceInstance { store, instance })
    }
}

/// An instance of the module in its own store.
pub(crate) struct ReferenceInstance {
    store: Store<()>,
    instance: Instance,
}

impl ReferenceInstance {
    /// Calls an exported function.
    pub(crate) fn call(&mut self, name: &str, args: &[Value], results: &[ValType]) -> CallOutcome {
        let func = self
            .instance
            .get_func(&self.store, name)
            .ok_or_else(|| Failure::Error(format!("no function export {name:?}")))?;
        let args: Vec<Val> = args.iter().map(to_val).collect();
        let mut out: Vec<Val> = results.iter().map(|&ty| to_val(&zero(ty))).collect();
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
        Some((0..size).map(|i| table.get(&self.store, i).is_none_or(|v| is_null(&v))).collect())
    }
}

/// wasmi's trap codes in kiln's vocabulary. Growth limits are not traps of
/// the specification: they become errors.
fn trap_code(code: TrapCode) -> Option<kiln_loader::TrapCode> {
    use kiln_loader::TrapCode as Kiln;
    Some(match code {
        TrapCode::UnreachableCodeReached => Kiln::UNREACHABLE,
        TrapCode::MemoryOutOfBounds => Kiln::MEMORY_OUT_OF_BOUNDS,
        TrapCode::TableOutOfBounds => Kiln::TABLE_OUT_OF_BOUNDS,
        TrapCode::IndirectCallToNull => Kiln::INDIRECT_CALL_TO_NULL,
        TrapCode::IntegerDivisionByZero => Kiln::INTEGER_DIVISION_BY_ZERO,
        TrapCode::IntegerOverflow => Kiln::INTEGER_OVERFLOW,
        TrapCode::BadConversionToInteger => Kiln::BAD_CONVERSION_TO_INTEGER,
        TrapCode::StackOverflow => Kiln::STACK_OVERFLOW,
        TrapCode::BadSignature => Kiln::BAD_SIGNATURE,
        TrapCode::OutOfFuel => Kiln::OUT_OF_FUEL,
        TrapCode::GrowthOperationLimited => return None,
    })
}

/// wasmi reports some traps of the specification as errors of their own:
/// out-of-bounds `table.copy`, `table.init`, `table.fill` and active
/// element segments, and out-of-bounds bulk memory accesses.
fn failure(error: Error) -> Failure {
    use kiln_loader::TrapCode as Kiln;
    let code = match error.kind() {
        ErrorKind::TrapCode(code) => trap_code(*code),
        ErrorKind::Table(
            TableError::InitOutOfBounds
            | TableError::FillOutOfBounds
            | TableError::SetOutOfBounds
            | TableError::CopyOutOfBounds,
        )
        | ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. }) => {
            Some(Kiln::TABLE_OUT_OF_BOUNDS)
        }
        ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => Some(Kiln::MEMORY_OUT_OF_BOUNDS),
        _ => None,
    };
    match code {
        Some(code) => Failure::Trap(code),
        None => Failure::Error(error.to_string()),
    }
}

fn is_null(val: &Val) -> bool {
    match val {
        Val::FuncRef(f) => f.is_null(),
        Val::ExternRef(r) => r.is_null(),
        _ => false,
    }
}

fn zero(ty: ValType) -> Value {
    match ty {
        ValType::I32 => Value::I32(0),
        ValType::I64 => Value::I64(0),
        ValType::F32 => Value::F32(0),
        ValType::F64 => Value::F64(0),
        ValType::V128 => Value::V128(0),
        // The driver's modules have only nullable funcref and externref
        // parameters and results (see `interface`).
        ValType::Ref(r) if r.is_func_ref() => Value::FuncRef { null: true },
        ValType::Ref(_) => Value::ExternRef { null: true },
    }
}

/// References passed in are always null (as on kiln's side).
fn to_val(value: &Value) -> Val {
    match *value {
        Value::I32(v) => Val::I32(v),
        Value::I64(v) => Val::I64(v),
        Value::F32(bits) => Val::F32(wasmi::F32::from_bits(bits)),
        Value::F64(bits) => Val::F64(wasmi::F64::from_bits(bits)),
        Value::V128(bits) => Val::V128(wasmi::V128::from(bits)),
        Value::FuncRef { .. } => Val::FuncRef(Ref::Null),
        Value::ExternRef { .. } => Val::ExternRef(Ref::Null),
    }
}

fn from_val(val: &Val) -> Value {
    match val {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(v) => Value::F32(v.to_bits()),
        Val::F64(v) => Value::F64(v.to_bits()),
        Val::V128(v) => Value::V128(v.as_u128()),
        Val::FuncRef(f) => Value::FuncRef { null: f.is_null() },
        Val::ExternRef(r) => Value::ExternRef { null: r.is_null() },
    }
}
