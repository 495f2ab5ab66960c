//! The CLIF of the trampolines of SPEC 3.2: one host-to-Wasm entry and one
//! Wasm-to-host exit per type index, and one Wasm-to-builtin exit per
//! builtin.
//!
//! They keep the boundary records of `VMRuntimeLimits` that the GC's stack
//! walk and the trap handler's backtrace start and stop at: the entry
//! records its own frame pointer, and every exit records the frame pointer
//! and return address of the Wasm frame that called it, read from its own
//! frame record (`[fp]` and `[fp + 8]`).

use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, UserFuncName};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kiln_format::{host_func_context, runtime_limits, BuiltinIndex, FuncType, VMOffsets, VALUE_SLOT_SIZE};

use crate::abi::{
    builtin_signature, clif_type, entry_trampoline_signature, host_call_signature, wasm_signature, POINTER_TYPE,
};
use crate::translate::stack_limit;
use crate::Result;

/// `UserFuncName` namespace of entry trampolines (defined functions use 0).
pub(crate) const ENTRY_NAMESPACE: u32 = 1;
/// `UserFuncName` namespace of host trampolines.
pub(crate) const HOST_NAMESPACE: u32 = 2;
/// `UserFuncName` namespace of builtin exit trampolines; Wasm functions call
/// them by this name.
pub(crate) const BUILTIN_NAMESPACE: u32 = 3;

// Exits take the runtime limits from a VMContext or a host context alike.
const _: () = assert!(host_func_context::RUNTIME_LIMITS == VMOffsets::RUNTIME_LIMITS);

fn slot_offset(index: usize) -> i32 {
    // Signatures have far fewer than i32::MAX / 16 values: the validator
    // bounds them at 1000 parameters and results.
    (index as i32) * VALUE_SLOT_SIZE as i32
}

/// `kiln_entry_T`: `(vmctx, callee_code, values)`; loads the arguments from
/// the value slots, calls the callee with the Wasm ABI and stores its
/// results back into the slots.
pub(crate) fn entry_trampoline(
    type_index: u32,
    ty: &FuncType,
    config: TargetFrontendConfig,
    fb_ctx: &mut FunctionBuilderContext,
) -> Result<ir::Function> {
    let call_conv = config.default_call_conv;
    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(ENTRY_NAMESPACE, type_index),
        entry_trampoline_signature(call_conv),
    );
    let mut b = FunctionBuilder::new(&mut func, fb_ctx);
    let params = open_block(&mut b);
    let [vmctx, callee, values] = [0, 1, 2].map(|i| params[i]);

    // The host owns the slot array and hands over a valid, aligned pointer.
    let flags = MemFlagsData::trusted();
    let fp = b.ins().get_frame_pointer(POINTER_TYPE);
    let limits = b.ins().load(POINTER_TYPE, flags, vmctx, VMOffsets::RUNTIME_LIMITS as i32);
    b.ins().store(flags, fp, limits, runtime_limits::ENTRY_FP as i32);
    let mut args = Vec::with_capacity(ty.params.len() + 1);
    args.push(vmctx);
    for (i, &param) in ty.params.iter().enumerate() {
        args.push(b.ins().load(clif_type(param), flags, values, slot_offset(i)));
    }
    let sig = b.import_signature(wasm_signature(ty));
    let call = b.ins().call_indirect(sig, callee, &args);
    let results = b.inst_results(call).to_vec();
    for (i, result) in results.into_iter().enumerate() {
        b.ins().store(flags, result, values, slot_offset(i));
    }
    b.ins().return_(&[]);
    b.finalize(config);
    Ok(func)
}

