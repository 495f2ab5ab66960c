//! The inline barriers of deferred reference counting (SPEC 3.8).
//!
//! Compiled code changes a reference count only where a reference enters or
//! leaves storage that outlives the activation: reading an externref out of
//! a table or global clones it into the activations table, writing one into
//! a table or global takes a count of the new value before it drops the old
//! one. Everything else (locals, the operand stack, calls) is left to the
//! stack maps and the GC.

use cranelift_codegen::ir::{self, condcodes::IntCC, AtomicRmwOp, InstBuilder, MemFlagsData};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{activations, extern_data, BuiltinIndex, VMOffsets, ValType};

use super::env::{call_builtin, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::state::FuncState;
use crate::abi::POINTER_TYPE;

// The count is addressed as the reference itself.
const _: () = assert!(extern_data::REF_COUNT == 0);

/// Reference counts are shared with host threads, which update them atomically.
fn count_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Pushes `value`, just read from a table element or global; an externref
/// (`is_extern`) is first cloned into the activations table.
pub(crate) fn push_from_storage(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    value: ir::Value,
    is_extern: bool,
) {
    if is_extern {
        clone_into_activations(env, builder, state, value);
        state.push_typed(builder, value, ValType::EXTERNREF);
    } else {
        state.stack.push(value);
    }
}

/// Stores `value` at `slot + at` (a table element or global); an externref
/// (`is_extern`) goes through the count barrier of `store_with_counts`.
pub(crate) fn store_to_storage(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    slot: ir::Value,
    at: i32,
    value: ir::Value,
    is_extern: bool,
) {
    if is_extern {
        store_with_counts(env, builder, state, slot, at, value);
    } else {
        builder.ins().store(vm_flags(), value, slot, at);
    }
}

/// `reference` was just read from a table or global: take a count of it and
/// record it in the activations table, so that it stays alive while only
/// Wasm frames hold it. The fast path bumps `next`; a full chunk calls
/// `activations_insert_slow`, which collects and then inserts.
fn clone_into_activations(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    reference: ir::Value,
) {
    // Live across the slow path's call: the GC there must see it.
    builder.declare_value_needs_stack_map(reference);
    let non_null = builder.create_block();
    let fast = builder.create_block();
    let slow = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(slow);

    builder.ins().brif(reference, non_null, &[], done, &[]);
    builder.seal_block(non_null);

    builder.switch_to_block(non_null);
    let one = builder.ins().iconst(POINTER_TYPE, 1);
    builder.ins().atomic_rmw(POINTER_TYPE, count_flags(), AtomicRmwOp::Add, reference, one);
    let table = builder.ins().load(POINTER_TYPE, vm_readonly_flags(), state.vmctx, VMOffsets::ACTIVATIONS as i32);
    let next = builder.ins().load(POINTER_TYPE, vm_flags(), table, activations::NEXT as i32);
    let end = builder.ins().load(POINTER_TYPE, vm_flags(), table, activations::END as i32);
    let full = builder.ins().icmp(IntCC::Equal, next, end);
    builder.ins().brif(full, slow, &[], fast, &[]);
    builder.seal_block(fast);
    builder.seal_block(slow);

    builder.switch_to_block(fast);
    builder.ins().store(vm_flags(), reference, next, 0);
    let bumped = builder.ins().iadd_imm_u(next, 8);
    builder.ins().store(vm_flags(), bumped, table, activations::NEXT as i32);
    builder.ins().jump(done, &[]);

    builder.switch_to_block(slow);
    call_builtin(env, builder, state, BuiltinIndex::ActivationsInsertSlow, &[reference]);
    builder.ins().jump(done, &[]);

    builder.seal_block(done);
    builder.switch_to_block(done);
}

/// Stores `new` at `slot + at` (a table element or global), taking a count
/// of `new` before dropping the count of the reference it replaces; the
/// `drop_ref` builtin frees the old one when that was its last count.
fn store_with_counts(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    slot: ir::Value,
    at: i32,
    new: ir::Value,
) {
    let increment = builder.create_block();
    let stored = builder.create_block();
    let decrement = builder.create_block();
    let free = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(free);

    let old = builder.ins().load(POINTER_TYPE, vm_flags(), slot, at);
    builder.ins().brif(new, increment, &[], stored, &[]);
    builder.seal_block(increment);

    builder.switch_to_block(increment);
    let one = builder.ins().iconst(POINTER_TYPE, 1);
    builder.ins().atomic_rmw(POINTER_TYPE, count_flags(), AtomicRmwOp::Add, new, one);
    builder.ins().jump(stored, &[]);
    builder.seal_block(stored);

    builder.switch_to_block(stored);
    builder.ins().store(vm_flags(), new, slot, at);
    builder.ins().brif(old, decrement, &[], done, &[]);
    builder.seal_block(decrement);

    builder.switch_to_block(decrement);
    let minus_one = builder.ins().iconst(POINTER_TYPE, -1);
    let before = builder.ins().atomic_rmw(POINTER_TYPE, count_flags(), AtomicRmwOp::Add, old, minus_one);
    let last = builder.ins().icmp_imm_u(IntCC::Equal, before, 1);
    builder.ins().brif(last, free, &[], done, &[]);
    builder.seal_block(free);

    builder.switch_to_block(free);
    call_builtin(env, builder, state, BuiltinIndex::DropRef, &[old]);
    builder.ins().jump(done, &[]);

    builder.seal_block(done);
    builder.switch_to_block(done);
}
