//! The SIMD entry point of the function translator.

use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

use super::lanes::apply;
use super::lowering::lowering;
use super::memory::translate_memory;
use crate::translate::env::FuncEnvironment;
use crate::translate::operators::{is_simd_operator, operator_name};
use crate::translate::state::FuncState;
use crate::{CompileError, Result};

/// Translates `op` if it is a SIMD operator, popping its operands from and
/// pushing its result to the operand stack; `Ok(false)`, touching nothing,
/// for any other operator.
///
/// Vector operands and results are `i8x16` values (see the module docs).
/// Every SIMD operator has a lowering; the error is for one that a future
/// wasmparser might add.
pub(crate) fn translate_simd(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
    offset: usize,
) -> Result<bool> {
    if !is_simd_operator(op) {
        return Ok(false);
    }
    if translate_memory(env, builder, state, op, offset)? {
        return Ok(true);
    }
    let Some(lowering) = lowering(op) else {
        return Err(CompileError::unsupported(format!("operator `{}` is not supported", operator_name(op)), offset));
    };
    apply(builder, state, lowering, offset)?;
    Ok(true)
}
