//! The `spectest` host module that the specification's scripts import from.

use kiln_format::{FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
use kiln_loader::{Caller, Error, Global, Linker, Memory, SharedMemory, Store, Table, Val};

use crate::values::describe;

/// Defines the `spectest` module in `linker`: the `print*` functions, the
/// globals `global_i32`/`global_i64` (666) and `global_f32`/`global_f64`
/// (666.6), `table` (10..20 funcref), `table64` (the same, indexed by
/// `i64`), `memory` (1..2 pages) and `shared_memory` (1..2 pages, shared).
///
/// The globals, the table and the memory are made in `store`, so the
/// definitions serve instantiations in that store only; the print functions
/// belong to no store.
///
/// The print functions write their arguments to stdout only when `verbose`
/// is set, so that a quiet run prints nothing but the summary.
pub fn define_spectest<T: 'static>(store: &mut Store<T>, linker: &mut Linker<T>, verbose: bool) -> Result<(), Error> {
    use ValType::*;
    let prints: [(&str, Vec<ValType>); 7] = [
        ("print", vec![]),
        ("print_i32", vec![I32]),
        ("print_i64", vec![I64]),
        ("print_f32", vec![F32]),
        ("print_f64", vec![F64]),
        ("print_i32_f32", vec![I32, F32]),
        ("print_f64_f64", vec![F64, F64]),
    ];
    for (name, params) in prints {
        let ty = FuncType { params, results: vec![] };
        linker.func_new("spectest", name, ty, move |caller: Caller<'_, T>, args: &[Val], _results: &mut [Val]| {
            if verbose {
                let shown: Vec<String> = args.iter().map(|v| describe(&caller, v)).collect();
                println!("{name}: {}", shown.join(" "));
            }
            Ok(())
        })?;
    }

    let globals = [
        ("global_i32", I32, Val::I32(666)),
        ("global_i64", I64, Val::I64(666)),
        ("global_f32", F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, content, value) in globals {
        let global = Global::new(&mut *store, GlobalType { content, mutable: false }, value)?;
        linker.define(&*store, "spectest", name, global)?;
    }

    let table_type = TableType { element: RefType::FUNCREF, minimum: 10, maximum: Some(20), table64: false };
    let table = Table::new(&mut *store, table_type, Val::FuncRef(None))?;
    linker.define(&*store, "spectest", "table", table)?;
    // The 64-bit twin of `table` that the reference interpreter's spectest
    // module has too (memory64's table64 scripts import it).
    let table64 = Table::new(&mut *store, TableType { table64: true, ..table_type }, Val::FuncRef(None))?;
    linker.define(&*store, "spectest", "table64", table64)?;

    let memory = Memory::new(&mut *store, MemoryType { minimum: 1, maximum: Some(2), shared: false, memory64: false })?;
    linker.define(&*store, "spectest", "memory", memory)?;

    let shared =
        SharedMemory::new(store.engine(), MemoryType { minimum: 1, maximum: Some(2), shared: true, memory64: false })?;
    linker.define(&*store, "spectest", "shared_memory", shared)?;
    Ok(())
}
