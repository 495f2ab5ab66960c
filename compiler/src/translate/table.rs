//! Tables: `table.get`/`table.set` inline (with reference-count barriers
//! for externref tables), every other table operator through builtins
//! (SPEC 3.4).

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{BuiltinIndex, TrapCode, ValType};

use super::env::{
    call_builtin, call_builtin_value, index_arg, table_base_and_bound, table_bound, vm_flags, FuncEnvironment,
};
use super::externref::{clone_into_activations, store_with_counts};
use super::state::FuncState;
use crate::abi::{self, POINTER_TYPE};
use crate::Result;

/// Address of element `index` (an i32) of table `table`, after checking
/// it against the bound; an index out of bounds traps with `trap`.
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
    let index = builder.ins().uextend(ir::types::I64, index);
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
    let is_extern = env.is_externref_table(table, offset)?;
    let addr = checked_element_address(env, builder, state, table, index, TrapCode::TABLE_OUT_OF_BOUNDS, offset)?;
    let value = builder.ins().load(POINTER_TYPE, vm_flags(), addr, 0);
    if is_extern {
        clone_into_activations(env, builder, state, value);
        state.push_typed(builder, value, ValType::ExternRef);
    } else {
        state.stack.push(value);
    }
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
    let is_extern = env.is_externref_table(table, offset)?;
    let addr = checked_element_address(env, builder, state, table, index, TrapCode::TABLE_OUT_OF_BOUNDS, offset)?;
    if is_extern {
        store_with_counts(env, builder, state, addr, 0, value);
    } else {
        builder.ins().store(vm_flags(), value, addr, 0);
    }
    Ok(())
}

/// `table.size`: `current_elements`, which never exceeds `u32::MAX`.
pub(crate) fn translate_table_size(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    table: u32,
    offset: usize,
) -> Result<()> {
    let bound = table_bound(env, builder, state, table, offset)?;
    let size = builder.ins().ireduce(ir::types::I32, bound);
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
    let (init, delta) = state.pop2(offset)?;
    let table = index_arg(builder, table);
    let old = call_builtin_value(env, builder, state, BuiltinIndex::TableGrow, &[table, delta, init], offset)?;
    state.stack.push(old);
    Ok(())
}

/// `table.fill`: pops `dst, value, len`.
pub(crate) fn translate_table_fill(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    table: u32,
    offset: usize,
) -> Result<()> {
    let (dst, value, len) = state.pop3(offset)?;
    let table = index_arg(builder, table);
    call_builtin(env, builder, state, BuiltinIndex::TableFill, &[table, dst, value, len]);
    Ok(())
}

/// `table.copy`: pops `dst, src, len`.
pub(crate) fn translate_table_copy(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    dst_table: u32,
    src_table: u32,
    offset: usize,
) -> Result<()> {
    let (dst, src, len) = state.pop3(offset)?;
    let dst_table = index_arg(builder, dst_table);
    let src_table = index_arg(builder, src_table);
    call_builtin(env, builder, state, BuiltinIndex::TableCopy, &[dst_table, dst, src_table, src, len]);
    Ok(())
}

/// `table.init`: pops `dst, src, len`.
pub(crate) fn translate_table_init(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    elem_index: u32,
    table: u32,
    offset: usize,
) -> Result<()> {
    let (dst, src, len) = state.pop3(offset)?;
    let table = index_arg(builder, table);
    let elem_index = index_arg(builder, elem_index);
    call_builtin(env, builder, state, BuiltinIndex::TableInit, &[table, elem_index, dst, src, len]);
    Ok(())
}

/// `elem.drop`.
pub(crate) fn translate_elem_drop(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    elem_index: u32,
) {
    let elem_index = index_arg(builder, elem_index);
    call_builtin(env, builder, state, BuiltinIndex::ElemDrop, &[elem_index]);
}
