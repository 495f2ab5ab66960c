//! Exceptions (SPEC 3.13): `throw`, `throw_ref`, `try_table`, and the call
//! lowering they share with the legacy `try` (`legacy`).
//!
//! Every call made where some catch clause applies is a `try_call` whose
//! exception table lists those clauses, innermost first, after the
//! caller's VMContext as the dynamic context (so that the unwinder can
//! resolve tag indices through the frame's instance). Each clause has a
//! landing pad that receives the exception object (an exnref) as the
//! first exception payload, extracts the values it needs through the
//! `exn_values` builtin, and branches on. `throw` and `throw_ref` call
//! builtins that never return.

use cranelift_codegen::ir::{
    self, BlockArg, BlockCall, ExceptionTableData, ExceptionTableItem, ExceptionTag, InstBuilder, StackSlotData,
    StackSlotKind,
};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{BuiltinIndex, TrapCode, VALUE_SLOT_SIZE};
use wasmparser::{Catch, TryTable};

use super::control::{block_with_params, br_target, push_ctrl, FrameKind};
use super::env::{builtin_func, call_builtin, index_arg, FuncEnvironment};
use super::epoch::epoch_after_unwind;
use super::fuel::{fuel_after_builtin, fuel_before_builtin};
use super::state::FuncState;
use super::types::{block_signature, clif_type};
use crate::abi::{self, POINTER_TYPE};
use crate::{CompileError, Result};

/// A catch clause that the calls at the current position reach.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ActiveHandler {
    /// The tag index it catches, or `None` for every exception.
    pub tag: Option<u32>,
    /// Its landing pad, whose one parameter is the exception.
    pub landing: ir::Block,
}

/// What a legacy `try` ends in, found by a scan of the body before it is
/// translated: its calls need their handlers before the clauses are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LegacyTry {
    /// `delegate l`.
    Delegate(u32),
    /// `catch` clauses (`Some(tag)`) and `catch_all` (`None`), in order.
    Catches(Vec<Option<u32>>),
}

/// What a call calls.
#[derive(Clone, Copy)]
pub(crate) enum Callee {
    /// A declared function.
    Direct(ir::FuncRef),
    /// A code pointer of the given signature.
    Indirect(ir::SigRef, ir::Value),
}

/// Emits a call of `callee` with `args`; returns its results. Where
/// handlers apply, the call is a `try_call` and the code after it lives
/// in a new block, its normal return.
pub(crate) fn emit_call(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    callee: Callee,
    args: &[ir::Value],
) -> Vec<ir::Value> {
    if state.handlers.len() <= state.handler_start {
        let call = match callee {
            Callee::Direct(func) => builder.ins().call(func, args),
            Callee::Indirect(sig, code) => builder.ins().call_indirect(sig, code, args),
        };
        return builder.inst_results(call).to_vec();
    }
    let sig = match callee {
        Callee::Direct(func) => builder.func.dfg.ext_funcs[func].signature,
        Callee::Indirect(sig, _) => sig,
    };
    let returns: Vec<ir::Type> = builder.func.dfg.signatures[sig].returns.iter().map(|r| r.value_type).collect();
    let normal = builder.create_block();
    for &ty in &returns {
        builder.append_block_param(normal, ty);
    }
    let pool = &mut builder.func.dfg.value_lists;
    let normal_call = BlockCall::new(normal, (0..returns.len() as u32).map(BlockArg::TryCallRet), pool);
    let mut items = Vec::with_capacity(state.handlers.len() - state.handler_start + 1);
    items.push(ExceptionTableItem::Context(state.vmctx));
    for handler in state.handlers[state.handler_start..].iter().rev() {
        let target = BlockCall::new(handler.landing, [BlockArg::TryCallExn(0)], pool);
        items.push(match handler.tag {
            Some(tag) => ExceptionTableItem::Tag(ExceptionTag::from_u32(tag), target),
            None => ExceptionTableItem::Default(target),
        });
        state.used_landings.insert(handler.landing);
    }
    let table = builder.func.dfg.exception_tables.push(ExceptionTableData::new(sig, normal_call, items));
    match callee {
        Callee::Direct(func) => builder.ins().try_call(func, args, table),
        Callee::Indirect(_, code) => builder.ins().try_call_indirect(code, args, table),
    };
    builder.seal_block(normal);
    builder.switch_to_block(normal);
    builder.block_params(normal).to_vec()
}

/// Calls `throw` or `throw_ref`, which never return: the code after the
/// call traps should it ever run, and the rest of the block is unreachable.
pub(crate) fn call_throwing_builtin(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    args: &[ir::Value],
) {
    let callee = builtin_func(env, builder, state, builtin);
    let mut call_args = Vec::with_capacity(args.len() + 1);
    call_args.push(state.vmctx);
    call_args.extend_from_slice(args);
    fuel_before_builtin(env, builder, state);
    emit_call(builder, state, Callee::Direct(callee), &call_args);
    builder.ins().trap(abi::clif_trap_code(TrapCode::UNREACHABLE));
    state.reachable = false;
}

/// What a landing pad does first: the callee that threw may have changed
/// the fuel counter or the epoch deadline, as after any call.
pub(crate) fn after_unwind(env: &FuncEnvironment<'_>, builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    fuel_after_builtin(env, builder, state);
    epoch_after_unwind(env, builder, state);
}

/// Creates the landing pad of one clause: a block taking the exception.
pub(crate) fn landing_block(builder: &mut FunctionBuilder<'_>) -> ir::Block {
    let block = builder.create_block();
    let exn = builder.append_block_param(block, POINTER_TYPE);
    builder.declare_value_needs_stack_map(exn);
    block
}

