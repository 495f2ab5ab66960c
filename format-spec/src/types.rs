//! Value types: numbers, vectors and references of WebAssembly 3.0
//! (function, extern, exception and GC references, nullable or not,
//! abstract or of a concrete type), and the composite types of the type
//! section: functions, structs and arrays.
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
/// `Extern`, `Exn`, `Any`) and a bottom (`NoFunc`, `NoExtern`, `NoExn`,
/// `None`) whose only value is null.
///
/// The any hierarchy is `any :> eq :> {i31, struct :> concrete structs,
/// array :> concrete arrays} :> none` (SPEC 3.14 gives the encoding of its
/// values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeapType {
    /// Any function (`*const VMFuncRef`).
    Func,
    /// A host value (`*mut VMExternData`), or an internal reference made
    /// external by `extern.convert_any`.
    Extern,
    /// An exception.
    Exn,
    /// Any internal reference: a GC object, an `i31`, or a host value made
    /// internal by `any.convert_extern`.
    Any,
    /// A reference comparable with `ref.eq`: a GC object or an `i31`.
    Eq,
    /// An unboxed 31-bit integer.
    I31,
    /// Any struct.
    Struct,
    /// Any array.
    Array,
    /// No function.
    NoFunc,
    /// No host value.
    NoExtern,
    /// No exception.
    NoExn,
    /// No internal reference.
    None,
    /// A function of a concrete type, by type index (see the module docs).
    ConcreteFunc(u32),
    /// A struct of a concrete type, by type index.
    ConcreteStruct(u32),
    /// An array of a concrete type, by type index.
    ConcreteArray(u32),
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

    /// Whether values of the type are reference counted: references of the
    /// extern, exn and any hierarchies (a `VMExternData` or a GC object,
    /// SPEC 3.14). They need stack maps, the activations table and the
    /// count barriers of tables, globals and GC fields (SPEC 3.8, 3.13).
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
        matches!(self.heap.top(), HeapType::Extern | HeapType::Exn | HeapType::Any)
    }

    /// Whether the references are internal (the any hierarchy).
    pub fn is_any_ref(self) -> bool {
        self.heap.top() == HeapType::Any
    }

    /// Whether a value of the type may be an `i31` (tagged, not a
    /// pointer; SPEC 3.14), so that barriers must test the tag before
    /// touching a count: true of `any`, `eq`, `i31` and `extern`, which
    /// `extern.convert_any` can fill with one.
    pub fn may_be_i31(self) -> bool {
        matches!(self.heap, HeapType::Any | HeapType::Eq | HeapType::I31 | HeapType::Extern)
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
            HeapType::ConcreteFunc(index) => HeapType::ConcreteFunc(f(index)),
            HeapType::ConcreteStruct(index) => HeapType::ConcreteStruct(f(index)),
            HeapType::ConcreteArray(index) => HeapType::ConcreteArray(f(index)),
            other => other,
        };
        RefType { heap, ..self }
    }
}

impl HeapType {
    /// The top of the type's hierarchy.
    pub fn top(self) -> HeapType {
        match self {
            HeapType::Func | HeapType::NoFunc | HeapType::ConcreteFunc(_) => HeapType::Func,
            HeapType::Extern | HeapType::NoExtern => HeapType::Extern,
            HeapType::Exn | HeapType::NoExn => HeapType::Exn,
            HeapType::Any
            | HeapType::Eq
            | HeapType::I31
            | HeapType::Struct
            | HeapType::Array
            | HeapType::None
            | HeapType::ConcreteStruct(_)
            | HeapType::ConcreteArray(_) => HeapType::Any,
        }
    }

    /// The bottom of the type's hierarchy.
    pub fn bottom(self) -> HeapType {
        match self.top() {
            HeapType::Func => HeapType::NoFunc,
            HeapType::Extern => HeapType::NoExtern,
            HeapType::Exn => HeapType::NoExn,
            _ => HeapType::None,
        }
    }

