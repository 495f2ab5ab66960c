//! Moving between kiln's `i8x16` carrier and the lane types operators use.

use cranelift_codegen::ir::{self, types::I8X16, InstBuilder, MemFlagsData, Type};
use cranelift_frontend::FunctionBuilder;

/// The Cranelift type every `v128` is carried in between operators.
pub(super) const V128: Type = I8X16;

/// Flags of a vector bitcast: Cranelift requires a byte order whenever the
/// lane count changes, and Wasm lanes are little-endian.
fn bitcast_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(ir::Endianness::Little)
}

/// `value` seen as a vector of `ty` lanes.
pub(super) fn as_lanes(builder: &mut FunctionBuilder<'_>, value: ir::Value, ty: Type) -> ir::Value {
    if builder.func.dfg.value_type(value) == ty {
        value
    } else {
        builder.ins().bitcast(ty, bitcast_flags(), value)
    }
}

/// `value`, a vector of any lane type, as the `i8x16` carrier.
pub(super) fn to_v128(builder: &mut FunctionBuilder<'_>, value: ir::Value) -> ir::Value {
    as_lanes(builder, value, V128)
}

/// A vector constant of type `ty` with the little-endian bytes of `bits`.
pub(super) fn vector_const(builder: &mut FunctionBuilder<'_>, ty: Type, bits: u128) -> ir::Value {
    let handle = builder.func.dfg.constants.insert(bits.to_le_bytes().to_vec().into());
    builder.ins().vconst(ty, handle)
}
