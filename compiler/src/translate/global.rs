//! Globals: inline loads and stores, except externref globals, whose
//! reference counts the `global_get_ref`/`global_set_ref` builtins keep.

use cranelift_codegen::ir::InstBuilder;
use cranelift_frontend::FunctionBuilder;
use kiln_format::{BuiltinIndex, ValType};

use super::env::{call_builtin, call_builtin_value, index_arg, record_base, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::state::FuncState;
use super::types::{clif_type, reject_v128};
use crate::Result;

/// `global.get`.
pub(crate) fn translate_global_get(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    global: u32,
    offset: usize,
) -> Result<()> {
    let ty = env.global_type(global, offset)?;
    reject_v128(&[ty.content], offset)?;
    if ty.content == ValType::ExternRef {
        let global = index_arg(builder, global);
        let value = call_builtin_value(env, builder, state, BuiltinIndex::GlobalGetRef, &[global], offset)?;
        state.push_typed(builder, value, ValType::ExternRef);
        return Ok(());
    }
    let location = env.global_location(global, offset)?;
    let (base, at) = record_base(builder, state.vmctx, location);
    // An immutable global never changes after instantiation.
    let flags = if ty.mutable { vm_flags() } else { vm_readonly_flags() };
    let value = builder.ins().load(clif_type(ty.content), flags, base, at);
    state.stack.push(value);
    Ok(())
}

/// `global.set`.
pub(crate) fn translate_global_set(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    global: u32,
    offset: usize,
) -> Result<()> {
    let ty = env.global_type(global, offset)?;
    reject_v128(&[ty.content], offset)?;
    let value = state.pop1(offset)?;
    if ty.content == ValType::ExternRef {
        let global = index_arg(builder, global);
        call_builtin(env, builder, state, BuiltinIndex::GlobalSetRef, &[global, value]);
        return Ok(());
    }
    let location = env.global_location(global, offset)?;
    let (base, at) = record_base(builder, state.vmctx, location);
    builder.ins().store(vm_flags(), value, base, at);
    Ok(())
}
