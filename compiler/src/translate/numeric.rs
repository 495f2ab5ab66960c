//! Numeric operators: constants, integer and float arithmetic, comparisons,
//! conversions and reinterpretations.
//!
//! Every non-SIMD numeric operator of WebAssembly 2.0 maps onto one Cranelift
//! instruction (or a short fixed sequence) whose semantics already match the
//! Wasm specification on x86-64:
//!
//! - Shift and rotate counts: Cranelift masks them modulo the bit width, as
//!   Wasm does, so no explicit `band` is needed.
//! - `sdiv`/`udiv`/`srem`/`urem` trap `INTEGER_DIVISION_BY_ZERO` on a zero
//!   divisor and `sdiv` traps `INTEGER_OVERFLOW` on `MIN / -1`; the x64
//!   `srem` lowering special-cases a `-1` divisor to produce 0, so
//!   `MIN % -1 == 0` without a trap, as Wasm requires.
//! - `fmin`/`fmax` follow the Wasm NaN rules and order `-0 < +0`.
//! - `fcvt_to_sint`/`fcvt_to_uint` trap `BAD_CONVERSION_TO_INTEGER` on NaN and
//!   `INTEGER_OVERFLOW` when the truncated value is out of range (values in
//!   `(-1, 0]` convert to 0 for the unsigned forms); the `_sat` forms never
//!   trap and map NaN to 0.
//! - `fcvt_from_uint` from `i64` rounds to nearest-even directly (no double
//!   rounding through a signed conversion).
//! - `ceil`/`floor`/`trunc`/`nearest` lower to `roundss`/`roundsd` when
//!   SSE4.1 is available; without it they would become libcalls.
//! - `fabs`/`fneg`/`fcopysign` are pure sign-bit operations, preserving NaN
//!   payloads as Wasm requires.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, F64, I16, I32, I64, I8};
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, Opcode, Type};
use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

/// How one numeric operator is expressed in Cranelift IR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lowering {
    /// `iconst` of the type; the bits are zero-extended from the type's
    /// width, the form the verifier accepts for narrow constants.
    IntConst(Type, u64),
    /// `f32const` with these exact bits (NaN payloads included).
    F32Const(u32),
    /// `f64const` with these exact bits (NaN payloads included).
    F64Const(u64),
    /// One operand, result of the operand's type.
    Unary(Opcode),
    /// Two operands `(lhs, rhs)`, result of the left operand's type.
    Binary(Opcode),
    /// One operand, result of the given type (the instruction's controlling
    /// type is its result type for every conversion used here).
    Convert(Opcode, Type),
    /// Bit-for-bit reinterpretation as the given type.
    Bitcast(Type),
    /// Integer `== 0`, as an `i32` 0 or 1.
    Eqz,
    /// Integer comparison, as an `i32` 0 or 1.
    IntCompare(IntCC),
    /// Float comparison, as an `i32` 0 or 1.
    FloatCompare(FloatCC),
    /// Sign-extends the low bits (of the given narrow type) of the operand
    /// back to the operand's own type.
    SignExtendFrom(Type),
}

