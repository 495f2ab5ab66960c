//! Legacy exceptions (`try`, `catch`, `catch_all`, `delegate`, `rethrow`),
//! lowered onto the handlers of `exceptions`.
//!
//! A `try` with clauses pushes one handler per clause for its body; each
//! clause's landing pad is where its `catch` code starts, with the
//! exception's values on the stack and the exception kept for `rethrow`.
//! A `try ... delegate l` pushes no handler of its own: its body reaches
//! the handlers that apply inside label `l`, copied to the top of the
//! handler stack, so the ones in between are skipped.

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::BuiltinIndex;
use wasmparser::{BinaryReader, BlockType, Operator, OperatorsReader};

use super::control::{block_with_params, push_ctrl, translate_end, FrameKind};
use super::env::FuncEnvironment;
use super::exceptions::{
    after_unwind, call_throwing_builtin, exception_values, landing_block, ActiveHandler, LegacyTry,
};
use super::state::FuncState;
use super::types::block_signature;
use crate::{CompileError, Result};

/// The state of a legacy `try` frame.
#[derive(Debug)]
pub(crate) struct LegacyTryFrame {
    /// Each clause's tag (`None` for `catch_all`) and landing pad.
    pub clauses: Vec<(Option<u32>, ir::Block)>,
    /// The next clause whose `catch` is to come.
    pub next_clause: usize,
    /// The exception the current `catch` section handles, for `rethrow`.
    pub caught: Option<ir::Value>,
}

/// Finds what every legacy `try` of a body ends in, keyed by its offset.
/// A body that does not parse is left to the validator, which reports it
/// during translation.
pub(crate) fn scan_legacy_tries(reader: BinaryReader<'_>, tries: &mut std::collections::BTreeMap<usize, LegacyTry>) {
    let mut ops = OperatorsReader::new(reader);
    // One entry per open block: the offset and clauses of a `try`.
    let mut open: Vec<Option<(usize, Vec<Option<u32>>)>> = Vec::new();
    while !ops.eof() {
        let Ok((op, at)) = ops.read_with_offset() else { return };
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::TryTable { .. } => {
                open.push(None)
            }
            Operator::Try { .. } => open.push(Some((at as usize, Vec::new()))),
            Operator::Catch { tag_index } => {
                if let Some(Some((_, clauses))) = open.last_mut() {
                    clauses.push(Some(tag_index));
                }
            }
            Operator::CatchAll => {
                if let Some(Some((_, clauses))) = open.last_mut() {
                    clauses.push(None);
                }
            }
            Operator::Delegate { relative_depth } => {
                if let Some(Some((at, _))) = open.pop() {
                    tries.insert(at, LegacyTry::Delegate(relative_depth));
                }
            }
            Operator::End => {
                if let Some(Some((at, clauses))) = open.pop() {
                    tries.insert(at, LegacyTry::Catches(clauses));
                }
            }
            _ => {}
        }
    }
}

/// `try bt`.
pub(crate) fn translate_try(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    blockty: BlockType,
    offset: usize,
) -> Result<()> {
    let (params, results) = block_signature(env, blockty, offset)?;
    let next = block_with_params(builder, &results);
    let ends_in = state
        .legacy_tries
        .get(&offset)
        .cloned()
        .ok_or_else(|| CompileError::codegen(format!("`try` at offset {offset:#x} was not scanned")))?;
    match ends_in {
        LegacyTry::Delegate(label) => {
            let frame = LegacyTryFrame { clauses: Vec::new(), next_clause: 0, caught: None };
            push_ctrl(state, FrameKind::LegacyTry(frame), next, params.len(), results.len());
            // The frame on the path to the label, just inside it, saw the
            // handlers that apply inside the label when it opened.
            let len = state.control.len();
            let inside = len
                .checked_sub(1 + label as usize)
                .filter(|&i| i >= 1)
                .ok_or_else(|| CompileError::invalid(format!("unknown label {label}"), offset))?;
            let (start, end) = (state.control[inside].handler_start, state.control[inside].handlers_len);
            let top = state.handlers.len();
            state.handlers.extend_from_within(start..end);
            state.handler_start = top;
        }
        LegacyTry::Catches(tags) => {
            let clauses: Vec<(Option<u32>, ir::Block)> =
                tags.into_iter().map(|tag| (tag, landing_block(builder))).collect();
            let handlers: Vec<ActiveHandler> =
                clauses.iter().rev().map(|&(tag, landing)| ActiveHandler { tag, landing }).collect();
            let frame = LegacyTryFrame { clauses, next_clause: 0, caught: None };
            push_ctrl(state, FrameKind::LegacyTry(frame), next, params.len(), results.len());
            state.handlers.extend(handlers);
        }
    }
    Ok(())
}

