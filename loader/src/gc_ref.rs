//! Internal references (the any hierarchy) as the host sees them: `i31`s,
//! structs, arrays, and host values seen as `anyref` (SPEC 3.14).
//!
//! An [`AnyRef`] is a small `Copy` handle tied to its store: an `i31`
//! inline, or a root in the store's root table, which owns one count of
//! the object while the root lives. Roots are released by the
//! [`RootScope`](crate::RootScope) they were made in, when the host
//! function call that made them returns, or with the store. A handle of
//! another store, or whose root was released, is refused with an error.

use std::fmt;

use kiln_format::{gc, ArrayType, HeapType, StructType};

use crate::error::Error;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::values::Val;
use crate::vm::gc_object::{self, ObjectHeader};
use crate::vm::gc_roots::GcRoot;
use crate::vm::store::StoreOpaque;
use crate::vm::ExternRef;

/// An unboxed 31-bit integer, an `i31ref`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct I31(u32);

impl I31 {
    /// The `i31` of `value`, if it fits in 31 unsigned bits.
    pub fn new_u32(value: u32) -> Option<I31> {
        (value <= 0x7fff_ffff).then_some(I31(value))
    }

    /// The `i31` of `value`, if it fits in 31 signed bits.
    pub fn new_i32(value: i32) -> Option<I31> {
        (-0x4000_0000..=0x3fff_ffff).contains(&value).then_some(I31(value as u32 & 0x7fff_ffff))
    }

    /// The low 31 bits of `value`, as `ref.i31` takes them.
    pub fn wrapping_u32(value: u32) -> I31 {
        I31(value & 0x7fff_ffff)
    }

    /// The low 31 bits of `value`, as `ref.i31` takes them.
    pub fn wrapping_i32(value: i32) -> I31 {
        I31::wrapping_u32(value as u32)
    }

    /// The value zero-extended (`i31.get_u`).
    pub fn get_u32(self) -> u32 {
        gc::i31_get_u(self.word())
    }

    /// The value sign-extended (`i31.get_s`).
    pub fn get_i32(self) -> i32 {
        gc::i31_get_s(self.word())
    }

    pub(crate) fn word(self) -> u64 {
        gc::i31_ref(self.0)
    }

    pub(crate) fn from_word(word: u64) -> I31 {
        I31(gc::i31_get_u(word))
    }
}

impl fmt::Debug for I31 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "I31({})", self.get_i32())
    }
}

/// A non-null internal reference: an `i31`, a struct, an array, or a host
/// value made internal by `any.convert_extern` ([`AnyRef::from_extern`]).
#[derive(Clone, Copy, Debug)]
pub struct AnyRef {
    pub(crate) repr: AnyRepr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnyRepr {
    I31(I31),
    Rooted(GcRoot),
}

/// What an internal reference is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    I31,
    Host,
    Struct(u32),
    Array(u32),
}

impl AnyRef {
    /// The `i31` as an `anyref`.
    pub fn from_i31(value: I31) -> AnyRef {
        AnyRef { repr: AnyRepr::I31(value) }
    }

    /// An externref made internal, as `any.convert_extern` does: a host
    /// value becomes an `anyref` of its own (rooted in `store`), and an
    /// internal reference made external is itself again.
    pub fn from_extern(store: impl AsContext, r: &ExternRef) -> Result<AnyRef, Error> {
        let store = opaque(&store);
        match r.as_internal() {
            Some(any) => {
                any.word(store)?;
                Ok(*any)
            }
            None => Ok(AnyRef { repr: AnyRepr::Rooted(gc_object::root_host(store, r)?) }),
        }
    }

    pub(crate) fn rooted(root: GcRoot) -> AnyRef {
        AnyRef { repr: AnyRepr::Rooted(root) }
    }

    /// The reference word, if the handle is valid in `store`.
    pub(crate) fn word(&self, store: &StoreOpaque) -> Result<u64, Error> {
        match self.repr {
            AnyRepr::I31(i) => Ok(i.word()),
            AnyRepr::Rooted(root) => store.roots.word(root),
        }
    }

