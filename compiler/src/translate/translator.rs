//! The function translator: reads locals and operators, validates each
//! one, and dispatches it from a single match.

use cranelift_codegen::ir::{self, immediates::Offset32, GlobalValueData};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_codegen::settings;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kiln_format::{runtime_limits, BuiltinIndex, VMOffsets};
use wasmparser::{FuncValidator, FunctionBody, Operator, OperatorsReader, ValidatorResources};

use super::call::CallKind;
use super::control::{self, block_with_params, push_ctrl, FrameKind};
use super::env::{vm_flags, FuncEnvironment};
use super::epoch::{epoch_after_op, epoch_function_entry};
use super::fuel::{fuel_after_op, fuel_before_op, fuel_function_entry};
use super::memory::{self, LoadKind, StoreKind};
use super::operators::operator_name;
use super::state::FuncState;
use super::types::{block_signature, val_type};
use super::{atomic, bulk, call, exceptions, gc_ops, global, legacy, locals, numeric, reference, simd, table};
use crate::abi::POINTER_TYPE;
use crate::{CompileError, Result};

/// Translates Wasm function bodies into Cranelift IR. One translator is
/// reused across functions so that its allocations are too.
pub struct FuncTranslator {
    builder_context: FunctionBuilderContext,
    state: FuncState,
    frontend_config: Option<TargetFrontendConfig>,
}

impl Default for FuncTranslator {
    fn default() -> Self {
        Self::new()
    }
}

impl FuncTranslator {
    /// A translator with empty state.
    pub fn new() -> Self {
        FuncTranslator {
            builder_context: FunctionBuilderContext::new(),
            state: FuncState::new(),
            frontend_config: None,
        }
    }

    /// Validates and translates the body of function `func_index` into
    /// `func`, which arrives named `UserFuncName::user(0, func_index)` with
    /// the signature `abi::wasm_signature` of its type.
    pub fn translate(
        &mut self,
        env: &FuncEnvironment<'_>,
        func_index: u32,
        body: &FunctionBody<'_>,
        validator: &mut FuncValidator<ValidatorResources>,
        func: &mut ir::Function,
    ) -> Result<()> {
        let result = self.translate_body(env, func_index, body, validator, func);
        if result.is_err() {
            // A failed translation leaves the builder context half-used;
            // start the next function from a fresh one.
            self.builder_context = FunctionBuilderContext::new();
        }
        result.map_err(|e| e.in_function(func_index))
    }

    fn translate_body(
        &mut self,
        env: &FuncEnvironment<'_>,
        func_index: u32,
        body: &FunctionBody<'_>,
        validator: &mut FuncValidator<ValidatorResources>,
        func: &mut ir::Function,
    ) -> Result<()> {
        let FuncTranslator { builder_context, state, frontend_config } = self;
        state.clear();
        let frontend_config = match *frontend_config {
            Some(config) if config.default_call_conv == env.call_conv => config,
            _ => *frontend_config.insert(target_frontend_config(env.call_conv)?),
        };
        let body_offset = body.range().start as usize;
        let ty = env.func_type_of(func_index, body_offset)?;
        if func.signature.params.len() != ty.params.len() + 1 || func.signature.returns.len() != ty.results.len() {
            return Err(CompileError::codegen(format!(
                "function {func_index} arrives with signature {}, which does not match its type",
                func.signature
            )));
        }
        func.stack_limit = Some(stack_limit(func)?);
        // Source locations are the module offsets of operators, relative
        // to the body's: code before the first operator's (the prologue)
        // then has the body's own offset, as Wasmtime gives it.
        func.params.ensure_base_srcloc(ir::SourceLoc::new(body_offset as u32));

        let mut builder = FunctionBuilder::new(func, builder_context);
        // Spills across safepoints then keep what is known of every other
        // region, instead of acting as fences.
        builder.make_stack_map_alias_region(Box::new(super::alias::stack_map_region));
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        builder.seal_block(entry);
        state.vmctx = builder
            .block_params(entry)
            .first()
            .copied()
            .ok_or_else(|| CompileError::codegen("function signature lacks the vmctx parameter"))?;
        locals::declare_params(&mut builder, state, entry, &ty.params)?;
        epoch_function_entry(env, &mut builder, state, body)?;
        fuel_function_entry(env, &mut builder, state);

        let mut reader = body.get_binary_reader();
        let groups = reader.read_var_u32()?;
        for _ in 0..groups {
            let at = reader.original_position();
            let count = reader.read_var_u32()?;
            let local_ty: wasmparser::ValType = reader.read()?;
            validator.define_locals(at, count, local_ty)?;
            let local_ty = val_type(local_ty, &env.type_kinds, at as usize)?;
            locals::declare_locals(&mut builder, state, count, local_ty);
        }

        let return_block = block_with_params(&mut builder, &ty.results);
        push_ctrl(state, FrameKind::Function, return_block, 0, ty.results.len());

        legacy::scan_legacy_tries(reader.clone(), &mut state.legacy_tries);
        let mut operators = OperatorsReader::new(reader);
        while !operators.eof() {
            let (op, at) = operators.read_with_offset()?;
            validator.op(at, &op)?;
            builder.set_srcloc(ir::SourceLoc::new(at as u32));
            translate_operator(env, &mut builder, state, &op, at as usize)?;
        }
        operators.finish()?;
        if !state.control.is_empty() {
            return Err(CompileError::invalid(
                "function body ends inside a block",
                operators.original_position() as usize,
            ));
        }
        builder.finalize(frontend_config);
        Ok(())
    }
}

