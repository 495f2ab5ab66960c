//! The control stack, named after the validation algorithm of the spec's
//! appendix (`push_ctrl`, `pop_ctrl`, ...): structured Wasm control flow
//! becomes Cranelift blocks, and block parameters and results become
//! Cranelift block parameters.

use std::collections::BTreeMap;

use cranelift_codegen::ir::{self, InstBuilder, JumpTableData};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{TrapCode, ValType};
use wasmparser::{BlockType, BrTable};

use super::env::FuncEnvironment;
use super::epoch::epoch_check;
use super::exceptions::finish_try_table;
use super::fuel::{fuel_check, fuel_function_exit};
use super::legacy::LegacyTryFrame;
use super::state::FuncState;
use super::types::{block_signature, clif_type};
use crate::{abi, CompileError, Result};

const NO_ARGS: &[ir::BlockArg] = &[];

/// What kind of construct a control frame stands for.
#[derive(Debug)]
pub(crate) enum FrameKind {
    /// The function body; its continuation returns.
    Function,
    /// `block`.
    Block,
    /// `loop`: branches go back to `header`.
    Loop {
        /// The loop header, which takes the loop parameters.
        header: ir::Block,
    },
    /// `if`, with or without an `else` arm.
    If {
        /// Where the condition sends a zero.
        else_block: ir::Block,
        /// Whether the `else` arm has started.
        else_seen: bool,
        /// The block parameters, which the `else` arm starts from again.
        params: Vec<ir::Value>,
    },
    /// `try_table`: its clauses and their landing pads.
    TryTable {
        /// The catch clauses, in order.
        catches: Vec<wasmparser::Catch>,
        /// The landing pad of each clause.
        landings: Vec<ir::Block>,
    },
    /// A legacy `try`.
    LegacyTry(LegacyTryFrame),
}

/// One entry of the control stack.
#[derive(Debug)]
pub(crate) struct ControlFrame {
    /// The construct.
    pub kind: FrameKind,
    /// The block after `end`, whose parameters are the frame's results.
    pub next: ir::Block,
    /// Number of block parameters.
    pub num_params: usize,
    /// Number of block results.
    pub num_results: usize,
    /// Operand stack height below the frame's parameters.
    pub height: usize,
    /// Whether some branch goes to `next`, so that code after `end` runs
    /// even if the end of the frame's body is unreachable.
    pub exit_reachable: bool,
    /// `state.handlers.len()` and `state.handler_start` when the frame was
    /// opened, put back when it closes.
    pub handlers_len: usize,
    pub handler_start: usize,
}

/// Creates a block whose parameters have the given Wasm types.
pub(crate) fn block_with_params(builder: &mut FunctionBuilder<'_>, types: &[ValType]) -> ir::Block {
    let block = builder.create_block();
    for &ty in types {
        let param = builder.append_block_param(block, clif_type(ty));
        if ty.is_counted_ref() {
            builder.declare_value_needs_stack_map(param);
        }
    }
    block
}

/// Opens a frame whose `num_params` parameters are on top of the stack.
pub(crate) fn push_ctrl(
    state: &mut FuncState,
    kind: FrameKind,
    next: ir::Block,
    num_params: usize,
    num_results: usize,
) {
    let height = state.stack.len().saturating_sub(num_params);
    let (handlers_len, handler_start) = (state.handlers.len(), state.handler_start);
    state.control.push(ControlFrame {
        kind,
        next,
        num_params,
        num_results,
        height,
        exit_reachable: false,
        handlers_len,
        handler_start,
    });
}

/// Closes the innermost frame; the handlers it added stop applying.
pub(crate) fn pop_ctrl(state: &mut FuncState, offset: usize) -> Result<ControlFrame> {
    let frame = state.control.pop().ok_or_else(|| CompileError::invalid("`end` without an open block", offset))?;
    state.handlers.truncate(frame.handlers_len);
    state.handler_start = frame.handler_start;
    Ok(frame)
}

/// The frame `relative_depth` levels out, as `(destination, arity)` of a
/// branch to it; records that the branch makes the frame's exit reachable.
pub(crate) fn br_target(state: &mut FuncState, relative_depth: u32, offset: usize) -> Result<(ir::Block, usize)> {
    let len = state.control.len();
    let index = len
        .checked_sub(1)
        .and_then(|top| top.checked_sub(relative_depth as usize))
        .ok_or_else(|| CompileError::invalid(format!("unknown label {relative_depth}"), offset))?;
    let frame = &mut state.control[index];
    Ok(match frame.kind {
        FrameKind::Loop { header } => (header, frame.num_params),
        _ => {
            frame.exit_reachable = true;
            (frame.next, frame.num_results)
        }
    })
}

