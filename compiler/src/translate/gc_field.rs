//! Reads and writes of one field of a GC object (a struct field or an
//! array element) at an address that a null and bounds check admitted, and
//! the stack arrays of value slots that the allocation builtins read.
//!
//! Packed fields (`i8`, `i16`) hold the low bits of an `i32` and read back
//! sign- or zero-extended; reference fields go through the count barriers
//! (SPEC 3.14): a read clones the reference into the activations table, a
//! write takes the new count before it drops the old one.

use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData};
use cranelift_frontend::FunctionBuilder;
use kiln_format::{StorageType, ValType};

use super::barriers::{push_from_storage, store_to_storage};
use super::env::FuncEnvironment;
use super::exceptions::{slot_offset, value_slots};
use super::state::FuncState;
use super::types::clif_type;
use crate::abi::POINTER_TYPE;

/// Flags of an access to a GC object that a null check admitted: aligned
/// (every field is at an offset aligned to its size) and never faulting.
pub(crate) fn object_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// How a packed field reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extension {
    /// `struct.get`, `array.get`: only of unpacked fields.
    None,
    /// `_s`: sign-extended.
    Signed,
    /// `_u`: zero-extended.
    Unsigned,
}

/// Reads the field of type `storage` at `addr + at` and pushes it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_field(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    storage: StorageType,
    addr: ir::Value,
    at: i32,
    extension: Extension,
) {
    let flags = object_flags();
    let i32_ty = ir::types::I32;
    let value = match (storage, extension) {
        (StorageType::I8, Extension::Signed) => builder.ins().sload8(i32_ty, flags, addr, at),
        (StorageType::I8, _) => builder.ins().uload8(i32_ty, flags, addr, at),
        (StorageType::I16, Extension::Signed) => builder.ins().sload16(i32_ty, flags, addr, at),
        (StorageType::I16, _) => builder.ins().uload16(i32_ty, flags, addr, at),
        (StorageType::Val(ty), _) => builder.ins().load(clif_type(ty), flags, addr, at),
    };
    push_from_storage(env, builder, state, value, storage.unpacked());
}

/// Writes `value` to the field of type `storage` at `addr + at`.
pub(crate) fn store_field(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    storage: StorageType,
    addr: ir::Value,
    at: i32,
    value: ir::Value,
) {
    let flags = object_flags();
    match storage {
        StorageType::I8 => {
            builder.ins().istore8(flags, value, addr, at);
        }
        StorageType::I16 => {
            builder.ins().istore16(flags, value, addr, at);
        }
        StorageType::Val(ty) => store_to_storage(env, builder, state, addr, at, value, ty, flags),
    }
}

/// The address of a stack array holding `values` in value slots (SPEC
/// 3.2), for an allocation builtin to read; at least one slot, so that
/// the address is always that of a real array.
pub(crate) fn values_in_slots(builder: &mut FunctionBuilder<'_>, values: &[ir::Value]) -> ir::Value {
    let slot = value_slots(builder, values.len().max(1));
    for (i, &value) in values.iter().enumerate() {
        builder.ins().stack_store(POINTER_TYPE, value, slot, slot_offset(i));
    }
    builder.ins().stack_addr(POINTER_TYPE, slot, 0)
}

/// Pushes `object`, just returned by an allocation builtin, of type
/// `(ref ty)`: the activations table already owns its count, and the stack
/// maps must see it wherever it is live across a call.
pub(crate) fn push_new_object(
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    object: ir::Value,
    ty: ValType,
) {
    state.push_typed(builder, object, ty);
}
