//! How kiln's ABI (defined in `kiln-format`) maps onto Cranelift: value
//! types, the Wasm function signature, builtin signatures and trap codes.

use cranelift_codegen::ir::{self, AbiParam, ArgumentPurpose, Signature};
use cranelift_codegen::isa::CallConv;
use kiln_format::{BuiltinIndex, BuiltinType, FuncType, TrapCode, ValType};

/// Cranelift type of a pointer (and of funcref/externref values).
pub const POINTER_TYPE: ir::Type = ir::types::I64;

/// The Cranelift type a Wasm value type is carried in.
pub fn clif_type(ty: ValType) -> ir::Type {
    match ty {
        ValType::I32 => ir::types::I32,
        ValType::I64 => ir::types::I64,
        ValType::F32 => ir::types::F32,
        ValType::F64 => ir::types::F64,
        ValType::V128 => ir::types::I8X16,
        ValType::Ref(_) => POINTER_TYPE,
    }
}

/// The calling convention of every Wasm function and of everything a Wasm
/// function can call as a function (host trampolines): Cranelift's `tail`,
/// the one convention in which `return_call` works, since its callee pops
/// its own stack arguments (SPEC 3.1). The host reaches Wasm code only
/// through entry trampolines, which are of the host's convention. It is
/// also the convention whose `try_call` landing pads assume every register
/// clobbered, so the unwinder need restore only SP and FP (SPEC 3.13).
pub const WASM_CALL_CONV: CallConv = CallConv::Tail;

/// The signature of a Wasm function of type `ty`: the callee VMContext
/// first, then the Wasm parameters; the Wasm results (several results use
/// Cranelift's implicit struct return); [`WASM_CALL_CONV`].
pub fn wasm_signature(ty: &FuncType) -> Signature {
    let mut sig = Signature::new(WASM_CALL_CONV);
    sig.params.push(AbiParam::special(POINTER_TYPE, ArgumentPurpose::VMContext));
    sig.params.extend(ty.params.iter().map(|&t| AbiParam::new(clif_type(t))));
    sig.returns.extend(ty.results.iter().map(|&t| AbiParam::new(clif_type(t))));
    sig
}

/// The signature of a builtin.
pub fn builtin_signature(builtin: BuiltinIndex, call_conv: CallConv) -> Signature {
    let to_clif = |t: &BuiltinType| match t {
        BuiltinType::Pointer => POINTER_TYPE,
        BuiltinType::I32 => ir::types::I32,
        BuiltinType::I64 => ir::types::I64,
    };
    let mut sig = Signature::new(exit_call_conv(builtin, call_conv));
    sig.params.extend(builtin.params().iter().map(|t| AbiParam::new(to_clif(t))));
    sig.returns.extend(builtin.results().iter().map(|t| AbiParam::new(to_clif(t))));
    sig
}

/// The calling convention by which Wasm code calls the exit trampoline of
/// `builtin`. The checks' builtins (`epoch_deadline`, `out_of_fuel`) are
/// called from the cold path of a check at every loop header: their
/// trampolines preserve every register (`preserve_all`), so that the values
/// live across a check keep their registers in the hot loop rather than
/// moving to callee-saved registers or the stack for the sake of a call
/// that almost never runs. The trampoline itself calls the builtin with
/// `call_conv`.
pub fn exit_call_conv(builtin: BuiltinIndex, call_conv: CallConv) -> CallConv {
    match builtin {
        BuiltinIndex::EpochDeadline | BuiltinIndex::OutOfFuel => CallConv::PreserveAll,
        // Called by `try_call` inside handlers: the Wasm convention, whose
        // landing pads need no callee-saved register restored.
        BuiltinIndex::Throw | BuiltinIndex::ThrowRef => WASM_CALL_CONV,
        _ => call_conv,
    }
}

/// The signature of a host-to-Wasm entry trampoline:
/// `(vmctx, callee_code, values) -> ()`.
pub fn entry_trampoline_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.extend([AbiParam::new(POINTER_TYPE); 3]);
    sig
}

/// The signature of a `VMHostFuncContext`'s host call: `(host_ctx, values) -> ()`.
pub fn host_call_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.extend([AbiParam::new(POINTER_TYPE); 2]);
    sig
}

/// The Cranelift trap code compiled code uses for a kiln trap code.
///
/// Traps that Cranelift raises itself keep Cranelift's reserved codes (see
/// [`kiln_trap_code`]); the others are user codes equal to the kiln byte.
pub fn clif_trap_code(code: TrapCode) -> ir::TrapCode {
    match code {
        TrapCode::STACK_OVERFLOW => ir::TrapCode::STACK_OVERFLOW,
        TrapCode::MEMORY_OUT_OF_BOUNDS => ir::TrapCode::HEAP_OUT_OF_BOUNDS,
        TrapCode::INTEGER_OVERFLOW => ir::TrapCode::INTEGER_OVERFLOW,
        TrapCode::INTEGER_DIVISION_BY_ZERO => ir::TrapCode::INTEGER_DIVISION_BY_ZERO,
        TrapCode::BAD_CONVERSION_TO_INTEGER => ir::TrapCode::BAD_CONVERSION_TO_INTEGER,
        other => ir::TrapCode::unwrap_user(other.as_u8()),
    }
}

/// The kiln trap code recorded in `.kiln.traps` for a Cranelift trap code.
pub fn kiln_trap_code(code: ir::TrapCode) -> Option<TrapCode> {
    match code {
        ir::TrapCode::STACK_OVERFLOW => Some(TrapCode::STACK_OVERFLOW),
        ir::TrapCode::HEAP_OUT_OF_BOUNDS => Some(TrapCode::MEMORY_OUT_OF_BOUNDS),
        ir::TrapCode::INTEGER_OVERFLOW => Some(TrapCode::INTEGER_OVERFLOW),
        ir::TrapCode::INTEGER_DIVISION_BY_ZERO => Some(TrapCode::INTEGER_DIVISION_BY_ZERO),
        ir::TrapCode::BAD_CONVERSION_TO_INTEGER => Some(TrapCode::BAD_CONVERSION_TO_INTEGER),
        other => TrapCode::from_u8(other.as_raw().get()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip_through_cranelift() {
        for &code in TrapCode::ALL {
            assert_eq!(kiln_trap_code(clif_trap_code(code)), Some(code));
        }
    }
}
