//! Wasm value types as kiln and Cranelift see them.

use std::borrow::Cow;

use cranelift_codegen::ir;
use kiln_format::{CompositeType, HeapType, RefType, ValType};
use wasmparser::BlockType;

use super::env::FuncEnvironment;
use crate::{abi, CompileError, Result};

/// The kind of a type of the type section: what places a concrete heap
/// type in its hierarchy (a function type's under `func`, a struct's and
/// an array's under `any`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeKind {
    Func,
    Struct,
    Array,
}

impl TypeKind {
    pub(crate) fn of(ty: &CompositeType) -> TypeKind {
        match ty {
            CompositeType::Func(_) => TypeKind::Func,
            CompositeType::Struct(_) => TypeKind::Struct,
            CompositeType::Array(_) => TypeKind::Array,
        }
    }

    pub(crate) fn of_inner(ty: &wasmparser::CompositeInnerType) -> TypeKind {
        match ty {
            wasmparser::CompositeInnerType::Struct(_) => TypeKind::Struct,
            wasmparser::CompositeInnerType::Array(_) => TypeKind::Array,
            _ => TypeKind::Func,
        }
    }

    /// The kinds of every type of a type section.
    pub(crate) fn of_all(types: &[CompositeType]) -> Vec<TypeKind> {
        types.iter().map(TypeKind::of).collect()
    }
}

/// Converts a wasmparser value type; `kinds` are those of the module's
/// types (see [`TypeKind`]).
pub(crate) fn val_type(ty: wasmparser::ValType, kinds: &[TypeKind], offset: usize) -> Result<ValType> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ValType::Ref(ref_type(r, kinds, offset)?),
    })
}

/// Converts a wasmparser reference type (see [`val_type`]).
pub(crate) fn ref_type(ty: wasmparser::RefType, kinds: &[TypeKind], offset: usize) -> Result<RefType> {
    Ok(RefType { nullable: ty.is_nullable(), heap: heap_type(ty.heap_type(), kinds, offset)? })
}

/// Converts a wasmparser heap type: a type index of the module, or an
/// abstract type; shared ones are refused.
pub(crate) fn heap_type(ty: wasmparser::HeapType, kinds: &[TypeKind], offset: usize) -> Result<HeapType> {
    use wasmparser::AbstractHeapType as A;
    let unsupported = || {
        // The text format's name of the type, as a nullable reference to it.
        let name = wasmparser::RefType::new(true, ty).map_or_else(|| format!("{ty:?}"), |r| r.to_string());
        CompileError::unsupported(format!("reference type `{name}` is not supported"), offset)
    };
    match ty {
        wasmparser::HeapType::Abstract { shared: false, ty } => Ok(match ty {
            A::Func => HeapType::Func,
            A::Extern => HeapType::Extern,
            A::Exn => HeapType::Exn,
            A::NoExn => HeapType::NoExn,
            A::NoFunc => HeapType::NoFunc,
            A::NoExtern => HeapType::NoExtern,
            A::Any => HeapType::Any,
            A::Eq => HeapType::Eq,
            A::I31 => HeapType::I31,
            A::Struct => HeapType::Struct,
            A::Array => HeapType::Array,
            A::None => HeapType::None,
            _ => return Err(unsupported()),
        }),
        wasmparser::HeapType::Concrete(index) => {
            let index = index.as_module_index().ok_or_else(unsupported)?;
            match kinds.get(index as usize) {
                Some(TypeKind::Func) => Ok(HeapType::ConcreteFunc(index)),
                Some(TypeKind::Struct) => Ok(HeapType::ConcreteStruct(index)),
                Some(TypeKind::Array) => Ok(HeapType::ConcreteArray(index)),
                None => Err(CompileError::invalid(format!("unknown type {index}"), offset)),
            }
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
        BlockType::Type(ty) => (Cow::Borrowed(&[]), single(val_type(ty, &env.type_kinds, offset)?)),
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
