//! Tables: `table.get`/`table.set` inline (with the reference-count barriers
//! of tables of counted references), every other table operator through builtins
//! (SPEC 3.4).

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{BuiltinIndex, TrapCode, ValType};

use super::alias::Region;
use super::barriers::{push_from_storage, store_to_storage};
use super::env::{
    call_builtin_value, index_arg, narrow_result, table_base_and_bound, table_bound, vm_region_flags, widen_arg,
    FuncEnvironment,
};
use super::state::FuncState;
use crate::abi::{self, POINTER_TYPE};
use crate::Result;

/// Address of element `index` (an `i32`, or an `i64` of a 64-bit table) of
/// table `table`, after checking it against the bound; an index out of
/// bounds traps with `trap`.
pub(crate) fn checked_element_address(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    table: u32,
    index: ir::Value,
    trap: TrapCode,
    offset: usize,
) -> Result<ir::Value> {
    let (base, bound) = table_base_and_bound(env, builder, state, table, offset)?;
    let index = widen_arg(builder, index);
    let out_of_bounds = builder.ins().icmp(ir::condcodes::IntCC::UnsignedGreaterThanOrEqual, index, bound);
    builder.ins().trapnz(out_of_bounds, abi::clif_trap_code(trap));
    let scaled = builder.ins().ishl_imm_u(index, 3);
    Ok(builder.ins().iadd(base, scaled))
}

/// `table.get`.
pub(crate) fn translate_table_get(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    table: u32,
    offset: usize,
) -> Result<()> {
    let index = state.pop1(offset)?;
    let element = ValType::Ref(env.table_type(table, offset)?.element);
    let addr = checked_element_address(env, builder, state, table, index, TrapCode::TABLE_OUT_OF_BOUNDS, offset)?;
    let flags = vm_region_flags(builder, Region::TableElements);
    let value = builder.ins().load(POINTER_TYPE, flags, addr, 0);
    push_from_storage(env, builder, state, value, element);
    Ok(())
}

/// `table.set`: pops the index, then the reference.
pub(crate) fn translate_table_set(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    table: u32,
    offset: usize,
) -> Result<()> {
    let (index, value) = state.pop2(offset)?;
    let element = ValType::Ref(env.table_type(table, offset)?.element);
    let addr = checked_element_address(env, builder, state, table, index, TrapCode::TABLE_OUT_OF_BOUNDS, offset)?;
    let flags = vm_region_flags(builder, Region::TableElements);
    store_to_storage(env, builder, state, addr, 0, value, element, flags);
    Ok(())
}

/// `table.size`: `current_elements`, which never exceeds `u32::MAX`; an
/// `i64` for a 64-bit table.
pub(crate) fn translate_table_size(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    table: u32,
    offset: usize,
) -> Result<()> {
    let table64 = env.table_type(table, offset)?.table64;
    let bound = table_bound(env, builder, state, table, offset)?;
    let size = narrow_result(builder, bound, table64);
    state.stack.push(size);
    Ok(())
}

/// `table.grow`: pops the initial value, then the delta.
pub(crate) fn translate_table_grow(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    table: u32,
    offset: usize,
) -> Result<()> {
    let table64 = env.table_type(table, offset)?.table64;
    let (init, delta) = state.pop2(offset)?;
    let delta = widen_arg(builder, delta);
    let table = index_arg(builder, table);
    let old = call_builtin_value(env, builder, state, BuiltinIndex::TableGrow, &[table, delta, init], offset)?;
    let old = narrow_result(builder, old, table64);
    state.stack.push(old);
    Ok(())
}