    /// Whether both are the same handle (the same root, or equal `i31`s).
    pub(crate) fn same_handle(&self, other: &AnyRef) -> bool {
        self.repr == other.repr
    }

    fn kind(&self, store: &StoreOpaque) -> Result<Kind, Error> {
        Ok(match self.repr {
            AnyRepr::I31(_) => Kind::I31,
            AnyRepr::Rooted(root) => match gc_object::header(store, root)? {
                ObjectHeader { kind: gc::KIND_STRUCT, type_id, .. } => Kind::Struct(type_id),
                ObjectHeader { kind: gc::KIND_ARRAY, type_id, .. } => Kind::Array(type_id),
                _ => Kind::Host,
            },
        })
    }

    /// Whether the reference is of heap type `heap` (concrete types named
    /// by engine id).
    pub(crate) fn matches(&self, store: &StoreOpaque, heap: HeapType) -> Result<bool, Error> {
        let kind = self.kind(store)?;
        Ok(match heap {
            HeapType::Any => true,
            HeapType::Eq => kind != Kind::Host,
            HeapType::I31 => kind == Kind::I31,
            HeapType::Struct => matches!(kind, Kind::Struct(_)),
            HeapType::Array => matches!(kind, Kind::Array(_)),
            HeapType::ConcreteStruct(id) => matches!(kind, Kind::Struct(t) if store.engine.is_subtype(t, id)),
            HeapType::ConcreteArray(id) => matches!(kind, Kind::Array(t) if store.engine.is_subtype(t, id)),
            _ => false,
        })
    }

    /// Whether the reference is an `i31`.
    pub fn is_i31(&self) -> bool {
        matches!(self.repr, AnyRepr::I31(_))
    }

    /// The `i31`, if it is one.
    pub fn as_i31(&self) -> Option<I31> {
        match self.repr {
            AnyRepr::I31(i) => Some(i),
            AnyRepr::Rooted(_) => None,
        }
    }

    /// Whether the reference is a struct.
    pub fn is_struct(&self, store: impl AsContext) -> Result<bool, Error> {
        Ok(matches!(self.kind(opaque(&store))?, Kind::Struct(_)))
    }

    /// The struct, if it is one.
    pub fn as_struct(&self, store: impl AsContext) -> Result<Option<StructRef>, Error> {
        Ok(match (self.kind(opaque(&store))?, self.repr) {
            (Kind::Struct(_), AnyRepr::Rooted(root)) => Some(StructRef { root }),
            _ => None,
        })
    }

    /// Whether the reference is an array.
    pub fn is_array(&self, store: impl AsContext) -> Result<bool, Error> {
        Ok(matches!(self.kind(opaque(&store))?, Kind::Array(_)))
    }

    /// The array, if it is one.
    pub fn as_array(&self, store: impl AsContext) -> Result<Option<ArrayRef>, Error> {
        Ok(match (self.kind(opaque(&store))?, self.repr) {
            (Kind::Array(_), AnyRepr::Rooted(root)) => Some(ArrayRef { root }),
            _ => None,
        })
    }

    /// Whether the reference is a host value made internal (it is then
    /// neither an `eqref` nor comparable with `ref.eq` in Wasm).
    pub fn is_host(&self, store: impl AsContext) -> Result<bool, Error> {
        Ok(self.kind(opaque(&store))? == Kind::Host)
    }

    /// Whether both references are the same object (or equal `i31`s), as
    /// `ref.eq` compares them.
    pub fn ref_eq(store: impl AsContext, a: &AnyRef, b: &AnyRef) -> Result<bool, Error> {
        let store = opaque(&store);
        Ok(a.word(store)? == b.word(store)?)
    }
}

impl From<I31> for AnyRef {
    fn from(value: I31) -> AnyRef {
        AnyRef::from_i31(value)
    }
}

/// A struct of a store, rooted like an [`AnyRef`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructRef {
    root: GcRoot,
}

impl StructRef {
    /// The struct as an `anyref`.
    pub fn to_anyref(self) -> AnyRef {
        AnyRef::rooted(self.root)
    }