/// The stack limit global value, `*(*(vmctx + RUNTIME_LIMITS) + STACK_LIMIT)`,
/// which Cranelift checks in the prologue. The same for a host
/// trampoline, whose host context keeps that pointer at the same offset.
pub(crate) fn stack_limit(func: &mut ir::Function) -> Result<ir::GlobalValue> {
    let flags =
        func.dfg.mem_flags.insert(vm_flags()).map_err(|_| CompileError::codegen("too many distinct memory flags"))?;
    let vmctx = func.create_global_value(GlobalValueData::VMContext);
    let limits = func.create_global_value(GlobalValueData::Load {
        base: vmctx,
        offset: Offset32::new(VMOffsets::RUNTIME_LIMITS as i32),
        global_type: POINTER_TYPE,
        flags,
    });
    Ok(func.create_global_value(GlobalValueData::Load {
        base: limits,
        offset: Offset32::new(runtime_limits::STACK_LIMIT as i32),
        global_type: POINTER_TYPE,
        flags,
    }))
}

/// Translates one validated operator, or skips it in unreachable code.
fn translate_operator(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
    offset: usize,
) -> Result<()> {
    if !state.reachable {
        return skip_unreachable(env, builder, state, op, offset);
    }
    fuel_before_op(env, builder, state, op);
    translate_reachable(env, builder, state, op, offset)?;
    fuel_after_op(env, builder, state, op);
    epoch_after_op(env, builder, state, op);
    Ok(())
}