    /// Whether the type is the bottom of its hierarchy, whose only value
    /// is null.
    pub fn is_bottom(self) -> bool {
        matches!(self, HeapType::NoFunc | HeapType::NoExtern | HeapType::NoExn | HeapType::None)
    }

    /// The type index of a concrete type.
    pub fn concrete_index(self) -> Option<u32> {
        match self {
            HeapType::ConcreteFunc(i) | HeapType::ConcreteStruct(i) | HeapType::ConcreteArray(i) => Some(i),
            _ => None,
        }
    }

    /// The abstract type just above a concrete one (`func`, `struct`,
    /// `array`); an abstract type is its own.
    pub fn abstract_kind(self) -> HeapType {
        match self {
            HeapType::ConcreteFunc(_) => HeapType::Func,
            HeapType::ConcreteStruct(_) => HeapType::Struct,
            HeapType::ConcreteArray(_) => HeapType::Array,
            other => other,
        }
    }

    /// Whether `self` is a subtype of `other` (see [`ValType::is_subtype_of`]).
    pub fn is_subtype_of(self, other: HeapType, concrete: impl Fn(u32, u32) -> bool) -> bool {
        if self == other {
            return true;
        }
        if self.top() != other.top() {
            return false;
        }
        if self.is_bottom() || other == other.top() {
            return true;
        }
        match (self.concrete_index(), other.concrete_index()) {
            (Some(a), Some(b)) => self.abstract_kind() == other.abstract_kind() && concrete(a, b),
            (_, Some(_)) => false,
            // Below `any`: `eq` holds i31s, structs and arrays; a concrete
            // type is under its abstract kind.
            _ => match (self.abstract_kind(), other) {
                (HeapType::I31 | HeapType::Struct | HeapType::Array, HeapType::Eq) => true,
                (kind, other) => kind == other,
            },
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
            HeapType::Any => f.write_str("any"),
            HeapType::Eq => f.write_str("eq"),
            HeapType::I31 => f.write_str("i31"),
            HeapType::Struct => f.write_str("struct"),
            HeapType::Array => f.write_str("array"),
            HeapType::None => f.write_str("none"),
            HeapType::ConcreteFunc(index) | HeapType::ConcreteStruct(index) | HeapType::ConcreteArray(index) => {
                write!(f, "{index}")
            }
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

impl fmt::Display for FuncType {
    /// The text format, parameters and results each in one group:
    /// `(func (param i32 i32) (result i32))`, `(func)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        write_group(f, "param", &self.params)?;
        write_group(f, "result", &self.results)?;
        f.write_str(")")
    }
}

/// ` (keyword t1 t2 ...)`, or nothing for no types.
fn write_group(f: &mut fmt::Formatter<'_>, keyword: &str, types: &[ValType]) -> fmt::Result {
    if types.is_empty() {
        return Ok(());
    }
    write!(f, " ({keyword}")?;
    for t in types {
        write!(f, " {t}")?;
    }
    f.write_str(")")
}

/// How a field or array element is stored: packed 8- or 16-bit integers
/// (read with `_s`/`_u`, written truncated), or a value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StorageType {
    /// A packed 8-bit integer.
    I8,
    /// A packed 16-bit integer.
    I16,
    /// A value.
    Val(ValType),
}

impl StorageType {
    /// The value type it is read as (`i32` for a packed one).
    pub fn unpacked(self) -> ValType {
        match self {
            StorageType::I8 | StorageType::I16 => ValType::I32,
            StorageType::Val(t) => t,
        }
    }

    /// The type with its concrete type index, if any, mapped by `f`.
    pub fn map_concrete(self, f: impl Fn(u32) -> u32) -> StorageType {
        match self {
            StorageType::Val(t) => StorageType::Val(t.map_concrete(f)),
            packed => packed,
        }
    }

    /// Whether it holds counted references (see [`ValType::is_counted_ref`]).
    pub fn is_counted_ref(self) -> bool {
        matches!(self, StorageType::Val(t) if t.is_counted_ref())
    }
}

/// A struct field or an array's elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldType {
    /// How it is stored.
    pub storage: StorageType,
    /// Whether `struct.set` / `array.set` may change it.
    pub mutable: bool,
}