/// The lowering of `op`, or `None` if it is not a (non-SIMD) numeric
/// operator.
fn lowering(op: &Operator<'_>) -> Option<Lowering> {
    use Lowering::*;
    use Operator as O;
    Some(match *op {
        // The verifier rejects narrow `iconst` immediates with bits set above
        // the type's width, so the i32 goes through u32.
        O::I32Const { value } => IntConst(I32, u64::from(value.cast_unsigned())),
        O::I64Const { value } => IntConst(I64, value.cast_unsigned()),
        O::F32Const { value } => F32Const(value.bits()),
        O::F64Const { value } => F64Const(value.bits()),

        O::I32Eqz | O::I64Eqz => Eqz,
        O::I32Eq | O::I64Eq => IntCompare(IntCC::Equal),
        O::I32Ne | O::I64Ne => IntCompare(IntCC::NotEqual),
        O::I32LtS | O::I64LtS => IntCompare(IntCC::SignedLessThan),
        O::I32LtU | O::I64LtU => IntCompare(IntCC::UnsignedLessThan),
        O::I32GtS | O::I64GtS => IntCompare(IntCC::SignedGreaterThan),
        O::I32GtU | O::I64GtU => IntCompare(IntCC::UnsignedGreaterThan),
        O::I32LeS | O::I64LeS => IntCompare(IntCC::SignedLessThanOrEqual),
        O::I32LeU | O::I64LeU => IntCompare(IntCC::UnsignedLessThanOrEqual),
        O::I32GeS | O::I64GeS => IntCompare(IntCC::SignedGreaterThanOrEqual),
        O::I32GeU | O::I64GeU => IntCompare(IntCC::UnsignedGreaterThanOrEqual),

        // Wasm `eq`/`lt`/... are false on NaN, `ne` is true: the ordered
        // condition codes plus the unordered-or `NotEqual`.
        O::F32Eq | O::F64Eq => FloatCompare(FloatCC::Equal),
        O::F32Ne | O::F64Ne => FloatCompare(FloatCC::NotEqual),
        O::F32Lt | O::F64Lt => FloatCompare(FloatCC::LessThan),
        O::F32Gt | O::F64Gt => FloatCompare(FloatCC::GreaterThan),
        O::F32Le | O::F64Le => FloatCompare(FloatCC::LessThanOrEqual),
        O::F32Ge | O::F64Ge => FloatCompare(FloatCC::GreaterThanOrEqual),

        O::I32Clz | O::I64Clz => Unary(Opcode::Clz),
        O::I32Ctz | O::I64Ctz => Unary(Opcode::Ctz),
        O::I32Popcnt | O::I64Popcnt => Unary(Opcode::Popcnt),

        O::I32Add | O::I64Add => Binary(Opcode::Iadd),
        O::I32Sub | O::I64Sub => Binary(Opcode::Isub),
        O::I32Mul | O::I64Mul => Binary(Opcode::Imul),
        O::I32DivS | O::I64DivS => Binary(Opcode::Sdiv),
        O::I32DivU | O::I64DivU => Binary(Opcode::Udiv),
        O::I32RemS | O::I64RemS => Binary(Opcode::Srem),
        O::I32RemU | O::I64RemU => Binary(Opcode::Urem),
        O::I32And | O::I64And => Binary(Opcode::Band),
        O::I32Or | O::I64Or => Binary(Opcode::Bor),
        O::I32Xor | O::I64Xor => Binary(Opcode::Bxor),
        O::I32Shl | O::I64Shl => Binary(Opcode::Ishl),
        O::I32ShrS | O::I64ShrS => Binary(Opcode::Sshr),
        O::I32ShrU | O::I64ShrU => Binary(Opcode::Ushr),
        O::I32Rotl | O::I64Rotl => Binary(Opcode::Rotl),
        O::I32Rotr | O::I64Rotr => Binary(Opcode::Rotr),

        O::F32Abs | O::F64Abs => Unary(Opcode::Fabs),
        O::F32Neg | O::F64Neg => Unary(Opcode::Fneg),
        O::F32Ceil | O::F64Ceil => Unary(Opcode::Ceil),
        O::F32Floor | O::F64Floor => Unary(Opcode::Floor),
        O::F32Trunc | O::F64Trunc => Unary(Opcode::Trunc),
        O::F32Nearest | O::F64Nearest => Unary(Opcode::Nearest),
        O::F32Sqrt | O::F64Sqrt => Unary(Opcode::Sqrt),

        O::F32Add | O::F64Add => Binary(Opcode::Fadd),
        O::F32Sub | O::F64Sub => Binary(Opcode::Fsub),
        O::F32Mul | O::F64Mul => Binary(Opcode::Fmul),
        O::F32Div | O::F64Div => Binary(Opcode::Fdiv),
        O::F32Min | O::F64Min => Binary(Opcode::Fmin),
        O::F32Max | O::F64Max => Binary(Opcode::Fmax),
        O::F32Copysign | O::F64Copysign => Binary(Opcode::Fcopysign),

        O::I32WrapI64 => Convert(Opcode::Ireduce, I32),
        O::I64ExtendI32S => Convert(Opcode::Sextend, I64),
        O::I64ExtendI32U => Convert(Opcode::Uextend, I64),

        O::I32TruncF32S | O::I32TruncF64S => Convert(Opcode::FcvtToSint, I32),
        O::I32TruncF32U | O::I32TruncF64U => Convert(Opcode::FcvtToUint, I32),
        O::I64TruncF32S | O::I64TruncF64S => Convert(Opcode::FcvtToSint, I64),
        O::I64TruncF32U | O::I64TruncF64U => Convert(Opcode::FcvtToUint, I64),
        O::I32TruncSatF32S | O::I32TruncSatF64S => Convert(Opcode::FcvtToSintSat, I32),
        O::I32TruncSatF32U | O::I32TruncSatF64U => Convert(Opcode::FcvtToUintSat, I32),
        O::I64TruncSatF32S | O::I64TruncSatF64S => Convert(Opcode::FcvtToSintSat, I64),
        O::I64TruncSatF32U | O::I64TruncSatF64U => Convert(Opcode::FcvtToUintSat, I64),

        O::F32ConvertI32S | O::F32ConvertI64S => Convert(Opcode::FcvtFromSint, F32),
        O::F32ConvertI32U | O::F32ConvertI64U => Convert(Opcode::FcvtFromUint, F32),
        O::F64ConvertI32S | O::F64ConvertI64S => Convert(Opcode::FcvtFromSint, F64),
        O::F64ConvertI32U | O::F64ConvertI64U => Convert(Opcode::FcvtFromUint, F64),
        O::F32DemoteF64 => Convert(Opcode::Fdemote, F32),
        O::F64PromoteF32 => Convert(Opcode::Fpromote, F64),

        O::I32ReinterpretF32 => Bitcast(I32),
        O::I64ReinterpretF64 => Bitcast(I64),
        O::F32ReinterpretI32 => Bitcast(F32),
        O::F64ReinterpretI64 => Bitcast(F64),

        O::I32Extend8S | O::I64Extend8S => SignExtendFrom(I8),
        O::I32Extend16S | O::I64Extend16S => SignExtendFrom(I16),
        O::I64Extend32S => SignExtendFrom(I32),

        _ => return None,
    })
}

