//! Tables of references.
//!
//! Elements are raw 8-byte references (`*const VMFuncRef` or
//! `*mut VMExternData`, null for null) in a `Vec`, whose buffer compiled code
//! reads and writes through the table's definition. Growing may move the
//! buffer; the definition is updated at once. An externref table owns one
//! count of every reference stored in it.
//!
//! Every write path (set, fill, copy, init, grow) takes all the new counts,
//! writes the elements, and only then hands the old counts back as
//! [`ReleasedRefs`], which the caller drops under its destructor guard.
//! Dropping an old count first would free a reference that the same
//! operation is about to store again (`table.copy` within one table, with
//! overlapping ranges), and running a host destructor in the middle of the
//! write could see the table half-written.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::sync::Arc;

use kiln_format::{RefType, TableType, TrapCode};

use super::abi::VMDefinition;
use super::externref::{increment_raw, VMExternData};
use super::pooling::TablePool;
use super::store::{release_counts, DestructorPanicked};
use crate::error::Error;

/// Most elements a table may have, whatever its declared maximum says.
pub const MAX_TABLE_ELEMENTS: u32 = 10_000_000;

/// Counts that a table write gave up, to be dropped by the caller once the
/// table is consistent again.
#[must_use = "the old counts must be released"]
#[derive(Debug, Default)]
pub(crate) struct ReleasedRefs(Vec<*mut VMExternData>);

impl ReleasedRefs {
    /// Drops the counts; a panicking destructor is reported after every
    /// count has been dropped.
    pub(crate) fn release(mut self) -> Result<(), DestructorPanicked> {
        release_counts(std::mem::take(&mut self.0))
    }
}

impl Drop for ReleasedRefs {
    fn drop(&mut self) {
        let _ = release_counts(std::mem::take(&mut self.0));
    }
}

pub(crate) struct TableInner {
    ty: TableType,
    elements: UnsafeCell<Vec<usize>>,
    /// Most elements it may grow to.
    max_elements: u32,
    /// The pool its element buffer goes back to, if it came from one.
    pool: Option<Arc<TablePool>>,
    /// The `VMTableDefinition` compiled code reads: inside the defining
    /// VMContext, or `own_definition` for a table made by the host.
    home: *mut VMDefinition,
    _own_definition: Option<Box<UnsafeCell<VMDefinition>>>,
}

impl TableInner {
    /// A table of `ty.minimum` copies of `init` (a raw reference whose count,
    /// for an externref, stays with the caller).
    pub(crate) fn new(
        ty: TableType,
        init: usize,
        home: *mut VMDefinition,
        pool: Option<&Arc<TablePool>>,
    ) -> Result<TableInner, Error> {
        if ty.maximum.is_some_and(|m| m < ty.minimum) || (!ty.table64 && ty.maximum > Some(u32::MAX.into())) {
            return Err(Error::Instantiation(format!("table limits out of range: {ty}")));
        }
        let minimum = u32::try_from(ty.minimum).ok().filter(|&m| m <= MAX_TABLE_ELEMENTS).ok_or_else(|| {
            Error::Instantiation(format!(
                "a table of {} elements exceeds kiln's maximum of {MAX_TABLE_ELEMENTS}",
                ty.minimum
            ))
        })?;
        // Whatever the maximum (a 64-bit table may declare up to 2^64 - 1),
        // a table grows to at most `MAX_TABLE_ELEMENTS`, so its sizes and
        // indices in bounds are `u32`s.
        let limit = ty.maximum.unwrap_or(u64::MAX).min(MAX_TABLE_ELEMENTS.into()) as u32;
        let (elements, max_elements) = match pool {
            Some(pool) => (pool.allocate(minimum)?, limit.min(pool.max_elements())),
            None => (Vec::new(), limit),
        };
        let (home, own) = if home.is_null() {
            let own = Box::new(UnsafeCell::new(VMDefinition::default()));
            (own.get(), Some(own))
        } else {
            (home, None)
        };
        let table = TableInner {
            ty,
            elements: UnsafeCell::new(elements),
            max_elements,
            pool: pool.cloned(),
            home,
            _own_definition: own,
        };
        table.with_elements(|_| ());
        if table.grow(minimum, init).is_none() {
            return Err(Error::Instantiation("cannot allocate the table".into()));
        }
        Ok(table)
    }

