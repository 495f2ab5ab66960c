//! Calls: direct calls to defined functions, calls through the import
//! records of imported functions, and `call_indirect` (SPEC 3.4); each also
//! as a tail call (`return_call`, `return_call_indirect`), which replaces
//! the caller's frame instead of returning to it; and `call_ref` and
//! `return_call_ref` through a typed function reference. A call inside a
//! handler's scope is a `try_call` (`exceptions`); a tail call never is,
//! since it leaves the scope of its function's handlers.

use cranelift_codegen::ir::{self, condcodes::IntCC, ExtFuncData, ExternalName, InstBuilder, UserExternalName};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{func_ref, FuncType, TrapCode};

use super::alias::Region;
use super::env::{vm_flags, vm_readonly_flags, vm_region_flags, FuncEnvironment};
use super::exceptions::{emit_call, Callee};
use super::gc_cast::func_type_matches;
use super::state::FuncState;
use super::table::checked_element_address;
use crate::abi::{self, POINTER_TYPE};
use crate::Result;

/// The imported signature of Wasm type `type_index`, declared once per function.
fn signature_of(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    offset: usize,
) -> Result<ir::SigRef> {
    if let Some(&sig) = state.signatures.get(&type_index) {
        return Ok(sig);
    }
    let ty = env.func_type(type_index, offset)?;
    let sig = builder.import_signature(abi::wasm_signature(ty));
    state.signatures.insert(type_index, sig);
    Ok(sig)
}

/// Fills `call_args` with `callee_vmctx` and the callee's parameters, popped
/// from the stack.
fn pop_call_args(state: &mut FuncState, ty: &FuncType, callee_vmctx: ir::Value, offset: usize) -> Result<()> {
    state.popn_into_call_args(callee_vmctx, ty.params.len(), offset)
}

/// Whether a call returns to its caller or replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// `call`, `call_indirect`: the results are pushed.
    Call,
    /// `return_call`, `return_call_indirect`: the callee's results are the
    /// caller's, and the code after it is unreachable.
    Tail,
}

/// Calls `callee` with `call_args`, as `kind` says. A call pushes its
/// results, marking counted references for the stack maps; it is a
/// `try_call` where handlers apply. A tail call is a plain `return_call`
/// even inside a `try_table`: it replaces the frame whose handlers would
/// have caught, so they no longer apply (as the specification says).
fn call_as(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, kind: CallKind, ty: &FuncType, callee: Callee) {
    match kind {
        CallKind::Call => {
            let args = std::mem::take(&mut state.call_args);
            let results = emit_call(builder, state, callee, &args);
            state.call_args = args;
            for (&value, &result_ty) in results.iter().zip(&ty.results) {
                state.push_typed(builder, value, result_ty);
            }
        }
        CallKind::Tail => {
            match callee {
                Callee::Direct(func) => builder.ins().return_call(func, &state.call_args),
                Callee::Indirect(sig, code) => builder.ins().return_call_indirect(sig, code, &state.call_args),
            };
            state.reachable = false;
        }
    }
}

/// `call f` or `return_call f`.
pub(crate) fn translate_call(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    function_index: u32,
    kind: CallKind,
    offset: usize,
) -> Result<()> {
    let ty = env.func_type_of(function_index, offset)?;
    if env.is_imported_function(function_index) {
        let (code_at, vmctx_at) = env.imported_function(function_index, offset)?;
        let type_index = env.func_type_index(function_index, offset)?;
        let sig = signature_of(env, builder, state, type_index, offset)?;
        let vmctx = state.vmctx;
        let code = builder.ins().load(POINTER_TYPE, vm_readonly_flags(), vmctx, code_at as i32);
        let callee_vmctx = builder.ins().load(POINTER_TYPE, vm_readonly_flags(), vmctx, vmctx_at as i32);
        pop_call_args(state, ty, callee_vmctx, offset)?;
        call_as(builder, state, kind, ty, Callee::Indirect(sig, code));
    } else {
        let callee = match state.direct_callees.get(&function_index) {
            Some(&callee) => callee,
            None => {
                let name = builder
                    .func
                    .declare_imported_user_function(UserExternalName { namespace: 0, index: function_index });
                let signature = builder.import_signature(abi::wasm_signature(ty));
                let callee = builder.import_function(ExtFuncData {
                    name: ExternalName::User(name),
                    signature,
                    colocated: true,
                    patchable: false,
                });
                state.direct_callees.insert(function_index, callee);
                callee
            }
        };
        pop_call_args(state, ty, state.vmctx, offset)?;
        call_as(builder, state, kind, ty, Callee::Direct(callee));
    }
    Ok(())
}