/// `block bt`.
pub(crate) fn translate_block(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    blockty: BlockType,
    offset: usize,
) -> Result<()> {
    let (params, results) = block_signature(env, blockty, offset)?;
    let next = block_with_params(builder, &results);
    push_ctrl(state, FrameKind::Block, next, params.len(), results.len());
    Ok(())
}

/// `loop bt`: the parameters enter the header, which later back edges
/// target too, so it is sealed only at the loop's `end`.
pub(crate) fn translate_loop(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    blockty: BlockType,
    offset: usize,
) -> Result<()> {
    let (params, results) = block_signature(env, blockty, offset)?;
    let header = block_with_params(builder, &params);
    let next = block_with_params(builder, &results);
    state.collect_block_args(params.len(), offset)?;
    builder.ins().jump(header, &state.block_args);
    state.popn(params.len(), offset)?;
    state.stack.extend_from_slice(builder.block_params(header));
    builder.switch_to_block(header);
    epoch_check(env, builder, state);
    fuel_check(env, builder, state);
    push_ctrl(state, FrameKind::Loop { header }, next, params.len(), results.len());
    Ok(())
}

/// `if bt`: both arms start from the same SSA parameter values, so the
/// arm blocks need no block parameters of their own.
pub(crate) fn translate_if(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    blockty: BlockType,
    offset: usize,
) -> Result<()> {
    let (params, results) = block_signature(env, blockty, offset)?;
    let condition = state.pop1(offset)?;
    let then_block = builder.create_block();
    let else_block = builder.create_block();
    let next = block_with_params(builder, &results);
    builder.ins().brif(condition, then_block, NO_ARGS, else_block, NO_ARGS);
    builder.seal_block(then_block);
    builder.seal_block(else_block);
    builder.switch_to_block(then_block);
    let saved = state.peekn(params.len(), offset)?.to_vec();
    push_ctrl(state, FrameKind::If { else_block, else_seen: false, params: saved }, next, params.len(), results.len());
    Ok(())
}

/// `else`: the then arm flows to the continuation; the else arm restarts
/// from the parameters.
pub(crate) fn translate_else(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, offset: usize) -> Result<()> {
    let reachable = state.reachable;
    let frame =
        state.control.last_mut().ok_or_else(|| CompileError::invalid("`else` without an open block", offset))?;
    let FrameKind::If { else_block, else_seen, params } = &mut frame.kind else {
        return Err(CompileError::invalid("`else` outside of `if`", offset));
    };
    if *else_seen {
        return Err(CompileError::invalid("second `else` in one `if`", offset));
    }
    *else_seen = true;
    let else_block = *else_block;
    // Only the else arm needs the parameters again; `end` no longer does.
    let params = std::mem::take(params);
    frame.exit_reachable |= reachable;
    let (next, num_results, height) = (frame.next, frame.num_results, frame.height);
    if reachable {
        state.collect_block_args(num_results, offset)?;
        builder.ins().jump(next, &state.block_args);
    }
    state.stack.truncate(height);
    state.stack.extend_from_slice(&params);
    builder.switch_to_block(else_block);
    state.reachable = true;
    Ok(())
}

/// `end`: closes the innermost frame and continues after it, or returns
/// when the frame is the function body.
pub(crate) fn translate_end(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    offset: usize,
) -> Result<()> {
    let mut frame = pop_ctrl(state, offset)?;
    if state.reachable {
        state.collect_block_args(frame.num_results, offset)?;
        builder.ins().jump(frame.next, &state.block_args);
        frame.exit_reachable = true;
    }
    match &frame.kind {
        FrameKind::Loop { header } => builder.seal_block(*header),
        FrameKind::If { else_block, else_seen: false, params } => {
            // Without an else arm, a false condition passes the parameters
            // straight through (validation made their types the results').
            builder.switch_to_block(*else_block);
            state.block_args.clear();
            state.block_args.extend(params.iter().map(|&v| ir::BlockArg::Value(v)));
            builder.ins().jump(frame.next, &state.block_args);
            frame.exit_reachable = true;
        }
        FrameKind::TryTable { catches, landings } => {
            finish_try_table(env, builder, state, catches, landings, offset)?;
        }
        _ => {}
    }
    state.stack.truncate(frame.height);
    builder.seal_block(frame.next);
    if !frame.exit_reachable {
        state.reachable = false;
        return Ok(());
    }
    builder.switch_to_block(frame.next);
    state.reachable = true;
    if let FrameKind::Function = frame.kind {
        fuel_function_exit(env, builder, state);
        state.call_args.clear();
        state.call_args.extend_from_slice(builder.block_params(frame.next));
        builder.ins().return_(&state.call_args);
        state.reachable = false;
    } else {
        state.stack.extend_from_slice(builder.block_params(frame.next));
    }
    Ok(())
}

