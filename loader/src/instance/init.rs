//! The instantiation algorithm.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::rc::Rc;

use kiln_format::{DataMode, ElementMode, ImportKind, ModuleInfo, VMOffsets};

use super::const_expr::ConstEnv;
use super::{InstanceData, VMContextAlloc};
use crate::error::Error;
use crate::externals::Extern;
use crate::func::Func;
use crate::global::GlobalInner;
use crate::matching::check_import_item;
use crate::memory::MemoryInner;
use crate::module::Module;
use crate::store::Store;
use crate::table::TableInner;
use crate::vm::{VMDefinition, VMFuncRef, VMFunctionImport, ValueSlot};

pub(super) fn instantiate(store: &Store, module: &Module, imports: &[Extern]) -> Result<Rc<InstanceData>, Error> {
    let info = module.info();
    let code = module.code();
    check_counts(info)?;
    if imports.len() != info.imports.len() {
        return Err(Error::Link(format!(
            "unknown import: {} imports given for {} declared",
            imports.len(),
            info.imports.len()
        )));
    }
    let offsets = info.vmoffsets();
    let alloc = VMContextAlloc::new(offsets.size())?;
    let vmctx = alloc.ptr();
    // The store owns the block from here on, so pointers into it stay valid
    // even if instantiation fails half-way.
    let alloc_ref = Rc::new(alloc);
    store.inner.vmctxs.borrow_mut().push(alloc_ref.clone());
    let alloc = &*alloc_ref;

    alloc.write(VMOffsets::RUNTIME_LIMITS, store.limits_ptr());
    alloc.write(VMOffsets::BUILTINS, crate::builtins::table_ptr());
    alloc.write(VMOffsets::ACTIVATIONS, store.activations_table_ptr());
    let type_ids = store.intern_types(&info.types);
    for (i, &id) in type_ids.iter().enumerate() {
        alloc.write(offsets.type_id(i as u32), id);
    }

    let mut imported_funcs: Vec<VMFuncRef> = Vec::new();
    let mut memories = Vec::new();
    let mut tables = Vec::new();
    let mut globals = Vec::new();
    for (import, item) in info.imports.iter().zip(imports) {
        check_import_item(store, import, item, &info.types)?;
        let mismatch = || Error::Link(format!("incompatible import type for `{}`.`{}`", import.module, import.name));
        match (item, &import.kind) {
            (Extern::Func(f), &ImportKind::Func(type_index)) => {
                let type_id = *type_ids.get(type_index as usize).ok_or_else(mismatch)?;
                let provided = f.vm_func_ref();
                if provided.type_id != type_id {
                    return Err(mismatch());
                }
                let func_ref = if f.host_context().is_some() {
                    let trampoline = code
                        .host_trampoline(type_index)
                        .or_else(|| store.host_trampoline_for(type_id))
                        .ok_or_else(|| Error::Instantiation(format!("no host trampoline for type {type_index}")))?;
                    VMFuncRef { wasm_call: trampoline, host_entry: std::ptr::null(), ..provided }
                } else if provided.host_entry.is_null() {
                    // The provider's module had no entry trampoline for this type; ours does.
                    VMFuncRef { host_entry: code.entry_trampoline(type_index).unwrap_or(std::ptr::null()), ..provided }
                } else {
                    provided
                };
                alloc.write(
                    offsets.imported_function(imported_funcs.len() as u32),
                    VMFunctionImport { wasm_call: func_ref.wasm_call, vmctx: func_ref.vmctx },
                );
                imported_funcs.push(func_ref);
            }
            (Extern::Table(t), ImportKind::Table(_)) => {
                alloc.write(offsets.imported_table(tables.len() as u32), t.inner.definition_ptr());
                tables.push(t.inner.clone());
            }
            (Extern::Memory(m), ImportKind::Memory(_)) => {
                alloc.write(offsets.imported_memory(memories.len() as u32), m.inner.definition_ptr());
                memories.push(m.inner.clone());
            }
            (Extern::Global(g), ImportKind::Global(_)) => {
                alloc.write(offsets.imported_global(globals.len() as u32), g.inner.slot_ptr());
                globals.push(g.inner.clone());
            }
            _ => return Err(mismatch()),
        }
    }

    for (index, function) in info.functions.iter().enumerate() {
        let func_ref = match imported_funcs.get(index) {
            Some(imported) => *imported,
            None => VMFuncRef {
                wasm_call: code
                    .func_code(index as u32)
                    .ok_or_else(|| Error::Instantiation(format!("function {index} has no code")))?,
                vmctx,
                type_id: type_ids[function.type_index as usize],
                _pad: 0,
                host_entry: code.entry_trampoline(function.type_index).unwrap_or(std::ptr::null()),
            },
        };
        alloc.write(offsets.func_ref(index as u32), func_ref);
    }

    for (i, ty) in info.tables[info.num_imported_tables as usize..].iter().enumerate() {
        let home = alloc.at::<VMDefinition>(offsets.defined_table(i as u32));
        let table = Rc::new(TableInner::new(*ty, 0, home)?);
        store.inner.tables.borrow_mut().push(table.clone());
        tables.push(table);
    }
    for (i, ty) in info.memories[info.num_imported_memories as usize..].iter().enumerate() {
        let home = alloc.at::<VMDefinition>(offsets.defined_memory(i as u32));
        let memory = Rc::new(MemoryInner::new(*ty, home)?);
        store.inner.memories.borrow_mut().push(memory.clone());
        memories.push(memory);
    }
    for (i, global) in info.globals.iter().enumerate() {
        let value = ConstEnv { globals: &globals, vmctx, offsets: &offsets }.eval(&global.init)?;
        let home = alloc.at::<ValueSlot>(offsets.defined_global(i as u32));
        let global = Rc::new(GlobalInner::new(global.ty, home, value));
        store.inner.globals.borrow_mut().push(global.clone());
        globals.push(global);
    }

    let data = Rc::new(InstanceData {
        module: module.clone(),
        vmctx,
        offsets,
        memories,
        tables,
        globals,
        dropped_elements: info.elements.iter().map(|_| Cell::new(false)).collect(),
        dropped_data: info.data.iter().map(|_| Cell::new(false)).collect(),
        store: store.downgrade(),
    });
    alloc.write(VMOffsets::INSTANCE, Rc::as_ptr(&data));
    // Segments may store this instance's functions into imported tables,
    // which outlive a failed instantiation; the store keeps them callable.
    store.inner.instances.borrow_mut().push(data.clone());
    for (type_index, &type_id) in type_ids.iter().enumerate() {
        if let Some(trampoline) = code.host_trampoline(type_index as u32) {
            store.register_host_trampoline(type_id, trampoline);
        }
        if let Some(trampoline) = code.entry_trampoline(type_index as u32) {
            store.register_entry_trampoline(type_id, trampoline);
        }
    }

    for (index, segment) in info.elements.iter().enumerate() {
        match segment.mode {
            ElementMode::Active { table, offset } => {
                let dst = data.const_env().eval_offset(&offset)?;
                data.table_init(table, index as u32, dst, 0, segment.items.len() as u32).map_err(Error::trap_code)?;
                data.drop_element(index as u32);
            }
            ElementMode::Declared => data.drop_element(index as u32),
            ElementMode::Passive => {}
        }
    }
    for (index, segment) in info.data.iter().enumerate() {
        if let DataMode::Active { memory, offset } = segment.mode {
            let dst = data.const_env().eval_offset(&offset)?;
            data.memory_init(memory, index as u32, dst, 0, segment.len).map_err(Error::trap_code)?;
            data.drop_data(index as u32);
        }
    }

    if let Some(start) = info.start {
        let func_ref = data.const_env().func_ref(start)? as *const VMFuncRef;
        // SAFETY: the func ref lies in this instance's VMContext, owned by the store.
        let start = unsafe { Func::from_raw(store, func_ref) }
            .ok_or_else(|| Error::Instantiation("null start function".into()))?;
        start.call(&[])?;
    }
    Ok(data)
}

