//! Tables of references, as handles.

use kiln_format::TableType;

use crate::error::Error;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::values::Val;
use crate::vm::store::{StoreId, StoreOpaque};
use crate::vm::table::TableInner;

pub use crate::vm::MAX_TABLE_ELEMENTS;

/// A table of a store. A small `Copy` handle; the store owns the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Table {
    /// A new table of `ty.minimum` copies of `init`.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table, Error> {
        let store = opaque_mut(&mut store);
        let raw = init.checked_ref(store, ty.element)?;
        store.check_counts(0, 0, 1)?;
        let index = store.new_table(ty, raw, std::ptr::null_mut())?;
        Ok(Table { store: store.id(), index })
    }

    pub(crate) fn inner<'a>(&self, store: &'a StoreOpaque) -> Result<&'a TableInner, Error> {
        store.check(self.store, "table")?;
        Ok(&store.tables[self.index as usize])
    }

    /// Its type, with the current size as minimum; `table64` says whether
    /// it is indexed by `i64`. Tables of either kind hold at most
    /// [`MAX_TABLE_ELEMENTS`], so sizes and indices here are `u32`s.
    ///
    /// # Panics
    /// If the table belongs to another store (so does [`Table::size`]).
    pub fn ty(&self, store: impl AsContext) -> TableType {
        self.inner(opaque(&store)).unwrap_or_else(|e| panic!("{e}")).current_type()
    }

    /// Current number of elements.
    pub fn size(&self, store: impl AsContext) -> u32 {
        self.inner(opaque(&store)).unwrap_or_else(|e| panic!("{e}")).size()
    }

    /// The element at `index`, or `None` out of bounds (or for a table of
    /// another store).
    pub fn get(&self, store: impl AsContext, index: u32) -> Option<Val> {
        let store = opaque(&store);
        self.inner(store).ok()?.get_val(index, store)
    }

    /// Stores `value` at `index`. A host value's destructor that panics
    /// (dropping the old element) becomes the error, after the write.
    pub fn set(&self, mut store: impl AsContextMut, index: u32, value: Val) -> Result<(), Error> {
        let store = opaque_mut(&mut store);
        let table = self.inner(store)?;
        let raw = value.checked_ref(store, table.element_type())?;
        table.set(index, raw).map_err(Error::trap_code)?.release()?;
        Ok(())
    }

    /// Grows by `delta` copies of `init`; returns the old size.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u32, init: Val) -> Result<u32, Error> {
        let store = opaque_mut(&mut store);
        let table = self.inner(store)?;
        let raw = init.checked_ref(store, table.element_type())?;
        store
            .grow_table(self.index, delta, raw)?
            .ok_or_else(|| Error::Instantiation(format!("cannot grow table by {delta}")))
    }
}
