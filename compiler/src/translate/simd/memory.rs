//! Vector loads and stores. Addresses go through the same code as scalar
//! accesses (`translate::memory::effective_address`), given each access's
//! width, so the guard-region scheme and the checks of 64-bit memories
//! cover every width: a 16-byte access at any in-bounds-looking address
//! still lies inside the reservation and faults there.
//!
//! Wasm's alignment hint is only a hint: accesses are emitted unaligned
//! (no `aligned` flag), which x86-64 handles at full speed.

use cranelift_codegen::ir::types::{I16, I16X8, I32, I32X4, I64, I64X2, I8, I8X16};
use cranelift_codegen::ir::{self, InstBuilder, Type};
use cranelift_frontend::FunctionBuilder;
use wasmparser::{MemArg, Operator};

use super::vector::{as_lanes, to_v128, V128};
use crate::translate::env::{heap_flags, FuncEnvironment};
use crate::translate::memory::effective_address;
use crate::translate::state::FuncState;
use crate::Result;

/// How a vector memory operator accesses memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// `v128.load`.
    Load,
    /// `v128.loadNxM_{s,u}`: 64 bits, each lane extended.
    LoadExtend(ExtendingLoad),
    /// `v128.loadN_splat`: one scalar of the given type in every lane of
    /// the vector type.
    LoadSplat(Type, Type),
    /// `v128.loadN_zero`: a scalar in lane 0 of the vector type, the rest zero.
    LoadZero(Type, Type),
    /// `v128.loadN_lane`: a scalar into one lane of the vector type.
    LoadLane(Type, Type, u8),
    /// `v128.store`.
    Store,
    /// `v128.storeN_lane`: one lane of the vector type.
    StoreLane(Type, u8),
}

/// The six 64-bit loads whose lanes are extended to twice their width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExtendingLoad {
    S8x8,
    U8x8,
    S16x4,
    U16x4,
    S32x2,
    U32x2,
}

fn access(op: &Operator<'_>) -> Option<(Access, MemArg)> {
    use Access::*;
    use Operator as O;
    Some(match *op {
        O::V128Load { memarg } => (Load, memarg),
        O::V128Load8x8S { memarg } => (LoadExtend(ExtendingLoad::S8x8), memarg),
        O::V128Load8x8U { memarg } => (LoadExtend(ExtendingLoad::U8x8), memarg),
        O::V128Load16x4S { memarg } => (LoadExtend(ExtendingLoad::S16x4), memarg),
        O::V128Load16x4U { memarg } => (LoadExtend(ExtendingLoad::U16x4), memarg),
        O::V128Load32x2S { memarg } => (LoadExtend(ExtendingLoad::S32x2), memarg),
        O::V128Load32x2U { memarg } => (LoadExtend(ExtendingLoad::U32x2), memarg),
        O::V128Load8Splat { memarg } => (LoadSplat(I8, I8X16), memarg),
        O::V128Load16Splat { memarg } => (LoadSplat(I16, I16X8), memarg),
        O::V128Load32Splat { memarg } => (LoadSplat(I32, I32X4), memarg),
        O::V128Load64Splat { memarg } => (LoadSplat(I64, I64X2), memarg),
        O::V128Load32Zero { memarg } => (LoadZero(I32, I32X4), memarg),
        O::V128Load64Zero { memarg } => (LoadZero(I64, I64X2), memarg),
        O::V128Load8Lane { memarg, lane } => (LoadLane(I8, I8X16, lane), memarg),
        O::V128Load16Lane { memarg, lane } => (LoadLane(I16, I16X8, lane), memarg),
        O::V128Load32Lane { memarg, lane } => (LoadLane(I32, I32X4, lane), memarg),
        O::V128Load64Lane { memarg, lane } => (LoadLane(I64, I64X2, lane), memarg),
        O::V128Store { memarg } => (Store, memarg),
        O::V128Store8Lane { memarg, lane } => (StoreLane(I8X16, lane), memarg),
        O::V128Store16Lane { memarg, lane } => (StoreLane(I16X8, lane), memarg),
        O::V128Store32Lane { memarg, lane } => (StoreLane(I32X4, lane), memarg),
        O::V128Store64Lane { memarg, lane } => (StoreLane(I64X2, lane), memarg),
        _ => return None,
    })
}

