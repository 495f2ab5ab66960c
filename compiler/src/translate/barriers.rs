//! The inline barriers of deferred reference counting (SPEC 3.8, 3.14).
//!
//! Compiled code changes a reference count only where a reference enters or
//! leaves storage that outlives the activation: reading a counted reference
//! (extern, exn or any hierarchy) out of a table, global or GC field clones
//! it into the activations table, writing one takes a count of the new
//! value before it drops the old one. Everything else (locals, the operand
//! stack, calls) is left to the stack maps and the GC.
//!
//! A word of a type that admits an `i31` (`may_be_i31`) is tested for the
//! tag bit as well as for null before its count is touched: an `i31` is no
//! pointer. A decrement that leaves a non-zero count may have made the
//! block the root of a garbage cycle, which `gc_possible_root` buffers
//! unless the header says the block is already buffered or acyclic.

use cranelift_codegen::ir::{self, condcodes::IntCC, AtomicRmwOp, InstBuilder, MemFlagsData};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{activations, extern_data, gc, BuiltinIndex, HeapType, RefType, VMOffsets, ValType};

use super::env::{call_builtin, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::state::FuncState;
use crate::abi::POINTER_TYPE;

// The count is addressed as the reference itself.
const _: () = assert!(extern_data::REF_COUNT == 0 && gc::REF_COUNT == 0);

/// Reference counts are shared with host threads, which update them atomically.
fn count_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Pushes `value` of type `ty`, just read from a table element, global or
/// GC field; a counted reference is first cloned into the activations table.
pub(crate) fn push_from_storage(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    value: ir::Value,
    ty: ValType,
) {
    if let Some(ref_ty) = ty.as_ref().filter(|r| r.is_counted_ref()) {
        clone_into_activations(env, builder, state, value, ref_ty);
    }
    state.push_typed(builder, value, ty);
}

/// Stores `value` of type `ty` at `slot + at` (a table element, global or
/// GC field); a counted reference goes through the count barrier of
/// `store_with_counts`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_to_storage(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    slot: ir::Value,
    at: i32,
    value: ir::Value,
    ty: ValType,
    flags: MemFlagsData,
) {
    match ty.as_ref().filter(|r| r.is_counted_ref()) {
        Some(ref_ty) => store_with_counts(env, builder, state, slot, at, value, ref_ty, flags),
        None => {
            builder.ins().store(flags, value, slot, at);
        }
    }
}

/// A condition that holds when `reference`, of type `ty`, points at a
/// counted block: it is not null and, where `ty` admits an `i31`, not one.
pub(crate) fn points_at_block(builder: &mut FunctionBuilder<'_>, reference: ir::Value, ty: RefType) -> ir::Value {
    if !ty.may_be_i31() {
        return reference;
    }
    let tag = builder.ins().band_imm_u(reference, gc::I31_TAG as i64);
    let untagged = builder.ins().icmp_imm_u(IntCC::Equal, tag, 0);
    let non_null = builder.ins().icmp_imm_u(IntCC::NotEqual, reference, 0);
    builder.ins().band(untagged, non_null)
}

/// `reference`, of type `ty`, was just read from storage: take a count of
/// it and record it in the activations table, so that it stays alive while
/// only Wasm frames hold it. The fast path bumps `next`; a full chunk calls
/// `activations_insert_slow`, which collects and then inserts.
pub(crate) fn clone_into_activations(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    reference: ir::Value,
    ty: RefType,
) {
    // Live across the slow path's call: the GC there must see it.
    builder.declare_value_needs_stack_map(reference);
    let non_null = builder.create_block();
    let fast = builder.create_block();
    let slow = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(slow);

    let is_block = points_at_block(builder, reference, ty);
    builder.ins().brif(is_block, non_null, &[], done, &[]);
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

/// Stores `new` at `slot + at`, taking a count of `new` before dropping the
/// count of the reference it replaces; the `drop_ref` builtin frees the old
/// one when that was its last count, and `gc_possible_root` buffers it when
/// it was not and it may be part of a cycle.
#[allow(clippy::too_many_arguments)]
fn store_with_counts(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    slot: ir::Value,
    at: i32,
    new: ir::Value,
    ty: RefType,
    flags: MemFlagsData,
) {
    // Live across the calls of the slow paths.
    builder.declare_value_needs_stack_map(new);
    let increment = builder.create_block();
    let stored = builder.create_block();
    let decrement = builder.create_block();
    let free = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(free);
    // An exception never takes part in a cycle (SPEC 3.14).
    let may_be_cyclic = ty.heap.top() != HeapType::Exn;

    let old = builder.ins().load(POINTER_TYPE, flags, slot, at);
    let new_is_block = points_at_block(builder, new, ty);
    builder.ins().brif(new_is_block, increment, &[], stored, &[]);
    builder.seal_block(increment);

    builder.switch_to_block(increment);
    let one = builder.ins().iconst(POINTER_TYPE, 1);
    builder.ins().atomic_rmw(POINTER_TYPE, count_flags(), AtomicRmwOp::Add, new, one);
    builder.ins().jump(stored, &[]);
    builder.seal_block(stored);

    builder.switch_to_block(stored);
    builder.ins().store(flags, new, slot, at);
    let old_is_block = points_at_block(builder, old, ty);
    builder.ins().brif(old_is_block, decrement, &[], done, &[]);
    builder.seal_block(decrement);

    builder.switch_to_block(decrement);
    let minus_one = builder.ins().iconst(POINTER_TYPE, -1);
    let before = builder.ins().atomic_rmw(POINTER_TYPE, count_flags(), AtomicRmwOp::Add, old, minus_one);
    let last = builder.ins().icmp_imm_u(IntCC::Equal, before, 1);
    if may_be_cyclic {
        let still_counted = builder.create_block();
        let candidate = builder.create_block();
        builder.set_cold_block(candidate);
        builder.ins().brif(last, free, &[], still_counted, &[]);
        builder.seal_block(still_counted);

        builder.switch_to_block(still_counted);
        let header = builder.ins().load(ir::types::I32, count_flags(), old, gc::HEADER as i32);
        let spared = builder.ins().band_imm_u(header, i64::from(gc::NOT_A_CANDIDATE));
        builder.ins().brif(spared, done, &[], candidate, &[]);
        builder.seal_block(candidate);

        builder.switch_to_block(candidate);
        call_builtin(env, builder, state, BuiltinIndex::GcPossibleRoot, &[old]);
        builder.ins().jump(done, &[]);
    } else {
        builder.ins().brif(last, free, &[], done, &[]);
    }
    builder.seal_block(free);

    builder.switch_to_block(free);
    call_builtin(env, builder, state, BuiltinIndex::DropRef, &[old]);
    builder.ins().jump(done, &[]);

    builder.seal_block(done);
    builder.switch_to_block(done);
}
