//! Tables of references.
//!
//! Elements are raw 8-byte references (`*const VMFuncRef` or
//! `*mut VMExternData`, null for null) in a `Vec`, whose buffer compiled code
//! reads and writes through the table's definition. Growing may move the
//! buffer; the definition is updated at once. An externref table owns one
//! count of every reference stored in it.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::rc::Rc;

use kiln_format::{RefType, TableType, TrapCode};

use crate::error::Error;
use crate::externref::{decrement_raw, increment_raw, VMExternData};
use crate::store::Store;
use crate::values::Val;
use crate::vm::{VMDefinition, VMFuncRef};

/// Most elements a table may have, whatever its declared maximum says.
pub const MAX_TABLE_ELEMENTS: u32 = 10_000_000;

pub(crate) struct TableInner {
    ty: TableType,
    elements: UnsafeCell<Vec<usize>>,
    /// The `VMTableDefinition` compiled code reads: inside the defining
    /// VMContext, or `own_definition` for a table made by the host.
    home: *mut VMDefinition,
    _own_definition: Option<Box<UnsafeCell<VMDefinition>>>,
}

impl TableInner {
    /// A table of `ty.minimum` copies of `init` (a raw reference whose count,
    /// for an externref, stays with the caller).
    pub(crate) fn new(ty: TableType, init: usize, home: *mut VMDefinition) -> Result<TableInner, Error> {
        if ty.minimum > MAX_TABLE_ELEMENTS || ty.maximum.is_some_and(|m| m < ty.minimum) {
            return Err(Error::Instantiation(format!("table limits out of range: {ty:?}")));
        }
        let (home, own) = if home.is_null() {
            let own = Box::new(UnsafeCell::new(VMDefinition::default()));
            (own.get(), Some(own))
        } else {
            (home, None)
        };
        let table = TableInner { ty, elements: UnsafeCell::new(Vec::new()), home, _own_definition: own };
        table.with_elements(|_| ());
        if table.grow(ty.minimum, init).is_none() {
            return Err(Error::Instantiation("cannot allocate the table".into()));
        }
        Ok(table)
    }

    /// Runs `f` on the elements, then updates the definition. `f` must not
    /// reach this table again (it only moves raw values; counts change after it).
    fn with_elements<R>(&self, f: impl FnOnce(&mut Vec<usize>) -> R) -> R {
        // SAFETY: tables are used from one thread, and the borrow ends before
        // anything that could reach the table again runs.
        let elements = unsafe { &mut *self.elements.get() };
        let result = f(elements);
        // SAFETY: `home` is valid for the table's life.
        unsafe {
            self.home.write(VMDefinition { base: elements.as_mut_ptr().cast(), current_length: elements.len() as u64 })
        };
        result
    }

    fn is_extern(&self) -> bool {
        self.ty.element == RefType::ExternRef
    }

    pub(crate) fn element_type(&self) -> RefType {
        self.ty.element
    }

    pub(crate) fn definition_ptr(&self) -> *mut VMDefinition {
        self.home
    }

    pub(crate) fn size(&self) -> u32 {
        // Compiled code never changes the length, only the elements.
        self.with_elements(|e| e.len() as u32)
    }

    pub(crate) fn current_type(&self) -> TableType {
        TableType { minimum: self.size(), ..self.ty }
    }

    /// The raw element at `index`; the table keeps its count.
    pub(crate) fn get(&self, index: u32) -> Result<usize, TrapCode> {
        self.with_elements(|e| e.get(index as usize).copied()).ok_or(TrapCode::TABLE_OUT_OF_BOUNDS)
    }

    /// Stores a raw reference, taking a new count of it and dropping the old one.
    pub(crate) fn set(&self, index: u32, value: usize) -> Result<(), TrapCode> {
        let old = self
            .with_elements(|e| e.get_mut(index as usize).map(|slot| std::mem::replace(slot, value)))
            .ok_or(TrapCode::TABLE_OUT_OF_BOUNDS)?;
        if self.is_extern() {
            // SAFETY: `value` is live (the caller holds it) and the table owned `old`.
            unsafe {
                increment_raw(value as *mut VMExternData);
                decrement_raw(old as *mut VMExternData);
            }
        }
        Ok(())
    }

    /// Grows by `delta` copies of `init`; the old size, or `None` past the limit.
    pub(crate) fn grow(&self, delta: u32, init: usize) -> Option<u32> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.ty.maximum.unwrap_or(u32::MAX).min(MAX_TABLE_ELEMENTS) {
            return None;
        }
        let grown = self.with_elements(|elements| {
            elements.try_reserve_exact(delta as usize).is_ok() && {
                elements.resize(new as usize, init);
                true
            }
        });
        if !grown {
            return None;
        }
        if self.is_extern() {
            for _ in 0..delta {
                // SAFETY: `init` is live; each new element owns one count.
                unsafe { increment_raw(init as *mut VMExternData) };
            }
        }
        Some(old)
    }

    pub(crate) fn fill(&self, dst: u32, value: usize, len: u32) -> Result<(), TrapCode> {
        check_range(dst, len, self.size())?;
        for i in dst..dst + len {
            self.set(i, value)?;
        }
        Ok(())
    }

    /// `table.copy` from `src` (which may be `self`), with overlap handled.
    pub(crate) fn copy_from(&self, dst: u32, src: &TableInner, src_index: u32, len: u32) -> Result<(), TrapCode> {
        check_range(dst, len, self.size())?;
        check_range(src_index, len, src.size())?;
        let values: Vec<usize> = src.with_elements(|e| e[src_index as usize..(src_index + len) as usize].to_vec());
        for (i, v) in values.into_iter().enumerate() {
            self.set(dst + i as u32, v)?;
        }
        Ok(())
    }

    /// Drops the counts of every externref stored; the store calls this once, when it is dropped.
    pub(crate) fn release_references(&self) {
        if !self.is_extern() {
            return;
        }
        let old = self.with_elements(std::mem::take);
        for raw in old {
            // SAFETY: the table owned one count of each element.
            unsafe { decrement_raw(raw as *mut VMExternData) };
        }
    }
}

