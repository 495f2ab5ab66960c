//! `i31` references (SPEC 3.14): the integer lives in bits 1..=31 of the
//! reference word, whose bit 0 is set; nothing is allocated.

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{gc, TrapCode};

use super::state::FuncState;
use crate::abi;
use crate::Result;

/// `ref.i31`: `((x & 0x7fff_ffff) << 1) | 1`; the shift of the `i32`
/// drops bit 31.
pub(crate) fn translate_ref_i31(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, offset: usize) -> Result<()> {
    let value = state.pop1(offset)?;
    let shifted = builder.ins().ishl_imm_u(value, 1);
    let wide = builder.ins().uextend(ir::types::I64, shifted);
    let tagged = builder.ins().bor_imm_u(wide, gc::I31_TAG as i64);
    state.stack.push(tagged);
    Ok(())
}

/// `i31.get_s` (`signed`) and `i31.get_u`: the low 32 bits shifted right by
/// one, arithmetically or logically; null traps with `null_i31_reference`.
pub(crate) fn translate_i31_get(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    signed: bool,
    offset: usize,
) -> Result<()> {
    let reference = state.pop1(offset)?;
    builder.ins().trapz(reference, abi::clif_trap_code(TrapCode::NULL_I31_REFERENCE));
    let low = builder.ins().ireduce(ir::types::I32, reference);
    let value = if signed { builder.ins().sshr_imm_u(low, 1) } else { builder.ins().ushr_imm_u(low, 1) };
    state.stack.push(value);
    Ok(())
}