/// The values of exception `exn`, of tag `tag`, read through `exn_values`
/// (which moves each counted reference into the activations table, so
/// that it stays alive while only this frame holds it).
pub(crate) fn exception_values(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    tag: u32,
    exn: ir::Value,
    offset: usize,
) -> Result<Vec<ir::Value>> {
    let params = &env.tag_type(tag, offset)?.params;
    if params.is_empty() {
        return Ok(Vec::new());
    }
    let slot = value_slots(builder, params.len());
    let out = builder.ins().stack_addr(POINTER_TYPE, slot, 0);
    call_builtin(env, builder, state, BuiltinIndex::ExnValues, &[exn, out]);
    let mut values = Vec::with_capacity(params.len());
    for (i, &ty) in params.iter().enumerate() {
        let value = builder.ins().stack_load(POINTER_TYPE, clif_type(ty), slot, slot_offset(i));
        if ty.is_counted_ref() {
            builder.declare_value_needs_stack_map(value);
        }
        values.push(value);
    }
    Ok(values)
}

/// A stack array of `n` value slots (SPEC 3.2), 16-byte aligned.
pub(crate) fn value_slots(builder: &mut FunctionBuilder<'_>, n: usize) -> ir::StackSlot {
    // The validator bounds a tag's parameters at 1000.
    let size = u32::try_from(n).unwrap_or(u32::MAX / VALUE_SLOT_SIZE).saturating_mul(VALUE_SLOT_SIZE);
    builder.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 4))
}

pub(crate) fn slot_offset(index: usize) -> i32 {
    (index as i32) * VALUE_SLOT_SIZE as i32
}

/// `throw tag`: the values go to the builtin in value slots.
pub(crate) fn translate_throw(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    tag: u32,
    offset: usize,
) -> Result<()> {
    let n = env.tag_type(tag, offset)?.params.len();
    let values = state.peekn(n, offset)?.to_vec();
    state.popn(n, offset)?;
    let slots = if n == 0 {
        builder.ins().iconst(POINTER_TYPE, 0)
    } else {
        let slot = value_slots(builder, n);
        for (i, &value) in values.iter().enumerate() {
            builder.ins().stack_store(POINTER_TYPE, value, slot, slot_offset(i));
        }
        builder.ins().stack_addr(POINTER_TYPE, slot, 0)
    };
    let tag_arg = index_arg(builder, tag);
    call_throwing_builtin(env, builder, state, BuiltinIndex::Throw, &[tag_arg, slots]);
    Ok(())
}

/// `throw_ref`: a null exnref traps.
pub(crate) fn translate_throw_ref(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    offset: usize,
) -> Result<()> {
    let exn = state.pop1(offset)?;
    builder.ins().trapz(exn, abi::clif_trap_code(TrapCode::NULL_REFERENCE));
    call_throwing_builtin(env, builder, state, BuiltinIndex::ThrowRef, &[exn]);
    Ok(())
}

/// `try_table bt catch* ...`: a block whose calls reach the clauses.
pub(crate) fn translate_try_table(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    try_table: &TryTable,
    offset: usize,
) -> Result<()> {
    let (params, results) = block_signature(env, try_table.ty, offset)?;
    let next = block_with_params(builder, &results);
    let landings: Vec<ir::Block> = try_table.catches.iter().map(|_| landing_block(builder)).collect();
    let catches = try_table.catches.clone();
    push_ctrl(
        state,
        FrameKind::TryTable { catches: catches.clone(), landings: landings.clone() },
        next,
        params.len(),
        results.len(),
    );
    // Innermost first is the reverse of the stack: the first clause wins.
    for (catch, &landing) in catches.iter().zip(&landings).rev() {
        let tag = match *catch {
            Catch::One { tag, .. } | Catch::OneRef { tag, .. } => Some(tag),
            Catch::All { .. } | Catch::AllRef { .. } => None,
        };
        state.handlers.push(ActiveHandler { tag, landing });
    }
    Ok(())
}

/// At the `end` of a `try_table`, with its frame closed: fills in the
/// landing pads that some call reaches. Each branches to its label, which
/// is resolved, as validation does, outside the `try_table`.
pub(crate) fn finish_try_table(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    catches: &[Catch],
    landings: &[ir::Block],
    offset: usize,
) -> Result<()> {
    for (catch, &landing) in catches.iter().zip(landings) {
        builder.seal_block(landing);
        if !state.used_landings.contains(&landing) {
            continue;
        }
        builder.switch_to_block(landing);
        let exn = *builder
            .block_params(landing)
            .first()
            .ok_or_else(|| CompileError::codegen("landing pad without its exception parameter"))?;
        after_unwind(env, builder, state);
        let (label, tag, with_ref) = match *catch {
            Catch::One { tag, label } => (label, Some(tag), false),
            Catch::OneRef { tag, label } => (label, Some(tag), true),
            Catch::All { label } => (label, None, false),
            Catch::AllRef { label } => (label, None, true),
        };
        let mut args = match tag {
            Some(tag) => exception_values(env, builder, state, tag, exn, offset)?,
            None => Vec::new(),
        };
        if with_ref {
            args.push(exn);
        }
        let (dest, _) = br_target(state, label, offset)?;
        let args: Vec<BlockArg> = args.into_iter().map(BlockArg::Value).collect();
        builder.ins().jump(dest, &args);
    }
    Ok(())
}
