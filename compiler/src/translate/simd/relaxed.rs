//! The relaxed-SIMD operators, each with one deterministic lowering.
//!
//! The relaxed-SIMD proposal lets each of these operators return any of a
//! few results, so that an engine can pick the fastest instruction of the
//! CPU at hand. kiln picks one fixed result for every target and every CPU
//! feature set, the semantics the header records as "deterministic
//! (kiln 1)" (`kiln_format::RelaxedSimd`, SPEC.md 3.11): an artifact
//! computes the same values whether it was compiled for `--cpu baseline`
//! or `--cpu native`, on whatever host it runs.
//!
//! Every choice but one is Wasmtime's `relaxed_simd_deterministic` one:
//!
//! - `relaxed_swizzle` is `i8x16.swizzle` (0 for indices of 16 and more);
//! - `relaxed_trunc_*` are the saturating `trunc_sat_*` (NaN to 0, out of
//!   range lanes to the nearest bound);
//! - `relaxed_laneselect` is `v128.bitselect`, bit by bit;
//! - `relaxed_min`/`relaxed_max` are `f32x4`/`f64x2.min`/`max` (NaN
//!   propagates, `-0 < +0`);
//! - `relaxed_q15mulr_s` is `i16x8.q15mulr_sat_s`;
//! - `relaxed_dot_i8x16_i7x16_s` reads both operands as signed bytes and
//!   adds each pair of products with wrap-around in 16 bits; the `_add_s`
//!   form then adds each pair of those sums, widened to 32 bits, and `c`.
//!
//! The exception is `relaxed_madd`/`relaxed_nmadd`: Wasmtime's deterministic
//! mode fuses them, which on a CPU without FMA (kilnc's baseline,
//! x86-64-v2, has none) means a call to libm's `fma` per lane. kiln's code
//! calls no library, so it computes `a * b` rounded, then `+ c` rounded
//! (the product negated first for `nmadd`), which costs two SSE
//! instructions everywhere. Cranelift never contracts a multiplication and
//! an addition into a fused one, so the result stays unfused even when the
//! code may use FMA.

use cranelift_codegen::ir::types::{F32X4, F64X2, I16X8, I32X4, I8X16};
use cranelift_codegen::ir::Opcode;
use kiln_format::RelaxedSimd;
use wasmparser::Operator;

use super::lowering::Lowering;

/// The semantics of [`relaxed_lowering`], which every artifact's header
/// records.
pub(crate) const RELAXED_SIMD: RelaxedSimd = RelaxedSimd::DETERMINISTIC_KILN_1;

/// The lowering of `op`, or `None` if it is not a relaxed-SIMD operator.
pub(super) fn relaxed_lowering(op: &Operator<'_>) -> Option<Lowering> {
    use Lowering::*;
    use Operator as O;
    Some(match *op {
        O::I8x16RelaxedSwizzle => Binary(Opcode::Swizzle, I8X16),
        O::I32x4RelaxedTruncF32x4S => Convert(Opcode::FcvtToSintSat, F32X4, I32X4),
        O::I32x4RelaxedTruncF32x4U => Convert(Opcode::FcvtToUintSat, F32X4, I32X4),
        O::I32x4RelaxedTruncF64x2SZero => TruncSatF64x2Zero(true),
        O::I32x4RelaxedTruncF64x2UZero => TruncSatF64x2Zero(false),
        O::F32x4RelaxedMadd => MulAdd(F32X4, false),
        O::F32x4RelaxedNmadd => MulAdd(F32X4, true),
        O::F64x2RelaxedMadd => MulAdd(F64X2, false),
        O::F64x2RelaxedNmadd => MulAdd(F64X2, true),
        O::I8x16RelaxedLaneselect
        | O::I16x8RelaxedLaneselect
        | O::I32x4RelaxedLaneselect
        | O::I64x2RelaxedLaneselect => Bitselect,
        O::F32x4RelaxedMin => Binary(Opcode::Fmin, F32X4),
        O::F32x4RelaxedMax => Binary(Opcode::Fmax, F32X4),
        O::F64x2RelaxedMin => Binary(Opcode::Fmin, F64X2),
        O::F64x2RelaxedMax => Binary(Opcode::Fmax, F64X2),
        O::I16x8RelaxedQ15mulrS => Binary(Opcode::SqmulRoundSat, I16X8),
        O::I16x8RelaxedDotI8x16I7x16S => Dot(I8X16),
        O::I32x4RelaxedDotI8x16I7x16AddS => DotAdd,
        _ => return None,
    })
}
