//! Globals: inline loads and stores; globals of counted references
//! add the reference-count barriers of `barriers.rs`.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData};
use cranelift_frontend::FunctionBuilder;

use super::alias::Region;
use super::barriers::{push_from_storage, store_to_storage};
use super::env::{record_base, vm_readonly_flags, vm_region_flags, FuncEnvironment};
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
    let flags = if ty.mutable { global_flags(env, builder, global) } else { vm_readonly_flags() };
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
    let flags = global_flags(env, builder, global);
    store_to_storage(env, builder, state, base, at, value, ty.content, flags);
    Ok(())
}

/// Flags of an access to mutable global `global`, in its own region when
/// it is defined: an import may be the same global as another import.
fn global_flags(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, global: u32) -> MemFlagsData {
    vm_region_flags(builder, Region::global(global, env.offsets.counts().imported_globals))
}