    /// Runs `f` on the elements, then publishes their (possibly moved) buffer
    /// and length to compiled code.
    fn with_elements<R>(&self, f: impl FnOnce(&mut Vec<usize>) -> R) -> R {
        // SAFETY: the table is only touched by the thread running its store,
        // and never while compiled code runs; `f` never calls out, so the
        // borrow ends before anything that could reach the table again runs.
        let elements = unsafe { &mut *self.elements.get() };
        let result = f(elements);
        // SAFETY: `home` is valid for the table's life.
        unsafe {
            self.home.write(VMDefinition { base: elements.as_mut_ptr().cast(), current_length: elements.len() as u64 })
        };
        result
    }

    fn holds_counted_refs(&self) -> bool {
        self.ty.element.is_counted_ref()
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
        TableType { minimum: self.size().into(), ..self.ty }
    }

    /// The raw element at `index`; the table keeps its count.
    pub(crate) fn get(&self, index: u32) -> Result<usize, TrapCode> {
        self.with_elements(|e| e.get(index as usize).copied()).ok_or(TrapCode::TABLE_OUT_OF_BOUNDS)
    }

    /// Takes one new count of each externref in `values`.
    fn take_counts(&self, values: impl IntoIterator<Item = usize>) {
        if self.holds_counted_refs() {
            for value in values {
                // SAFETY: each value is live: the caller holds it, or it is
                // an element of a table that still owns its count.
                unsafe { increment_raw(value as *mut VMExternData) };
            }
        }
    }

    /// The old elements as counts to release (none for a funcref table).
    fn released(&self, old: Vec<usize>) -> ReleasedRefs {
        if self.holds_counted_refs() {
            ReleasedRefs(old.into_iter().map(|raw| raw as *mut VMExternData).filter(|p| !p.is_null()).collect())
        } else {
            ReleasedRefs::default()
        }
    }

    /// Replaces the elements at `dst..` with `values`: new counts first, then
    /// the write, then the old counts back to the caller. The range is checked
    /// before anything changes.
    fn replace(&self, dst: u32, values: &[usize]) -> Result<ReleasedRefs, TrapCode> {
        check_range(dst, values.len() as u32, self.size())?;
        self.take_counts(values.iter().copied());
        let old = self.with_elements(|e| {
            let range = &mut e[dst as usize..dst as usize + values.len()];
            let old = range.to_vec();
            range.copy_from_slice(values);
            old
        });
        Ok(self.released(old))
    }

    /// Stores a raw reference at `index`.
    pub(crate) fn set(&self, index: u32, value: usize) -> Result<ReleasedRefs, TrapCode> {
        self.replace(index, &[value])
    }

    /// `table.fill`.
    pub(crate) fn fill(&self, dst: u32, value: usize, len: u32) -> Result<ReleasedRefs, TrapCode> {
        check_range(dst, len, self.size())?;
        self.replace(dst, &vec![value; len as usize])
    }

    /// `table.copy` from `src` (which may be `self`); overlap is harmless,
    /// since the source elements are read before anything is written.
    pub(crate) fn copy_from(
        &self,
        dst: u32,
        src: &TableInner,
        src_index: u32,
        len: u32,
    ) -> Result<ReleasedRefs, TrapCode> {
        check_range(dst, len, self.size())?;
        check_range(src_index, len, src.size())?;
        let values: Vec<usize> = src.with_elements(|e| e[src_index as usize..(src_index + len) as usize].to_vec());
        self.replace(dst, &values)
    }

    /// `table.init` and element segments: stores already evaluated items.
    pub(crate) fn init(&self, dst: u32, values: &[usize]) -> Result<ReleasedRefs, TrapCode> {
        self.replace(dst, values)
    }

