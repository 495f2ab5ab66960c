//! Linear memory: loads, stores, `memory.size` and `memory.grow` (the bulk
//! operators are in `bulk`, shared with tables).
//!
//! Every memory sits in a reservation
//! ([`MEMORY_RESERVATION`](kiln_format::MEMORY_RESERVATION)) whose pages
//! past the memory's current length are inaccessible, and every access goes
//! through [`effective_address`]:
//! - a 32-bit memory's reservation contains the first byte of any
//!   `base + zext(address) + offset` (the offset is at most
//!   [`MEMORY_GUARD_SIZE`]), so its accesses carry no bounds check: they
//!   fault in the guard region and report `memory_out_of_bounds`;
//! - a 64-bit address can be anything, so a 64-bit memory's accesses are
//!   checked against its current length: by `address > length` alone when
//!   the offset and size fit the memory's guard
//!   ([`MEMORY64_GUARD_SIZE`]), where the access then faults, and by
//!   `address + offset + size > length` otherwise.

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{BuiltinIndex, TrapCode, MEMORY64_GUARD_SIZE, MEMORY_GUARD_SIZE, WASM_PAGE_SIZE_LOG2};
use wasmparser::{MemArg, MemArgTarget};

use super::env::{
    call_builtin_value, heap_flags, index_arg, memory_base, memory_length, narrow_result, widen_arg, FuncEnvironment,
};
use super::state::FuncState;
use crate::abi;
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

/// The address of an access of `access_size` bytes at `address` (the
/// operand: an `i32` for a 32-bit memory, an `i64` for a 64-bit one) plus
/// the static offset of `memarg`, after whatever check its memory needs
/// (see the module docs); and the static offset to apply in the access
/// itself (folded when it fits an `Offset32`). Every access to linear
/// memory, scalar, vector or atomic, computes its address here.
pub(crate) fn effective_address(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &MemArg,
    address: ir::Value,
    access_size: u32,
    offset: usize,
) -> Result<(ir::Value, i32)> {
    let index = memory_index(memarg, offset)?;
    let memory64 = env.memory_type(index, offset)?.memory64;
    if memory64 {
        checked_address(env, builder, state, index, memarg.offset, address, access_size, offset)
    } else {
        guarded_address(env, builder, state, index, memarg.offset, address, offset)
    }
}

/// `base + zext(address)` of a 32-bit memory, which needs no check.
fn guarded_address(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    index: u32,
    static_offset: u64,
    address: ir::Value,
    offset: usize,
) -> Result<(ir::Value, i32)> {
    let base = memory_base(env, builder, state, index, offset)?;
    let address = widen_arg(builder, address);
    let mut addr = builder.ins().iadd(base, address);
    let folded = match i32::try_from(static_offset) {
        Ok(folded) => folded,
        // Past the guard, an access could land outside the reservation
        // instead of faulting in it. No offset of a 32-bit memory goes that
        // far.
        Err(_) if static_offset > MEMORY_GUARD_SIZE => {
            let message = format!("memory offset {static_offset:#x} exceeds the guard region");
            return Err(CompileError::unsupported(message, offset));
        }
        Err(_) => {
            // The guard is far below 2^63, so the offset is exact as an i64.
            addr = builder.ins().iadd_imm_u(addr, static_offset as i64);
            0
        }
    };
    Ok((addr, folded))
}

/// `base + address` of a 64-bit memory, after trapping with
/// `memory_out_of_bounds` unless the access lies inside the memory or
/// starts in its guard.
#[allow(clippy::too_many_arguments)]
fn checked_address(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    index: u32,
    static_offset: u64,
    address: ir::Value,
    access_size: u32,
    offset: usize,
) -> Result<(ir::Value, i32)> {
    let trap = abi::clif_trap_code(TrapCode::MEMORY_OUT_OF_BOUNDS);
    let length = memory_length(env, builder, state, index, offset)?;
    let reach = static_offset.checked_add(u64::from(access_size));
    let folded = match reach {
        // An address at most `length` puts the whole access below
        // `length + MEMORY64_GUARD_SIZE`, inside the reservation, where
        // every byte past `length` faults.
        Some(reach) if reach <= MEMORY64_GUARD_SIZE => {
            let out_of_bounds = builder.ins().icmp(IntCC::UnsignedGreaterThan, address, length);
            builder.ins().trapnz(out_of_bounds, trap);
            // The guard's size fits an i32 (format-spec asserts it).
            static_offset as i32
        }
        _ => {
            let end = match reach {
                Some(reach) => {
                    let reach = builder.ins().iconst(ir::types::I64, reach as i64);
                    builder.ins().uadd_overflow_trap(address, reach, trap)
                }
                // `offset + size` overflows: every address overflows with
                // it, which the second addition finds.
                None => {
                    let static_offset = builder.ins().iconst(ir::types::I64, static_offset as i64);
                    let start = builder.ins().uadd_overflow_trap(address, static_offset, trap);
                    let size = builder.ins().iconst(ir::types::I64, i64::from(access_size));
                    builder.ins().uadd_overflow_trap(start, size, trap)
                }
            };
            let out_of_bounds = builder.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
            builder.ins().trapnz(out_of_bounds, trap);
            i32::try_from(static_offset).unwrap_or(0)
        }
    };
    let base = memory_base(env, builder, state, index, offset)?;
    let mut addr = builder.ins().iadd(base, address);
    if folded == 0 && static_offset != 0 {
        // Checked above: `address + static_offset` is below the length,
        // so the addition neither wraps nor leaves the memory.
        addr = builder.ins().iadd_imm_u(addr, static_offset as i64);
    }
    Ok((addr, folded))
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
    let size = match kind {
        LoadKind::Plain(ty) => ty.bytes(),
        LoadKind::Extend(_, bits, _) => u32::from(bits / 8),
    };
    let (addr, at) = effective_address(env, builder, state, memarg, address, size, offset)?;
    let flags = heap_flags(builder);
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
    let size = match kind {
        StoreKind::Plain => builder.func.dfg.value_type(value).bytes(),
        StoreKind::Narrow(bits) => u32::from(bits / 8),
    };
    let (addr, at) = effective_address(env, builder, state, memarg, address, size, offset)?;
    let flags = heap_flags(builder);
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

/// `memory.size`: the current length in 64 KiB pages, an `i64` for a
/// 64-bit memory.
pub(crate) fn translate_memory_size(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    mem: u32,
    offset: usize,
) -> Result<()> {
    let memory64 = env.memory_type(mem, offset)?.memory64;
    let length = memory_length(env, builder, state, mem, offset)?;
    let pages = builder.ins().ushr_imm_u(length, i64::from(WASM_PAGE_SIZE_LOG2));
    let pages = narrow_result(builder, pages, memory64);
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
    let memory64 = env.memory_type(mem, offset)?.memory64;
    let delta = state.pop1(offset)?;
    let delta = widen_arg(builder, delta);
    let mem = index_arg(builder, mem);
    let old = call_builtin_value(env, builder, state, BuiltinIndex::MemoryGrow, &[mem, delta], offset)?;
    let old = narrow_result(builder, old, memory64);
    state.stack.push(old);
    Ok(())
}