/// `br l`.
pub(crate) fn translate_br(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    relative_depth: u32,
    offset: usize,
) -> Result<()> {
    let (dest, arity) = br_target(state, relative_depth, offset)?;
    state.collect_block_args(arity, offset)?;
    builder.ins().jump(dest, &state.block_args);
    state.reachable = false;
    Ok(())
}

/// `br_if l`: the branch arguments stay on the stack for the fallthrough.
pub(crate) fn translate_br_if(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    relative_depth: u32,
    offset: usize,
) -> Result<()> {
    let condition = state.pop1(offset)?;
    let (dest, arity) = br_target(state, relative_depth, offset)?;
    state.collect_block_args(arity, offset)?;
    let fallthrough = builder.create_block();
    builder.ins().brif(condition, dest, &state.block_args, fallthrough, NO_ARGS);
    builder.seal_block(fallthrough);
    builder.switch_to_block(fallthrough);
    Ok(())
}

/// `br_on_null l`: branches with the operands below the reference when
/// it is null; otherwise leaves the (now non-null) reference on the stack.
pub(crate) fn translate_br_on_null(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    relative_depth: u32,
    offset: usize,
) -> Result<()> {
    let reference = state.pop1(offset)?;
    let (dest, arity) = br_target(state, relative_depth, offset)?;
    state.collect_block_args(arity, offset)?;
    let fallthrough = builder.create_block();
    builder.ins().brif(reference, fallthrough, NO_ARGS, dest, &state.block_args);
    builder.seal_block(fallthrough);
    builder.switch_to_block(fallthrough);
    state.stack.push(reference);
    Ok(())
}

/// `br_on_non_null l`: branches, the reference the last of the label's
/// operands, when it is not null; otherwise drops it.
pub(crate) fn translate_br_on_non_null(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    relative_depth: u32,
    offset: usize,
) -> Result<()> {
    let reference = state.peek1(offset)?;
    let (dest, arity) = br_target(state, relative_depth, offset)?;
    state.collect_block_args(arity, offset)?;
    let fallthrough = builder.create_block();
    builder.ins().brif(reference, dest, &state.block_args, fallthrough, NO_ARGS);
    builder.seal_block(fallthrough);
    builder.switch_to_block(fallthrough);
    state.pop1(offset)?;
    Ok(())
}

/// `br_table`: a Cranelift jump table. When the targets take arguments,
/// each distinct target gets an edge block that passes them, since jump
/// table entries carry no arguments.
pub(crate) fn translate_br_table(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    targets: &BrTable<'_>,
    offset: usize,
) -> Result<()> {
    let index = state.pop1(offset)?;
    let mut depths = Vec::with_capacity(targets.len() as usize);
    for depth in targets.targets() {
        depths.push(depth?);
    }
    let default_depth = targets.default();
    let (_, arity) = br_target(state, default_depth, offset)?;

    // Destination block of each distinct depth, in order of first use so
    // that block numbering only depends on the input.
    let mut edges: BTreeMap<u32, ir::Block> = BTreeMap::new();
    let mut order: Vec<(u32, ir::Block)> = Vec::new();
    let mut entry_for = |builder: &mut FunctionBuilder<'_>, state: &mut FuncState, depth: u32| -> Result<ir::Block> {
        if let Some(&block) = edges.get(&depth) {
            return Ok(block);
        }
        let (dest, _) = br_target(state, depth, offset)?;
        let block = if arity == 0 {
            dest
        } else {
            let edge = builder.create_block();
            order.push((depth, edge));
            edge
        };
        edges.insert(depth, block);
        Ok(block)
    };
    let default_block = entry_for(builder, state, default_depth)?;
    let mut calls = Vec::with_capacity(depths.len());
    for &depth in &depths {
        let block = entry_for(builder, state, depth)?;
        calls.push(builder.func.dfg.block_call(block, NO_ARGS));
    }
    let default_call = builder.func.dfg.block_call(default_block, NO_ARGS);
    let table = builder.create_jump_table(JumpTableData::new(default_call, &calls));
    builder.ins().br_table(index, table);

    if arity > 0 {
        state.collect_block_args(arity, offset)?;
        for (depth, edge) in order {
            let (dest, _) = br_target(state, depth, offset)?;
            builder.seal_block(edge);
            builder.switch_to_block(edge);
            builder.ins().jump(dest, &state.block_args);
        }
    }
    state.reachable = false;
    Ok(())
}

/// `return`.
pub(crate) fn translate_return(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, offset: usize) -> Result<()> {
    let arity = state
        .control
        .first()
        .map(|frame| frame.num_results)
        .ok_or_else(|| CompileError::invalid("`return` outside of a function body", offset))?;
    let results = state.peekn(arity, offset)?;
    builder.ins().return_(results);
    state.reachable = false;
    Ok(())
}

/// `unreachable`.
pub(crate) fn translate_unreachable(builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    builder.ins().trap(abi::clif_trap_code(TrapCode::UNREACHABLE));
    state.reachable = false;
}