/// Translates one operator of reachable code.
fn translate_reachable(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
    offset: usize,
) -> Result<()> {
    match op {
        Operator::Unreachable => control::translate_unreachable(builder, state),
        Operator::Nop => {}
        Operator::Block { blockty } => control::translate_block(env, builder, state, *blockty, offset)?,
        Operator::Loop { blockty } => control::translate_loop(env, builder, state, *blockty, offset)?,
        Operator::If { blockty } => control::translate_if(env, builder, state, *blockty, offset)?,
        Operator::Else => control::translate_else(builder, state, offset)?,
        Operator::End => control::translate_end(env, builder, state, offset)?,
        Operator::Br { relative_depth } => control::translate_br(builder, state, *relative_depth, offset)?,
        Operator::BrIf { relative_depth } => control::translate_br_if(builder, state, *relative_depth, offset)?,
        Operator::BrTable { targets } => control::translate_br_table(builder, state, targets, offset)?,
        Operator::Return => control::translate_return(builder, state, offset)?,

        Operator::TryTable { try_table } => exceptions::translate_try_table(env, builder, state, try_table, offset)?,
        Operator::Throw { tag_index } => exceptions::translate_throw(env, builder, state, *tag_index, offset)?,
        Operator::ThrowRef => exceptions::translate_throw_ref(env, builder, state, offset)?,
        Operator::Try { blockty } => legacy::translate_try(env, builder, state, *blockty, offset)?,
        Operator::Catch { tag_index } => legacy::translate_catch(env, builder, state, Some(*tag_index), offset)?,
        Operator::CatchAll => legacy::translate_catch(env, builder, state, None, offset)?,
        Operator::Delegate { .. } => legacy::translate_delegate(env, builder, state, offset)?,
        Operator::Rethrow { relative_depth } => {
            legacy::translate_rethrow(env, builder, state, *relative_depth, offset)?
        }

        Operator::Call { function_index } => {
            call::translate_call(env, builder, state, *function_index, CallKind::Call, offset)?
        }
        Operator::CallIndirect { type_index, table_index } => {
            call::translate_call_indirect(env, builder, state, *type_index, *table_index, CallKind::Call, offset)?
        }
        Operator::ReturnCall { function_index } => {
            call::translate_call(env, builder, state, *function_index, CallKind::Tail, offset)?
        }
        Operator::ReturnCallIndirect { type_index, table_index } => {
            call::translate_call_indirect(env, builder, state, *type_index, *table_index, CallKind::Tail, offset)?
        }
        Operator::CallRef { type_index } => {
            call::translate_call_ref(env, builder, state, *type_index, CallKind::Call, offset)?
        }
        Operator::ReturnCallRef { type_index } => {
            call::translate_call_ref(env, builder, state, *type_index, CallKind::Tail, offset)?
        }
        Operator::BrOnNull { relative_depth } => {
            control::translate_br_on_null(builder, state, *relative_depth, offset)?
        }
        Operator::BrOnNonNull { relative_depth } => {
            control::translate_br_on_non_null(builder, state, *relative_depth, offset)?
        }
        Operator::RefAsNonNull => reference::translate_ref_as_non_null(builder, state, offset)?,

        Operator::Drop => {
            state.pop1(offset)?;
        }
        Operator::Select => reference::translate_select(builder, state, None, offset)?,
        Operator::TypedSelect { ty } => {
            let ty = val_type(*ty, &env.type_kinds, offset)?;
            reference::translate_select(builder, state, Some(ty), offset)?
        }

        Operator::LocalGet { local_index } => locals::translate_local_get(builder, state, *local_index, offset)?,
        Operator::LocalSet { local_index } => locals::translate_local_set(builder, state, *local_index, offset)?,
        Operator::LocalTee { local_index } => locals::translate_local_tee(builder, state, *local_index, offset)?,
        Operator::GlobalGet { global_index } => {
            global::translate_global_get(env, builder, state, *global_index, offset)?
        }
        Operator::GlobalSet { global_index } => {
            global::translate_global_set(env, builder, state, *global_index, offset)?
        }

        Operator::I32Load { memarg } => load(env, builder, state, memarg, LoadKind::Plain(ir::types::I32), offset)?,
        Operator::I64Load { memarg } => load(env, builder, state, memarg, LoadKind::Plain(ir::types::I64), offset)?,
        Operator::F32Load { memarg } => load(env, builder, state, memarg, LoadKind::Plain(ir::types::F32), offset)?,
        Operator::F64Load { memarg } => load(env, builder, state, memarg, LoadKind::Plain(ir::types::F64), offset)?,
        Operator::I32Load8S { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I32, 8, true), offset)?
        }
        Operator::I32Load8U { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I32, 8, false), offset)?
        }
        Operator::I32Load16S { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I32, 16, true), offset)?
        }
        Operator::I32Load16U { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I32, 16, false), offset)?
        }
        Operator::I64Load8S { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I64, 8, true), offset)?
        }
        Operator::I64Load8U { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I64, 8, false), offset)?
        }
        Operator::I64Load16S { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I64, 16, true), offset)?
        }
        Operator::I64Load16U { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I64, 16, false), offset)?
        }
        Operator::I64Load32S { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I64, 32, true), offset)?
        }
        Operator::I64Load32U { memarg } => {
            load(env, builder, state, memarg, LoadKind::Extend(ir::types::I64, 32, false), offset)?
        }
        Operator::I32Store { memarg }
        | Operator::I64Store { memarg }
        | Operator::F32Store { memarg }
        | Operator::F64Store { memarg } => store(env, builder, state, memarg, StoreKind::Plain, offset)?,
        Operator::I32Store8 { memarg } | Operator::I64Store8 { memarg } => {
            store(env, builder, state, memarg, StoreKind::Narrow(8), offset)?
        }
        Operator::I32Store16 { memarg } | Operator::I64Store16 { memarg } => {
            store(env, builder, state, memarg, StoreKind::Narrow(16), offset)?
        }
        Operator::I64Store32 { memarg } => store(env, builder, state, memarg, StoreKind::Narrow(32), offset)?,

        Operator::MemorySize { mem } => memory::translate_memory_size(env, builder, state, *mem, offset)?,
        Operator::MemoryGrow { mem } => memory::translate_memory_grow(env, builder, state, *mem, offset)?,
        Operator::MemoryFill { mem } => {
            bulk::translate_fill(env, builder, state, BuiltinIndex::MemoryFill, *mem, offset)?
        }
        Operator::MemoryCopy { dst_mem, src_mem } => {
            bulk::translate_copy(env, builder, state, BuiltinIndex::MemoryCopy, *dst_mem, *src_mem, offset)?
        }
        Operator::MemoryInit { data_index, mem } => {
            bulk::translate_init(env, builder, state, BuiltinIndex::MemoryInit, *data_index, *mem, offset)?
        }
        Operator::DataDrop { data_index } => {
            bulk::translate_segment_drop(env, builder, state, BuiltinIndex::DataDrop, *data_index)
        }

        Operator::TableGet { table } => table::translate_table_get(env, builder, state, *table, offset)?,
        Operator::TableSet { table } => table::translate_table_set(env, builder, state, *table, offset)?,
        Operator::TableSize { table } => table::translate_table_size(env, builder, state, *table, offset)?,
        Operator::TableGrow { table } => table::translate_table_grow(env, builder, state, *table, offset)?,
        Operator::TableFill { table } => {
            bulk::translate_fill(env, builder, state, BuiltinIndex::TableFill, *table, offset)?
        }
        Operator::TableCopy { dst_table, src_table } => {
            bulk::translate_copy(env, builder, state, BuiltinIndex::TableCopy, *dst_table, *src_table, offset)?
        }
        Operator::TableInit { elem_index, table } => {
            bulk::translate_init(env, builder, state, BuiltinIndex::TableInit, *elem_index, *table, offset)?
        }
        Operator::ElemDrop { elem_index } => {
            bulk::translate_segment_drop(env, builder, state, BuiltinIndex::ElemDrop, *elem_index)
        }

        Operator::RefNull { .. } => reference::translate_ref_null(builder, state),
        Operator::RefIsNull => reference::translate_ref_is_null(builder, state, offset)?,
        Operator::RefFunc { function_index } => {
            reference::translate_ref_func(env, builder, state, *function_index, offset)?
        }

        _ => {
            if !numeric::translate_numeric(op, builder, &mut state.stack)
                && !gc_ops::translate_gc(env, builder, state, op, offset)?
                && !simd::translate_simd(env, builder, state, op, offset)?
                && !atomic::translate_atomic(env, builder, state, op, offset)?
            {
                return Err(CompileError::unsupported(
                    format!("operator `{}` is not supported", operator_name(op)),
                    offset,
                ));
            }
        }
    }
    Ok(())
}

