//! The runtime's view of a struct or array type: where its fields are,
//! which of them hold counted references, and whether it can be part of a
//! cycle. Built once per engine type id from the registry's
//! `CompositeType` with the format's `StructLayout`/`ArrayLayout`, the
//! same offsets compiled code uses.

use kiln_format::gc::{self, ArrayLayout, StructLayout};
use kiln_format::{CompositeType, StorageType};

/// One field of a struct, or the element of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldLayout {
    /// Offset from the object's start (of element 0 for an array).
    pub offset: u32,
    /// How it is stored.
    pub storage: StorageType,
    /// Whether it holds a counted reference (the object owns a count).
    pub counted: bool,
    /// Whether `struct.set`/`array.set` may change it.
    pub mutable: bool,
}

impl FieldLayout {
    /// Its size in bytes.
    pub fn size(&self) -> u32 {
        gc::storage_size(self.storage)
    }
}

/// The shape of a struct or array type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A struct of a fixed size.
    Struct {
        /// Its fields, in declaration order.
        fields: Box<[FieldLayout]>,
        /// Its size, a multiple of 16.
        size: u32,
        /// Offsets of the fields that hold counted references, which
        /// freeing and the cycle collector follow.
        counted_offsets: Box<[u32]>,
    },
    /// An array.
    Array {
        /// Its element (the offset is element 0's).
        element: FieldLayout,
        /// Where its elements are.
        layout: ArrayLayout,
    },
}

/// The runtime's layout of one GC type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GcLayout {
    /// Its engine type id.
    pub type_id: u32,
    /// Struct or array.
    pub shape: Shape,
    /// No field holds a counted reference, so no object of the type is
    /// ever part of a cycle (`FLAG_ACYCLIC`).
    pub acyclic: bool,
}

impl GcLayout {
    /// The layout of engine type `type_id`, or `None` for a function type.
    pub fn of(type_id: u32, ty: &CompositeType) -> Option<GcLayout> {
        let field = |offset, f: &kiln_format::FieldType| FieldLayout {
            offset,
            storage: f.storage,
            counted: f.storage.is_counted_ref(),
            mutable: f.mutable,
        };
        let shape = match ty {
            CompositeType::Func(_) => return None,
            CompositeType::Struct(s) => {
                let layout = StructLayout::of(s);
                let fields: Box<[FieldLayout]> =
                    s.fields.iter().zip(&layout.field_offsets).map(|(f, &offset)| field(offset, f)).collect();
                let counted_offsets = fields.iter().filter(|f| f.counted).map(|f| f.offset).collect();
                Shape::Struct { fields, size: layout.size, counted_offsets }
            }
            CompositeType::Array(a) => {
                let layout = ArrayLayout::of(a);
                Shape::Array { element: field(layout.elements_offset, &a.element), layout }
            }
        };
        let acyclic = match &shape {
            Shape::Struct { counted_offsets, .. } => counted_offsets.is_empty(),
            Shape::Array { element, .. } => !element.counted,
        };
        Some(GcLayout { type_id, shape, acyclic })
    }

    /// The header kind of its objects.
    pub fn kind(&self) -> u32 {
        match self.shape {
            Shape::Struct { .. } => gc::KIND_STRUCT,
            Shape::Array { .. } => gc::KIND_ARRAY,
        }
    }

    /// The header word of a new object of the type.
    pub fn initial_header(&self) -> u32 {
        self.kind() | if self.acyclic { gc::FLAG_ACYCLIC } else { 0 }
    }

    /// The struct's fields, if it is a struct type.
    pub fn struct_fields(&self) -> Option<&[FieldLayout]> {
        match &self.shape {
            Shape::Struct { fields, .. } => Some(fields),
            Shape::Array { .. } => None,
        }
    }

    /// The array's element, if it is an array type.
    pub fn array_element(&self) -> Option<(FieldLayout, ArrayLayout)> {
        match &self.shape {
            Shape::Struct { .. } => None,
            Shape::Array { element, layout } => Some((*element, *layout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_format::{ArrayType, FieldType, HeapType, RefType, StructType, ValType};

    fn field(storage: StorageType) -> FieldType {
        FieldType { storage, mutable: true }
    }

    #[test]
    fn counted_fields_and_acyclicity() {
        let any = StorageType::Val(ValType::Ref(RefType { nullable: true, heap: HeapType::Any }));
        let func = StorageType::Val(ValType::Ref(RefType { nullable: true, heap: HeapType::Func }));
        let s = CompositeType::Struct(StructType { fields: vec![field(StorageType::I8), field(any), field(func)] });
        let layout = GcLayout::of(7, &s).unwrap();
        let Shape::Struct { counted_offsets, size, .. } = &layout.shape else { panic!("a struct") };
        assert_eq!(&counted_offsets[..], &[24], "funcrefs are not counted");
        assert_eq!(*size, 48);
        assert!(!layout.acyclic);
        assert_eq!(layout.initial_header(), gc::KIND_STRUCT);
        let a = CompositeType::Array(ArrayType { element: field(StorageType::I16) });
        let layout = GcLayout::of(8, &a).unwrap();
        assert!(layout.acyclic);
        assert_eq!(layout.initial_header(), gc::KIND_ARRAY | gc::FLAG_ACYCLIC);
    }
}
