//! The instantiation algorithm.
#![allow(unsafe_code)]

use kiln_format::{
    DataMode, ElementMode, GlobalType, HeapType, ImportKind, ModuleInfo, RefType, TableType, VMOffsets, ValType,
};

use super::const_expr::allocates;
use super::{InstanceData, VMContextAlloc};
use crate::error::Error;
use crate::externals::Extern;
use crate::instance::Instance;
use crate::matching::check_import_item;
use crate::module::Module;
use crate::vm::global::GlobalInner;
use crate::vm::host_func::{HostFuncRef, VMHostFuncContext};
use crate::vm::memory::ImageRef;
use crate::vm::store::StoreOpaque;
use crate::vm::Pinned;
use crate::vm::{VMDefinition, VMFuncRef, VMFunctionImport, ValueSlot};

/// What satisfies one import: an item of the store, or a host function of
/// a linker, which gets its own context in the store for this instance.
#[derive(Clone, Copy)]
pub(crate) enum ImportItem<'a> {
    Extern(&'a Extern),
    Host(&'a HostFuncRef),
}

/// Instantiates `module` in `store`; the new instance's index.
///
/// On failure the instance stays in the store, unreachable: segments may
/// already have stored its functions into imported tables, which outlive
/// it, and the store keeps them callable.
pub(crate) fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: &[ImportItem<'_>],
) -> Result<usize, Error> {
    let info = module.info();
    let code = module.code();
    if !module.engine().same(&store.engine) {
        return Err(Error::Link("the module was loaded with another engine than the store's".into()));
    }
    if imports.len() != info.imports.len() {
        return Err(Error::Link(format!(
            "unknown import: {} imports given for {} declared",
            imports.len(),
            info.imports.len()
        )));
    }
    let defined_memories = info.memories.len() - info.num_imported_memories as usize;
    let defined_tables = info.tables.len() - info.num_imported_tables as usize;
    store.check_counts(1, defined_memories, defined_tables)?;
    store.check_instantiable(module)?;
    let offsets = info.vmoffsets();
    let vmctx = match store.engine.pooling() {
        Some(pool) => VMContextAlloc::from_pool(&pool.instances, offsets.size())?,
        None => VMContextAlloc::new(offsets.size())?,
    };
    let index = store.instances.len();
    let handle = Instance::from_index(store.id(), index);
    let type_ids = module.type_ids();

    vmctx.write(VMOffsets::RUNTIME_LIMITS, store.limits_ptr());
    vmctx.write(VMOffsets::BUILTINS, crate::vm::builtins::table_ptr());
    vmctx.write(VMOffsets::ACTIVATIONS, store.activations_table_ptr());
    for (i, &id) in type_ids.iter().enumerate() {
        vmctx.write(offsets.type_id(i as u32), id);
    }

    let mut imported_funcs: Vec<VMFuncRef> = Vec::with_capacity(info.num_imported_funcs as usize);
    let mut memories = Vec::with_capacity(info.memories.len());
    let mut tables = Vec::with_capacity(info.tables.len());
    let mut globals = Vec::with_capacity(info.global_types.len());
    let mut tags = Vec::with_capacity(info.tags.len());
    for (import, item) in info.imports.iter().zip(imports) {
        let mismatch = || Error::Link(format!("incompatible import type for `{}`.`{}`", import.module, import.name));
        if let ImportItem::Extern(item) = item {
            check_import_item(store, import, item, module)?;
        }
        match (*item, &import.kind) {
            (ImportItem::Extern(Extern::SharedMemory(m)), ImportKind::Memory(_)) => {
                if !m.engine.same(&store.engine) {
                    return Err(Error::Link(format!(
                        "incompatible import type for `{}`.`{}`: the shared memory belongs to another engine",
                        import.module, import.name
                    )));
                }
                memories.push(store.shared_memory_index(&m.inner));
            }
            (ImportItem::Host(host), &ImportKind::Func(type_index)) => {
                if type_ids.get(type_index as usize) != Some(&host.type_id) {
                    return Err(Error::Link(format!(
                        "incompatible import type for `{}`.`{}`: expected func of type `{}`, found another type",
                        import.module,
                        import.name,
                        info.types.get(type_index as usize).map_or_else(|| "?".to_string(), |t| t.to_string())
                    )));
                }
                let trampoline = host_trampoline(module, type_index)?;
                let ctx = VMHostFuncContext::new(store.context_ptr(), host.clone(), trampoline, Some(handle));
                imported_funcs.push(ctx.func_ref);
                store.host_funcs.push(ctx);
            }
            (ImportItem::Extern(Extern::Func(f)), &ImportKind::Func(type_index)) => {
                let provided = store.func_ref(f)?;
                let func_ref = match store.host_context(&provided) {
                    Some(ctx) => {
                        // A context of its own, so that the function's
                        // `Caller` sees this instance.
                        let ctx = ctx.for_caller(host_trampoline(module, type_index)?, handle);
                        let func_ref = ctx.func_ref;
                        store.host_funcs.push(ctx);
                        func_ref
                    }
                    None => provided,
                };
                imported_funcs.push(func_ref);
            }
            (ImportItem::Extern(Extern::Table(t)), ImportKind::Table(_)) => tables.push(t.index),
            (ImportItem::Extern(Extern::Memory(m)), ImportKind::Memory(_)) => memories.push(m.index),
            (ImportItem::Extern(Extern::Global(g)), ImportKind::Global(_)) => globals.push(g.index),
            (ImportItem::Extern(Extern::Tag(t)), ImportKind::Tag(_)) => tags.push(t.index),
            _ => return Err(mismatch()),
        }
    }
    for (i, func_ref) in imported_funcs.iter().enumerate() {
        vmctx.write(
            offsets.imported_function(i as u32),
            VMFunctionImport { wasm_call: func_ref.wasm_call, vmctx: func_ref.vmctx },
        );
    }
    for (i, &t) in tables.iter().enumerate() {
        vmctx.write(offsets.imported_table(i as u32), store.tables[t as usize].definition_ptr());
    }
    for (i, &m) in memories.iter().enumerate() {
        vmctx.write(offsets.imported_memory(i as u32), store.memories[m as usize].definition_ptr());
    }
    for (i, &g) in globals.iter().enumerate() {
        vmctx.write(offsets.imported_global(i as u32), store.globals[g as usize].slot_ptr());
    }

    for (index, function) in info.functions.iter().enumerate() {
        let func_ref = match imported_funcs.get(index) {
            Some(imported) => *imported,
            None => VMFuncRef {
                wasm_call: code
                    .func_code(index as u32)
                    .ok_or_else(|| Error::Instantiation(format!("function {index} has no code")))?,
                vmctx: vmctx.ptr(),
                type_id: type_ids[function.type_index as usize],
                _pad: 0,
                host_entry: code.entry_trampoline(function.type_index).unwrap_or(std::ptr::null()),
            },
        };
        vmctx.write(offsets.func_ref(index as u32), func_ref);
    }

    // Defined tags are new store tags, distinct from every other.
    for &type_index in &info.tags[info.num_imported_tags as usize..] {
        let ty = info
            .func_type_at(type_index)
            .ok_or_else(|| Error::Instantiation(format!("tag type {type_index} is not a function type")))?
            .map_concrete(|index| type_ids.get(index as usize).copied().unwrap_or(u32::MAX));
        let type_id = type_ids[type_index as usize];
        tags.push(store.new_tag(std::sync::Arc::new(crate::vm::exception::VMTag { ty, type_id })).index);
    }
    let tag_refs = tags.iter().map(|&t| store.tags[t as usize].clone()).collect();

    // The store owns the VMContext from here on, before any table, memory
    // or global points into it, so that a failure below leaves no
    // definition pointing at freed memory.
    let vmctx_ptr = vmctx.ptr();
    store.instances.push(Pinned::new(InstanceData {
        index,
        module: module.clone(),
        vmctx,
        offsets,
        memories,
        tables,
        globals,
        tags,
        tag_refs,
        dropped_elements: vec![false; info.elements.len()],
        element_values: vec![None; info.elements.len()],
        dropped_data: vec![false; info.data.len()],
    }));
    let data_ptr: *const InstanceData = store.instances[index].as_ptr();
    // SAFETY: the offset lies in the VMContext (VMOffsets puts it there),
    // which lives as long as the boxed instance data it points at.
    unsafe { vmctx_ptr.add(VMOffsets::INSTANCE as usize).cast::<*const InstanceData>().write(data_ptr) };
    for (i, ty) in info.tables[info.num_imported_tables as usize..].iter().enumerate() {
        let home = vmctx_ptr.wrapping_add(offsets.defined_table(i as u32) as usize).cast::<VMDefinition>();
        // Every element starts as the table's initialiser (null without
        // one); the expression sees the imported globals, which are all
        // that a table's expression may read.
        let init = match info.table_inits.get(i) {
            Some(Some(expr)) => Some(store.eval_const(index, expr)?),
            _ => None,
        };
        let ty = TableType { element: module.engine_ref_type(ty.element), ..*ty };
        // The table takes counts of its own; the evaluation's goes after.
        let table = store.new_table(ty, init.as_ref().map_or(0, |v| v.slot.pointer()), home);
        if let Some(init) = init {
            init.release()?;
        }
        store.instances[index].tables.push(table?);
    }
    for (i, ty) in info.memories[info.num_imported_memories as usize..].iter().enumerate() {
        let home = vmctx_ptr.wrapping_add(offsets.defined_memory(i as u32) as usize).cast::<VMDefinition>();
        let memory_index = info.num_imported_memories + i as u32;
        let image = code.image_source().and_then(|source| {
            let image = info.memory_images.iter().find(|m| m.memory == memory_index)?;
            Some(ImageRef { source, image })
        });
        let memory = store.new_memory(*ty, home, image)?;
        store.instances[index].memories.push(memory);
    }
    for (i, global) in info.globals.iter().enumerate() {
        let value = store.eval_const(index, &global.init)?;
        let home = vmctx_ptr.wrapping_add(offsets.defined_global(i as u32) as usize).cast::<ValueSlot>();
        let global_index = store.globals.len() as u32;
        let ty = GlobalType { content: module.engine_type(global.ty.content), ..global.ty };
        // The global takes a count of its own; the evaluation's goes after.
        store.globals.push(GlobalInner::new(ty, home, value.slot));
        store.instances[index].globals.push(global_index);
        value.release()?;
    }
    if store.unresolved_host_funcs > 0 {
        store.resolve_host_trampolines(module);
    }

    for (elem, segment) in info.elements.iter().enumerate() {
        if !matches!(segment.mode, ElementMode::Declared) && segment.items.iter().any(allocates) {
            store.evaluate_element_segment(index, elem as u32)?;
        }
        match &segment.mode {
            &ElementMode::Active { table, ref offset } => {
                let wide = info.tables.get(table as usize).is_some_and(|t| t.table64);
                let dst = store.const_env(index).eval_offset(offset, wide)?;
                // No table has 2^32 elements: a larger offset is out of bounds.
                let released = u32::try_from(dst)
                    .map_err(|_| kiln_format::TrapCode::TABLE_OUT_OF_BOUNDS)
                    .and_then(|dst| store.table_init(index, table, elem as u32, dst, 0, segment.items.len() as u32))
                    .map_err(Error::trap_code)?;
                released.release()?;
                store.drop_element(index, elem as u32)?;
            }
            ElementMode::Declared => store.drop_element(index, elem as u32)?,
            ElementMode::Passive => {}
        }
    }
    for (segment_index, segment) in info.data.iter().enumerate() {
        match &segment.mode {
            &DataMode::Active { memory, ref offset } => {
                let wide = info.memories.get(memory as usize).is_some_and(|m| m.memory64);
                let dst = store.const_env(index).eval_offset(offset, wide)?;
                store
                    .memory_init(index, memory, segment_index as u32, dst, 0, segment.len)
                    .map_err(Error::trap_code)?;
                store.drop_data(index, segment_index as u32);
            }
            // Its bytes came with the memory's image.
            DataMode::InImage { .. } => store.drop_data(index, segment_index as u32),
            DataMode::Passive => {}
        }
    }

    if let Some(start) = info.start {
        let func_ref = store.instances[index]
            .func_ref(start)
            .ok_or_else(|| Error::Instantiation(format!("start function {start} does not exist")))?;
        // SAFETY: the func ref lies in this instance's VMContext, owned by
        // the store; a start function takes and returns nothing.
        let func_ref = unsafe { func_ref.read() };
        // SAFETY: as above; a `[] -> []` function needs no slots.
        unsafe { store.call(&func_ref, &mut [])? };
    }
    Ok(index)
}

/// The module's Wasm-to-host trampoline for its type `type_index`.
fn host_trampoline(module: &Module, type_index: u32) -> Result<*const u8, Error> {
    module
        .code()
        .host_trampoline(type_index)
        .ok_or_else(|| Error::Instantiation(format!("the artifact has no host trampoline for type {type_index}")))
}

/// Checks the index spaces of the module info against each other, so that
/// no later lookup can go out of range.
pub(crate) fn check_counts(info: &ModuleInfo) -> Result<(), Error> {
    let bad = |what: &str| Err(Error::Instantiation(format!("inconsistent module info: {what}")));
    let count = |f: fn(&ImportKind) -> bool| info.imports.iter().filter(|i| f(&i.kind)).count() as u32;
    if count(|k| matches!(k, ImportKind::Func(_))) != info.num_imported_funcs
        || count(|k| matches!(k, ImportKind::Table(_))) != info.num_imported_tables
        || count(|k| matches!(k, ImportKind::Memory(_))) != info.num_imported_memories
        || count(|k| matches!(k, ImportKind::Global(_))) != info.num_imported_globals
        || count(|k| matches!(k, ImportKind::Tag(_))) != info.num_imported_tags
    {
        return bad("import counts");
    }
    if info.functions.len() < info.num_imported_funcs as usize
        || info.tables.len() < info.num_imported_tables as usize
        || info.memories.len() < info.num_imported_memories as usize
        || info.global_types.len() != info.num_imported_globals as usize + info.globals.len()
        || info.tags.len() < info.num_imported_tags as usize
    {
        return bad("index spaces");
    }
    if info.functions.iter().any(|f| f.type_index as usize >= info.types.len()) {
        return bad("function type index");
    }
    if info.functions[..info.num_imported_funcs as usize].iter().any(|f| f.code.is_some()) {
        return bad("imported function with code");
    }
    if info.table_inits.len() != info.tables.len() - info.num_imported_tables as usize {
        return bad("table initialisers");
    }
    // Every concrete type a table, global, segment or import names is a
    // type of the module (those in the types themselves are checked as
    // the engine interns them).
    let types = info.types.len();
    let in_range = |r: RefType| !matches!(r.heap, HeapType::ConcreteFunc(i) if i as usize >= types);
    let val_in_range = |v: ValType| v.as_ref().is_none_or(in_range);
    let imports_in_range = info.imports.iter().all(|i| match &i.kind {
        ImportKind::Table(t) => in_range(t.element),
        ImportKind::Global(g) => val_in_range(g.content),
        _ => true,
    });
    if !imports_in_range
        || !info.tables.iter().all(|t| in_range(t.element))
        || !info.global_types.iter().all(|g| val_in_range(g.content))
        || !info.elements.iter().all(|e| in_range(e.element))
    {
        return bad("concrete type index");
    }
    Ok(())
}
