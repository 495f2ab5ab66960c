//! Wasm values as the host sees them. Their encoding in value slots is in
//! `vm::values`.

use kiln_format::{HeapType, RefType, ValType};

use crate::exn::Exn;
use crate::func::Func;
use crate::gc_ref::AnyRef;
use crate::vm::ExternRef;

/// A Wasm value.
#[derive(Clone, Debug)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits (so NaN payloads survive).
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `v128`: its 16 bytes in Wasm order as a little-endian `u128`, so
    /// lane 0 of any shape is in the lowest bits (`i32x4 1 2 3 4` is
    /// `0x00000004_00000003_00000002_00000001`).
    V128(u128),
    /// `funcref` (`None` is `ref.null func`).
    FuncRef(Option<Func>),
    /// `externref` (`None` is `ref.null extern`).
    ExternRef(Option<ExternRef>),
    /// `exnref` (`None` is `ref.null exn`).
    ExnRef(Option<Exn>),
    /// A reference of the any hierarchy: `anyref`, `eqref`, `i31ref`,
    /// `structref`, `arrayref`, `nullref` and the concrete struct and array
    /// types (`None` is their null).
    AnyRef(Option<AnyRef>),
}

/// `anyref`, the type [`Val::ty`] gives any value of the any hierarchy.
const ANYREF: ValType = ValType::Ref(RefType { nullable: true, heap: HeapType::Any });

impl Val {
    /// The value's type; for a reference of the any hierarchy, `anyref`
    /// (what it is exactly takes its store: see
    /// [`AnyRef::as_struct`](crate::AnyRef::as_struct) and the like).
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FUNCREF,
            Val::ExternRef(_) => ValType::EXTERNREF,
            Val::ExnRef(_) => ValType::EXNREF,
            Val::AnyRef(_) => ANYREF,
        }
    }

    /// The zero value (or null reference) of a type.
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(r) if r.is_extern_ref() => Val::ExternRef(None),
            ValType::Ref(r) if r.is_exn_ref() => Val::ExnRef(None),
            ValType::Ref(r) if r.is_any_ref() => Val::AnyRef(None),
            ValType::Ref(_) => Val::FuncRef(None),
        }
    }

    /// Whether the value is a null reference.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) | Val::AnyRef(None))
    }

    /// The `i32`, if it is one.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = self {
            Some(*v)
        } else {
            None
        }
    }

    /// The `i64`, if it is one.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = self {
            Some(*v)
        } else {
            None
        }
    }

    /// The `f32`, if it is one.
    pub fn f32(&self) -> Option<f32> {
        if let Val::F32(v) = self {
            Some(f32::from_bits(*v))
        } else {
            None
        }
    }

    /// The `f64`, if it is one.
    pub fn f64(&self) -> Option<f64> {
        if let Val::F64(v) = self {
            Some(f64::from_bits(*v))
        } else {
            None
        }
    }

    /// The funcref, if it is a non-null one.
    pub fn funcref(&self) -> Option<&Func> {
        if let Val::FuncRef(Some(f)) = self {
            Some(f)
        } else {
            None
        }
    }

    /// The exnref, if it is a non-null one.
    pub fn exnref(&self) -> Option<&Exn> {
        if let Val::ExnRef(Some(e)) = self {
            Some(e)
        } else {
            None
        }
    }

    /// The internal reference, if it is a non-null one.
    pub fn anyref(&self) -> Option<&AnyRef> {
        if let Val::AnyRef(Some(r)) = self {
            Some(r)
        } else {
            None
        }
    }

    /// The externref, if it is a non-null one.
    pub fn externref(&self) -> Option<&ExternRef> {
        if let Val::ExternRef(Some(r)) = self {
            Some(r)
        } else {
            None
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

impl From<Option<ExternRef>> for Val {
    fn from(v: Option<ExternRef>) -> Val {
        Val::ExternRef(v)
    }
}

impl From<Option<AnyRef>> for Val {
    fn from(v: Option<AnyRef>) -> Val {
        Val::AnyRef(v)
    }
}

impl From<AnyRef> for Val {
    fn from(v: AnyRef) -> Val {
        Val::AnyRef(Some(v))
    }
}

impl From<Option<Func>> for Val {
    fn from(v: Option<Func>) -> Val {
        Val::FuncRef(v)
    }
}
