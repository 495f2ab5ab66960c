//! The threads proposal's atomic operators: atomic loads, stores and
//! read-modify-writes of every width, `atomic.fence`, and
//! `memory.atomic.notify`/`wait32`/`wait64` through builtins.
//!
//! Every atomic access computes its address with
//! [`effective_address`], like a plain access, then checks it
//! ([`atomic_address`]): an address that is not a multiple of the access
//! size traps with `unaligned_atomic`, unless the access is also out of
//! bounds, which the specification checks first. The accesses themselves
//! are Cranelift's `atomic_*` instructions (sequentially consistent, as
//! Wasm's atomics are), carrying the `memory_out_of_bounds` trap code so that
//! the guard region catches them like plain accesses.

use cranelift_codegen::ir::{self, types, AtomicRmwOp, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{BuiltinIndex, TrapCode};
use wasmparser::{MemArg, Operator};

use super::env::{call_builtin_value, heap_flags, index_arg, memory_base, FuncEnvironment};
use super::memory::{effective_address, memory_index};
use super::state::FuncState;
use crate::abi::clif_trap_code;
use crate::Result;

/// What an atomic memory operator does.
#[derive(Clone, Copy, Debug)]
enum AtomicKind {
    Load,
    Store,
    Rmw(AtomicRmwOp),
    Cmpxchg,
}

/// One atomic access: what it does, the type of the memory it touches
/// (8 to 64 bits, zero-extended into the value type when narrower) and the
/// Wasm value type.
#[derive(Clone, Copy, Debug)]
struct AtomicAccess<'a> {
    kind: AtomicKind,
    access: ir::Type,
    value: ir::Type,
    memarg: &'a MemArg,
}

macro_rules! atomic_accesses {
    ($op:expr; $($name:ident => $kind:expr, $access:ident, $value:ident;)*) => {
        match $op {
            $(Operator::$name { memarg } => Some(AtomicAccess {
                kind: $kind,
                access: types::$access,
                value: types::$value,
                memarg,
            }),)*
            _ => None,
        }
    };
}

