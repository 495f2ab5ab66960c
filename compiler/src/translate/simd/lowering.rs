//! The lowering of every SIMD operator that does not touch memory, as one
//! table (the `numeric` module's approach, extended to lane types).
//!
//! Cranelift's vector instructions were designed for Wasm, so most
//! operators are one instruction whose semantics already match the
//! specification, and the x86-64 backend supplies the fix-ups SSE needs:
//!
//! - shift counts are taken modulo the lane width (the backend masks them;
//!   `i8x16` shifts and `i64x2.shr_s` have no SSE instruction and get
//!   sequences);
//! - `swizzle` yields 0 for indices of 16 and more (`pshufb` alone only
//!   does so for indices with the top bit set; the backend adds 0x70 with
//!   unsigned saturation first);
//! - `fmin`/`fmax` propagate NaN and order `-0 < +0`, unlike `minps`;
//! - `fcvt_to_sint_sat`/`fcvt_to_uint_sat` on `f32x4` map NaN to 0 and
//!   saturate, where `cvttps2dq` gives `0x80000000`;
//! - `fcvt_from_uint` on `i32x4` rounds correctly, through two halves;
//! - `i64x2` orderings need `pcmpgtq` (SSE4.2), `i8x16.popcnt` uses
//!   `pshufb` nibble tables (SSSE3), the rounding operators `roundps`
//!   (SSE4.1).
//!
//! The relaxed-SIMD operators (`relaxed`) reuse these lowerings, with one
//! fixed result each.
//!
//! The operators without a single Cranelift counterpart are written as the
//! short sequences the x86-64 backend recognises (extended multiplication,
//! pairwise addition, dot product, pseudo-min/max, the `f64x2` to `i32x4`
//! truncations and the low-half conversions), so each still becomes one or
//! a few SSE4.1 instructions. `simd::tests` compiles every operator for the
//! baseline CPU at both optimisation levels, and the spec suite checks the
//! results.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32X4, F64X2, I16X8, I32X4, I64X2, I8X16};
use cranelift_codegen::ir::{Opcode, Type};
use wasmparser::Operator;

use super::relaxed::relaxed_lowering;

/// How one SIMD operator is expressed in Cranelift IR. `Type`s name the
/// vector type the operands are bitcast to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lowering {
    /// `v128.const`: the 16 bytes, little-endian.
    Const(u128),
    /// `i8x16.shuffle` with its 16 lane indices (each below 32).
    Shuffle([u8; 16]),
    /// A scalar broadcast to every lane; `i32` operands are narrowed for
    /// 8- and 16-bit lanes.
    Splat(Type),
    /// One lane as a scalar; 8- and 16-bit lanes are extended to `i32`,
    /// signed when the flag says so.
    ExtractLane(Type, u8, bool),
    /// One lane replaced by a scalar.
    ReplaceLane(Type, u8),
    /// One operand, result of the same type.
    Unary(Opcode, Type),
    /// Two operands, result of the same type.
    Binary(Opcode, Type),
    /// A vector and an `i32` shift count.
    Shift(Opcode, Type),
    /// Lane-wise integer comparison giving all-ones or all-zeros lanes.
    IntCompare(IntCC, Type),
    /// Lane-wise float comparison giving all-ones or all-zeros lanes.
    FloatCompare(FloatCC, Type),
    /// `v128.andnot`: `a & !b`.
    AndNot,
    /// `v128.bitselect`.
    Bitselect,
    /// `v128.any_true`, as an `i32` 0 or 1.
    AnyTrue,
    /// `*.all_true`, as an `i32` 0 or 1.
    AllTrue(Type),
    /// `*.bitmask`: the top bit of each lane, lane 0 in bit 0.
    Bitmask(Type),
    /// Two vectors of the given type narrowed, with saturation, into one of
    /// half-width lanes; signed or unsigned results.
    Narrow(Type, bool),
    /// The low or high half of the lanes widened: (narrow type, high, signed).
    Widen(Type, bool, bool),
    /// Widening multiplication of the low or high halves: (narrow type,
    /// high, signed).
    ExtMul(Type, bool, bool),
    /// Adjacent lanes widened and added: (narrow type, signed).
    ExtAddPairwise(Type, bool),
    /// Adjacent lanes of the given narrow type multiplied, widened, and each
    /// pair of products added, wrapping: `i32x4.dot_i16x8_s` (`I16X8`) and
    /// `i16x8.relaxed_dot_i8x16_i7x16_s` (`I8X16`, both operands signed).
    Dot(Type),
    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: the `I8X16` [`Lowering::Dot`]
    /// of the first two operands, adjacent sums widened and added, plus the
    /// third operand.
    DotAdd,
    /// `relaxed_madd` (`a * b + c`) or, with the flag, `relaxed_nmadd`
    /// (`-(a * b) + c`), unfused: the product is rounded before the sum.
    MulAdd(Type, bool),
    /// `pmin`: `b < a ? b : a`, lane-wise.
    PseudoMin(Type),
    /// `pmax`: `a < b ? b : a`, lane-wise.
    PseudoMax(Type),
    /// A lane-wise conversion instruction whose controlling type is its
    /// result: (opcode, operand type, result type).
    Convert(Opcode, Type, Type),
    /// `i32x4.trunc_sat_f64x2_{s,u}_zero`; the flag is signedness.
    TruncSatF64x2Zero(bool),
    /// `f64x2.convert_low_i32x4_{s,u}`; the flag is signedness.
    ConvertLowI32x4(bool),
    /// `f32x4.demote_f64x2_zero`.
    Demote,
    /// `f64x2.promote_low_f32x4`.
    Promote,
}