/// Unreachable code is only validated, but its block structure is tracked
/// so that the `else`/`end` that make code reachable again are found.
fn skip_unreachable(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
    offset: usize,
) -> Result<()> {
    match op {
        Operator::Block { blockty }
        | Operator::Loop { blockty }
        | Operator::If { blockty }
        | Operator::Try { blockty }
        | Operator::TryTable { try_table: wasmparser::TryTable { ty: blockty, .. } } => {
            block_signature(env, *blockty, offset)?;
            state.unreachable_depth += 1;
        }
        Operator::Else if state.unreachable_depth == 0 => control::translate_else(builder, state, offset)?,
        Operator::Catch { tag_index } if state.unreachable_depth == 0 => {
            legacy::translate_catch(env, builder, state, Some(*tag_index), offset)?
        }
        Operator::CatchAll if state.unreachable_depth == 0 => {
            legacy::translate_catch(env, builder, state, None, offset)?
        }
        Operator::Delegate { .. } if state.unreachable_depth == 0 => {
            legacy::translate_delegate(env, builder, state, offset)?
        }
        Operator::Delegate { .. } => state.unreachable_depth -= 1,
        Operator::End if state.unreachable_depth == 0 => control::translate_end(env, builder, state, offset)?,
        Operator::End => state.unreachable_depth -= 1,
        Operator::TypedSelect { ty } => {
            val_type(*ty, &env.type_kinds, offset)?;
        }
        _ => {}
    }
    Ok(())
}

fn load(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &wasmparser::MemArg,
    kind: LoadKind,
    offset: usize,
) -> Result<()> {
    memory::translate_load(env, builder, state, memarg, kind, offset)
}

fn store(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    memarg: &wasmparser::MemArg,
    kind: StoreKind,
    offset: usize,
) -> Result<()> {
    memory::translate_store(env, builder, state, memarg, kind, offset)
}

/// The frontend configuration of kiln's only target, x86-64: what the
/// stack-map spilling pass needs (the pointer type).
fn target_frontend_config(call_conv: CallConv) -> Result<TargetFrontendConfig> {
    let isa = cranelift_codegen::isa::lookup_by_name("x86_64")
        .map_err(|e| CompileError::codegen(format!("x86-64 backend unavailable: {e}")))?
        .finish(settings::Flags::new(settings::builder()))
        .map_err(|e| CompileError::codegen(format!("x86-64 backend unavailable: {e}")))?;
    let mut config = isa.frontend_config();
    config.default_call_conv = call_conv;
    Ok(config)
}