/// The atomic access that `op` performs, if it is one; the single table
/// of every atomic load, store and read-modify-write operator.
fn atomic_access<'a>(op: &'a Operator<'_>) -> Option<AtomicAccess<'a>> {
    use AtomicKind::{Cmpxchg, Load, Rmw, Store};
    use AtomicRmwOp::{Add, And, Or, Sub, Xchg, Xor};
    atomic_accesses! { op;
        I32AtomicLoad => Load, I32, I32;
        I64AtomicLoad => Load, I64, I64;
        I32AtomicLoad8U => Load, I8, I32;
        I32AtomicLoad16U => Load, I16, I32;
        I64AtomicLoad8U => Load, I8, I64;
        I64AtomicLoad16U => Load, I16, I64;
        I64AtomicLoad32U => Load, I32, I64;
        I32AtomicStore => Store, I32, I32;
        I64AtomicStore => Store, I64, I64;
        I32AtomicStore8 => Store, I8, I32;
        I32AtomicStore16 => Store, I16, I32;
        I64AtomicStore8 => Store, I8, I64;
        I64AtomicStore16 => Store, I16, I64;
        I64AtomicStore32 => Store, I32, I64;
        I32AtomicRmwAdd => Rmw(Add), I32, I32;
        I64AtomicRmwAdd => Rmw(Add), I64, I64;
        I32AtomicRmw8AddU => Rmw(Add), I8, I32;
        I32AtomicRmw16AddU => Rmw(Add), I16, I32;
        I64AtomicRmw8AddU => Rmw(Add), I8, I64;
        I64AtomicRmw16AddU => Rmw(Add), I16, I64;
        I64AtomicRmw32AddU => Rmw(Add), I32, I64;
        I32AtomicRmwSub => Rmw(Sub), I32, I32;
        I64AtomicRmwSub => Rmw(Sub), I64, I64;
        I32AtomicRmw8SubU => Rmw(Sub), I8, I32;
        I32AtomicRmw16SubU => Rmw(Sub), I16, I32;
        I64AtomicRmw8SubU => Rmw(Sub), I8, I64;
        I64AtomicRmw16SubU => Rmw(Sub), I16, I64;
        I64AtomicRmw32SubU => Rmw(Sub), I32, I64;
        I32AtomicRmwAnd => Rmw(And), I32, I32;
        I64AtomicRmwAnd => Rmw(And), I64, I64;
        I32AtomicRmw8AndU => Rmw(And), I8, I32;
        I32AtomicRmw16AndU => Rmw(And), I16, I32;
        I64AtomicRmw8AndU => Rmw(And), I8, I64;
        I64AtomicRmw16AndU => Rmw(And), I16, I64;
        I64AtomicRmw32AndU => Rmw(And), I32, I64;
        I32AtomicRmwOr => Rmw(Or), I32, I32;
        I64AtomicRmwOr => Rmw(Or), I64, I64;
        I32AtomicRmw8OrU => Rmw(Or), I8, I32;
        I32AtomicRmw16OrU => Rmw(Or), I16, I32;
        I64AtomicRmw8OrU => Rmw(Or), I8, I64;
        I64AtomicRmw16OrU => Rmw(Or), I16, I64;
        I64AtomicRmw32OrU => Rmw(Or), I32, I64;
        I32AtomicRmwXor => Rmw(Xor), I32, I32;
        I64AtomicRmwXor => Rmw(Xor), I64, I64;
        I32AtomicRmw8XorU => Rmw(Xor), I8, I32;
        I32AtomicRmw16XorU => Rmw(Xor), I16, I32;
        I64AtomicRmw8XorU => Rmw(Xor), I8, I64;
        I64AtomicRmw16XorU => Rmw(Xor), I16, I64;
        I64AtomicRmw32XorU => Rmw(Xor), I32, I64;
        I32AtomicRmwXchg => Rmw(Xchg), I32, I32;
        I64AtomicRmwXchg => Rmw(Xchg), I64, I64;
        I32AtomicRmw8XchgU => Rmw(Xchg), I8, I32;
        I32AtomicRmw16XchgU => Rmw(Xchg), I16, I32;
        I64AtomicRmw8XchgU => Rmw(Xchg), I8, I64;
        I64AtomicRmw16XchgU => Rmw(Xchg), I16, I64;
        I64AtomicRmw32XchgU => Rmw(Xchg), I32, I64;
        I32AtomicRmwCmpxchg => Cmpxchg, I32, I32;
        I64AtomicRmwCmpxchg => Cmpxchg, I64, I64;
        I32AtomicRmw8CmpxchgU => Cmpxchg, I8, I32;
        I32AtomicRmw16CmpxchgU => Cmpxchg, I16, I32;
        I64AtomicRmw8CmpxchgU => Cmpxchg, I8, I64;
        I64AtomicRmw16CmpxchgU => Cmpxchg, I16, I64;
        I64AtomicRmw32CmpxchgU => Cmpxchg, I32, I64;
    }
}

