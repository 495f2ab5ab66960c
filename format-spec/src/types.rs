//! Value types: numbers, vectors and references of WebAssembly 3.0 without
//! GC objects (function, extern and exception references, nullable or not,
//! abstract or of a concrete function type), and function types.
//!
//! A concrete heap type names a type by index: an index of the module's
//! type section in [`ModuleInfo`](crate::ModuleInfo), an engine-wide type
//! id in the types the loader hands out. Subtyping between two concrete
//! types depends on that index space, so [`ValType::is_subtype_of`] takes
//! it as a closure.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference: a pointer, 0 for null (SPEC 3.1).
    Ref(RefType),
}

/// A reference type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RefType {
    /// Whether null is a value of the type.
    pub nullable: bool,
    /// What the reference points to.
    pub heap: HeapType,
}

/// What a reference points to. Each hierarchy has a top (`Func`,
/// `Extern`, `Exn`) and a bottom (`NoFunc`, `NoExtern`, `NoExn`) whose only
/// value is null.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeapType {
    /// Any function (`*const VMFuncRef`).
    Func,
    /// A host value (`*mut VMExternData`).
    Extern,
    /// An exception.
    Exn,
    /// No function.
    NoFunc,
    /// No host value.
    NoExtern,
    /// No exception.
    NoExn,
    /// A function of a concrete type, by type index (see the module docs).
    Concrete(u32),
}

impl ValType {
    /// `funcref`: `(ref null func)`.
    pub const FUNCREF: ValType = ValType::Ref(RefType::FUNCREF);
    /// `externref`: `(ref null extern)`.
    pub const EXTERNREF: ValType = ValType::Ref(RefType::EXTERNREF);
    /// `exnref`: `(ref null exn)`.
    pub const EXNREF: ValType = ValType::Ref(RefType::EXNREF);

    /// The reference type, for a reference.
    pub fn as_ref(self) -> Option<RefType> {
        match self {
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// Whether values of the type are references.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::Ref(_))
    }

    /// Whether values of the type are references to host values, whose
    /// counts the runtime keeps (stack maps, activations table; SPEC 3.8).
    pub fn is_extern_ref(self) -> bool {
        self.as_ref().is_some_and(|r| r.heap.top() == HeapType::Extern)
    }

    /// Whether values of the type are function references.
    pub fn is_func_ref(self) -> bool {
        self.as_ref().is_some_and(|r| r.heap.top() == HeapType::Func)
    }

    /// Whether values of the type are reference-counted `VMExternData`
    /// pointers: references of the extern and the exn hierarchies. They
    /// need stack maps, the activations table and the count barriers of
    /// tables and globals (SPEC 3.8, 3.13).
    pub fn is_counted_ref(self) -> bool {
        self.as_ref().is_some_and(RefType::is_counted_ref)
    }

    /// Whether values of the type are exception references.
    pub fn is_exn_ref(self) -> bool {
        self.as_ref().is_some_and(|r| r.heap.top() == HeapType::Exn)
    }

    /// Whether a value of type `self` is a value of type `other`, given
    /// the subtyping of concrete types (`concrete(a, b)`: is type `a` a
    /// subtype of type `b`, equal ones included).
    pub fn is_subtype_of(self, other: ValType, concrete: impl Fn(u32, u32) -> bool) -> bool {
        match (self, other) {
            (ValType::Ref(a), ValType::Ref(b)) => a.is_subtype_of(b, concrete),
            (a, b) => a == b,
        }
    }

    /// The type with every concrete type index mapped by `f`.
    pub fn map_concrete(self, f: impl Fn(u32) -> u32) -> ValType {
        match self {
            ValType::Ref(r) => ValType::Ref(r.map_concrete(f)),
            other => other,
        }
    }
}

impl RefType {
    /// `funcref`.
    pub const FUNCREF: RefType = RefType { nullable: true, heap: HeapType::Func };
    /// `externref`.
    pub const EXTERNREF: RefType = RefType { nullable: true, heap: HeapType::Extern };
    /// `exnref`.
    pub const EXNREF: RefType = RefType { nullable: true, heap: HeapType::Exn };

    /// Whether the references are to host values (see [`ValType::is_extern_ref`]).
    pub fn is_extern_ref(self) -> bool {
        self.heap.top() == HeapType::Extern
    }

    /// Whether the references are to functions.
    pub fn is_func_ref(self) -> bool {
        self.heap.top() == HeapType::Func
    }

    /// Whether the references are counted (see [`ValType::is_counted_ref`]).
    pub fn is_counted_ref(self) -> bool {
        matches!(self.heap.top(), HeapType::Extern | HeapType::Exn)
    }

    /// Whether the references are to exceptions.
    pub fn is_exn_ref(self) -> bool {
        self.heap.top() == HeapType::Exn
    }

    /// Whether a reference of type `self` is a reference of type `other`
    /// (see [`ValType::is_subtype_of`]).
    pub fn is_subtype_of(self, other: RefType, concrete: impl Fn(u32, u32) -> bool) -> bool {
        (other.nullable || !self.nullable) && self.heap.is_subtype_of(other.heap, concrete)
    }

