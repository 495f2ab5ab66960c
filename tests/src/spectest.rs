//! The `spectest` host module that the specification's scripts import from.

use kiln_format::{FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
use kiln_loader::{Error, Extern, Global, Linker, Memory, Store, Table, Val};

use crate::values::describe;

/// Defines the `spectest` module in `linker`: the `print*` functions, the
/// globals `global_i32`/`global_i64` (666) and `global_f32`/`global_f64`
/// (666.6), `table` (10..20 funcref) and `memory` (1..2 pages).
///
/// The print functions write their arguments to stdout only when `verbose`
/// is set, so that a quiet run prints nothing but the summary.
pub fn define_spectest(store: &Store, linker: &mut Linker, verbose: bool) -> Result<(), Error> {
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
        linker.func_new(store, "spectest", name, ty, move |args: &[Val], _results: &mut [Val]| {
            if verbose {
                let shown: Vec<String> = args.iter().map(describe).collect();
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
        let global = Global::new(store, GlobalType { content, mutable: false }, value)?;
        linker.define("spectest", name, Extern::Global(global))?;
    }

    let table_type = TableType { element: RefType::FuncRef, minimum: 10, maximum: Some(20) };
    let table = Table::new(store, table_type, Val::FuncRef(None))?;
    linker.define("spectest", "table", Extern::Table(table))?;

    let memory = Memory::new(store, MemoryType { minimum: 1, maximum: Some(2), shared: false })?;
    linker.define("spectest", "memory", Extern::Memory(memory))?;
    Ok(())
}