/// Translates `op` if it is an operator of the threads proposal; false if
/// it is not one.
pub(crate) fn translate_atomic(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
    offset: usize,
) -> Result<bool> {
    if let Some(access) = atomic_access(op) {
        translate_access(env, builder, state, access, offset)?;
        return Ok(true);
    }
    match op {
        // Every atomic access is sequentially consistent, so a fence only
        // has to order the plain accesses around it.
        Operator::AtomicFence { .. } => {
            builder.ins().fence();
        }
        Operator::MemoryAtomicNotify { memarg } => {
            let (address, count) = state.pop2(offset)?;
            let (memory, ea) = waiter_address(env, builder, state, memarg, address, 4, offset)?;
            let woken = call_builtin_value(
                env,
                builder,
                state,
                BuiltinIndex::MemoryAtomicNotify,
                &[memory, ea, count],
                offset,
            )?;
            state.stack.push(woken);
        }
        Operator::MemoryAtomicWait32 { memarg } | Operator::MemoryAtomicWait64 { memarg } => {
            let (builtin, bytes) = match op {
                Operator::MemoryAtomicWait32 { .. } => (BuiltinIndex::MemoryAtomicWait32, 4),
                _ => (BuiltinIndex::MemoryAtomicWait64, 8),
            };
            let (address, expected, timeout) = state.pop3(offset)?;
            let (memory, ea) = waiter_address(env, builder, state, memarg, address, bytes, offset)?;
            let result = call_builtin_value(env, builder, state, builtin, &[memory, ea, expected, timeout], offset)?;
            state.stack.push(result);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// An atomic load, store or read-modify-write.
fn translate_access(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    access: AtomicAccess<'_>,
    offset: usize,
) -> Result<()> {
    let AtomicAccess { kind, access: ty, value: value_ty, memarg } = access;
    let flags = heap_flags(builder).with_aligned();
    let narrow = |builder: &mut FunctionBuilder<'_>, v: ir::Value| {
        if ty == value_ty {
            v
        } else {
            builder.ins().ireduce(ty, v)
        }
    };
    let widen = |builder: &mut FunctionBuilder<'_>, v: ir::Value| {
        if ty == value_ty {
            v
        } else {
            builder.ins().uextend(value_ty, v)
        }
    };
    match kind {
        AtomicKind::Load => {
            let address = state.pop1(offset)?;
            let addr = atomic_address(env, builder, state, memarg, address, ty.bytes(), offset)?;
            let loaded = builder.ins().atomic_load(ty, flags, addr);
            state.stack.push(widen(builder, loaded));
        }
        AtomicKind::Store => {
            let (address, value) = state.pop2(offset)?;
            let addr = atomic_address(env, builder, state, memarg, address, ty.bytes(), offset)?;
            let value = narrow(builder, value);
            builder.ins().atomic_store(flags, value, addr);
        }
        AtomicKind::Rmw(rmw) => {
            let (address, operand) = state.pop2(offset)?;
            let addr = atomic_address(env, builder, state, memarg, address, ty.bytes(), offset)?;
            let operand = narrow(builder, operand);
            let old = builder.ins().atomic_rmw(ty, flags, rmw, addr, operand);
            state.stack.push(widen(builder, old));
        }
        AtomicKind::Cmpxchg => {
            let (address, expected, replacement) = state.pop3(offset)?;
            let addr = atomic_address(env, builder, state, memarg, address, ty.bytes(), offset)?;
            // The narrow forms compare with the expected value wrapped to
            // the access width, as the specification says.
            let expected = narrow(builder, expected);
            let replacement = narrow(builder, replacement);
            let old = builder.ins().atomic_cas(flags, addr, expected, replacement);
            state.stack.push(widen(builder, old));
        }
    }
    Ok(())
}

/// The native address of an atomic access of `bytes` bytes: the effective
/// address of [`effective_address`] with its static offset applied (atomic
/// instructions take none), after the alignment check.
///
/// The check is `(base + ea) & (bytes - 1)`, which is `ea`'s alignment
/// since `base` is page-aligned. A misaligned access first probes its last
/// byte, in a cold block: an access that also runs past the memory's end
/// faults there with `memory_out_of_bounds`, as the specification checks
/// bounds before alignment; one that does not traps `unaligned_atomic`.
fn atomic_address(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &MemArg,
    address: ir::Value,
    bytes: u32,
    offset: usize,
) -> Result<ir::Value> {
    let (addr, at) = effective_address(env, builder, state, memarg, address, bytes, offset)?;
    let addr = if at == 0 { addr } else { builder.ins().iadd_imm_u(addr, i64::from(at)) };
    if bytes > 1 {
        let misaligned = builder.ins().band_imm_u(addr, i64::from(bytes - 1));
        let unaligned = builder.create_block();
        let aligned = builder.create_block();
        builder.set_cold_block(unaligned);
        builder.ins().brif(misaligned, unaligned, &[], aligned, &[]);
        builder.seal_block(unaligned);
        builder.seal_block(aligned);

        builder.switch_to_block(unaligned);
        // Its value is unused, but a load that may trap stays in the code.
        let flags = heap_flags(builder);
        builder.ins().load(types::I8, flags, addr, (bytes - 1) as i32);
        builder.ins().trap(clif_trap_code(TrapCode::UNALIGNED_ATOMIC));

        builder.switch_to_block(aligned);
    }
    Ok(addr)
}

/// `(memory index, effective address)` arguments of the waiter builtins,
/// after the checks of [`atomic_address`] for an access of `bytes` bytes:
/// the builtins find the waiters by the address relative to the memory.
fn waiter_address(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &MemArg,
    address: ir::Value,
    bytes: u32,
    offset: usize,
) -> Result<(ir::Value, ir::Value)> {
    let addr = atomic_address(env, builder, state, memarg, address, bytes, offset)?;
    let index = memory_index(memarg, offset)?;
    let base = memory_base(env, builder, state, index, offset)?;
    let ea = builder.ins().isub(addr, base);
    Ok((index_arg(builder, index), ea))
}