/// `call_indirect (type T) table` or `return_call_indirect`: bounds check
/// (`undefined_element`), null check (`indirect_call_to_null`), type-id
/// check (`bad_signature`; when the ids differ and the expected type is
/// not final, `is_subtype` decides), then a call of the element's
/// `wasm_call` with its `vmctx`.
pub(crate) fn translate_call_indirect(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    table_index: u32,
    kind: CallKind,
    offset: usize,
) -> Result<()> {
    let ty = env.func_type(type_index, offset)?;
    let sig = signature_of(env, builder, state, type_index, offset)?;
    let type_id_at = env.type_id_offset(type_index, offset)?;

    let index = state.pop1(offset)?;
    let slot = checked_element_address(env, builder, state, table_index, index, TrapCode::UNDEFINED_ELEMENT, offset)?;
    let element_flags = vm_region_flags(builder, Region::TableElements);
    let func_ref = builder.ins().load(POINTER_TYPE, element_flags, slot, 0);
    // The null check is the type id's load itself, which faults on a null
    // element: the loads after it are then of a valid record.
    let actual = builder.ins().load(
        ir::types::I32,
        null_checking_flags(TrapCode::INDIRECT_CALL_TO_NULL),
        func_ref,
        func_ref::TYPE_ID as i32,
    );
    if env.is_final_type(type_index) {
        // No other type can declare a final type its supertype: the ids are equal or the call is refused.
        let expected = builder.ins().load(ir::types::I32, vm_readonly_flags(), state.vmctx, type_id_at as i32);
        let mismatch = builder.ins().icmp(IntCC::NotEqual, actual, expected);
        builder.ins().trapnz(mismatch, abi::clif_trap_code(TrapCode::BAD_SIGNATURE));
    } else {
        let matches = func_type_matches(env, builder, state, actual, type_index, offset)?;
        builder.ins().trapz(matches, abi::clif_trap_code(TrapCode::BAD_SIGNATURE));
    }

    let code = builder.ins().load(POINTER_TYPE, vm_flags(), func_ref, func_ref::WASM_CALL as i32);
    let callee_vmctx = builder.ins().load(POINTER_TYPE, vm_flags(), func_ref, func_ref::VMCTX as i32);
    pop_call_args(state, ty, callee_vmctx, offset)?;
    call_as(builder, state, kind, ty, Callee::Indirect(sig, code));
    Ok(())
}

/// `call_ref $t` or `return_call_ref $t`: a null check
/// (`null_function_reference`), then a call of the reference's `wasm_call`
/// with its `vmctx`. The validator has checked that the reference is of a
/// subtype of `$t`, so no signature check is needed.
pub(crate) fn translate_call_ref(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    kind: CallKind,
    offset: usize,
) -> Result<()> {
    let ty = env.func_type(type_index, offset)?;
    let sig = signature_of(env, builder, state, type_index, offset)?;
    let func_ref = state.pop1(offset)?;
    // The null check is the code pointer's load, as in `call_indirect`.
    let flags = null_checking_flags(TrapCode::NULL_FUNCTION_REFERENCE);
    let code = builder.ins().load(POINTER_TYPE, flags, func_ref, func_ref::WASM_CALL as i32);
    let callee_vmctx = builder.ins().load(POINTER_TYPE, vm_flags(), func_ref, func_ref::VMCTX as i32);
    pop_call_args(state, ty, callee_vmctx, offset)?;
    call_as(builder, state, kind, ty, Callee::Indirect(sig, code));
    Ok(())
}

// A load through a null func ref reads below this, in the first page,
// which is never mapped (Linux keeps `vm.mmap_min_addr`, at least 4 KiB,
// unmapped), so it faults and the trap handler finds its trap code.
const NULL_GUARD: u32 = 4096;
const _: () = assert!(func_ref::TYPE_ID < NULL_GUARD && func_ref::WASM_CALL < NULL_GUARD);

/// Flags of the first load from a func ref that may be null: aligned, and
/// faulting with `trap` when it is.
fn null_checking_flags(trap: TrapCode) -> ir::MemFlagsData {
    vm_flags().with_trap_code(Some(abi::clif_trap_code(trap)))
}
