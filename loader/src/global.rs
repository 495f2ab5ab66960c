//! Globals, as handles.

use kiln_format::GlobalType;

use crate::error::Error;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::values::Val;
use crate::vm::global::GlobalInner;
use crate::vm::store::{release_counts, StoreId, StoreOpaque};

/// A global of a store. A small `Copy` handle; the store owns the global.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Global {
    /// A new global of type `ty` holding `value`.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, value: Val) -> Result<Global, Error> {
        let store = opaque_mut(&mut store);
        let slot = value.to_raw_slot(store, ty.content)?;
        store.globals.push(GlobalInner::new(ty, std::ptr::null_mut(), slot));
        Ok(Global { store: store.id(), index: store.globals.len() as u32 - 1 })
    }

    pub(crate) fn inner<'a>(&self, store: &'a StoreOpaque) -> Result<&'a GlobalInner, Error> {
        store.check(self.store, "global")?;
        Ok(&store.globals[self.index as usize])
    }

    /// Its type.
    ///
    /// # Panics
    /// If the global belongs to another store (so does [`Global::get`]).
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        self.inner(opaque(&store)).unwrap_or_else(|e| panic!("{e}")).ty()
    }

    /// Its current value.
    pub fn get(&self, store: impl AsContext) -> Val {
        let store = opaque(&store);
        self.inner(store).unwrap_or_else(|e| panic!("{e}")).get_val(store)
    }

    /// Sets its value; fails for an immutable global or a value of another
    /// type. A host value's destructor that panics (dropping the old value)
    /// becomes the error, after the write.
    pub fn set(&self, mut store: impl AsContextMut, value: Val) -> Result<(), Error> {
        let store = opaque_mut(&mut store);
        let global = self.inner(store)?;
        if !global.ty().mutable {
            return Err(Error::ty("cannot set an immutable global"));
        }
        let slot = value.to_raw_slot(store, global.ty().content)?;
        release_counts(global.write(slot))?;
        Ok(())
    }
}