/// Pops an operand. Validation guarantees it is there, so an empty stack is
/// a bug in the caller's stack bookkeeping.
fn pop(stack: &mut Vec<ir::Value>) -> ir::Value {
    stack.pop().expect("validated Wasm has every operand of a numeric operator on the stack")
}

/// Widens a Cranelift `i8` truth value to Wasm's `i32` 0 or 1.
fn bool_to_i32(builder: &mut FunctionBuilder<'_>, truth: ir::Value) -> ir::Value {
    builder.ins().uextend(I32, truth)
}

/// Translates `op` if it is a numeric operator, popping its operands from and
/// pushing its results to `stack`. Returns `false` (touching nothing) for any
/// other operator.
///
/// Binary operators take their left operand from below the right one (the
/// right operand is the top of `stack`). Values are carried as `i32`, `i64`,
/// `f32` and `f64` (see `abi::clif_type`); every numeric operator pushes
/// exactly one value, with Wasm's boolean results as `i32` 0 or 1.
pub(crate) fn translate_numeric(
    op: &Operator<'_>,
    builder: &mut FunctionBuilder<'_>,
    stack: &mut Vec<ir::Value>,
) -> bool {
    let Some(lowering) = lowering(op) else {
        return false;
    };
    let result = match lowering {
        Lowering::IntConst(ty, bits) => builder.ins().iconst(ty, bits.cast_signed()),
        Lowering::F32Const(bits) => builder.ins().f32const(Ieee32::with_bits(bits)),
        Lowering::F64Const(bits) => builder.ins().f64const(Ieee64::with_bits(bits)),
        Lowering::Unary(opcode) => {
            let x = pop(stack);
            let ty = builder.func.dfg.value_type(x);
            let (inst, dfg) = builder.ins().Unary(opcode, ty, x);
            dfg.first_result(inst)
        }
        Lowering::Binary(opcode) => {
            let rhs = pop(stack);
            let lhs = pop(stack);
            let ty = builder.func.dfg.value_type(lhs);
            let (inst, dfg) = builder.ins().Binary(opcode, ty, lhs, rhs);
            dfg.first_result(inst)
        }
        Lowering::Convert(opcode, to) => {
            let x = pop(stack);
            let (inst, dfg) = builder.ins().Unary(opcode, to, x);
            dfg.first_result(inst)
        }
        Lowering::Bitcast(to) => {
            let x = pop(stack);
            // Scalar to scalar of the same size: no byte order is involved.
            builder.ins().bitcast(to, MemFlagsData::new(), x)
        }
        Lowering::Eqz => {
            let x = pop(stack);
            let truth = builder.ins().icmp_imm_u(IntCC::Equal, x, 0);
            bool_to_i32(builder, truth)
        }
        Lowering::IntCompare(cc) => {
            let rhs = pop(stack);
            let lhs = pop(stack);
            let truth = builder.ins().icmp(cc, lhs, rhs);
            bool_to_i32(builder, truth)
        }
        Lowering::FloatCompare(cc) => {
            let rhs = pop(stack);
            let lhs = pop(stack);
            let truth = builder.ins().fcmp(cc, lhs, rhs);
            bool_to_i32(builder, truth)
        }
        Lowering::SignExtendFrom(narrow) => {
            let x = pop(stack);
            let ty = builder.func.dfg.value_type(x);
            let low = builder.ins().ireduce(narrow, x);
            builder.ins().sextend(ty, low)
        }
    };
    stack.push(result);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::control::ControlPlane;
    use cranelift_codegen::ir::{AbiParam, Function, InstructionData, Signature, TrapCode, UserFuncName};
    use cranelift_codegen::isa::{self, CallConv, OwnedTargetIsa, TargetIsa};
    use cranelift_codegen::settings::{self, Configurable};
    use cranelift_codegen::{verifier, Context};
    use cranelift_frontend::FunctionBuilderContext;

    /// kilnc's baseline x86-64 target. Both optimisation levels are checked
    /// because the mid-end rewrites some of these instructions at `speed`.
    fn isas() -> Vec<OwnedTargetIsa> {
        ["none", "speed"]
            .into_iter()
            .map(|opt_level| {
                let mut flags = settings::builder();
                flags.set("opt_level", opt_level).unwrap();
                let mut isa = isa::lookup_by_name("x86_64").unwrap();
                for feature in ["has_sse3", "has_ssse3", "has_sse41", "has_sse42", "has_popcnt"] {
                    isa.enable(feature).unwrap();
                }
                isa.finish(settings::Flags::new(flags)).unwrap()
            })
            .collect()
    }

    /// A function taking `params`, running `ops` over them and returning
    /// whatever they leave on the stack, which must have the types `results`.
    fn build(params: &[Type], ops: &[Operator<'static>], results: &[Type]) -> Function {
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.extend(params.iter().map(|&ty| AbiParam::new(ty)));
        sig.returns.extend(results.iter().map(|&ty| AbiParam::new(ty)));
        let mut func = Function::with_name_signature(UserFuncName::default(), sig);
        let mut fctx = FunctionBuilderContext::new();
        let mut builder = FunctionBuilder::new(&mut func, &mut fctx);
        let block = builder.create_block();
        builder.append_block_params_for_function_params(block);
        builder.switch_to_block(block);
        builder.seal_block(block);
        let mut stack = builder.block_params(block).to_vec();
        for op in ops {
            assert!(translate_numeric(op, &mut builder, &mut stack), "{op:?} was not translated");
        }
        let types: Vec<Type> = stack.iter().map(|&v| builder.func.dfg.value_type(v)).collect();
        assert_eq!(types, results, "result types of {ops:?}");
        builder.ins().return_(&stack);
        builder.finalize(isas()[0].frontend_config());
        func
    }

    /// Verifies and compiles `func`, checks that it needs no relocation (so
    /// no libcall), and returns the distinct trap codes of its trap sites.
    fn compile(func: &Function, isa: &dyn TargetIsa) -> Vec<TrapCode> {
        if let Err(errors) = verifier::verify_function(func, isa) {
            panic!("verifier errors:\n{errors}\nin\n{}", func.display());
        }
        let mut ctx = Context::for_function(func.clone());
        let code = match ctx.compile(isa, &mut ControlPlane::default()) {
            Ok(code) => code,
            Err(error) => panic!("compilation failed: {:?}\nin\n{}", error.inner, func.display()),
        };
        assert!(code.buffer.relocs().is_empty(), "relocations {:?} in\n{}", code.buffer.relocs(), func.display());
        let mut codes: Vec<TrapCode> = Vec::new();
        for trap in code.buffer.traps() {
            if !codes.contains(&trap.code) {
                codes.push(trap.code);
            }
        }
        codes.sort_by_key(|code| code.as_raw());
        codes
    }

    fn sorted(mut codes: Vec<TrapCode>) -> Vec<TrapCode> {
        codes.sort_by_key(|code| code.as_raw());
        codes
    }

    /// `(operator, operand types, result type)` for every operator handled.
    fn cases() -> Vec<(Operator<'static>, Vec<Type>, Type)> {
        let mut all = Vec::new();
        macro_rules! group {
            ([$($param:ident),*] -> $result:ident : $($op:expr),+ $(,)?) => {
                all.extend([$($op),+].into_iter().map(|op| (op, vec![$($param),*], $result)));
            };
        }
        macro_rules! cases {
            ($( [$($param:ident),*] -> $result:ident : $($op:expr),+ ; )*) => {{
                use Operator::*;
                $( group!([$($param),*] -> $result : $($op),+); )*
            }};
        }
        let f32c = |bits: u32| Operator::F32Const { value: f32::from_bits(bits).into() };
        let f64c = |bits: u64| Operator::F64Const { value: f64::from_bits(bits).into() };
        cases! {
            [] -> I32: I32Const { value: 0 }, I32Const { value: -1 }, I32Const { value: i32::MIN }, I32Const { value: i32::MAX };
            [] -> I64: I64Const { value: 0 }, I64Const { value: -1 }, I64Const { value: i64::MIN }, I64Const { value: i64::MAX };
            [] -> F32: f32c(0), f32c(0x8000_0000), f32c(0x3f80_0000), f32c(0x7fa0_0001), f32c(0xffc0_0000);
            [] -> F64: f64c(0), f64c(0x8000_0000_0000_0000), f64c(0x7ff0_0000_0000_0001), f64c(0xfff8_0000_0000_0000);

            [I32] -> I32: I32Eqz, I32Clz, I32Ctz, I32Popcnt, I32Extend8S, I32Extend16S;
            [I64] -> I32: I64Eqz, I32WrapI64;
            [I32, I32] -> I32: I32Eq, I32Ne, I32LtS, I32LtU, I32GtS, I32GtU, I32LeS, I32LeU, I32GeS, I32GeU,
                I32Add, I32Sub, I32Mul, I32DivS, I32DivU, I32RemS, I32RemU,
                I32And, I32Or, I32Xor, I32Shl, I32ShrS, I32ShrU, I32Rotl, I32Rotr;
            [I64, I64] -> I32: I64Eq, I64Ne, I64LtS, I64LtU, I64GtS, I64GtU, I64LeS, I64LeU, I64GeS, I64GeU;
            [I64] -> I64: I64Clz, I64Ctz, I64Popcnt, I64Extend8S, I64Extend16S, I64Extend32S;
            [I64, I64] -> I64: I64Add, I64Sub, I64Mul, I64DivS, I64DivU, I64RemS, I64RemU,
                I64And, I64Or, I64Xor, I64Shl, I64ShrS, I64ShrU, I64Rotl, I64Rotr;
            [I32] -> I64: I64ExtendI32S, I64ExtendI32U;

            [F32, F32] -> I32: F32Eq, F32Ne, F32Lt, F32Gt, F32Le, F32Ge;
            [F64, F64] -> I32: F64Eq, F64Ne, F64Lt, F64Gt, F64Le, F64Ge;
            [F32] -> F32: F32Abs, F32Neg, F32Ceil, F32Floor, F32Trunc, F32Nearest, F32Sqrt;
            [F64] -> F64: F64Abs, F64Neg, F64Ceil, F64Floor, F64Trunc, F64Nearest, F64Sqrt;
            [F32, F32] -> F32: F32Add, F32Sub, F32Mul, F32Div, F32Min, F32Max, F32Copysign;
            [F64, F64] -> F64: F64Add, F64Sub, F64Mul, F64Div, F64Min, F64Max, F64Copysign;

            [F32] -> I32: I32TruncF32S, I32TruncF32U, I32TruncSatF32S, I32TruncSatF32U, I32ReinterpretF32;
            [F64] -> I32: I32TruncF64S, I32TruncF64U, I32TruncSatF64S, I32TruncSatF64U;
            [F32] -> I64: I64TruncF32S, I64TruncF32U, I64TruncSatF32S, I64TruncSatF32U;
            [F64] -> I64: I64TruncF64S, I64TruncF64U, I64TruncSatF64S, I64TruncSatF64U, I64ReinterpretF64;
            [I32] -> F32: F32ConvertI32S, F32ConvertI32U, F32ReinterpretI32;
            [I64] -> F32: F32ConvertI64S, F32ConvertI64U;
            [F64] -> F32: F32DemoteF64;
            [I32] -> F64: F64ConvertI32S, F64ConvertI32U;
            [I64] -> F64: F64ConvertI64S, F64ConvertI64U, F64ReinterpretI64;
            [F32] -> F64: F64PromoteF32;
        }
        all
    }

    /// The variant name of an operator, to count distinct operators.
    fn name(op: &Operator<'_>) -> String {
        let debug = format!("{op:?}");
        debug.split(|c: char| !c.is_alphanumeric()).next().unwrap_or_default().to_owned()
    }

    /// The trap codes Wasm requires each operator to be able to raise.
    fn expected_traps(op: &Operator<'_>) -> Vec<TrapCode> {
        use Operator as O;
        sorted(match op {
            O::I32DivS | O::I64DivS => vec![TrapCode::INTEGER_DIVISION_BY_ZERO, TrapCode::INTEGER_OVERFLOW],
            // `rem_s` of MIN by -1 is 0, not an overflow.
            O::I32DivU | O::I64DivU | O::I32RemS | O::I64RemS | O::I32RemU | O::I64RemU => {
                vec![TrapCode::INTEGER_DIVISION_BY_ZERO]
            }
            O::I32TruncF32S
            | O::I32TruncF32U
            | O::I32TruncF64S
            | O::I32TruncF64U
            | O::I64TruncF32S
            | O::I64TruncF32U
            | O::I64TruncF64S
            | O::I64TruncF64U => vec![TrapCode::BAD_CONVERSION_TO_INTEGER, TrapCode::INTEGER_OVERFLOW],
            _ => vec![],
        })
    }

    #[test]
    fn numeric_cases_cover_every_operator() {
        let mut names: Vec<String> = cases().iter().map(|(op, _, _)| name(op)).collect();
        names.sort();
        names.dedup();
        // Wasm 2.0 without SIMD: 4 constants, 22 integer comparisons, 12
        // float comparisons, 36 integer and 28 float arithmetic operators,
        // 25 MVP conversions, 5 sign extensions and 8 saturating truncations.
        assert_eq!(names.len(), 140, "{names:?}");
    }

    #[test]
    fn numeric_operators_verify_and_lower_without_libcalls() {
        for isa in isas() {
            for (op, params, result) in cases() {
                let func = build(&params, std::slice::from_ref(&op), &[result]);
                let traps = compile(&func, &*isa);
                assert_eq!(traps, expected_traps(&op), "trap codes of {op:?} at {}", isa.flags().opt_level());
            }
        }
    }

    #[test]
    fn numeric_ignores_other_operators() {
        use Operator as O;
        let others = [
            O::Nop,
            O::Unreachable,
            O::Drop,
            O::Select,
            O::Return,
            O::LocalGet { local_index: 0 },
            O::GlobalGet { global_index: 0 },
            O::MemorySize { mem: 0 },
            O::RefNull { hty: wasmparser::HeapType::FUNC },
            O::I32x4Add,
            O::F32x4Min,
            O::F64x2Sqrt,
            O::I8x16Popcnt,
            O::I32x4TruncSatF32x4S,
            O::F64x2ConvertLowI32x4U,
        ];
        let mut func = Function::with_name_signature(UserFuncName::default(), Signature::new(CallConv::SystemV));
        let mut fctx = FunctionBuilderContext::new();
        let mut builder = FunctionBuilder::new(&mut func, &mut fctx);
        let block = builder.create_block();
        builder.switch_to_block(block);
        let a = builder.ins().iconst(I32, 1);
        let b = builder.ins().iconst(I32, 2);
        let insts = builder.func.dfg.num_insts();
        let mut stack = vec![a, b];
        for op in &others {
            assert!(!translate_numeric(op, &mut builder, &mut stack), "{op:?} was translated");
        }
        assert_eq!(stack, [a, b]);
        assert_eq!(builder.func.dfg.num_insts(), insts);
    }

    /// The single instruction `ops` build whose opcode is `opcode`.
    fn inst_data(func: &Function, opcode: Opcode) -> InstructionData {
        let block = func.layout.entry_block().unwrap();
        let mut found = func.layout.block_insts(block).filter(|&inst| func.dfg.insts[inst].opcode() == opcode);
        let inst = found.next().unwrap_or_else(|| panic!("no {opcode} in\n{}", func.display()));
        assert!(found.next().is_none(), "several {opcode} in\n{}", func.display());
        func.dfg.insts[inst]
    }

    #[test]
    fn numeric_constants_keep_their_bits() {
        use Operator as O;
        let iconst = |op: Operator<'static>, ty: Type| match inst_data(&build(&[], &[op], &[ty]), Opcode::Iconst) {
            InstructionData::UnaryImm { imm, .. } => imm.bits() as u64,
            other => panic!("{other:?}"),
        };
        assert_eq!(iconst(O::I32Const { value: -1 }, I32), 0xffff_ffff);
        assert_eq!(iconst(O::I32Const { value: i32::MIN }, I32), 0x8000_0000);
        assert_eq!(iconst(O::I32Const { value: 7 }, I32), 7);
        assert_eq!(iconst(O::I64Const { value: -1 }, I64), u64::MAX);
        assert_eq!(iconst(O::I64Const { value: i64::MIN }, I64), 1 << 63);

        for bits in [0x7fa0_0001u32, 0xff80_0001, 0x8000_0000, 0x7f80_0000] {
            let op = O::F32Const { value: f32::from_bits(bits).into() };
            match inst_data(&build(&[], &[op], &[F32]), Opcode::F32const) {
                InstructionData::UnaryIeee32 { imm, .. } => assert_eq!(imm.bits(), bits),
                other => panic!("{other:?}"),
            }
        }
        for bits in [0x7ff4_0000_0000_0001u64, 0xfff0_0000_dead_beef, 0x8000_0000_0000_0000] {
            let op = O::F64Const { value: f64::from_bits(bits).into() };
            match inst_data(&build(&[], &[op], &[F64]), Opcode::F64const) {
                InstructionData::UnaryIeee64 { imm, .. } => assert_eq!(imm.bits(), bits),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn numeric_binary_operands_keep_wasm_order() {
        use Operator as O;
        let checks: [(Operator<'static>, Type, Type, Opcode); 8] = [
            (O::I32Sub, I32, I32, Opcode::Isub),
            (O::I64DivS, I64, I64, Opcode::Sdiv),
            (O::I32Shl, I32, I32, Opcode::Ishl),
            (O::I64Rotr, I64, I64, Opcode::Rotr),
            (O::I32LtS, I32, I32, Opcode::Icmp),
            (O::F64Div, F64, F64, Opcode::Fdiv),
            (O::F32Copysign, F32, F32, Opcode::Fcopysign),
            (O::F32Lt, F32, I32, Opcode::Fcmp),
        ];
        for (op, operand, result, opcode) in checks {
            let func = build(&[operand, operand], std::slice::from_ref(&op), &[result]);
            let params = func.dfg.block_params(func.layout.entry_block().unwrap()).to_vec();
            let data = inst_data(&func, opcode);
            assert_eq!(data.arguments(&func.dfg.value_lists), &params[..], "{op:?}");
        }
    }

    #[test]
    fn numeric_comparisons_use_wasm_conditions() {
        use Operator as O;
        let float = |op: Operator<'static>| match inst_data(&build(&[F64, F64], &[op], &[I32]), Opcode::Fcmp) {
            InstructionData::FloatCompare { cond, .. } => cond,
            other => panic!("{other:?}"),
        };
        // Only `ne` holds on unordered operands.
        assert_eq!(float(O::F64Ne), FloatCC::NotEqual);
        for op in [O::F64Eq, O::F64Lt, O::F64Gt, O::F64Le, O::F64Ge] {
            let cond = float(op.clone());
            assert!(
                matches!(
                    cond,
                    FloatCC::Equal
                        | FloatCC::LessThan
                        | FloatCC::GreaterThan
                        | FloatCC::LessThanOrEqual
                        | FloatCC::GreaterThanOrEqual
                ),
                "{op:?} uses {cond}, which is not an ordered comparison"
            );
        }
    }

    #[test]
    fn numeric_signed_remainder_of_min_by_minus_one_does_not_trap() {
        use Operator as O;
        for isa in isas() {
            let rem32 = build(&[], &[O::I32Const { value: i32::MIN }, O::I32Const { value: -1 }, O::I32RemS], &[I32]);
            let rem64 = build(&[], &[O::I64Const { value: i64::MIN }, O::I64Const { value: -1 }, O::I64RemS], &[I64]);
            for func in [rem32, rem64] {
                let traps = compile(&func, &*isa);
                assert!(!traps.contains(&TrapCode::INTEGER_OVERFLOW), "{traps:?} in\n{}", func.display());
            }
            // The matching division still overflows.
            let div32 = build(&[], &[O::I32Const { value: i32::MIN }, O::I32Const { value: -1 }, O::I32DivS], &[I32]);
            let div64 = build(&[], &[O::I64Const { value: i64::MIN }, O::I64Const { value: -1 }, O::I64DivS], &[I64]);
            for func in [div32, div64] {
                let traps = compile(&func, &*isa);
                assert!(traps.contains(&TrapCode::INTEGER_OVERFLOW), "{traps:?} in\n{}", func.display());
            }
        }
    }
}
