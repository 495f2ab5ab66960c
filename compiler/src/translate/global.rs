//! Globals: inline loads and stores; globals of counted references
//! add the reference-count barriers of `barriers.rs`.

use cranelift_codegen::ir::InstBuilder;
use cranelift_frontend::FunctionBuilder;

use super::barriers::{push_from_storage, store_to_storage};
use super::env::{record_base, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::state::FuncState;
use super::types::clif_type;
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
    let location = env.global_location(global, offset)?;
    let (base, at) = record_base(builder, state.vmctx, location);
    // An immutable global never changes after instantiation.
    let flags = if ty.mutable { vm_flags() } else { vm_readonly_flags() };
    let value = builder.ins().load(clif_type(ty.content), flags, base, at);
    push_from_storage(env, builder, state, value, ty.content);
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
    let value = state.pop1(offset)?;
    let location = env.global_location(global, offset)?;
    let (base, at) = record_base(builder, state.vmctx, location);
    store_to_storage(env, builder, state, base, at, value, ty.content, vm_flags());
    Ok(())
}
