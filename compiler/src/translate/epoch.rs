//! Epoch checks (`kilnc --epoch-interruption`): at every function entry and
//! every loop header, compare the engine's epoch with the store's deadline
//! and call the `epoch_deadline` builtin when it is reached.
//!
//! As in Wasmtime, a function reads, at entry, the pointer to the engine's
//! epoch and the store's deadline from the store context block that the
//! VMContext points at (`store_context` in kiln-format) into two variables,
//! so a check is one load (the epoch, which another thread ticks) and a
//! compare. The deadline is read again after the builtin (whose callback
//! moves it) and after every call (a host function may set it). A cached
//! deadline can only be behind a later one, set by code the function
//! called; that costs at most one spurious builtin call, which returns at
//! once and refreshes the cache.
//!
//! The builtin call on the cold path clobbers every caller-saved register,
//! so whatever is live across it needs a callee-saved register or a stack
//! slot in the hot code around the check too. The epoch pointer is
//! therefore read again after the builtin, as the deadline is, rather than
//! kept across the call: the two variables are then live across no cold
//! call, only across the hot path.
//!
//! A function with no loop and no call runs a bounded number of operators
//! and returns to a caller that checks, so it gets no check at all: the
//! small leaf functions that hot loops call pay nothing.

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::{FunctionBuilder, Variable};
use kiln_format::{store_context, BuiltinIndex, Instrumentation, VMOffsets};
use wasmparser::{FunctionBody, Operator};

use super::env::{call_builtin, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::operators::{is_returning_call, is_tail_call};
use super::state::FuncState;
use crate::abi::POINTER_TYPE;
use crate::Result;

/// The function's cached epoch pointer and deadline.
#[derive(Default)]
pub(crate) struct EpochCache {
    /// `(epoch pointer, deadline)`, when epoch checks are compiled in.
    vars: Option<(Variable, Variable)>,
}

impl EpochCache {
    /// Forgets the previous function.
    pub(crate) fn clear(&mut self) {
        self.vars = None;
    }
}

fn enabled(env: &FuncEnvironment<'_>) -> bool {
    env.instrumentation.contains(Instrumentation::EPOCH)
}

/// Whether a function body can run unboundedly long: it has a loop or a
/// call, and so gets epoch checks.
fn may_run_long(body: &FunctionBody<'_>) -> Result<bool> {
    let mut operators = body.get_operators_reader()?;
    while !operators.eof() {
        let op = operators.read()?;
        if matches!(op, Operator::Loop { .. }) || is_returning_call(&op) || is_tail_call(&op) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// At the function entry: caches the epoch pointer and the deadline, then
/// checks, unless the function needs no checks.
pub(crate) fn epoch_function_entry(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    body: &FunctionBody<'_>,
) -> Result<()> {
    if !enabled(env) || !may_run_long(body)? {
        return Ok(());
    }
    let pointer = builder.declare_var(POINTER_TYPE);
    let deadline = builder.declare_var(ir::types::I64);
    state.epoch.vars = Some((pointer, deadline));
    load_cache(builder, state);
    epoch_check(env, builder, state);
    Ok(())
}

/// Emits an epoch check at the current position if the module is compiled
/// with epoch interruption; the builder ends in the block after the check.
pub(crate) fn epoch_check(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    let Some((pointer, deadline)) = state.epoch.vars.filter(|_| enabled(env)) else { return };
    let counter = builder.use_var(pointer);
    // Not read-only: other threads tick it.
    let epoch = builder.ins().load(ir::types::I64, vm_flags(), counter, 0);
    let deadline = builder.use_var(deadline);
    let reached = builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);

    let slow = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(slow);
    builder.ins().brif(reached, slow, &[], done, &[]);
    builder.seal_block(slow);

    builder.switch_to_block(slow);
    call_builtin(env, builder, state, BuiltinIndex::EpochDeadline, &[]);
    // Both again, so that neither is live across the call.
    load_cache(builder, state);
    builder.ins().jump(done, &[]);

    builder.seal_block(done);
    builder.switch_to_block(done);
}

/// After a reachable operator: a call may have set another deadline.
pub(crate) fn epoch_after_op(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
) {
    if enabled(env) && state.reachable && is_returning_call(op) {
        load_deadline(builder, state);
    }
}

/// At a landing pad: the call that threw may have run a host function
/// that set another deadline, as after any call.
pub(crate) fn epoch_after_unwind(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    if enabled(env) {
        load_deadline(builder, state);
    }
}

/// The store context block, through the VMContext.
fn store_context_ptr(builder: &mut FunctionBuilder<'_>, state: &FuncState) -> ir::Value {
    builder.ins().load(POINTER_TYPE, vm_readonly_flags(), state.vmctx, VMOffsets::RUNTIME_LIMITS as i32)
}

/// Reads the epoch pointer and the deadline into their variables.
fn load_cache(builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    let Some((pointer, deadline)) = state.epoch.vars else { return };
    let context = store_context_ptr(builder, state);
    let counter = builder.ins().load(POINTER_TYPE, vm_readonly_flags(), context, store_context::EPOCH_COUNTER as i32);
    builder.def_var(pointer, counter);
    load_deadline_from(builder, deadline, context);
}

fn load_deadline(builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    let Some((_, deadline)) = state.epoch.vars else { return };
    let context = store_context_ptr(builder, state);
    load_deadline_from(builder, deadline, context);
}

fn load_deadline_from(builder: &mut FunctionBuilder<'_>, deadline: Variable, context: ir::Value) {
    // Not read-only: the builtin and the host move it.
    let value = builder.ins().load(ir::types::I64, vm_flags(), context, store_context::EPOCH_DEADLINE as i32);
    builder.def_var(deadline, value);
}
