//! Wasm value types as kiln and Cranelift see them.

use cranelift_codegen::ir;
use kiln_format::ValType;
use wasmparser::BlockType;

use super::env::FuncEnvironment;
use crate::{abi, CompileError, Result};

/// Converts a wasmparser value type, refusing the reference types that only
/// later proposals (GC, typed function references) introduce.
pub(crate) fn val_type(ty: wasmparser::ValType, offset: usize) -> Result<ValType> {
    match ty {
        wasmparser::ValType::I32 => Ok(ValType::I32),
        wasmparser::ValType::I64 => Ok(ValType::I64),
        wasmparser::ValType::F32 => Ok(ValType::F32),
        wasmparser::ValType::F64 => Ok(ValType::F64),
        wasmparser::ValType::V128 => Ok(ValType::V128),
        wasmparser::ValType::Ref(r) if r.is_func_ref() && !r.is_concrete_type_ref() => Ok(ValType::FuncRef),
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => Ok(ValType::ExternRef),
        wasmparser::ValType::Ref(r) if r == wasmparser::RefType::EXNREF => Ok(ValType::ExnRef),
        wasmparser::ValType::Ref(r) => {
            Err(CompileError::unsupported(format!("reference type `{r}` is not supported"), offset))
        }
    }
}

/// The Cranelift type of a kiln value type.
pub(crate) fn clif_type(ty: ValType) -> ir::Type {
    abi::clif_type(ty)
}

/// Parameter and result types of a block type, borrowed from the module's
/// type section for type-index block types.
pub(crate) fn block_signature<'e>(
    env: &FuncEnvironment<'e>,
    blockty: BlockType,
    offset: usize,
) -> Result<(&'e [ValType], &'e [ValType])> {
    let (params, results): (&'e [ValType], &'e [ValType]) = match blockty {
        BlockType::Empty => (&[], &[]),
        BlockType::Type(ty) => (&[], single(val_type(ty, offset)?)),
        BlockType::FuncType(index) => {
            let ty = env.func_type(index, offset)?;
            (&ty.params, &ty.results)
        }
    };
    Ok((params, results))
}

/// A one-element list of `ty` that lives forever.
fn single(ty: ValType) -> &'static [ValType] {
    match ty {
        ValType::I32 => &[ValType::I32],
        ValType::I64 => &[ValType::I64],
        ValType::F32 => &[ValType::F32],
        ValType::F64 => &[ValType::F64],
        ValType::V128 => &[ValType::V128],
        ValType::FuncRef => &[ValType::FuncRef],
        ValType::ExternRef => &[ValType::ExternRef],
        ValType::ExnRef => &[ValType::ExnRef],
    }
}
