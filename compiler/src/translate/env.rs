//! The module-level facts a function body is translated against, and the
//! IR helpers that reach the VMContext: loads of its fields, memory and
//! table definitions, global slots and builtin calls.

use cranelift_codegen::ir::{self, ExtFuncData, ExternalName, InstBuilder, MemFlagsData, UserExternalName};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;
use kiln_format::{
    definition, shared_memory_slot, ArrayType, BuiltinIndex, CompositeType, FuncType, GlobalType, Instrumentation,
    MemoryType, ModuleInfo, StructType, TableType, VMOffsets,
};

use super::alias::{alias_region, Region};
use super::fuel::{fuel_after_builtin, fuel_before_builtin};
use super::state::FuncState;
use crate::abi::{self, POINTER_TYPE};
use crate::trampolines::BUILTIN_NAMESPACE;
use crate::{CompileError, Result};

/// What the translation of one function needs to know about its module.
pub struct FuncEnvironment<'a> {
    /// The module: types, function space, tables, memories, globals.
    pub info: &'a ModuleInfo,
    /// The VMContext layout of the module's instances.
    pub offsets: VMOffsets,
    /// Calling convention of Wasm functions and builtins.
    pub call_conv: CallConv,
    /// The run-time checks to compile in.
    pub instrumentation: Instrumentation,
    /// The kind of each type of the type section.
    pub(crate) type_kinds: Vec<super::TypeKind>,
}

/// Where an entity's record lives relative to the VMContext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// The record is inline in the VMContext at this offset.
    Defined(u32),
    /// The VMContext holds, at this offset, a pointer to the record.
    Imported(u32),
}

