//! Locals: parameters and declared locals as Cranelift variables.

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::ValType;

use super::state::{FuncState, Local};
use super::types::clif_type;
use crate::{CompileError, Result};

/// Declares a variable for a local of type `ty`. Externref variables are
/// spilled around calls and recorded in stack maps, so the GC finds them.
fn declare_local(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, ty: ValType) -> Local {
    let var = builder.declare_var(clif_type(ty));
    if ty.is_counted_ref() {
        builder.declare_var_needs_stack_map(var);
    }
    let local = Local { var };
    state.locals.push(local);
    local
}

/// Declares the parameters, defined from the entry block's parameters
/// (the first of which is the vmctx).
pub(crate) fn declare_params(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    entry: ir::Block,
    params: &[ValType],
) -> Result<()> {
    for (i, &ty) in params.iter().enumerate() {
        let local = declare_local(builder, state, ty);
        let value = builder
            .block_params(entry)
            .get(i + 1)
            .copied()
            .ok_or_else(|| CompileError::codegen("function signature has fewer parameters than its type"))?;
        builder.def_var(local.var, value);
    }
    Ok(())
}

/// Declares `count` locals of type `ty`, all starting at zero (null for
/// references).
pub(crate) fn declare_locals(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, count: u32, ty: ValType) {
    if count == 0 {
        return;
    }
    let zero = match ty {
        ValType::I32 => builder.ins().iconst(ir::types::I32, 0),
        ValType::I64 | ValType::Ref(_) => builder.ins().iconst(ir::types::I64, 0),
        ValType::F32 => builder.ins().f32const(0.0),
        ValType::F64 => builder.ins().f64const(0.0),
        ValType::V128 => {
            let zero = builder.func.dfg.constants.insert(vec![0u8; 16].into());
            builder.ins().vconst(ir::types::I8X16, zero)
        }
    };
    for _ in 0..count {
        let local = declare_local(builder, state, ty);
        builder.def_var(local.var, zero);
    }
}

fn local(state: &FuncState, index: u32, offset: usize) -> Result<Local> {
    state
        .locals
        .get(index as usize)
        .copied()
        .ok_or_else(|| CompileError::invalid(format!("unknown local {index}"), offset))
}

/// `local.get`.
pub(crate) fn translate_local_get(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    index: u32,
    offset: usize,
) -> Result<()> {
    let local = local(state, index, offset)?;
    let value = builder.use_var(local.var);
    state.stack.push(value);
    Ok(())
}

/// `local.set`.
pub(crate) fn translate_local_set(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    index: u32,
    offset: usize,
) -> Result<()> {
    let local = local(state, index, offset)?;
    let value = state.pop1(offset)?;
    builder.def_var(local.var, value);
    Ok(())
}

/// `local.tee`.
pub(crate) fn translate_local_tee(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    index: u32,
    offset: usize,
) -> Result<()> {
    let local = local(state, index, offset)?;
    let value = state.peek1(offset)?;
    builder.def_var(local.var, value);
    Ok(())
}
