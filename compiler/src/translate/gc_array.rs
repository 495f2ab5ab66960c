//! Arrays (SPEC 3.14): allocation and the bulk operators through builtins,
//! `array.get`, `array.set` and `array.len` inline: a null check
//! (`null_array_reference`), a bounds check against the length at
//! `gc::ARRAY_LENGTH` (`array_out_of_bounds`), and the element address of
//! `gc::ArrayLayout`.

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{
    gc::{self, ArrayLayout},
    ArrayType, BuiltinIndex, HeapType, RefType, TrapCode, ValType,
};

use super::env::{call_builtin, call_builtin_value, index_arg, FuncEnvironment};
use super::gc_field::{object_flags, push_field, push_new_object, store_field, values_in_slots, Extension};
use super::state::FuncState;
use crate::abi::{self, POINTER_TYPE};
use crate::Result;

/// The non-null reference type of a new array of type `type_index`.
fn array_ref(type_index: u32) -> ValType {
    ValType::Ref(RefType { nullable: false, heap: HeapType::ConcreteArray(type_index) })
}

/// How a new array gets its elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArrayInit {
    /// `array.new`: the length on top of the stack, the value below it.
    Value,
    /// `array.new_default`: the length.
    Default,
    /// `array.new_fixed` of this many elements.
    Fixed(u32),
    /// `array.new_data` of this data segment: offset and length.
    Data(u32),
    /// `array.new_elem` of this element segment: offset and length.
    Elem(u32),
}

/// `array.new`, `array.new_default`, `array.new_fixed`, `array.new_data`
/// and `array.new_elem` of array type `type_index`.
pub(crate) fn translate_array_new(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    init: ArrayInit,
    offset: usize,
) -> Result<()> {
    env.array_type(type_index, offset)?;
    let ty = index_arg(builder, type_index);
    let object = match init {
        ArrayInit::Value => {
            let (value, len) = state.pop2(offset)?;
            let value = values_in_slots(builder, &[value]);
            call_builtin_value(env, builder, state, BuiltinIndex::ArrayNew, &[ty, len, value], offset)?
        }
        ArrayInit::Default => {
            let len = state.pop1(offset)?;
            let null = builder.ins().iconst(POINTER_TYPE, 0);
            call_builtin_value(env, builder, state, BuiltinIndex::ArrayNew, &[ty, len, null], offset)?
        }
        ArrayInit::Fixed(n) => {
            let elements = state.peekn(n as usize, offset)?.to_vec();
            state.popn(n as usize, offset)?;
            let values = values_in_slots(builder, &elements);
            let len = index_arg(builder, n);
            call_builtin_value(env, builder, state, BuiltinIndex::ArrayNewFixed, &[ty, len, values], offset)?
        }
        ArrayInit::Data(segment) | ArrayInit::Elem(segment) => {
            let (start, len) = state.pop2(offset)?;
            let segment = index_arg(builder, segment);
            let builtin = if matches!(init, ArrayInit::Data(_)) {
                BuiltinIndex::ArrayNewData
            } else {
                BuiltinIndex::ArrayNewElem
            };
            call_builtin_value(env, builder, state, builtin, &[ty, segment, start, len], offset)?
        }
    };
    push_new_object(builder, state, object, array_ref(type_index));
    Ok(())
}

/// Traps unless `array` is not null and `index` is below its length;
/// returns the address of the element.
fn element_address(builder: &mut FunctionBuilder<'_>, ty: &ArrayType, array: ir::Value, index: ir::Value) -> ir::Value {
    let layout = ArrayLayout::of(ty);
    let len = checked_len(builder, array);
    let out_of_bounds = builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
    builder.ins().trapnz(out_of_bounds, abi::clif_trap_code(TrapCode::ARRAY_OUT_OF_BOUNDS));
    let index = builder.ins().uextend(ir::types::I64, index);
    let scaled = builder.ins().imul_imm_u(index, i64::from(layout.element_size));
    let elements = builder.ins().iadd(array, scaled);
    builder.ins().iadd_imm_u(elements, i64::from(layout.elements_offset))
}

/// The length of `array`, after trapping on null.
fn checked_len(builder: &mut FunctionBuilder<'_>, array: ir::Value) -> ir::Value {
    builder.ins().trapz(array, abi::clif_trap_code(TrapCode::NULL_ARRAY_REFERENCE));
    builder.ins().load(ir::types::I32, object_flags(), array, gc::ARRAY_LENGTH as i32)
}

/// `array.get`, `array.get_s`, `array.get_u`: pops the index, then the array.
pub(crate) fn translate_array_get(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    extension: Extension,
    offset: usize,
) -> Result<()> {
    let ty = env.array_type(type_index, offset)?;
    let (array, index) = state.pop2(offset)?;
    let addr = element_address(builder, ty, array, index);
    push_field(env, builder, state, ty.element.storage, addr, 0, extension);
    Ok(())
}

/// `array.set`: pops the value, the index, then the array.
pub(crate) fn translate_array_set(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    offset: usize,
) -> Result<()> {
    let ty = env.array_type(type_index, offset)?;
    let (array, index, value) = state.pop3(offset)?;
    let addr = element_address(builder, ty, array, index);
    store_field(env, builder, state, ty.element.storage, addr, 0, value);
    Ok(())
}

/// `array.len`.
pub(crate) fn translate_array_len(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    offset: usize,
) -> Result<()> {
    let array = state.pop1(offset)?;
    let len = checked_len(builder, array);
    state.stack.push(len);
    Ok(())
}

/// `array.fill $t`: pops the length, the value, the offset and the array.
pub(crate) fn translate_array_fill(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    offset: usize,
) -> Result<()> {
    env.array_type(type_index, offset)?;
    let len = state.pop1(offset)?;
    let (array, at, value) = state.pop3(offset)?;
    let value = values_in_slots(builder, &[value]);
    call_builtin(env, builder, state, BuiltinIndex::ArrayFill, &[array, at, value, len]);
    Ok(())
}

/// `array.copy $d $s`: pops the length, the source offset and array, the
/// destination offset and array.
pub(crate) fn translate_array_copy(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    offset: usize,
) -> Result<()> {
    let (src, src_at, len) = state.pop3(offset)?;
    let (dst, dst_at) = state.pop2(offset)?;
    call_builtin(env, builder, state, BuiltinIndex::ArrayCopy, &[dst, dst_at, src, src_at, len]);
    Ok(())
}

/// `array.init_data $t $d` and `array.init_elem $t $e` (`builtin` says
/// which): pops the length, the source offset, the destination offset and
/// the array.
pub(crate) fn translate_array_init(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    builtin: BuiltinIndex,
    segment: u32,
    offset: usize,
) -> Result<()> {
    let (src_at, len) = state.pop2(offset)?;
    let (array, dst_at) = state.pop2(offset)?;
    let segment = index_arg(builder, segment);
    call_builtin(env, builder, state, builtin, &[array, dst_at, segment, src_at, len]);
    Ok(())
}