impl<'a> FuncEnvironment<'a> {
    /// Type `index` of the type section.
    pub(crate) fn func_type(&self, index: u32, offset: usize) -> Result<&'a FuncType> {
        self.info
            .func_type_at(index)
            .ok_or_else(|| CompileError::invalid(format!("type {index} is not a function type"), offset))
    }

    /// The type index of function `index` of the function space.
    pub(crate) fn func_type_index(&self, func_index: u32, offset: usize) -> Result<u32> {
        self.info
            .functions
            .get(func_index as usize)
            .map(|func| func.type_index)
            .ok_or_else(|| CompileError::invalid(format!("unknown function {func_index}"), offset))
    }

    /// The type of function `index` of the function space.
    pub(crate) fn func_type_of(&self, func_index: u32, offset: usize) -> Result<&'a FuncType> {
        self.func_type(self.func_type_index(func_index, offset)?, offset)
    }

    /// Whether function `index` is imported.
    pub(crate) fn is_imported_function(&self, func_index: u32) -> bool {
        func_index < self.info.num_imported_funcs
    }

    /// The type of tag `index` of the tag space (its parameters are the
    /// exception's values).
    pub(crate) fn tag_type(&self, index: u32, offset: usize) -> Result<&'a FuncType> {
        let type_index = self
            .info
            .tags
            .get(index as usize)
            .copied()
            .ok_or_else(|| CompileError::invalid(format!("unknown tag {index}"), offset))?;
        self.func_type(type_index, offset)
    }

    /// Type of table `index`.
    pub(crate) fn table_type(&self, index: u32, offset: usize) -> Result<TableType> {
        self.info
            .tables
            .get(index as usize)
            .copied()
            .ok_or_else(|| CompileError::invalid(format!("unknown table {index}"), offset))
    }

    /// Type of memory `index`.
    pub(crate) fn memory_type(&self, index: u32, offset: usize) -> Result<MemoryType> {
        self.info
            .memories
            .get(index as usize)
            .copied()
            .ok_or_else(|| CompileError::invalid(format!("unknown memory {index}"), offset))
    }

    /// Type `index` of the type section, which must be a struct type.
    pub(crate) fn struct_type(&self, index: u32, offset: usize) -> Result<&'a StructType> {
        self.info
            .types
            .get(index as usize)
            .and_then(CompositeType::as_struct)
            .ok_or_else(|| CompileError::invalid(format!("type {index} is not a struct type"), offset))
    }

    /// Type `index` of the type section, which must be an array type.
    pub(crate) fn array_type(&self, index: u32, offset: usize) -> Result<&'a ArrayType> {
        self.info
            .types
            .get(index as usize)
            .and_then(CompositeType::as_array)
            .ok_or_else(|| CompileError::invalid(format!("type {index} is not an array type"), offset))
    }

    /// Whether type `index` is final: no type may declare it a supertype,
    /// so a value is of that type exactly when its type id is the type's.
    pub(crate) fn is_final_type(&self, index: u32) -> bool {
        self.info.type_shapes.get(index as usize).is_none_or(|shape| shape.is_final)
    }

    /// Type of global `index` (in the global space).
    pub(crate) fn global_type(&self, index: u32, offset: usize) -> Result<GlobalType> {
        self.info
            .global_types
            .get(index as usize)
            .copied()
            .ok_or_else(|| CompileError::invalid(format!("unknown global {index}"), offset))
    }

    /// Where the `VMMemoryDefinition` of memory `index` is. A defined
    /// shared memory is reached by pointer, like an imported one: its
    /// definition lives in the memory, shared by every instance using it.
    pub(crate) fn memory_location(&self, index: u32, offset: usize) -> Result<Location> {
        let counts = self.offsets.counts();
        let (imported, defined) = (counts.imported_memories, counts.defined_memories);
        let location = self
            .location(index, imported, defined, VMOffsets::imported_memory, VMOffsets::defined_memory)
            .ok_or_else(|| CompileError::invalid(format!("unknown memory {index}"), offset))?;
        Ok(match location {
            Location::Defined(at) if self.is_shared_memory(index) => {
                Location::Imported(at + shared_memory_slot::DEFINITION)
            }
            other => other,
        })
    }

    /// Whether memory `index` is shared (threads): its length may change
    /// under the code, by another thread's `memory.grow`.
    pub(crate) fn is_shared_memory(&self, index: u32) -> bool {
        self.info.memories.get(index as usize).is_some_and(|memory| memory.shared)
    }

    /// The number of elements of table `index` if it can never change: its
    /// type caps it at its minimum. An imported table then has exactly
    /// that many too, as an import's maximum bounds the provided table's
    /// and its minimum the provided table's current size. (A table of more
    /// than `MAX_TABLE_ELEMENTS` is never instantiated, so the count fits an
    /// `i64`.)
    pub(crate) fn fixed_table_elements(&self, index: u32, offset: usize) -> Result<Option<u64>> {
        let ty = self.table_type(index, offset)?;
        Ok((ty.maximum == Some(ty.minimum) && ty.minimum <= i64::MAX as u64).then_some(ty.minimum))
    }

    /// Where the `VMTableDefinition` of table `index` is.
    pub(crate) fn table_location(&self, index: u32, offset: usize) -> Result<Location> {
        let counts = self.offsets.counts();
        let (imported, defined) = (counts.imported_tables, counts.defined_tables);
        self.location(index, imported, defined, VMOffsets::imported_table, VMOffsets::defined_table)
            .ok_or_else(|| CompileError::invalid(format!("unknown table {index}"), offset))
    }

    /// Where the `VMGlobalDefinition` of global `index` is.
    pub(crate) fn global_location(&self, index: u32, offset: usize) -> Result<Location> {
        let counts = self.offsets.counts();
        let (imported, defined) = (counts.imported_globals, counts.defined_globals);
        self.location(index, imported, defined, VMOffsets::imported_global, VMOffsets::defined_global)
            .ok_or_else(|| CompileError::invalid(format!("unknown global {index}"), offset))
    }

    /// Where entity `index` is in an index space of `imported` imports
    /// followed by `defined` definitions; `None` past its end.
    fn location(
        &self,
        index: u32,
        imported: u32,
        defined: u32,
        imported_at: fn(&VMOffsets, u32) -> u32,
        defined_at: fn(&VMOffsets, u32) -> u32,
    ) -> Option<Location> {
        if index < imported {
            Some(Location::Imported(imported_at(&self.offsets, index)))
        } else if index - imported < defined {
            Some(Location::Defined(defined_at(&self.offsets, index - imported)))
        } else {
            None
        }
    }

    /// Offset of the `VMFunctionImport` of imported function `index`.
    pub(crate) fn imported_function(&self, index: u32, offset: usize) -> Result<(u32, u32)> {
        if index < self.offsets.counts().imported_funcs {
            Ok((self.offsets.imported_function_call(index), self.offsets.imported_function_vmctx(index)))
        } else {
            Err(CompileError::invalid(format!("unknown imported function {index}"), offset))
        }
    }

    /// Offset of the `VMFuncRef` of function `index`.
    pub(crate) fn func_ref_offset(&self, index: u32, offset: usize) -> Result<u32> {
        if index < self.offsets.counts().funcs {
            Ok(self.offsets.func_ref(index))
        } else {
            Err(CompileError::invalid(format!("unknown function {index}"), offset))
        }
    }

    /// Offset of the canonical type id of type `index`.
    pub(crate) fn type_id_offset(&self, index: u32, offset: usize) -> Result<u32> {
        if index < self.offsets.counts().types {
            Ok(self.offsets.type_id(index))
        } else {
            Err(CompileError::invalid(format!("unknown type {index}"), offset))
        }
    }
}

