//! Tags, as handles: the identities that exceptions are thrown and caught
//! by.

use std::sync::Arc;

use kiln_format::{FuncType, ValType};

use crate::error::Error;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::vm::exception::VMTag;
use crate::vm::store::{StoreId, StoreOpaque};

/// The type of a tag: the types of the values its exceptions carry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagType {
    params: Vec<ValType>,
}

impl TagType {
    /// A tag type whose exceptions carry values of `params`.
    pub fn new(params: impl IntoIterator<Item = ValType>) -> TagType {
        TagType { params: params.into_iter().collect() }
    }

    /// The types of the values.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// The function type (without results) that a module names the tag's type by.
    pub fn func_type(&self) -> FuncType {
        FuncType { params: self.params.clone(), results: Vec::new() }
    }
}

/// A tag of a store. A small `Copy` handle; the store owns the tag. A tag
/// that a module imports is the same tag, so exceptions of it are caught
/// by either module's handlers for it; two tags of equal types are
/// distinct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Tag {
    /// A new tag of type `ty`, distinct from every other.
    pub fn new(mut store: impl AsContextMut, ty: &TagType) -> Tag {
        let store = opaque_mut(&mut store);
        let func_type = ty.func_type();
        let type_id = store.engine.intern_type(&func_type);
        store.new_tag(Arc::new(VMTag { ty: func_type, type_id }))
    }

    pub(crate) fn inner<'a>(&self, store: &'a StoreOpaque) -> Result<&'a Arc<VMTag>, Error> {
        store.check(self.store, "tag")?;
        Ok(&store.tags[self.index as usize])
    }

    /// Its type.
    ///
    /// # Panics
    /// If the tag belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> TagType {
        let tag = self.inner(opaque(&store)).unwrap_or_else(|e| panic!("{e}"));
        TagType { params: tag.ty.params.clone() }
    }
}
