//! Structs (SPEC 3.14): `struct.new` and `struct.new_default` through the
//! `struct_new` builtin, field reads and writes inline at the offsets of
//! `gc::StructLayout`, after a null check (`null_struct_reference`).

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{gc::StructLayout, BuiltinIndex, FieldType, HeapType, RefType, TrapCode, ValType};

use super::env::{call_builtin_value, index_arg, FuncEnvironment};
use super::gc_field::{push_field, push_new_object, store_field, values_in_slots, Extension};
use super::state::FuncState;
use crate::abi::{self, POINTER_TYPE};
use crate::{CompileError, Result};

/// The non-null reference type of a new struct of type `type_index`.
fn struct_ref(type_index: u32) -> ValType {
    ValType::Ref(RefType { nullable: false, heap: HeapType::ConcreteStruct(type_index) })
}

/// The type and offset of field `field` of struct type `type_index`.
fn field_of(env: &FuncEnvironment<'_>, type_index: u32, field: u32, offset: usize) -> Result<(FieldType, i32)> {
    let ty = env.struct_type(type_index, offset)?;
    let field_ty = ty
        .fields
        .get(field as usize)
        .copied()
        .ok_or_else(|| CompileError::invalid(format!("unknown field {field} of type {type_index}"), offset))?;
    let layout = StructLayout::of(ty);
    let at = layout.field_offsets[field as usize];
    let at = i32::try_from(at).map_err(|_| CompileError::unsupported("struct too large", offset))?;
    Ok((field_ty, at))
}

/// `struct.new $t` (the fields on the stack, the first pushed first) and
/// `struct.new_default $t` (`default`).
pub(crate) fn translate_struct_new(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    default: bool,
    offset: usize,
) -> Result<()> {
    let values = if default {
        builder.ins().iconst(POINTER_TYPE, 0)
    } else {
        let n = env.struct_type(type_index, offset)?.fields.len();
        let fields = state.peekn(n, offset)?.to_vec();
        state.popn(n, offset)?;
        values_in_slots(builder, &fields)
    };
    let ty = index_arg(builder, type_index);
    let object = call_builtin_value(env, builder, state, BuiltinIndex::StructNew, &[ty, values], offset)?;
    push_new_object(builder, state, object, struct_ref(type_index));
    Ok(())
}

/// `struct.get`, `struct.get_s`, `struct.get_u`.
pub(crate) fn translate_struct_get(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    field: u32,
    extension: Extension,
    offset: usize,
) -> Result<()> {
    let (field_ty, at) = field_of(env, type_index, field, offset)?;
    let object = state.pop1(offset)?;
    null_check(builder, object);
    push_field(env, builder, state, field_ty.storage, object, at, extension);
    Ok(())
}

/// `struct.set`: pops the value, then the struct.
pub(crate) fn translate_struct_set(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    type_index: u32,
    field: u32,
    offset: usize,
) -> Result<()> {
    let (field_ty, at) = field_of(env, type_index, field, offset)?;
    let (object, value) = state.pop2(offset)?;
    null_check(builder, object);
    store_field(env, builder, state, field_ty.storage, object, at, value);
    Ok(())
}

fn null_check(builder: &mut FunctionBuilder<'_>, object: ir::Value) {
    builder.ins().trapz(object, abi::clif_trap_code(TrapCode::NULL_STRUCT_REFERENCE));
}