/// Checks the index spaces of the module info against each other, so that
/// no later lookup can go out of range.
fn check_counts(info: &ModuleInfo) -> Result<(), Error> {
    let bad = |what: &str| Err(Error::Instantiation(format!("inconsistent module info: {what}")));
    let count = |f: fn(&ImportKind) -> bool| info.imports.iter().filter(|i| f(&i.kind)).count() as u32;
    if count(|k| matches!(k, ImportKind::Func(_))) != info.num_imported_funcs
        || count(|k| matches!(k, ImportKind::Table(_))) != info.num_imported_tables
        || count(|k| matches!(k, ImportKind::Memory(_))) != info.num_imported_memories
        || count(|k| matches!(k, ImportKind::Global(_))) != info.num_imported_globals
    {
        return bad("import counts");
    }
    if info.functions.len() < info.num_imported_funcs as usize
        || info.tables.len() < info.num_imported_tables as usize
        || info.memories.len() < info.num_imported_memories as usize
        || info.global_types.len() != info.num_imported_globals as usize + info.globals.len()
    {
        return bad("index spaces");
    }
    if info.functions.iter().any(|f| f.type_index as usize >= info.types.len()) {
        return bad("function type index");
    }
    if info.functions[..info.num_imported_funcs as usize].iter().any(|f| f.code.is_some()) {
        return bad("imported function with code");
    }
    Ok(())
}
