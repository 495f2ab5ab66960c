//! The bulk operators that memories and tables share: `fill`, `copy`,
//! `init` and the segment drops are calls of the builtin given, with the
//! memory, table and segment indices as `i32` constants and the addresses
//! and lengths in memories and tables as `i64`s, zero-extended from those
//! of 32-bit ones (SPEC 3.4). A copy between a 32-bit and a 64-bit memory
//! or table has a 32-bit length, as the spec says.

use cranelift_frontend::FunctionBuilder;
use kiln_format::BuiltinIndex;

use super::env::{call_builtin, index_arg, widen_arg, FuncEnvironment};
use super::state::FuncState;
use crate::Result;

/// `memory.fill` and `table.fill`: pops `dst, value, len`.
pub(crate) fn translate_fill(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    index: u32,
    offset: usize,
) -> Result<()> {
    let (dst, value, len) = state.pop3(offset)?;
    let (dst, len) = (widen_arg(builder, dst), widen_arg(builder, len));
    let index = index_arg(builder, index);
    call_builtin(env, builder, state, builtin, &[index, dst, value, len]);
    Ok(())
}

/// `memory.copy` and `table.copy`: pops `dst, src, len`.
pub(crate) fn translate_copy(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    dst_index: u32,
    src_index: u32,
    offset: usize,
) -> Result<()> {
    let (dst, src, len) = state.pop3(offset)?;
    let (dst, src, len) = (widen_arg(builder, dst), widen_arg(builder, src), widen_arg(builder, len));
    let dst_index = index_arg(builder, dst_index);
    let src_index = index_arg(builder, src_index);
    call_builtin(env, builder, state, builtin, &[dst_index, dst, src_index, src, len]);
    Ok(())
}

/// `memory.init` and `table.init`: pops `dst, src, len`; only `dst` is in
/// the memory or table, `src` and `len` are `i32`s in the segment.
pub(crate) fn translate_init(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    segment: u32,
    index: u32,
    offset: usize,
) -> Result<()> {
    let (dst, src, len) = state.pop3(offset)?;
    let dst = widen_arg(builder, dst);
    let index = index_arg(builder, index);
    let segment = index_arg(builder, segment);
    call_builtin(env, builder, state, builtin, &[index, segment, dst, src, len]);
    Ok(())
}

/// `data.drop` and `elem.drop`.
pub(crate) fn translate_segment_drop(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    segment: u32,
) {
    let segment = index_arg(builder, segment);
    call_builtin(env, builder, state, builtin, &[segment]);
}