/// Flags of a load or store of VMContext-owned data: aligned, never faults.
pub(crate) fn vm_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Flags of a load of VMContext data that no code changes while an instance
/// lives (pointers to imported records, memory bases, type ids, immutable
/// globals), at an address derived from the vmctx by such loads only. The
/// address is valid anywhere in the function, so the load may move
/// (`can_move`): Cranelift then treats it as a pure value, merges repeated
/// loads and hoists them out of loops.
pub(crate) fn vm_readonly_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Flags of a load or store of VMContext data in `region`.
pub(crate) fn vm_region_flags(builder: &mut FunctionBuilder<'_>, region: Region) -> MemFlagsData {
    vm_flags().with_alias_region(Some(alias_region(builder.func, region)))
}

/// Flags of a linear-memory access: little-endian, allowed to fault on the
/// guard region, which reports `memory_out_of_bounds`, and in the region
/// of linear memory, which no VMContext field shares.
pub(crate) fn heap_flags(builder: &mut FunctionBuilder<'_>) -> MemFlagsData {
    MemFlagsData::new()
        .with_endianness(ir::Endianness::Little)
        .with_trap_code(Some(ir::TrapCode::HEAP_OUT_OF_BOUNDS))
        .with_alias_region(Some(alias_region(builder.func, Region::Heap)))
}

/// `(record base, offset of the record from it)`: saves an `iadd` for
/// inline records by folding their offset into the access.
pub(crate) fn record_base(builder: &mut FunctionBuilder<'_>, vmctx: ir::Value, location: Location) -> (ir::Value, i32) {
    match location {
        Location::Defined(offset) => (vmctx, offset as i32),
        Location::Imported(offset) => (builder.ins().load(POINTER_TYPE, vm_readonly_flags(), vmctx, offset as i32), 0),
    }
}

/// Loads the `base` of memory `index`. The base never moves once the
/// memory exists, so the load is read-only and may be hoisted.
pub(crate) fn memory_base(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &FuncState,
    index: u32,
    offset: usize,
) -> Result<ir::Value> {
    let location = env.memory_location(index, offset)?;
    let (base, at) = record_base(builder, state.vmctx, location);
    Ok(builder.ins().load(POINTER_TYPE, vm_readonly_flags(), base, at + definition::BASE as i32))
}

/// Loads the current length in bytes of memory `index` (an i64).
pub(crate) fn memory_length(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &FuncState,
    index: u32,
    offset: usize,
) -> Result<ir::Value> {
    let location = env.memory_location(index, offset)?;
    if env.is_shared_memory(index) {
        // Another thread may grow the memory at any time; the runtime
        // publishes the new length atomically once its pages are accessible.
        let (record, at) = record_base(builder, state.vmctx, location);
        let field = builder.ins().iadd_imm_u(record, i64::from(at) + i64::from(definition::CURRENT_LENGTH));
        let flags = vm_region_flags(builder, Region::Definitions);
        return Ok(builder.ins().atomic_load(ir::types::I64, flags, field));
    }
    Ok(current_length(builder, state.vmctx, location))
}

/// `(base, current_elements)` of table `index`. Both may change when the
/// table grows, so they are loaded again after every call; but a table
/// whose type caps it at its minimum never changes size (SPEC 3.4), so its
/// length is that constant and its base a read-only load.
pub(crate) fn table_base_and_bound(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &FuncState,
    index: u32,
    offset: usize,
) -> Result<(ir::Value, ir::Value)> {
    let location = env.table_location(index, offset)?;
    let (record, at) = record_base(builder, state.vmctx, location);
    if let Some(elements) = env.fixed_table_elements(index, offset)? {
        let base = builder.ins().load(POINTER_TYPE, vm_readonly_flags(), record, at + definition::BASE as i32);
        return Ok((base, builder.ins().iconst(ir::types::I64, elements as i64)));
    }
    let flags = vm_region_flags(builder, Region::Definitions);
    let bound = builder.ins().load(ir::types::I64, flags, record, at + definition::CURRENT_LENGTH as i32);
    let base = builder.ins().load(POINTER_TYPE, flags, record, at + definition::BASE as i32);
    Ok((base, bound))
}