    /// Grows by `delta` copies of `init`; the old size, or `None` past the limit.
    pub(crate) fn grow(&self, delta: u32, init: usize) -> Option<u32> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.max_elements {
            return None;
        }
        let grown = self.with_elements(|elements| elements.try_reserve_exact(delta as usize).is_ok());
        if !grown {
            return None;
        }
        // Growing overwrites nothing, so there are no old counts.
        self.take_counts(std::iter::repeat_n(init, delta as usize));
        self.with_elements(|elements| elements.resize(new as usize, init));
        Some(old)
    }

    /// Empties an externref table, handing over the count of every element;
    /// the store calls this once, when it is dropped.
    pub(crate) fn take_references(&self) -> Vec<*mut VMExternData> {
        if !self.holds_counted_refs() {
            return Vec::new();
        }
        // Drained, not taken: a pooled buffer keeps its capacity.
        #[allow(clippy::drain_collect)]
        let old: Vec<usize> = self.with_elements(|e| e.drain(..).collect());
        old.into_iter().map(|raw| raw as *mut VMExternData).filter(|p| !p.is_null()).collect()
    }
}

impl Drop for TableInner {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            // The store took every count out already (`take_references`);
            // what is left are raw funcrefs or nulls, which own nothing.
            pool.release(std::mem::take(self.elements.get_mut()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::ExternRef;

    fn ty(element: RefType, minimum: u64, maximum: Option<u64>) -> TableType {
        TableType { element, minimum, maximum, table64: false }
    }

    fn raw(r: &ExternRef) -> usize {
        r.as_raw() as usize
    }

    #[test]
    fn externref_tables_own_one_count_per_element() {
        let r = ExternRef::new("x");
        let t = TableInner::new(ty(RefType::EXTERNREF, 2, Some(5)), raw(&r), std::ptr::null_mut(), None).unwrap();
        assert_eq!(r.strong_count(), 3);
        assert_eq!(t.grow(2, raw(&r)), Some(2));
        assert_eq!(r.strong_count(), 5);
        assert_eq!(t.grow(2, raw(&r)), None);
        t.set(0, 0).unwrap().release().unwrap();
        assert_eq!(r.strong_count(), 4);
        t.set(1, raw(&r)).unwrap().release().unwrap();
        assert_eq!(r.strong_count(), 4, "storing the same reference keeps the count");
        t.copy_from(0, &t, 1, 3).unwrap().release().unwrap();
        assert_eq!(r.strong_count(), 5);
        assert_eq!(t.fill(3, 0, 2).unwrap_err(), TrapCode::TABLE_OUT_OF_BOUNDS);
        assert_eq!(r.strong_count(), 5, "an out-of-bounds fill writes nothing");
        release_counts(t.take_references()).unwrap();
        assert_eq!(r.strong_count(), 1);
    }

    #[test]
    fn overlapping_copies_keep_references_only_the_table_holds() {
        // [X, Y, null] held only by the table: `table.copy 1 0 2` overwrites
        // Y at slot 1 while Y is on its way to slot 2.
        for (dst, src) in [(1, 0), (0, 1)] {
            let (x, y) = (ExternRef::new('x'), ExternRef::new('y'));
            let t = TableInner::new(ty(RefType::EXTERNREF, 3, None), 0, std::ptr::null_mut(), None).unwrap();
            t.set(0, raw(&x)).unwrap().release().unwrap();
            t.set(1, raw(&y)).unwrap().release().unwrap();
            let (xr, yr) = (x.as_raw() as usize, y.as_raw() as usize);
            drop((x, y));
            t.copy_from(dst, &t, src, 2).unwrap().release().unwrap();
            let elements: Vec<usize> = (0..3).map(|i| t.get(i).unwrap()).collect();
            let expected = if dst == 1 { vec![xr, xr, yr] } else { vec![yr, 0, 0] };
            assert_eq!(elements, expected, "copy {dst} {src} 2");
            // SAFETY: the table owns a count of every non-null element.
            let y_count = unsafe { ExternRef::clone_from_raw(yr as *mut VMExternData) }.map(|y| y.strong_count() - 1);
            assert_eq!(y_count, Some(1), "Y is alive, owned once by the table");
            release_counts(t.take_references()).unwrap();
        }
    }

    #[test]
    fn definition_follows_growth() {
        let t = TableInner::new(ty(RefType::FUNCREF, 1, None), 0, std::ptr::null_mut(), None).unwrap();
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