/// `kiln_host_T`: the Wasm ABI of type T with a `VMHostFuncContext` as its
/// vmctx; spills the arguments to a stack array of value slots, calls the
/// host through the context and returns the results read from the slots.
pub(crate) fn host_trampoline(
    type_index: u32,
    ty: &FuncType,
    config: TargetFrontendConfig,
    fb_ctx: &mut FunctionBuilderContext,
) -> Result<ir::Function> {
    let call_conv = config.default_call_conv;
    let mut func =
        ir::Function::with_name_signature(UserFuncName::user(HOST_NAMESPACE, type_index), wasm_signature(ty));

    // The host context starts with the same runtime-limits pointer as a
    // VMContext, so deep recursion through host calls is caught here too.
    func.stack_limit = Some(stack_limit(&mut func)?);

    let mut b = FunctionBuilder::new(&mut func, fb_ctx);
    let params = open_block(&mut b);
    let host_ctx = params[0];
    record_exit(&mut b, host_ctx);
    let flags = MemFlagsData::trusted();

    // At least one slot, so the host always receives a valid pointer.
    let nslots = ty.params.len().max(ty.results.len()).max(1);
    let size = u32::try_from(nslots).unwrap_or(u32::MAX / VALUE_SLOT_SIZE).saturating_mul(VALUE_SLOT_SIZE);
    let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 4));
    let values = b.ins().stack_addr(POINTER_TYPE, slot, 0);
    for (i, &arg) in params[1..].iter().enumerate() {
        b.ins().store(flags, arg, values, slot_offset(i));
    }
    let host_call = b.ins().load(POINTER_TYPE, flags, host_ctx, host_func_context::HOST_CALL as i32);
    let sig = b.import_signature(host_call_signature(call_conv));
    b.ins().call_indirect(sig, host_call, &[host_ctx, values]);
    let results: Vec<ir::Value> = ty
        .results
        .iter()
        .enumerate()
        .map(|(i, &r)| b.ins().load(clif_type(r), flags, values, slot_offset(i)))
        .collect();
    b.ins().return_(&results);
    b.finalize(config);
    Ok(func)
}

/// Opens the trampoline's only block; returns its parameters.
fn open_block(b: &mut FunctionBuilder<'_>) -> Vec<ir::Value> {
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    b.block_params(block).to_vec()
}

/// Stores the calling Wasm frame's frame pointer and return address, read
/// from this trampoline's own frame record, as the last exit in the
/// runtime limits of `ctx`, a VMContext or a host context (both start with
/// that pointer).
fn record_exit(b: &mut FunctionBuilder<'_>, ctx: ir::Value) {
    let flags = MemFlagsData::trusted();
    let limits = b.ins().load(POINTER_TYPE, flags, ctx, VMOffsets::RUNTIME_LIMITS as i32);
    let fp = b.ins().get_frame_pointer(POINTER_TYPE);
    let caller_fp = b.ins().load(POINTER_TYPE, flags, fp, 0);
    let return_pc = b.ins().load(POINTER_TYPE, flags, fp, 8);
    b.ins().store(flags, caller_fp, limits, runtime_limits::LAST_EXIT_FP as i32);
    b.ins().store(flags, return_pc, limits, runtime_limits::LAST_EXIT_PC as i32);
}

