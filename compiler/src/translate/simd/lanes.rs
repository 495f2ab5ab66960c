//! The lowerings of the [`Lowering`] table: operand bitcasts, the
//! instruction or short sequence, and the result back in the `v128` carrier.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F64X2, I16, I32, I32X4, I64X2, I8, I8X16};
use cranelift_codegen::ir::{self, ConstantData, InstBuilder, Type};
use cranelift_frontend::FunctionBuilder;

use super::lowering::Lowering;
use super::vector::{as_lanes, to_v128, vector_const, V128};
use crate::translate::state::FuncState;
use crate::Result;

/// A vector result, pushed as the `v128` carrier.
fn push_vector(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, value: ir::Value) {
    let value = to_v128(builder, value);
    state.stack.push(value);
}

/// Pops one vector operand as lanes of `ty`.
fn pop_lanes(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, ty: Type, offset: usize) -> Result<ir::Value> {
    let value = state.pop1(offset)?;
    Ok(as_lanes(builder, value, ty))
}

/// Pops two vector operands (in push order) as lanes of `ty`.
fn pop2_lanes(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    ty: Type,
    offset: usize,
) -> Result<(ir::Value, ir::Value)> {
    let (a, b) = state.pop2(offset)?;
    Ok((as_lanes(builder, a, ty), as_lanes(builder, b, ty)))
}

/// Widens the low or high half of `x`'s lanes.
fn widen(builder: &mut FunctionBuilder<'_>, x: ir::Value, high: bool, signed: bool) -> ir::Value {
    match (high, signed) {
        (false, true) => builder.ins().swiden_low(x),
        (true, true) => builder.ins().swiden_high(x),
        (false, false) => builder.ins().uwiden_low(x),
        (true, false) => builder.ins().uwiden_high(x),
    }
}

/// Adjacent lanes of `a` and `b` multiplied in twice their width and each
/// pair of products added, wrapping.
///
/// For `i16x8` operands this is the shape the backend turns into `pmaddwd`;
/// the sums cannot overflow except for 2 * (-32768 * -32768), which wraps
/// as `i32x4.dot_i16x8_s` specifies. For `i8x16` operands only
/// 2 * (-128 * -128) overflows 16 bits, and it wraps to -32768.
fn dot(builder: &mut FunctionBuilder<'_>, a: ir::Value, b: ir::Value) -> ir::Value {
    let a_low = builder.ins().swiden_low(a);
    let b_low = builder.ins().swiden_low(b);
    let low = builder.ins().imul(a_low, b_low);
    let a_high = builder.ins().swiden_high(a);
    let b_high = builder.ins().swiden_high(b);
    let high = builder.ins().imul(a_high, b_high);
    builder.ins().iadd_pairwise(low, high)
}

/// An `i8` truth value as Wasm's `i32` 0 or 1.
fn bool_to_i32(builder: &mut FunctionBuilder<'_>, truth: ir::Value) -> ir::Value {
    builder.ins().uextend(I32, truth)
}