impl FieldType {
    /// The type with its concrete type index, if any, mapped by `f`.
    pub fn map_concrete(self, f: impl Fn(u32) -> u32) -> FieldType {
        FieldType { storage: self.storage.map_concrete(f), ..self }
    }

    /// Whether a field of type `self` may stand where one of type `other`
    /// is expected: immutable fields covariant, mutable ones invariant.
    pub fn is_subtype_of(self, other: FieldType, concrete: impl Fn(u32, u32) -> bool) -> bool {
        if self.mutable != other.mutable {
            return false;
        }
        match (self.storage, other.storage) {
            (StorageType::Val(a), StorageType::Val(b)) => {
                if self.mutable {
                    a.is_subtype_of(b, &concrete) && b.is_subtype_of(a, &concrete)
                } else {
                    a.is_subtype_of(b, &concrete)
                }
            }
            (a, b) => a == b,
        }
    }
}

/// A struct type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StructType {
    /// Its fields, in order.
    pub fields: Vec<FieldType>,
}

/// An array type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArrayType {
    /// Its elements.
    pub element: FieldType,
}

/// A type of the type section.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompositeType {
    /// A function type.
    Func(FuncType),
    /// A struct type.
    Struct(StructType),
    /// An array type.
    Array(ArrayType),
}