/// Translates `op` if it is a vector load or store; `Ok(false)` otherwise.
pub(super) fn translate_memory(
    env: &FuncEnvironment<'_>,
    builder: &mut FunctionBuilder<'_>,
    state: &mut FuncState,
    op: &Operator<'_>,
    offset: usize,
) -> Result<bool> {
    let Some((access, memarg)) = access(op) else { return Ok(false) };
    let flags = heap_flags(builder);
    match access {
        Access::Load => {
            let address = state.pop1(offset)?;
            let (addr, at) = effective_address(env, builder, state, &memarg, address, 16, offset)?;
            let value = builder.ins().load(V128, flags, addr, at);
            state.stack.push(value);
        }
        Access::LoadExtend(kind) => {
            let address = state.pop1(offset)?;
            let (addr, at) = effective_address(env, builder, state, &memarg, address, 8, offset)?;
            let value = extending_load(builder, kind, flags, addr, at);
            push_vector(builder, state, value);
        }
        Access::LoadSplat(scalar_ty, ty) => {
            let address = state.pop1(offset)?;
            let (addr, at) = effective_address(env, builder, state, &memarg, address, scalar_ty.bytes(), offset)?;
            let scalar = builder.ins().load(scalar_ty, flags, addr, at);
            let value = builder.ins().splat(ty, scalar);
            push_vector(builder, state, value);
        }
        Access::LoadZero(scalar_ty, ty) => {
            let address = state.pop1(offset)?;
            let (addr, at) = effective_address(env, builder, state, &memarg, address, scalar_ty.bytes(), offset)?;
            let scalar = builder.ins().load(scalar_ty, flags, addr, at);
            let value = builder.ins().scalar_to_vector(ty, scalar);
            push_vector(builder, state, value);
        }
        Access::LoadLane(scalar_ty, ty, lane) => {
            let (address, vector) = state.pop2(offset)?;
            let (addr, at) = effective_address(env, builder, state, &memarg, address, scalar_ty.bytes(), offset)?;
            let scalar = builder.ins().load(scalar_ty, flags, addr, at);
            let vector = as_lanes(builder, vector, ty);
            let value = builder.ins().insertlane(vector, scalar, lane);
            push_vector(builder, state, value);
        }
        Access::Store => {
            let (address, vector) = state.pop2(offset)?;
            let (addr, at) = effective_address(env, builder, state, &memarg, address, 16, offset)?;
            builder.ins().store(flags, vector, addr, at);
        }
        Access::StoreLane(ty, lane) => {
            let (address, vector) = state.pop2(offset)?;
            let (addr, at) = effective_address(env, builder, state, &memarg, address, ty.lane_type().bytes(), offset)?;
            let vector = as_lanes(builder, vector, ty);
            let scalar = builder.ins().extractlane(vector, lane);
            builder.ins().store(flags, scalar, addr, at);
        }
    }
    Ok(true)
}

fn push_vector(builder: &mut FunctionBuilder<'_>, state: &mut FuncState, value: ir::Value) {
    let value = to_v128(builder, value);
    state.stack.push(value);
}

fn extending_load(
    builder: &mut FunctionBuilder<'_>,
    kind: ExtendingLoad,
    flags: ir::MemFlagsData,
    addr: ir::Value,
    at: i32,
) -> ir::Value {
    match kind {
        ExtendingLoad::S8x8 => builder.ins().sload8x8(flags, addr, at),
        ExtendingLoad::U8x8 => builder.ins().uload8x8(flags, addr, at),
        ExtendingLoad::S16x4 => builder.ins().sload16x4(flags, addr, at),
        ExtendingLoad::U16x4 => builder.ins().uload16x4(flags, addr, at),
        ExtendingLoad::S32x2 => builder.ins().sload32x2(flags, addr, at),
        ExtendingLoad::U32x2 => builder.ins().uload32x2(flags, addr, at),
    }
}