/// Loads the current number of elements of table `index` (an i64).
pub(crate) fn table_bound(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &FuncState,
    index: u32,
    offset: usize,
) -> Result<ir::Value> {
    if let Some(elements) = env.fixed_table_elements(index, offset)? {
        return Ok(builder.ins().iconst(ir::types::I64, elements as i64));
    }
    let location = env.table_location(index, offset)?;
    Ok(current_length(builder, state.vmctx, location))
}

/// Loads the `current_length` (an i64) of the memory or table definition
/// at `location`; growing changes it, so the load is not read-only, but
/// only a call grows (for an unshared memory), so no store of the code does.
fn current_length(builder: &mut FunctionBuilder<'_>, vmctx: ir::Value, location: Location) -> ir::Value {
    let (record, at) = record_base(builder, vmctx, location);
    let flags = vm_region_flags(builder, Region::Definitions);
    builder.ins().load(ir::types::I64, flags, record, at + definition::CURRENT_LENGTH as i32)
}

/// An `i32` constant for a builtin's index argument.
pub(crate) fn index_arg(builder: &mut FunctionBuilder<'_>, index: u32) -> ir::Value {
    builder.ins().iconst(ir::types::I32, i64::from(index as i32))
}

/// `value` as the `i64` that builtins take for addresses, lengths and
/// deltas: zero-extended from the `i32` of a 32-bit memory or table.
pub(crate) fn widen_arg(builder: &mut FunctionBuilder<'_>, value: ir::Value) -> ir::Value {
    if builder.func.dfg.value_type(value) == ir::types::I64 {
        value
    } else {
        builder.ins().uextend(ir::types::I64, value)
    }
}

/// A builtin's `i64` result (a size, or -1) as the value of an entity of
/// the given index type: its low 32 bits for a 32-bit one, whose sizes
/// never exceed `u32::MAX` and whose -1 is all ones as well.
pub(crate) fn narrow_result(builder: &mut FunctionBuilder<'_>, value: ir::Value, is_64: bool) -> ir::Value {
    if is_64 {
        value
    } else {
        builder.ins().ireduce(ir::types::I32, value)
    }
}

/// Calls `builtin` through its exit trampoline `kiln_builtin_N`, which
/// records the exit (frame pointer, return address) for the GC and the
/// trap handler before calling the builtin through the builtins table.
/// Passes the caller's vmctx before `args`. Returns the call instruction,
/// a safepoint like any other call.
pub(crate) fn call_builtin(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    args: &[ir::Value],
) -> ir::Inst {
    let callee = builtin_func(env, builder, state, builtin);
    state.call_args.clear();
    state.call_args.push(state.vmctx);
    state.call_args.extend_from_slice(args);
    // The builtin may re-enter Wasm (a destructor) or a host callback that
    // reads the fuel, so the fuel counter is in the store around it.
    fuel_before_builtin(env, builder, state);
    let call = builder.ins().call(callee, &state.call_args);
    fuel_after_builtin(env, builder, state);
    call
}

/// The exit trampoline of `builtin`, declared once per function.
pub(crate) fn builtin_func(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
) -> ir::FuncRef {
    match state.builtin_funcs.get(builtin as usize).copied().flatten() {
        Some(callee) => callee,
        None => {
            let signature = builder.import_signature(abi::builtin_signature(builtin, env.call_conv));
            let name = builder.func.declare_imported_user_function(UserExternalName {
                namespace: BUILTIN_NAMESPACE,
                index: builtin as u32,
            });
            let callee = builder.import_function(ExtFuncData {
                name: ExternalName::User(name),
                signature,
                colocated: true,
                patchable: false,
            });
            if let Some(slot) = state.builtin_funcs.get_mut(builtin as usize) {
                *slot = Some(callee);
            }
            callee
        }
    }
}

/// Calls `builtin` and returns its single result.
pub(crate) fn call_builtin_value(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    args: &[ir::Value],
    offset: usize,
) -> Result<ir::Value> {
    let call = call_builtin(env, builder, state, builtin, args);
    builder
        .inst_results(call)
        .first()
        .copied()
        .ok_or_else(|| CompileError::codegen(format!("builtin {builtin} returns nothing (at offset {offset:#x})")))
}