    /// Its type, concrete references as engine ids.
    pub fn ty(&self, store: impl AsContext) -> Result<StructType, Error> {
        Ok(gc_object::struct_type(opaque(&store), self.root)?.1)
    }

    /// The value of field `index` (a packed field zero-extended to `i32`).
    pub fn field(&self, store: impl AsContext, index: usize) -> Result<Val, Error> {
        gc_object::struct_field(opaque(&store), self.root, index)
    }

    /// The values of every field.
    pub fn fields(&self, store: impl AsContext) -> Result<Vec<Val>, Error> {
        let store = opaque(&store);
        let count = gc_object::struct_type(store, self.root)?.1.fields.len();
        (0..count).map(|i| gc_object::struct_field(store, self.root, i)).collect()
    }

    /// Sets mutable field `index` (a packed field to the low bits of an
    /// `i32`).
    pub fn set_field(&self, mut store: impl AsContextMut, index: usize, value: Val) -> Result<(), Error> {
        gc_object::set_struct_field(opaque_mut(&mut store), self.root, index, &value)
    }

    /// Allocates a struct of type `ty` (concrete references as engine ids)
    /// with one value per field, in `store`'s GC heap. The type is that of
    /// a final struct type alone in its recursion group, so Wasm that
    /// defines the same type casts the struct to it. Fails with the
    /// `gc_heap_exhausted` trap when the heap cannot grow.
    pub fn new(mut store: impl AsContextMut, ty: &StructType, fields: &[Val]) -> Result<StructRef, Error> {
        Ok(StructRef { root: gc_object::new_struct(opaque_mut(&mut store), ty, fields)? })
    }
}

impl From<StructRef> for AnyRef {
    fn from(s: StructRef) -> AnyRef {
        s.to_anyref()
    }
}

/// An array of a store, rooted like an [`AnyRef`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayRef {
    root: GcRoot,
}

impl ArrayRef {
    /// The array as an `anyref`.
    pub fn to_anyref(self) -> AnyRef {
        AnyRef::rooted(self.root)
    }

    /// Its type, concrete references as engine ids.
    pub fn ty(&self, store: impl AsContext) -> Result<ArrayType, Error> {
        Ok(gc_object::array_type(opaque(&store), self.root)?.1)
    }

    /// Its number of elements.
    pub fn len(&self, store: impl AsContext) -> Result<u32, Error> {
        gc_object::array_len(opaque(&store), self.root)
    }

    /// Whether it has no elements.
    pub fn is_empty(&self, store: impl AsContext) -> Result<bool, Error> {
        Ok(self.len(store)? == 0)
    }

    /// Element `index` (a packed element zero-extended to `i32`); an
    /// error past the end.
    pub fn get(&self, store: impl AsContext, index: u32) -> Result<Val, Error> {
        gc_object::array_get(opaque(&store), self.root, index)
    }

    /// Sets element `index` of a mutable array; an error past the end.
    pub fn set(&self, mut store: impl AsContextMut, index: u32, value: Val) -> Result<(), Error> {
        gc_object::array_set(opaque_mut(&mut store), self.root, index, &value)
    }

    /// Allocates an array of type `ty` (as [`StructRef::new`] takes types)
    /// of `len` copies of `element`.
    pub fn new(mut store: impl AsContextMut, ty: &ArrayType, element: &Val, len: u32) -> Result<ArrayRef, Error> {
        Ok(ArrayRef { root: gc_object::new_array_filled(opaque_mut(&mut store), ty, element, len)? })
    }

    /// Allocates an array of type `ty` whose elements are `elements`.
    pub fn new_fixed(mut store: impl AsContextMut, ty: &ArrayType, elements: &[Val]) -> Result<ArrayRef, Error> {
        Ok(ArrayRef { root: gc_object::new_array(opaque_mut(&mut store), ty, elements)? })
    }
}

impl From<ArrayRef> for AnyRef {
    fn from(a: ArrayRef) -> AnyRef {
        a.to_anyref()
    }
}