/// Emits `lowering`, popping its operands from and pushing its result to
/// the operand stack.
pub(super) fn apply(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    lowering: Lowering,
    offset: usize,
) -> Result<()> {
    match lowering {
        Lowering::Const(bits) => {
            let value = vector_const(builder, V128, bits);
            state.stack.push(value);
        }
        Lowering::Shuffle(lanes) => {
            let (a, b) = pop2_lanes(builder, state, I8X16, offset)?;
            let mask = builder.func.dfg.immediates.push(ConstantData::from(lanes.to_vec()));
            let value = builder.ins().shuffle(a, b, mask);
            push_vector(builder, state, value);
        }
        Lowering::Splat(ty) => {
            let scalar = state.pop1(offset)?;
            let scalar = narrow_to_lane(builder, scalar, ty);
            let value = builder.ins().splat(ty, scalar);
            push_vector(builder, state, value);
        }
        Lowering::ExtractLane(ty, lane, signed) => {
            let x = pop_lanes(builder, state, ty, offset)?;
            let scalar = builder.ins().extractlane(x, lane);
            let scalar = match ty.lane_type() {
                I8 | I16 if signed => builder.ins().sextend(I32, scalar),
                I8 | I16 => builder.ins().uextend(I32, scalar),
                _ => scalar,
            };
            state.stack.push(scalar);
        }
        Lowering::ReplaceLane(ty, lane) => {
            let scalar = state.pop1(offset)?;
            let x = pop_lanes(builder, state, ty, offset)?;
            let scalar = narrow_to_lane(builder, scalar, ty);
            let value = builder.ins().insertlane(x, scalar, lane);
            push_vector(builder, state, value);
        }
        Lowering::Unary(opcode, ty) => {
            let x = pop_lanes(builder, state, ty, offset)?;
            let (inst, dfg) = builder.ins().Unary(opcode, ty, x);
            let value = dfg.first_result(inst);
            push_vector(builder, state, value);
        }
        Lowering::Binary(opcode, ty) => {
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            let (inst, dfg) = builder.ins().Binary(opcode, ty, a, b);
            let value = dfg.first_result(inst);
            push_vector(builder, state, value);
        }
        Lowering::Shift(opcode, ty) => {
            // Cranelift takes vector shift counts modulo the lane width,
            // which is exactly Wasm's rule.
            let amount = state.pop1(offset)?;
            let x = pop_lanes(builder, state, ty, offset)?;
            let (inst, dfg) = builder.ins().Binary(opcode, ty, x, amount);
            let value = dfg.first_result(inst);
            push_vector(builder, state, value);
        }
        Lowering::IntCompare(cc, ty) => {
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            let value = builder.ins().icmp(cc, a, b);
            push_vector(builder, state, value);
        }
        Lowering::FloatCompare(cc, ty) => {
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            let value = builder.ins().fcmp(cc, a, b);
            push_vector(builder, state, value);
        }
        Lowering::AndNot => {
            let (a, b) = state.pop2(offset)?;
            let value = builder.ins().band_not(a, b);
            state.stack.push(value);
        }
        Lowering::Bitselect => {
            let mask = state.pop1(offset)?;
            let (a, b) = state.pop2(offset)?;
            // Wasm takes `a` where the mask is set: Cranelift's operand order
            // puts the mask first.
            let value = builder.ins().bitselect(mask, a, b);
            state.stack.push(value);
        }
        Lowering::AnyTrue => {
            let x = state.pop1(offset)?;
            let truth = builder.ins().vany_true(x);
            let value = bool_to_i32(builder, truth);
            state.stack.push(value);
        }
        Lowering::AllTrue(ty) => {
            let x = pop_lanes(builder, state, ty, offset)?;
            let truth = builder.ins().vall_true(x);
            let value = bool_to_i32(builder, truth);
            state.stack.push(value);
        }
        Lowering::Bitmask(ty) => {
            let x = pop_lanes(builder, state, ty, offset)?;
            let value = builder.ins().vhigh_bits(I32, x);
            state.stack.push(value);
        }
        Lowering::Narrow(ty, signed) => {
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            // `unarrow` reads signed lanes and saturates them to the
            // unsigned range, as `narrow_*_u` requires.
            let value = if signed { builder.ins().snarrow(a, b) } else { builder.ins().unarrow(a, b) };
            push_vector(builder, state, value);
        }
        Lowering::Widen(ty, high, signed) => {
            let x = pop_lanes(builder, state, ty, offset)?;
            let value = widen(builder, x, high, signed);
            push_vector(builder, state, value);
        }
        Lowering::ExtMul(ty, high, signed) => {
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            let a = widen(builder, a, high, signed);
            let b = widen(builder, b, high, signed);
            let value = builder.ins().imul(a, b);
            push_vector(builder, state, value);
        }
        Lowering::ExtAddPairwise(ty, signed) => {
            let x = pop_lanes(builder, state, ty, offset)?;
            let low = widen(builder, x, false, signed);
            let high = widen(builder, x, true, signed);
            let value = builder.ins().iadd_pairwise(low, high);
            push_vector(builder, state, value);
        }
        Lowering::Dot(ty) => {
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            let value = dot(builder, a, b);
            push_vector(builder, state, value);
        }
        Lowering::DotAdd => {
            let c = pop_lanes(builder, state, I32X4, offset)?;
            let (a, b) = pop2_lanes(builder, state, I8X16, offset)?;
            // The 16-bit sums widened and added in pairs, the shape the
            // backend turns into `pmaddwd` with ones: exact in 32 bits.
            let sums = dot(builder, a, b);
            let low = builder.ins().swiden_low(sums);
            let high = builder.ins().swiden_high(sums);
            let quads = builder.ins().iadd_pairwise(low, high);
            let value = builder.ins().iadd(quads, c);
            push_vector(builder, state, value);
        }
        Lowering::MulAdd(ty, negate) => {
            let c = pop_lanes(builder, state, ty, offset)?;
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            // Two roundings, never `fma`: see the `relaxed` module. Negating
            // `a` is exact, so `-a * b` is `-(a * b)`.
            let a = if negate { builder.ins().fneg(a) } else { a };
            let product = builder.ins().fmul(a, b);
            let value = builder.ins().fadd(product, c);
            push_vector(builder, state, value);
        }
        Lowering::PseudoMin(ty) => {
            // `b < a ? b : a`: a NaN in either lane selects `a`, unlike
            // `fmin`. The operand order is the one the backend maps to
            // `minps`/`minpd`.
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            let b_less = builder.ins().fcmp(FloatCC::LessThan, b, a);
            let b_less = as_lanes(builder, b_less, ty);
            let value = builder.ins().bitselect(b_less, b, a);
            push_vector(builder, state, value);
        }
        Lowering::PseudoMax(ty) => {
            let (a, b) = pop2_lanes(builder, state, ty, offset)?;
            let a_less = builder.ins().fcmp(FloatCC::LessThan, a, b);
            let a_less = as_lanes(builder, a_less, ty);
            let value = builder.ins().bitselect(a_less, b, a);
            push_vector(builder, state, value);
        }
        Lowering::Convert(opcode, from, to) => {
            let x = pop_lanes(builder, state, from, offset)?;
            let (inst, dfg) = builder.ins().Unary(opcode, to, x);
            let value = dfg.first_result(inst);
            push_vector(builder, state, value);
        }
        Lowering::TruncSatF64x2Zero(signed) => {
            // x86-64 has no 64-bit lane conversion below AVX-512; the backend
            // lowers exactly this pattern (conversion to i64x2 narrowed with
            // a zero vector) to `cvttpd2dq` and its fix-ups.
            let x = pop_lanes(builder, state, F64X2, offset)?;
            let zero = vector_const(builder, I64X2, 0);
            let value = if signed {
                let wide = builder.ins().fcvt_to_sint_sat(I64X2, x);
                builder.ins().snarrow(wide, zero)
            } else {
                let wide = builder.ins().fcvt_to_uint_sat(I64X2, x);
                builder.ins().uunarrow(wide, zero)
            };
            push_vector(builder, state, value);
        }
        Lowering::ConvertLowI32x4(signed) => {
            // Matched by the backend as one conversion of the low lanes.
            let x = pop_lanes(builder, state, I32X4, offset)?;
            let value = if signed {
                let wide = builder.ins().swiden_low(x);
                builder.ins().fcvt_from_sint(F64X2, wide)
            } else {
                let wide = builder.ins().uwiden_low(x);
                builder.ins().fcvt_from_uint(F64X2, wide)
            };
            push_vector(builder, state, value);
        }
        Lowering::Demote => {
            let x = pop_lanes(builder, state, F64X2, offset)?;
            let value = builder.ins().fvdemote(x);
            push_vector(builder, state, value);
        }
        Lowering::Promote => {
            let x = pop_lanes(builder, state, ir::types::F32X4, offset)?;
            let value = builder.ins().fvpromote_low(x);
            push_vector(builder, state, value);
        }
    }
    Ok(())
}

/// Wasm passes 8- and 16-bit lane values as `i32`; Cranelift wants the lane
/// type itself.
fn narrow_to_lane(builder: &mut FunctionBuilder<'_>, scalar: ir::Value, ty: Type) -> ir::Value {
    match ty.lane_type() {
        lane @ (I8 | I16) => builder.ins().ireduce(lane, scalar),
        _ => scalar,
    }
}
