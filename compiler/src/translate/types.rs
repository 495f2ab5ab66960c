//! Wasm value types as kiln and Cranelift see them.

use std::borrow::Cow;

use cranelift_codegen::ir;
use kiln_format::{HeapType, RefType, ValType};
use wasmparser::BlockType;

use super::env::FuncEnvironment;
use crate::{abi, CompileError, Result};

/// Converts a wasmparser value type, refusing the reference types of GC
/// objects.
pub(crate) fn val_type(ty: wasmparser::ValType, offset: usize) -> Result<ValType> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ValType::Ref(ref_type(r, offset)?),
    })
}

/// Converts a wasmparser reference type (see [`val_type`]).
pub(crate) fn ref_type(ty: wasmparser::RefType, offset: usize) -> Result<RefType> {
    Ok(RefType { nullable: ty.is_nullable(), heap: heap_type(ty.heap_type(), offset)? })
}

/// Converts a wasmparser heap type: a type index of the module, or an
/// abstract type of the function, extern or exception hierarchy.
pub(crate) fn heap_type(ty: wasmparser::HeapType, offset: usize) -> Result<HeapType> {
    use wasmparser::AbstractHeapType as A;
    let unsupported =
        || CompileError::unsupported(format!("heap type {ty:?} is not supported (the gc feature)"), offset);
    match ty {
        wasmparser::HeapType::Abstract { shared: false, ty } => Ok(match ty {
            A::Func => HeapType::Func,
            A::Extern => HeapType::Extern,
            A::Exn => HeapType::Exn,
            A::NoExn => HeapType::NoExn,
            A::NoFunc => HeapType::NoFunc,
            A::NoExtern => HeapType::NoExtern,
            _ => return Err(unsupported()),
        }),
        wasmparser::HeapType::Concrete(index) => {
            index.as_module_index().map(HeapType::Concrete).ok_or_else(unsupported)
        }
        _ => Err(unsupported()),
    }
}

/// The Cranelift type of a kiln value type.
pub(crate) fn clif_type(ty: ValType) -> ir::Type {
    abi::clif_type(ty)
}

/// A block's parameter types, then its result types.
pub(crate) type BlockSignature<'e> = (Cow<'e, [ValType]>, Cow<'e, [ValType]>);

/// Parameter and result types of a block type, borrowed from the module's
/// type section for type-index block types.
pub(crate) fn block_signature<'e>(
    env: &FuncEnvironment<'e>,
    blockty: BlockType,
    offset: usize,
) -> Result<BlockSignature<'e>> {
    Ok(match blockty {
        BlockType::Empty => (Cow::Borrowed(&[]), Cow::Borrowed(&[])),
        BlockType::Type(ty) => (Cow::Borrowed(&[]), single(val_type(ty, offset)?)),
        BlockType::FuncType(index) => {
            let ty = env.func_type(index, offset)?;
            (Cow::Borrowed(&ty.params[..]), Cow::Borrowed(&ty.results[..]))
        }
    })
}

/// A one-element list of `ty`, static for the common types.
fn single(ty: ValType) -> Cow<'static, [ValType]> {
    Cow::Borrowed(match ty {
        ValType::I32 => &[ValType::I32],
        ValType::I64 => &[ValType::I64],
        ValType::F32 => &[ValType::F32],
        ValType::F64 => &[ValType::F64],
        ValType::V128 => &[ValType::V128],
        ValType::FUNCREF => &[ValType::FUNCREF],
        ValType::EXTERNREF => &[ValType::EXTERNREF],
        ValType::EXNREF => &[ValType::EXNREF],
        other => return Cow::Owned(vec![other]),
    })
}