/// The lowering of `op`, or `None` if it is not a SIMD operator outside
/// memory access. The relaxed-SIMD operators come from [`relaxed_lowering`].
pub(super) fn lowering(op: &Operator<'_>) -> Option<Lowering> {
    use Lowering::*;
    use Operator as O;
    Some(match *op {
        O::V128Const { value } => Const(u128::from_le_bytes(*value.bytes())),
        O::I8x16Shuffle { lanes } => Shuffle(lanes),
        O::I8x16Swizzle => Binary(Opcode::Swizzle, I8X16),

        O::I8x16Splat => Splat(I8X16),
        O::I16x8Splat => Splat(I16X8),
        O::I32x4Splat => Splat(I32X4),
        O::I64x2Splat => Splat(I64X2),
        O::F32x4Splat => Splat(F32X4),
        O::F64x2Splat => Splat(F64X2),

        O::I8x16ExtractLaneS { lane } => ExtractLane(I8X16, lane, true),
        O::I8x16ExtractLaneU { lane } => ExtractLane(I8X16, lane, false),
        O::I16x8ExtractLaneS { lane } => ExtractLane(I16X8, lane, true),
        O::I16x8ExtractLaneU { lane } => ExtractLane(I16X8, lane, false),
        O::I32x4ExtractLane { lane } => ExtractLane(I32X4, lane, false),
        O::I64x2ExtractLane { lane } => ExtractLane(I64X2, lane, false),
        O::F32x4ExtractLane { lane } => ExtractLane(F32X4, lane, false),
        O::F64x2ExtractLane { lane } => ExtractLane(F64X2, lane, false),
        O::I8x16ReplaceLane { lane } => ReplaceLane(I8X16, lane),
        O::I16x8ReplaceLane { lane } => ReplaceLane(I16X8, lane),
        O::I32x4ReplaceLane { lane } => ReplaceLane(I32X4, lane),
        O::I64x2ReplaceLane { lane } => ReplaceLane(I64X2, lane),
        O::F32x4ReplaceLane { lane } => ReplaceLane(F32X4, lane),
        O::F64x2ReplaceLane { lane } => ReplaceLane(F64X2, lane),

        O::I8x16Eq => IntCompare(IntCC::Equal, I8X16),
        O::I8x16Ne => IntCompare(IntCC::NotEqual, I8X16),
        O::I8x16LtS => IntCompare(IntCC::SignedLessThan, I8X16),
        O::I8x16LtU => IntCompare(IntCC::UnsignedLessThan, I8X16),
        O::I8x16GtS => IntCompare(IntCC::SignedGreaterThan, I8X16),
        O::I8x16GtU => IntCompare(IntCC::UnsignedGreaterThan, I8X16),
        O::I8x16LeS => IntCompare(IntCC::SignedLessThanOrEqual, I8X16),
        O::I8x16LeU => IntCompare(IntCC::UnsignedLessThanOrEqual, I8X16),
        O::I8x16GeS => IntCompare(IntCC::SignedGreaterThanOrEqual, I8X16),
        O::I8x16GeU => IntCompare(IntCC::UnsignedGreaterThanOrEqual, I8X16),
        O::I16x8Eq => IntCompare(IntCC::Equal, I16X8),
        O::I16x8Ne => IntCompare(IntCC::NotEqual, I16X8),
        O::I16x8LtS => IntCompare(IntCC::SignedLessThan, I16X8),
        O::I16x8LtU => IntCompare(IntCC::UnsignedLessThan, I16X8),
        O::I16x8GtS => IntCompare(IntCC::SignedGreaterThan, I16X8),
        O::I16x8GtU => IntCompare(IntCC::UnsignedGreaterThan, I16X8),
        O::I16x8LeS => IntCompare(IntCC::SignedLessThanOrEqual, I16X8),
        O::I16x8LeU => IntCompare(IntCC::UnsignedLessThanOrEqual, I16X8),
        O::I16x8GeS => IntCompare(IntCC::SignedGreaterThanOrEqual, I16X8),
        O::I16x8GeU => IntCompare(IntCC::UnsignedGreaterThanOrEqual, I16X8),
        O::I32x4Eq => IntCompare(IntCC::Equal, I32X4),
        O::I32x4Ne => IntCompare(IntCC::NotEqual, I32X4),
        O::I32x4LtS => IntCompare(IntCC::SignedLessThan, I32X4),
        O::I32x4LtU => IntCompare(IntCC::UnsignedLessThan, I32X4),
        O::I32x4GtS => IntCompare(IntCC::SignedGreaterThan, I32X4),
        O::I32x4GtU => IntCompare(IntCC::UnsignedGreaterThan, I32X4),
        O::I32x4LeS => IntCompare(IntCC::SignedLessThanOrEqual, I32X4),
        O::I32x4LeU => IntCompare(IntCC::UnsignedLessThanOrEqual, I32X4),
        O::I32x4GeS => IntCompare(IntCC::SignedGreaterThanOrEqual, I32X4),
        O::I32x4GeU => IntCompare(IntCC::UnsignedGreaterThanOrEqual, I32X4),
        // i64x2 has only the signed orderings; `pcmpgtq` is SSE4.2.
        O::I64x2Eq => IntCompare(IntCC::Equal, I64X2),
        O::I64x2Ne => IntCompare(IntCC::NotEqual, I64X2),
        O::I64x2LtS => IntCompare(IntCC::SignedLessThan, I64X2),
        O::I64x2GtS => IntCompare(IntCC::SignedGreaterThan, I64X2),
        O::I64x2LeS => IntCompare(IntCC::SignedLessThanOrEqual, I64X2),
        O::I64x2GeS => IntCompare(IntCC::SignedGreaterThanOrEqual, I64X2),

        // As for scalars: only `ne` holds on unordered lanes.
        O::F32x4Eq => FloatCompare(FloatCC::Equal, F32X4),
        O::F32x4Ne => FloatCompare(FloatCC::NotEqual, F32X4),
        O::F32x4Lt => FloatCompare(FloatCC::LessThan, F32X4),
        O::F32x4Gt => FloatCompare(FloatCC::GreaterThan, F32X4),
        O::F32x4Le => FloatCompare(FloatCC::LessThanOrEqual, F32X4),
        O::F32x4Ge => FloatCompare(FloatCC::GreaterThanOrEqual, F32X4),
        O::F64x2Eq => FloatCompare(FloatCC::Equal, F64X2),
        O::F64x2Ne => FloatCompare(FloatCC::NotEqual, F64X2),
        O::F64x2Lt => FloatCompare(FloatCC::LessThan, F64X2),
        O::F64x2Gt => FloatCompare(FloatCC::GreaterThan, F64X2),
        O::F64x2Le => FloatCompare(FloatCC::LessThanOrEqual, F64X2),
        O::F64x2Ge => FloatCompare(FloatCC::GreaterThanOrEqual, F64X2),

        O::V128Not => Unary(Opcode::Bnot, I8X16),
        O::V128And => Binary(Opcode::Band, I8X16),
        O::V128AndNot => AndNot,
        O::V128Or => Binary(Opcode::Bor, I8X16),
        O::V128Xor => Binary(Opcode::Bxor, I8X16),
        O::V128Bitselect => Bitselect,
        O::V128AnyTrue => AnyTrue,

        O::I8x16Abs => Unary(Opcode::Iabs, I8X16),
        O::I8x16Neg => Unary(Opcode::Ineg, I8X16),
        O::I8x16Popcnt => Unary(Opcode::Popcnt, I8X16),
        O::I8x16AllTrue => AllTrue(I8X16),
        O::I8x16Bitmask => Bitmask(I8X16),
        O::I8x16NarrowI16x8S => Narrow(I16X8, true),
        O::I8x16NarrowI16x8U => Narrow(I16X8, false),
        O::I8x16Shl => Shift(Opcode::Ishl, I8X16),
        O::I8x16ShrS => Shift(Opcode::Sshr, I8X16),
        O::I8x16ShrU => Shift(Opcode::Ushr, I8X16),
        O::I8x16Add => Binary(Opcode::Iadd, I8X16),
        O::I8x16AddSatS => Binary(Opcode::SaddSat, I8X16),
        O::I8x16AddSatU => Binary(Opcode::UaddSat, I8X16),
        O::I8x16Sub => Binary(Opcode::Isub, I8X16),
        O::I8x16SubSatS => Binary(Opcode::SsubSat, I8X16),
        O::I8x16SubSatU => Binary(Opcode::UsubSat, I8X16),
        O::I8x16MinS => Binary(Opcode::Smin, I8X16),
        O::I8x16MinU => Binary(Opcode::Umin, I8X16),
        O::I8x16MaxS => Binary(Opcode::Smax, I8X16),
        O::I8x16MaxU => Binary(Opcode::Umax, I8X16),
        O::I8x16AvgrU => Binary(Opcode::AvgRound, I8X16),

        O::I16x8ExtAddPairwiseI8x16S => ExtAddPairwise(I8X16, true),
        O::I16x8ExtAddPairwiseI8x16U => ExtAddPairwise(I8X16, false),
        O::I16x8Abs => Unary(Opcode::Iabs, I16X8),
        O::I16x8Neg => Unary(Opcode::Ineg, I16X8),
        O::I16x8Q15MulrSatS => Binary(Opcode::SqmulRoundSat, I16X8),
        O::I16x8AllTrue => AllTrue(I16X8),
        O::I16x8Bitmask => Bitmask(I16X8),
        O::I16x8NarrowI32x4S => Narrow(I32X4, true),
        O::I16x8NarrowI32x4U => Narrow(I32X4, false),
        O::I16x8ExtendLowI8x16S => Widen(I8X16, false, true),
        O::I16x8ExtendHighI8x16S => Widen(I8X16, true, true),
        O::I16x8ExtendLowI8x16U => Widen(I8X16, false, false),
        O::I16x8ExtendHighI8x16U => Widen(I8X16, true, false),
        O::I16x8Shl => Shift(Opcode::Ishl, I16X8),
        O::I16x8ShrS => Shift(Opcode::Sshr, I16X8),
        O::I16x8ShrU => Shift(Opcode::Ushr, I16X8),
        O::I16x8Add => Binary(Opcode::Iadd, I16X8),
        O::I16x8AddSatS => Binary(Opcode::SaddSat, I16X8),
        O::I16x8AddSatU => Binary(Opcode::UaddSat, I16X8),
        O::I16x8Sub => Binary(Opcode::Isub, I16X8),
        O::I16x8SubSatS => Binary(Opcode::SsubSat, I16X8),
        O::I16x8SubSatU => Binary(Opcode::UsubSat, I16X8),
        O::I16x8Mul => Binary(Opcode::Imul, I16X8),
        O::I16x8MinS => Binary(Opcode::Smin, I16X8),
        O::I16x8MinU => Binary(Opcode::Umin, I16X8),
        O::I16x8MaxS => Binary(Opcode::Smax, I16X8),
        O::I16x8MaxU => Binary(Opcode::Umax, I16X8),
        O::I16x8AvgrU => Binary(Opcode::AvgRound, I16X8),
        O::I16x8ExtMulLowI8x16S => ExtMul(I8X16, false, true),
        O::I16x8ExtMulHighI8x16S => ExtMul(I8X16, true, true),
        O::I16x8ExtMulLowI8x16U => ExtMul(I8X16, false, false),
        O::I16x8ExtMulHighI8x16U => ExtMul(I8X16, true, false),

        O::I32x4ExtAddPairwiseI16x8S => ExtAddPairwise(I16X8, true),
        O::I32x4ExtAddPairwiseI16x8U => ExtAddPairwise(I16X8, false),
        O::I32x4Abs => Unary(Opcode::Iabs, I32X4),
        O::I32x4Neg => Unary(Opcode::Ineg, I32X4),
        O::I32x4AllTrue => AllTrue(I32X4),
        O::I32x4Bitmask => Bitmask(I32X4),
        O::I32x4ExtendLowI16x8S => Widen(I16X8, false, true),
        O::I32x4ExtendHighI16x8S => Widen(I16X8, true, true),
        O::I32x4ExtendLowI16x8U => Widen(I16X8, false, false),
        O::I32x4ExtendHighI16x8U => Widen(I16X8, true, false),
        O::I32x4Shl => Shift(Opcode::Ishl, I32X4),
        O::I32x4ShrS => Shift(Opcode::Sshr, I32X4),
        O::I32x4ShrU => Shift(Opcode::Ushr, I32X4),
        O::I32x4Add => Binary(Opcode::Iadd, I32X4),
        O::I32x4Sub => Binary(Opcode::Isub, I32X4),
        O::I32x4Mul => Binary(Opcode::Imul, I32X4),
        O::I32x4MinS => Binary(Opcode::Smin, I32X4),
        O::I32x4MinU => Binary(Opcode::Umin, I32X4),
        O::I32x4MaxS => Binary(Opcode::Smax, I32X4),
        O::I32x4MaxU => Binary(Opcode::Umax, I32X4),
        O::I32x4DotI16x8S => Dot(I16X8),
        O::I32x4ExtMulLowI16x8S => ExtMul(I16X8, false, true),
        O::I32x4ExtMulHighI16x8S => ExtMul(I16X8, true, true),
        O::I32x4ExtMulLowI16x8U => ExtMul(I16X8, false, false),
        O::I32x4ExtMulHighI16x8U => ExtMul(I16X8, true, false),

        O::I64x2Abs => Unary(Opcode::Iabs, I64X2),
        O::I64x2Neg => Unary(Opcode::Ineg, I64X2),
        O::I64x2AllTrue => AllTrue(I64X2),
        O::I64x2Bitmask => Bitmask(I64X2),
        O::I64x2ExtendLowI32x4S => Widen(I32X4, false, true),
        O::I64x2ExtendHighI32x4S => Widen(I32X4, true, true),
        O::I64x2ExtendLowI32x4U => Widen(I32X4, false, false),
        O::I64x2ExtendHighI32x4U => Widen(I32X4, true, false),
        O::I64x2Shl => Shift(Opcode::Ishl, I64X2),
        O::I64x2ShrS => Shift(Opcode::Sshr, I64X2),
        O::I64x2ShrU => Shift(Opcode::Ushr, I64X2),
        O::I64x2Add => Binary(Opcode::Iadd, I64X2),
        O::I64x2Sub => Binary(Opcode::Isub, I64X2),
        O::I64x2Mul => Binary(Opcode::Imul, I64X2),
        O::I64x2ExtMulLowI32x4S => ExtMul(I32X4, false, true),
        O::I64x2ExtMulHighI32x4S => ExtMul(I32X4, true, true),
        O::I64x2ExtMulLowI32x4U => ExtMul(I32X4, false, false),
        O::I64x2ExtMulHighI32x4U => ExtMul(I32X4, true, false),

        O::F32x4Ceil => Unary(Opcode::Ceil, F32X4),
        O::F32x4Floor => Unary(Opcode::Floor, F32X4),
        O::F32x4Trunc => Unary(Opcode::Trunc, F32X4),
        O::F32x4Nearest => Unary(Opcode::Nearest, F32X4),
        O::F32x4Abs => Unary(Opcode::Fabs, F32X4),
        O::F32x4Neg => Unary(Opcode::Fneg, F32X4),
        O::F32x4Sqrt => Unary(Opcode::Sqrt, F32X4),
        O::F32x4Add => Binary(Opcode::Fadd, F32X4),
        O::F32x4Sub => Binary(Opcode::Fsub, F32X4),
        O::F32x4Mul => Binary(Opcode::Fmul, F32X4),
        O::F32x4Div => Binary(Opcode::Fdiv, F32X4),
        O::F32x4Min => Binary(Opcode::Fmin, F32X4),
        O::F32x4Max => Binary(Opcode::Fmax, F32X4),
        O::F32x4PMin => PseudoMin(F32X4),
        O::F32x4PMax => PseudoMax(F32X4),
        O::F64x2Ceil => Unary(Opcode::Ceil, F64X2),
        O::F64x2Floor => Unary(Opcode::Floor, F64X2),
        O::F64x2Trunc => Unary(Opcode::Trunc, F64X2),
        O::F64x2Nearest => Unary(Opcode::Nearest, F64X2),
        O::F64x2Abs => Unary(Opcode::Fabs, F64X2),
        O::F64x2Neg => Unary(Opcode::Fneg, F64X2),
        O::F64x2Sqrt => Unary(Opcode::Sqrt, F64X2),
        O::F64x2Add => Binary(Opcode::Fadd, F64X2),
        O::F64x2Sub => Binary(Opcode::Fsub, F64X2),
        O::F64x2Mul => Binary(Opcode::Fmul, F64X2),
        O::F64x2Div => Binary(Opcode::Fdiv, F64X2),
        O::F64x2Min => Binary(Opcode::Fmin, F64X2),
        O::F64x2Max => Binary(Opcode::Fmax, F64X2),
        O::F64x2PMin => PseudoMin(F64X2),
        O::F64x2PMax => PseudoMax(F64X2),

        O::I32x4TruncSatF32x4S => Convert(Opcode::FcvtToSintSat, F32X4, I32X4),
        O::I32x4TruncSatF32x4U => Convert(Opcode::FcvtToUintSat, F32X4, I32X4),
        O::F32x4ConvertI32x4S => Convert(Opcode::FcvtFromSint, I32X4, F32X4),
        O::F32x4ConvertI32x4U => Convert(Opcode::FcvtFromUint, I32X4, F32X4),
        O::I32x4TruncSatF64x2SZero => TruncSatF64x2Zero(true),
        O::I32x4TruncSatF64x2UZero => TruncSatF64x2Zero(false),
        O::F64x2ConvertLowI32x4S => ConvertLowI32x4(true),
        O::F64x2ConvertLowI32x4U => ConvertLowI32x4(false),
        O::F32x4DemoteF64x2Zero => Demote,
        O::F64x2PromoteLowF32x4 => Promote,

        _ => return relaxed_lowering(op),
    })
}
