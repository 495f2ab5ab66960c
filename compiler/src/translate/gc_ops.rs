//! Dispatch of the GC proposal's operators (SPEC 3.14) to the modules that
//! translate them (the validator refuses them when the gc feature is off).

use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use kiln_format::BuiltinIndex;
use wasmparser::Operator;

use super::env::FuncEnvironment;
use super::gc_array::{self, ArrayInit};
use super::gc_cast;
use super::gc_field::Extension;
use super::gc_struct;
use super::i31;
use super::operators::{is_gc_operator, operator_name};
use super::state::FuncState;
use crate::{CompileError, Result};

/// Translates `op` if it is a GC operator; returns whether it was.
pub(crate) fn translate_gc(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
    offset: usize,
) -> Result<bool> {
    if !is_gc_operator(op) {
        return Ok(false);
    }
    match *op {
        Operator::StructNew { struct_type_index } => {
            gc_struct::translate_struct_new(env, builder, state, struct_type_index, false, offset)?
        }
        Operator::StructNewDefault { struct_type_index } => {
            gc_struct::translate_struct_new(env, builder, state, struct_type_index, true, offset)?
        }
        Operator::StructGet { struct_type_index, field_index } => gc_struct::translate_struct_get(
            env,
            builder,
            state,
            struct_type_index,
            field_index,
            Extension::None,
            offset,
        )?,
        Operator::StructGetS { struct_type_index, field_index } => gc_struct::translate_struct_get(
            env,
            builder,
            state,
            struct_type_index,
            field_index,
            Extension::Signed,
            offset,
        )?,
        Operator::StructGetU { struct_type_index, field_index } => gc_struct::translate_struct_get(
            env,
            builder,
            state,
            struct_type_index,
            field_index,
            Extension::Unsigned,
            offset,
        )?,
        Operator::StructSet { struct_type_index, field_index } => {
            gc_struct::translate_struct_set(env, builder, state, struct_type_index, field_index, offset)?
        }

        Operator::ArrayNew { array_type_index } => {
            gc_array::translate_array_new(env, builder, state, array_type_index, ArrayInit::Value, offset)?
        }
        Operator::ArrayNewDefault { array_type_index } => {
            gc_array::translate_array_new(env, builder, state, array_type_index, ArrayInit::Default, offset)?
        }
        Operator::ArrayNewFixed { array_type_index, array_size } => {
            gc_array::translate_array_new(env, builder, state, array_type_index, ArrayInit::Fixed(array_size), offset)?
        }
        Operator::ArrayNewData { array_type_index, array_data_index } => gc_array::translate_array_new(
            env,
            builder,
            state,
            array_type_index,
            ArrayInit::Data(array_data_index),
            offset,
        )?,
        Operator::ArrayNewElem { array_type_index, array_elem_index } => gc_array::translate_array_new(
            env,
            builder,
            state,
            array_type_index,
            ArrayInit::Elem(array_elem_index),
            offset,
        )?,
        Operator::ArrayGet { array_type_index } => {
            gc_array::translate_array_get(env, builder, state, array_type_index, Extension::None, offset)?
        }
        Operator::ArrayGetS { array_type_index } => {
            gc_array::translate_array_get(env, builder, state, array_type_index, Extension::Signed, offset)?
        }
        Operator::ArrayGetU { array_type_index } => {
            gc_array::translate_array_get(env, builder, state, array_type_index, Extension::Unsigned, offset)?
        }
        Operator::ArraySet { array_type_index } => {
            gc_array::translate_array_set(env, builder, state, array_type_index, offset)?
        }
        Operator::ArrayLen => gc_array::translate_array_len(builder, state, offset)?,
        Operator::ArrayFill { array_type_index } => {
            gc_array::translate_array_fill(env, builder, state, array_type_index, offset)?
        }
        Operator::ArrayCopy { .. } => gc_array::translate_array_copy(env, builder, state, offset)?,
        Operator::ArrayInitData { array_data_index, .. } => {
            gc_array::translate_array_init(env, builder, state, BuiltinIndex::ArrayInitData, array_data_index, offset)?
        }
        Operator::ArrayInitElem { array_elem_index, .. } => {
            gc_array::translate_array_init(env, builder, state, BuiltinIndex::ArrayInitElem, array_elem_index, offset)?
        }

        Operator::RefI31 => i31::translate_ref_i31(builder, state, offset)?,
        Operator::I31GetS => i31::translate_i31_get(builder, state, true, offset)?,
        Operator::I31GetU => i31::translate_i31_get(builder, state, false, offset)?,

        Operator::RefEq => {
            let (a, b) = state.pop2(offset)?;
            let same = builder.ins().icmp(IntCC::Equal, a, b);
            let same = builder.ins().uextend(ir::types::I32, same);
            state.stack.push(same);
        }
        // A host value seen as `anyref` and an internal reference seen as
        // `externref` keep their words; both are counted references, so
        // the value is already declared to the stack maps.
        Operator::AnyConvertExtern | Operator::ExternConvertAny => {
            state.peek1(offset)?;
        }

        Operator::RefTestNonNull { hty } => {
            gc_cast::translate_ref_test(env, builder, state, hty, false, false, offset)?
        }
        Operator::RefTestNullable { hty } => {
            gc_cast::translate_ref_test(env, builder, state, hty, true, false, offset)?
        }
        Operator::RefCastNonNull { hty } => gc_cast::translate_ref_test(env, builder, state, hty, false, true, offset)?,
        Operator::RefCastNullable { hty } => gc_cast::translate_ref_test(env, builder, state, hty, true, true, offset)?,
        Operator::BrOnCast { relative_depth, from_ref_type, to_ref_type } => gc_cast::translate_br_on_cast(
            env,
            builder,
            state,
            relative_depth,
            (from_ref_type, to_ref_type),
            false,
            offset,
        )?,
        Operator::BrOnCastFail { relative_depth, from_ref_type, to_ref_type } => gc_cast::translate_br_on_cast(
            env,
            builder,
            state,
            relative_depth,
            (from_ref_type, to_ref_type),
            true,
            offset,
        )?,
        // Operators of the proposal that kiln does not implement.
        _ => {
            return Err(CompileError::unsupported(format!("operator `{}` is not supported", operator_name(op)), offset))
        }
    }
    Ok(true)
}
