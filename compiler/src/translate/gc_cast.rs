//! Casts (SPEC 3.14): `ref.test`, `ref.cast`, `br_on_cast` and
//! `br_on_cast_fail`, inline for every target type of every hierarchy.
//!
//! Null passes by the target's nullability. In the any hierarchy an `i31`
//! is told by its tag bit, `eq` admits an `i31` or any GC object, `struct`
//! and `array` compare the kind in the header, and a concrete type compares
//! the engine type id in the header with the VMContext's id of the target;
//! a function's type id is in its `VMFuncRef`. When the ids differ and the
//! target type is not final, `is_subtype` decides. The extern and exn
//! hierarchies have no types between top and bottom, so only null matters.

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{func_ref, gc, BuiltinIndex, HeapType, RefType, TrapCode};

use super::control::br_target;
use super::env::{call_builtin_value, vm_flags, vm_readonly_flags, FuncEnvironment};
use super::gc_field::object_flags;
use super::state::FuncState;
use super::types::ref_type;
use crate::abi;
use crate::Result;

/// Emits the test of `value` (of static type `source`, when known)
/// against `target`; returns an `i32`, 1 when the value is of the type.
pub(crate) fn emit_ref_test(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    value: ir::Value,
    source: Option<RefType>,
    target: RefType,
    offset: usize,
) -> Result<ir::Value> {
    let i32_ty = ir::types::I32;
    let done = builder.create_block();
    let result = builder.append_block_param(done, i32_ty);
    let non_null = builder.create_block();

    let null_answer = builder.ins().iconst(i32_ty, i64::from(target.nullable));
    builder.ins().brif(value, non_null, &[], done, &[null_answer.into()]);
    builder.seal_block(non_null);
    builder.switch_to_block(non_null);

    let heap = target.heap;
    if heap == heap.top() {
        let yes = builder.ins().iconst(i32_ty, 1);
        builder.ins().jump(done, &[yes.into()]);
    } else if heap.is_bottom() {
        let no = builder.ins().iconst(i32_ty, 0);
        builder.ins().jump(done, &[no.into()]);
    } else if let HeapType::ConcreteFunc(index) = heap {
        let actual = builder.ins().load(i32_ty, vm_flags(), value, func_ref::TYPE_ID as i32);
        concrete_test(env, builder, state, actual, index, false, done, offset)?;
    } else if heap == HeapType::I31 {
        let tag = builder.ins().band_imm_u(value, gc::I31_TAG as i64);
        let tag = builder.ins().ireduce(i32_ty, tag);
        builder.ins().jump(done, &[tag.into()]);
    } else {
        // `eq`, `struct`, `array` or a concrete struct or array type: first
        // tell an `i31` from a pointer, where the source type admits one.
        if source.is_none_or(RefType::may_be_i31) {
            let object = builder.create_block();
            let tag = builder.ins().band_imm_u(value, gc::I31_TAG as i64);
            let i31_answer = builder.ins().iconst(i32_ty, i64::from(heap == HeapType::Eq));
            builder.ins().brif(tag, done, &[i31_answer.into()], object, &[]);
            builder.seal_block(object);
            builder.switch_to_block(object);
        }
        match heap {
            HeapType::ConcreteStruct(index) | HeapType::ConcreteArray(index) => {
                let actual = builder.ins().load(i32_ty, object_flags(), value, gc::TYPE_ID as i32);
                concrete_test(env, builder, state, actual, index, true, done, offset)?;
            }
            _ => {
                let header = builder.ins().load(i32_ty, object_flags(), value, gc::HEADER as i32);
                let kind = builder.ins().band_imm_u(header, i64::from(gc::KIND_MASK));
                let is = match heap {
                    HeapType::Struct => builder.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(gc::KIND_STRUCT)),
                    HeapType::Array => builder.ins().icmp_imm_u(IntCC::Equal, kind, i64::from(gc::KIND_ARRAY)),
                    // `eq`: any GC object, which is to say no host value.
                    _ => builder.ins().icmp_imm_u(IntCC::NotEqual, kind, i64::from(gc::KIND_HOST)),
                };
                let is = builder.ins().uextend(i32_ty, is);
                builder.ins().jump(done, &[is.into()]);
            }
        }
    }
    builder.seal_block(done);
    builder.switch_to_block(done);
    Ok(result)
}

