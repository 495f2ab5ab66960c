//! Epoch checks (`kilnc --epoch-interruption`): at every function entry and
//! every loop header, compare the engine's epoch with the store's deadline
//! and call the `epoch_deadline` builtin when it is reached.
//!
//! The check reads both through the store context block that the VMContext
//! points at (`store_context` in kiln-format): the deadline lives in the
//! block, the epoch behind a pointer in it. Neither load is read-only,
//! since another thread ticks the epoch and the builtin moves the deadline;
//! the slow path's call also clobbers every memory fact, so no check reuses
//! the loads of an earlier one.

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{store_context, BuiltinIndex, Instrumentation, VMOffsets};

use super::env::{call_builtin, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::state::FuncState;
use crate::abi::POINTER_TYPE;

/// Emits an epoch check at the current position if the module is compiled
/// with epoch interruption; the builder ends in the block after the check.
pub(crate) fn epoch_check(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    if !env.instrumentation.contains(Instrumentation::EPOCH) {
        return;
    }
    let context = builder.ins().load(POINTER_TYPE, vm_readonly_flags(), state.vmctx, VMOffsets::RUNTIME_LIMITS as i32);
    let counter = builder.ins().load(POINTER_TYPE, vm_readonly_flags(), context, store_context::EPOCH_COUNTER as i32);
    let epoch = builder.ins().load(ir::types::I64, vm_flags(), counter, 0);
    let deadline = builder.ins().load(ir::types::I64, vm_flags(), context, store_context::EPOCH_DEADLINE as i32);
    let reached = builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);

    let slow = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(slow);
    builder.ins().brif(reached, slow, &[], done, &[]);
    builder.seal_block(slow);

    builder.switch_to_block(slow);
    call_builtin(env, builder, state, BuiltinIndex::EpochDeadline, &[]);
    builder.ins().jump(done, &[]);

    builder.seal_block(done);
    builder.switch_to_block(done);
}