impl CompositeType {
    /// The function type, for one.
    pub fn as_func(&self) -> Option<&FuncType> {
        match self {
            CompositeType::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The struct type, for one.
    pub fn as_struct(&self) -> Option<&StructType> {
        match self {
            CompositeType::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The array type, for one.
    pub fn as_array(&self) -> Option<&ArrayType> {
        match self {
            CompositeType::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The heap type of references to a type of this kind at `index`.
    pub fn heap_type(&self, index: u32) -> HeapType {
        match self {
            CompositeType::Func(_) => HeapType::ConcreteFunc(index),
            CompositeType::Struct(_) => HeapType::ConcreteStruct(index),
            CompositeType::Array(_) => HeapType::ConcreteArray(index),
        }
    }

    /// The type with every concrete type index mapped by `f`.
    pub fn map_concrete(&self, f: impl Fn(u32) -> u32) -> CompositeType {
        match self {
            CompositeType::Func(t) => CompositeType::Func(t.map_concrete(f)),
            CompositeType::Struct(s) => {
                CompositeType::Struct(StructType { fields: s.fields.iter().map(|x| x.map_concrete(&f)).collect() })
            }
            CompositeType::Array(a) => CompositeType::Array(ArrayType { element: a.element.map_concrete(f) }),
        }
    }

    /// Whether a type `self` may declare `other` its supertype (the
    /// structural part of GC subtyping): functions as
    /// [`FuncType::is_subtype_of`], structs by width and depth, arrays by
    /// element.
    pub fn is_subtype_of(&self, other: &CompositeType, concrete: impl Fn(u32, u32) -> bool) -> bool {
        match (self, other) {
            (CompositeType::Func(a), CompositeType::Func(b)) => a.is_subtype_of(b, concrete),
            (CompositeType::Struct(a), CompositeType::Struct(b)) => {
                a.fields.len() >= b.fields.len()
                    && a.fields.iter().zip(&b.fields).all(|(x, y)| x.is_subtype_of(*y, &concrete))
            }
            (CompositeType::Array(a), CompositeType::Array(b)) => a.element.is_subtype_of(b.element, concrete),
            _ => false,
        }
    }
}

impl fmt::Display for StorageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageType::I8 => f.write_str("i8"),
            StorageType::I16 => f.write_str("i16"),
            StorageType::Val(t) => t.fmt(f),
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mutable {
            write!(f, "(mut {})", self.storage)
        } else {
            self.storage.fmt(f)
        }
    }
}

impl fmt::Display for CompositeType {
    /// The text format: `(func (param i32) (result i32))`,
    /// `(struct (field (mut i8)) (field anyref))`, `(array i64)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompositeType::Func(t) => t.fmt(f),
            CompositeType::Struct(s) => {
                f.write_str("(struct")?;
                for field in &s.fields {
                    write!(f, " (field {field})")?;
                }
                f.write_str(")")
            }
            CompositeType::Array(a) => write!(f, "(array {})", a.element),
        }
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
        let concrete = HeapType::ConcreteFunc(3);
        assert!(HeapType::NoFunc.is_subtype_of(concrete, same));
        assert!(concrete.is_subtype_of(HeapType::Func, same));
        assert!(!HeapType::Func.is_subtype_of(concrete, same));
        assert!(HeapType::NoExtern.is_subtype_of(HeapType::Extern, same));
        assert!(!HeapType::NoExtern.is_subtype_of(HeapType::Func, same));
        assert!(!HeapType::Extern.is_subtype_of(HeapType::Func, same));
        assert!(!HeapType::ConcreteFunc(3).is_subtype_of(HeapType::ConcreteFunc(4), same));
        assert!(HeapType::NoExn.is_subtype_of(HeapType::Exn, same));
    }

    #[test]
    fn any_hierarchy_subtyping() {
        let s = HeapType::ConcreteStruct(1);
        let a = HeapType::ConcreteArray(1);
        assert!(s.is_subtype_of(HeapType::Struct, same));
        assert!(s.is_subtype_of(HeapType::Eq, same));
        assert!(s.is_subtype_of(HeapType::Any, same));
        assert!(!s.is_subtype_of(HeapType::Array, same));
        assert!(!s.is_subtype_of(a, same), "a struct is never an array of the same index");
        assert!(HeapType::I31.is_subtype_of(HeapType::Eq, same));
        assert!(!HeapType::I31.is_subtype_of(HeapType::Struct, same));
        assert!(HeapType::None.is_subtype_of(a, same));
        assert!(!HeapType::None.is_subtype_of(HeapType::Func, same));
        assert!(!HeapType::Eq.is_subtype_of(HeapType::Struct, same));
        assert!(!HeapType::Any.is_subtype_of(HeapType::Extern, same));
        assert!(!HeapType::Struct.is_subtype_of(s, same));
    }

    #[test]
    fn field_variance() {
        let anyref = ValType::Ref(RefType { nullable: true, heap: HeapType::Any });
        let eqref = ValType::Ref(RefType { nullable: true, heap: HeapType::Eq });
        let imm = |t| FieldType { storage: StorageType::Val(t), mutable: false };
        let var = |t| FieldType { storage: StorageType::Val(t), mutable: true };
        assert!(imm(eqref).is_subtype_of(imm(anyref), same));
        assert!(!imm(anyref).is_subtype_of(imm(eqref), same));
        assert!(!var(eqref).is_subtype_of(var(anyref), same), "mutable fields are invariant");
        let wide = CompositeType::Struct(StructType { fields: vec![imm(eqref), imm(ValType::I32)] });
        let narrow = CompositeType::Struct(StructType { fields: vec![imm(anyref)] });
        assert!(wide.is_subtype_of(&narrow, same));
        assert!(!narrow.is_subtype_of(&wide, same));
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
        assert_eq!(
            ValType::Ref(RefType { nullable: true, heap: HeapType::ConcreteStruct(2) }).to_string(),
            "(ref null 2)"
        );
        let binary = FuncType { params: vec![ValType::I32, ValType::I32], results: vec![ValType::I32] };
        assert_eq!(binary.to_string(), "(func (param i32 i32) (result i32))");
        assert_eq!(FuncType { params: vec![], results: vec![] }.to_string(), "(func)");
        assert_eq!(
            FuncType { params: vec![ValType::EXTERNREF], results: vec![] }.to_string(),
            "(func (param externref))"
        );
        assert_eq!(CompositeType::Func(binary).to_string(), "(func (param i32 i32) (result i32))");
    }
}