/// Jumps to `done` with whether the engine type id `actual` is type
/// `index` of the module or, when that type is not final, one of its
/// subtypes. `may_be_host` says that `actual` may be the id of a host
/// value (`any.convert_extern`), which no type admits.
#[allow(clippy::too_many_arguments)]
fn concrete_test(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    actual: ir::Value,
    index: u32,
    may_be_host: bool,
    done: ir::Block,
    offset: usize,
) -> Result<()> {
    let i32_ty = ir::types::I32;
    let expected_at = env.type_id_offset(index, offset)?;
    let expected = builder.ins().load(i32_ty, vm_readonly_flags(), state.vmctx, expected_at as i32);
    let same = builder.ins().icmp(IntCC::Equal, actual, expected);
    if env.is_final_type(index) {
        let same = builder.ins().uextend(i32_ty, same);
        builder.ins().jump(done, &[same.into()]);
        return Ok(());
    }
    let slow = builder.create_block();
    let yes = builder.ins().iconst(i32_ty, 1);
    builder.ins().brif(same, done, &[yes.into()], slow, &[]);
    builder.seal_block(slow);
    builder.switch_to_block(slow);
    if may_be_host {
        let ask = builder.create_block();
        let host = builder.ins().icmp_imm_u(IntCC::Equal, actual, i64::from(gc::HOST_TYPE_ID));
        let no = builder.ins().iconst(i32_ty, 0);
        builder.ins().brif(host, done, &[no.into()], ask, &[]);
        builder.seal_block(ask);
        builder.switch_to_block(ask);
    }
    let is = call_builtin_value(env, builder, state, BuiltinIndex::IsSubtype, &[actual, expected], offset)?;
    builder.ins().jump(done, &[is.into()]);
    Ok(())
}

/// `ref.test` and `ref.cast` (`cast`) to `(ref null? hty)`.
pub(crate) fn translate_ref_test(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    hty: wasmparser::HeapType,
    nullable: bool,
    cast: bool,
    offset: usize,
) -> Result<()> {
    let heap = super::types::heap_type(hty, &env.type_kinds, offset)?;
    let target = RefType { nullable, heap };
    let value = state.peek1(offset)?;
    let is = emit_ref_test(env, builder, state, value, None, target, offset)?;
    if cast {
        builder.ins().trapz(is, abi::clif_trap_code(TrapCode::CAST_FAILURE));
    } else {
        state.pop1(offset)?;
        state.stack.push(is);
    }
    Ok(())
}

/// `br_on_cast l rt1 rt2` and `br_on_cast_fail` (`on_fail`): the reference
/// is the last of the label's operands, and stays on the stack otherwise.
pub(crate) fn translate_br_on_cast(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    relative_depth: u32,
    (from, to): (wasmparser::RefType, wasmparser::RefType),
    on_fail: bool,
    offset: usize,
) -> Result<()> {
    let source = ref_type(from, &env.type_kinds, offset)?;
    let target = ref_type(to, &env.type_kinds, offset)?;
    let value = state.peek1(offset)?;
    let is = emit_ref_test(env, builder, state, value, Some(source), target, offset)?;
    let (dest, arity) = br_target(state, relative_depth, offset)?;
    state.collect_block_args(arity, offset)?;
    let fallthrough = builder.create_block();
    if on_fail {
        builder.ins().brif(is, fallthrough, &[], dest, &state.block_args);
    } else {
        builder.ins().brif(is, dest, &state.block_args, fallthrough, &[]);
    }
    builder.seal_block(fallthrough);
    builder.switch_to_block(fallthrough);
    Ok(())
}

/// Whether the engine type id `actual`, of a function, is type `index` or
/// one of its subtypes: an `i32`, 1 if so. What `call_indirect` checks
/// when the expected type is not final.
pub(crate) fn func_type_matches(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    actual: ir::Value,
    index: u32,
    offset: usize,
) -> Result<ir::Value> {
    let done = builder.create_block();
    let result = builder.append_block_param(done, ir::types::I32);
    concrete_test(env, builder, state, actual, index, false, done, offset)?;
    builder.seal_block(done);
    builder.switch_to_block(done);
    Ok(result)
}
