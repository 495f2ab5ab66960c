//! Reference operators and `select`. References are pointers; null is 0.

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{TrapCode, ValType};

use super::env::FuncEnvironment;
use super::state::FuncState;
use crate::abi::{self, POINTER_TYPE};
use crate::Result;

/// `ref.null t`.
pub(crate) fn translate_ref_null(builder: &mut FunctionBuilder<'_>, state: &mut FuncState) {
    let null = builder.ins().iconst(POINTER_TYPE, 0);
    state.stack.push(null);
}

/// `ref.is_null`.
pub(crate) fn translate_ref_is_null(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    offset: usize,
) -> Result<()> {
    let reference = state.pop1(offset)?;
    let is_null = builder.ins().icmp_imm_u(IntCC::Equal, reference, 0);
    let is_null = builder.ins().uextend(ir::types::I32, is_null);
    state.stack.push(is_null);
    Ok(())
}

/// `ref.as_non_null`: traps with `null_reference` on null, and leaves the
/// reference on the stack.
pub(crate) fn translate_ref_as_non_null(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    offset: usize,
) -> Result<()> {
    let reference = state.peek1(offset)?;
    builder.ins().trapz(reference, abi::clif_trap_code(TrapCode::NULL_REFERENCE));
    Ok(())
}

/// `ref.func f`: the address of the function's `VMFuncRef` in the VMContext.
pub(crate) fn translate_ref_func(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    function_index: u32,
    offset: usize,
) -> Result<()> {
    let at = env.func_ref_offset(function_index, offset)?;
    let reference = builder.ins().iadd_imm_u(state.vmctx, i64::from(at));
    state.stack.push(reference);
    Ok(())
}

/// `select` and `select t`: pops the condition, then the two choices.
pub(crate) fn translate_select(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    ty: Option<ValType>,
    offset: usize,
) -> Result<()> {
    let condition = state.pop1(offset)?;
    let (if_true, if_false) = state.pop2(offset)?;
    let chosen = builder.ins().select(condition, if_true, if_false);
    match ty {
        Some(ty) => state.push_typed(builder, chosen, ty),
        None => state.stack.push(chosen),
    }
    Ok(())
}