    /// The type with its concrete type index, if any, mapped by `f`.
    pub fn map_concrete(self, f: impl Fn(u32) -> u32) -> RefType {
        let heap = match self.heap {
            HeapType::Concrete(index) => HeapType::Concrete(f(index)),
            other => other,
        };
        RefType { heap, ..self }
    }
}

impl HeapType {
    /// The top of the type's hierarchy.
    pub fn top(self) -> HeapType {
        match self {
            HeapType::Func | HeapType::NoFunc | HeapType::Concrete(_) => HeapType::Func,
            HeapType::Extern | HeapType::NoExtern => HeapType::Extern,
            HeapType::Exn | HeapType::NoExn => HeapType::Exn,
        }
    }

    /// Whether the type is the bottom of its hierarchy, whose only value
    /// is null.
    pub fn is_bottom(self) -> bool {
        matches!(self, HeapType::NoFunc | HeapType::NoExtern | HeapType::NoExn)
    }

    /// Whether `self` is a subtype of `other` (see [`ValType::is_subtype_of`]).
    pub fn is_subtype_of(self, other: HeapType, concrete: impl Fn(u32, u32) -> bool) -> bool {
        match (self, other) {
            (HeapType::Concrete(a), HeapType::Concrete(b)) => concrete(a, b),
            (a, b) if a == b => true,
            (a, b) => a.top() == b.top() && (a.is_bottom() || b == b.top()),
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => r.fmt(f),
        }
    }
}

impl fmt::Display for RefType {
    /// The short forms (`funcref`, `externref`, `exnref`) where they exist.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (*self, self.nullable) {
            (RefType::FUNCREF, _) => f.write_str("funcref"),
            (RefType::EXTERNREF, _) => f.write_str("externref"),
            (RefType::EXNREF, _) => f.write_str("exnref"),
            (_, true) => write!(f, "(ref null {})", self.heap),
            (_, false) => write!(f, "(ref {})", self.heap),
        }
    }
}

impl fmt::Display for HeapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapType::Func => f.write_str("func"),
            HeapType::Extern => f.write_str("extern"),
            HeapType::Exn => f.write_str("exn"),
            HeapType::NoFunc => f.write_str("nofunc"),
            HeapType::NoExtern => f.write_str("noextern"),
            HeapType::NoExn => f.write_str("noexn"),
            HeapType::Concrete(index) => write!(f, "{index}"),
        }
    }
}

/// A function type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FuncType {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl FuncType {
    /// The type with every concrete type index mapped by `f`.
    pub fn map_concrete(&self, f: impl Fn(u32) -> u32) -> FuncType {
        FuncType {
            params: self.params.iter().map(|t| t.map_concrete(&f)).collect(),
            results: self.results.iter().map(|t| t.map_concrete(&f)).collect(),
        }
    }

    /// Whether a function of type `self` may stand where one of type
    /// `other` is expected: parameters contravariant, results covariant.
    pub fn is_subtype_of(&self, other: &FuncType, concrete: impl Fn(u32, u32) -> bool) -> bool {
        self.params.len() == other.params.len()
            && self.results.len() == other.results.len()
            && self.params.iter().zip(&other.params).all(|(a, b)| b.is_subtype_of(*a, &concrete))
            && self.results.iter().zip(&other.results).all(|(a, b)| a.is_subtype_of(*b, &concrete))
    }
}

/// How a type of the type section relates to others: the recursion group
/// it was declared in and the supertype it declares (GC's `sub`). Types of
/// one group may name each other; two types are the same when their whole
/// groups are the same up to renaming (iso-recursive equivalence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeShape {
    /// Index of the first type of its recursion group.
    pub rec_group_start: u32,
    /// Number of types in the group.
    pub rec_group_len: u32,
    /// The declared supertype, a type index smaller than this type's.
    pub supertype: Option<u32>,
    /// Whether no type may declare this one its supertype.
    pub is_final: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: u32, b: u32) -> bool {
        a == b
    }

    #[test]
    fn abstract_heap_subtyping() {
        let concrete = HeapType::Concrete(3);
        assert!(HeapType::NoFunc.is_subtype_of(concrete, same));
        assert!(concrete.is_subtype_of(HeapType::Func, same));
        assert!(!HeapType::Func.is_subtype_of(concrete, same));
        assert!(HeapType::NoExtern.is_subtype_of(HeapType::Extern, same));
        assert!(!HeapType::NoExtern.is_subtype_of(HeapType::Func, same));
        assert!(!HeapType::Extern.is_subtype_of(HeapType::Func, same));
        assert!(!HeapType::Concrete(3).is_subtype_of(HeapType::Concrete(4), same));
        assert!(HeapType::NoExn.is_subtype_of(HeapType::Exn, same));
    }

    #[test]
    fn nullability_and_functions() {
        let non_null = ValType::Ref(RefType { nullable: false, heap: HeapType::Func });
        assert!(non_null.is_subtype_of(ValType::FUNCREF, same));
        assert!(!ValType::FUNCREF.is_subtype_of(non_null, same));
        let takes_funcref = FuncType { params: vec![ValType::FUNCREF], results: vec![non_null] };
        let takes_non_null = FuncType { params: vec![non_null], results: vec![ValType::FUNCREF] };
        assert!(takes_funcref.is_subtype_of(&takes_non_null, same));
        assert!(!takes_non_null.is_subtype_of(&takes_funcref, same));
    }

    #[test]
    fn display_uses_the_text_format() {
        assert_eq!(ValType::FUNCREF.to_string(), "funcref");
        assert_eq!(ValType::Ref(RefType { nullable: false, heap: HeapType::Extern }).to_string(), "(ref extern)");
        assert_eq!(ValType::Ref(RefType { nullable: true, heap: HeapType::Concrete(2) }).to_string(), "(ref null 2)");
    }
}