/// `catch tag` (`Some`) or `catch_all` (`None`): ends the previous section
/// and starts the clause's code at its landing pad.
pub(crate) fn translate_catch(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    tag: Option<u32>,
    offset: usize,
) -> Result<()> {
    let reachable = state.reachable;
    let misplaced = || CompileError::invalid("`catch` outside of `try`", offset);
    let frame = state.control.last_mut().ok_or_else(misplaced)?;
    let (next, num_results, height) = (frame.next, frame.num_results, frame.height);
    let (handlers_len, handler_start) = (frame.handlers_len, frame.handler_start);
    let FrameKind::LegacyTry(legacy) = &mut frame.kind else { return Err(misplaced()) };
    let &(expected, landing) = legacy
        .clauses
        .get(legacy.next_clause)
        .ok_or_else(|| CompileError::codegen(format!("unscanned `catch` clause (at offset {offset:#x})")))?;
    if expected != tag {
        return Err(CompileError::codegen(format!("`catch` clause differs from the scan (at offset {offset:#x})")));
    }
    legacy.next_clause += 1;
    legacy.caught = None;
    frame.exit_reachable |= reachable;
    if reachable {
        state.collect_block_args(num_results, offset)?;
        builder.ins().jump(next, &state.block_args);
    }
    // The body's handlers do not apply to the clauses' code.
    state.handlers.truncate(handlers_len);
    state.handler_start = handler_start;
    state.stack.truncate(height);
    builder.seal_block(landing);
    if !state.used_landings.contains(&landing) {
        // No call reaches the clause: its code is unreachable.
        state.reachable = false;
        return Ok(());
    }
    builder.switch_to_block(landing);
    let exn = *builder
        .block_params(landing)
        .first()
        .ok_or_else(|| CompileError::codegen("landing pad without its exception parameter"))?;
    after_unwind(env, builder, state);
    if let Some(tag) = tag {
        let values = exception_values(env, builder, state, tag, exn, offset)?;
        state.stack.extend(values);
    }
    if let Some(FrameKind::LegacyTry(legacy)) = state.control.last_mut().map(|f| &mut f.kind) {
        legacy.caught = Some(exn);
    }
    state.reachable = true;
    Ok(())
}

/// `delegate l`: closes the `try` like `end`.
pub(crate) fn translate_delegate(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    offset: usize,
) -> Result<()> {
    match state.control.last().map(|f| &f.kind) {
        Some(FrameKind::LegacyTry(legacy)) if legacy.clauses.is_empty() => translate_end(env, builder, state, offset),
        _ => Err(CompileError::invalid("`delegate` outside of `try`", offset)),
    }
}

/// `rethrow l`: throws again the exception of the `catch` at label `l`.
pub(crate) fn translate_rethrow(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    relative_depth: u32,
    offset: usize,
) -> Result<()> {
    let index = state.control.len().checked_sub(1 + relative_depth as usize);
    let caught = match index.map(|i| &state.control[i].kind) {
        Some(FrameKind::LegacyTry(legacy)) => legacy.caught,
        _ => None,
    };
    let exn = caught.ok_or_else(|| CompileError::invalid("`rethrow` outside of a `catch`", offset))?;
    call_throwing_builtin(env, builder, state, BuiltinIndex::ThrowRef, &[exn]);
    Ok(())
}