/// `kiln_builtin_N`: the builtin's own signature; records the exit, then
/// calls entry N of the builtins table with the same arguments and returns
/// its results.
pub(crate) fn builtin_trampoline(
    builtin: BuiltinIndex,
    config: TargetFrontendConfig,
    fb_ctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let call_conv = config.default_call_conv;
    let signature = builtin_signature(builtin, call_conv);
    let mut func =
        ir::Function::with_name_signature(UserFuncName::user(BUILTIN_NAMESPACE, builtin as u32), signature.clone());
    let mut b = FunctionBuilder::new(&mut func, fb_ctx);
    let params = open_block(&mut b);
    let vmctx = params[0];
    record_exit(&mut b, vmctx);
    let flags = MemFlagsData::trusted();
    let table = b.ins().load(POINTER_TYPE, flags.with_readonly(), vmctx, VMOffsets::BUILTINS as i32);
    let callee = b.ins().load(POINTER_TYPE, flags.with_readonly(), table, 8 * builtin as i32);
    // The builtin itself is a host function of the native convention.
    let mut builtin_sig = signature;
    builtin_sig.call_conv = call_conv;
    let sig = b.import_signature(builtin_sig);
    let call = b.ins().call_indirect(sig, callee, &params);
    let results = b.inst_results(call).to_vec();
    b.ins().return_(&results);
    b.finalize(config);
    func
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::{types, AbiParam, ArgumentPurpose};
    use kiln_format::ValType;

    fn config() -> TargetFrontendConfig {
        crate::options::Target::new(&crate::CompileOptions::default()).unwrap().isa.frontend_config()
    }

    fn ty() -> FuncType {
        FuncType { params: vec![ValType::I32, ValType::F64], results: vec![ValType::I64, ValType::EXTERNREF] }
    }

    #[test]
    fn entry_trampoline_clif() {
        let f = entry_trampoline(3, &ty(), config(), &mut FunctionBuilderContext::new()).unwrap();
        let text = f.display().to_string();
        let expected = "\
function u1:3(i64, i64, i64) system_v {
    sig0 = (i64 vmctx, i32, f64) -> i64, i64 tail

block0(v0: i64, v1: i64, v2: i64):
    v3 = get_frame_pointer.i64 
    v4 = load.i64 notrap aligned v0
    store notrap aligned v3, v4+24
    v5 = load.i32 notrap aligned v2
    v6 = load.f64 notrap aligned v2+16
    v7, v8 = call_indirect sig0, v1(v0, v5, v6)
    store notrap aligned v7, v2
    store notrap aligned v8, v2+16
    return
}
";
        assert_eq!(text, expected);
    }

    #[test]
    fn host_trampoline_clif() {
        let f = host_trampoline(3, &ty(), config(), &mut FunctionBuilderContext::new()).unwrap();
        assert_eq!(f.signature.params[0], AbiParam::special(types::I64, ArgumentPurpose::VMContext));
        let text = f.display().to_string();
        let expected = "\
function u2:3(i64 vmctx, i32, f64) -> i64, i64 tail {
    ss0 = explicit_slot 32, align = 16
    gv0 = vmctx
    gv1 = load.i64 notrap aligned gv0
    gv2 = load.i64 notrap aligned gv1
    sig0 = (i64, i64) system_v
    stack_limit = gv2

block0(v0: i64, v1: i32, v2: f64):
    v3 = load.i64 notrap aligned v0
    v4 = get_frame_pointer.i64 
    v5 = load.i64 notrap aligned v4
    v6 = load.i64 notrap aligned v4+8
    store notrap aligned v5, v3+8
    store notrap aligned v6, v3+16
    v7 = stack_addr.i64 ss0
    store notrap aligned v1, v7
    store notrap aligned v2, v7+16
    v8 = load.i64 notrap aligned v0+8
    call_indirect sig0, v8(v0, v7)
    v9 = load.i64 notrap aligned v7
    v10 = load.i64 notrap aligned v7+16
    return v9, v10
}
";
        assert_eq!(text, expected);
    }

    #[test]
    fn builtin_trampoline_clif() {
        let f = builtin_trampoline(BuiltinIndex::TableGrow, config(), &mut FunctionBuilderContext::new());
        let text = f.display().to_string();
        let expected = "\
function u3:5(i64, i32, i64, i64) -> i64 system_v {
    sig0 = (i64, i32, i64, i64) -> i64 system_v

block0(v0: i64, v1: i32, v2: i64, v3: i64):
    v4 = load.i64 notrap aligned v0
    v5 = get_frame_pointer.i64 
    v6 = load.i64 notrap aligned v5
    v7 = load.i64 notrap aligned v5+8
    store notrap aligned v6, v4+8
    store notrap aligned v7, v4+16
    v8 = load.i64 notrap aligned readonly v0+8
    v9 = load.i64 notrap aligned readonly v8+40
    v10 = call_indirect sig0, v9(v0, v1, v2, v3)
    return v10
}
";
        assert_eq!(text, expected);
    }
}