/// Checks `[start, start + len)` against `size`.
pub(crate) fn check_range(start: u32, len: u32, size: u32) -> Result<(), TrapCode> {
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(TrapCode::TABLE_OUT_OF_BOUNDS),
    }
}

/// A table.
#[derive(Clone)]
pub struct Table {
    pub(crate) store: Store,
    pub(crate) inner: Rc<TableInner>,
}

impl Table {
    /// A new table of `ty.minimum` copies of `init`.
    pub fn new(store: &Store, ty: TableType, init: Val) -> Result<Table, Error> {
        let raw = checked_ref(store, ty.element, &init)?;
        let inner = Rc::new(TableInner::new(ty, raw, std::ptr::null_mut())?);
        store.inner.tables.borrow_mut().push(inner.clone());
        Ok(Table { store: store.clone(), inner })
    }

    /// Its type, with the current size as minimum.
    pub fn ty(&self) -> TableType {
        self.inner.current_type()
    }

    /// Current number of elements.
    pub fn size(&self) -> u32 {
        self.inner.size()
    }

    /// The element at `index`, or `None` out of bounds.
    pub fn get(&self, index: u32) -> Option<Val> {
        let raw = self.inner.get(index).ok()?;
        Some(raw_to_val(&self.store, self.inner.element_type(), raw))
    }

    /// Stores `value` at `index`.
    pub fn set(&self, index: u32, value: Val) -> Result<(), Error> {
        let raw = checked_ref(&self.store, self.inner.element_type(), &value)?;
        self.inner.set(index, raw).map_err(Error::trap_code)
    }

    /// Grows by `delta` copies of `init`; returns the old size.
    pub fn grow(&self, delta: u32, init: Val) -> Result<u32, Error> {
        let raw = checked_ref(&self.store, self.inner.element_type(), &init)?;
        self.inner.grow(delta, raw).ok_or_else(|| Error::Instantiation(format!("cannot grow table by {delta}")))
    }

    /// The store it belongs to.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The raw encoding of a reference value of type `ty`, checking its type and store.
pub(crate) fn checked_ref(store: &Store, ty: RefType, value: &Val) -> Result<usize, Error> {
    match (ty, value) {
        (RefType::FuncRef, Val::FuncRef(f)) => {
            if let Some(f) = f {
                if !Store::same(f.store(), store) {
                    return Err(Error::ty("funcref from another store"));
                }
            }
            Ok(value.raw_ref())
        }
        (RefType::ExternRef, Val::ExternRef(_)) => Ok(value.raw_ref()),
        _ => Err(Error::ty(format!("expected a {ty:?} value, got {:?}", value.ty()))),
    }
}

/// A host value for a raw element; an externref becomes a new reference.
pub(crate) fn raw_to_val(store: &Store, ty: RefType, raw: usize) -> Val {
    match ty {
        // SAFETY: tables of this store hold only null or this store's func refs.
        RefType::FuncRef => Val::FuncRef(unsafe { crate::func::Func::from_raw(store, raw as *const VMFuncRef) }),
        // SAFETY: the table owns a count, so the reference is live.
        RefType::ExternRef => {
            Val::ExternRef(unsafe { crate::externref::ExternRef::clone_from_raw(raw as *mut VMExternData) })
        }
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("ty", &self.ty()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::externref::ExternRef;

    fn ty(element: RefType, minimum: u32, maximum: Option<u32>) -> TableType {
        TableType { element, minimum, maximum }
    }

    #[test]
    fn externref_tables_own_one_count_per_element() {
        let r = ExternRef::new("x");
        let raw = r.as_raw() as usize;
        let t = TableInner::new(ty(RefType::ExternRef, 2, Some(5)), raw, std::ptr::null_mut()).unwrap();
        assert_eq!(r.strong_count(), 3);
        assert_eq!(t.grow(2, raw), Some(2));
        assert_eq!(r.strong_count(), 5);
        assert_eq!(t.grow(2, raw), None);
        t.set(0, 0).unwrap();
        assert_eq!(r.strong_count(), 4);
        t.set(1, raw).unwrap();
        assert_eq!(r.strong_count(), 4, "storing the same reference keeps the count");
        t.copy_from(0, &t, 1, 3).unwrap();
        assert_eq!(r.strong_count(), 5);
        assert_eq!(t.fill(3, 0, 2), Err(TrapCode::TABLE_OUT_OF_BOUNDS));
        assert_eq!(r.strong_count(), 5, "an out-of-bounds fill writes nothing");
        t.release_references();
        assert_eq!(r.strong_count(), 1);
    }

    #[test]
    fn definition_follows_growth() {
        let t = TableInner::new(ty(RefType::FuncRef, 1, None), 0, std::ptr::null_mut()).unwrap();
        assert_eq!(t.grow(1000, 0), Some(1));
        // SAFETY: the definition is owned by the table.
        let def = unsafe { *t.definition_ptr() };
        assert_eq!(def.current_length, 1001);
        assert_eq!(t.get(1001), Err(TrapCode::TABLE_OUT_OF_BOUNDS));
        assert_eq!(t.grow(MAX_TABLE_ELEMENTS, 0), None);
        assert_eq!(check_range(u32::MAX, 2, 10), Err(TrapCode::TABLE_OUT_OF_BOUNDS));
        assert_eq!(check_range(10, 0, 10), Ok(()));
    }
}
