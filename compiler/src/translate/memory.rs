//! Linear memory: loads, stores, `memory.size` and `memory.grow` (the bulk
//! operators are in `bulk`, shared with tables).
//!
//! Every 32-bit memory sits in a reservation
//! ([`MEMORY_RESERVATION`](kiln_format::MEMORY_RESERVATION)) that contains the
//! first byte of any `base + zext(address) + offset` (the offset is at most
//! [`MEMORY_GUARD_SIZE`]), so accesses carry no bounds check: they fault in
//! the guard region and report `memory_out_of_bounds`.

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{BuiltinIndex, MEMORY_GUARD_SIZE, WASM_PAGE_SIZE_LOG2};
use wasmparser::{MemArg, MemArgTarget};

use super::env::{call_builtin_value, heap_flags, index_arg, memory_base, memory_length, FuncEnvironment};
use super::state::FuncState;
use crate::{CompileError, Result};

/// How a load reads memory.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LoadKind {
    /// A full-width load of the given type.
    Plain(ir::Type),
    /// `sload8`/`uload8`/... into the given integer type: (type, bits, signed).
    Extend(ir::Type, u8, bool),
}

/// How a store writes memory: full width, or the low 8/16/32 bits.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StoreKind {
    /// `store` of the whole value.
    Plain,
    /// `istore8`/`istore16`/`istore32`.
    Narrow(u8),
}

/// The memory a memory argument names.
pub(crate) fn memory_index(memarg: &MemArg, offset: usize) -> Result<u32> {
    match memarg.target {
        MemArgTarget::Memory(index) => Ok(index),
        MemArgTarget::Array(_) => Err(CompileError::unsupported("GC array accesses are not supported", offset)),
    }
}

/// The effective address `base + zext(address)`, and the static offset to
/// apply in the access itself (folded when it fits an `Offset32`).
pub(crate) fn effective_address(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &MemArg,
    address: ir::Value,
    offset: usize,
) -> Result<(ir::Value, i32)> {
    let index = memory_index(memarg, offset)?;
    let base = memory_base(env, builder, state, index, offset)?;
    let address = if builder.func.dfg.value_type(address) == ir::types::I64 {
        address
    } else {
        builder.ins().uextend(ir::types::I64, address)
    };
    let mut addr = builder.ins().iadd(base, address);
    let static_offset = match i32::try_from(memarg.offset) {
        Ok(folded) => folded,
        // Past the guard, an access could land outside the reservation
        // instead of faulting in it. No offset of a 32-bit memory goes that
        // far.
        Err(_) if memarg.offset > MEMORY_GUARD_SIZE => {
            let message = format!("memory offset {:#x} exceeds the guard region", memarg.offset);
            return Err(CompileError::unsupported(message, offset));
        }
        Err(_) => {
            // The guard is far below 2^63, so the offset is exact as an i64.
            addr = builder.ins().iadd_imm_u(addr, memarg.offset as i64);
            0
        }
    };
    Ok((addr, static_offset))
}

/// A load: pops the address, pushes the loaded value.
pub(crate) fn translate_load(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &MemArg,
    kind: LoadKind,
    offset: usize,
) -> Result<()> {
    let address = state.pop1(offset)?;
    let (addr, at) = effective_address(env, builder, state, memarg, address, offset)?;
    let flags = heap_flags();
    let value = match kind {
        LoadKind::Plain(ty) => builder.ins().load(ty, flags, addr, at),
        LoadKind::Extend(ty, 8, true) => builder.ins().sload8(ty, flags, addr, at),
        LoadKind::Extend(ty, 8, false) => builder.ins().uload8(ty, flags, addr, at),
        LoadKind::Extend(ty, 16, true) => builder.ins().sload16(ty, flags, addr, at),
        LoadKind::Extend(ty, 16, false) => builder.ins().uload16(ty, flags, addr, at),
        LoadKind::Extend(_, 32, true) => builder.ins().sload32(flags, addr, at),
        LoadKind::Extend(_, 32, false) => builder.ins().uload32(flags, addr, at),
        LoadKind::Extend(_, bits, _) => {
            return Err(CompileError::codegen(format!("no {bits}-bit extending load (at offset {offset:#x})")))
        }
    };
    state.stack.push(value);
    Ok(())
}

/// A store: pops the value, then the address.
pub(crate) fn translate_store(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &MemArg,
    kind: StoreKind,
    offset: usize,
) -> Result<()> {
    let (address, value) = state.pop2(offset)?;
    let (addr, at) = effective_address(env, builder, state, memarg, address, offset)?;
    let flags = heap_flags();
    match kind {
        StoreKind::Plain => builder.ins().store(flags, value, addr, at),
        StoreKind::Narrow(8) => builder.ins().istore8(flags, value, addr, at),
        StoreKind::Narrow(16) => builder.ins().istore16(flags, value, addr, at),
        StoreKind::Narrow(32) => builder.ins().istore32(flags, value, addr, at),
        StoreKind::Narrow(bits) => {
            return Err(CompileError::codegen(format!("no {bits}-bit narrowing store (at offset {offset:#x})")))
        }
    };
    Ok(())
}

/// `memory.size`: the current length in 64 KiB pages.
pub(crate) fn translate_memory_size(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    mem: u32,
    offset: usize,
) -> Result<()> {
    let length = memory_length(env, builder, state, mem, offset)?;
    let pages = builder.ins().ushr_imm_u(length, i64::from(WASM_PAGE_SIZE_LOG2));
    let pages = builder.ins().ireduce(ir::types::I32, pages);
    state.stack.push(pages);
    Ok(())
}

/// `memory.grow`: through the `memory_grow` builtin.
pub(crate) fn translate_memory_grow(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    mem: u32,
    offset: usize,
) -> Result<()> {
    let delta = state.pop1(offset)?;
    let mem = index_arg(builder, mem);
    let old = call_builtin_value(env, builder, state, BuiltinIndex::MemoryGrow, &[mem, delta], offset)?;
    state.stack.push(old);
    Ok(())
}
