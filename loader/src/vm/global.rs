//! Globals.
//!
//! A global's value lives in a 16-byte slot: inline in the defining
//! VMContext, or owned by the global when the host made it. An externref
//! global owns one count of the reference it holds.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;

use kiln_format::GlobalType;

use super::abi::ValueSlot;
use super::externref::{increment_raw, VMExternData};

pub(crate) struct GlobalInner {
    ty: GlobalType,
    home: *mut ValueSlot,
    _own_slot: Option<Box<UnsafeCell<ValueSlot>>>,
}

impl GlobalInner {
    /// A global whose slot is `home` (or its own if null), set to `initial`.
    /// For an externref, a new count of `initial` is taken.
    pub(crate) fn new(ty: GlobalType, home: *mut ValueSlot, initial: ValueSlot) -> GlobalInner {
        let (home, own) = if home.is_null() {
            let own = Box::new(UnsafeCell::new(ValueSlot::default()));
            (own.get(), Some(own))
        } else {
            (home, None)
        };
        if ty.content.is_counted_ref() {
            // SAFETY: the caller holds `initial` alive; the global owns the new count.
            unsafe { increment_raw(initial.pointer() as *mut VMExternData) };
        }
        // SAFETY: `home` is valid for the global's life.
        unsafe { home.write(initial) };
        GlobalInner { ty, home, _own_slot: own }
    }

    pub(crate) fn ty(&self) -> GlobalType {
        self.ty
    }

    pub(crate) fn slot_ptr(&self) -> *mut ValueSlot {
        self.home
    }

    pub(crate) fn read(&self) -> ValueSlot {
        // SAFETY: `home` is valid for the global's life.
        unsafe { self.home.read() }
    }

    /// Writes a new value, taking its count; the old value's count (if it
    /// held an externref) is handed back for the caller to drop.
    pub(crate) fn write(&self, value: ValueSlot) -> Option<*mut VMExternData> {
        let old = self.read();
        if self.ty.content.is_counted_ref() {
            // SAFETY: the new value is live (the caller holds it).
            unsafe { increment_raw(value.pointer() as *mut VMExternData) };
        }
        // SAFETY: as in `read`.
        unsafe { self.home.write(value) };
        self.held_reference(old)
    }

    fn held_reference(&self, value: ValueSlot) -> Option<*mut VMExternData> {
        let raw = value.pointer() as *mut VMExternData;
        (self.ty.content.is_counted_ref() && !raw.is_null()).then_some(raw)
    }

    /// Clears an externref global, handing over its count; the store calls
    /// this once, when it is dropped.
    pub(crate) fn take_reference(&self) -> Option<*mut VMExternData> {
        let old = self.read();
        let held = self.held_reference(old);
        if held.is_some() {
            // SAFETY: as in `read`.
            unsafe { self.home.write(ValueSlot::default()) };
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::store::release_counts;
    use crate::vm::ExternRef;
    use kiln_format::ValType;

    #[test]
    fn externref_global_owns_one_count() {
        let a = ExternRef::new(1u8);
        let b = ExternRef::new(2u8);
        let ty = GlobalType { content: ValType::EXTERNREF, mutable: true };
        let g = GlobalInner::new(ty, std::ptr::null_mut(), ValueSlot::from_u128(a.as_raw() as usize as u128));
        assert_eq!(a.strong_count(), 2);
        release_counts(g.write(ValueSlot::from_u128(b.as_raw() as usize as u128))).unwrap();
        assert_eq!((a.strong_count(), b.strong_count()), (1, 2));
        release_counts(g.write(ValueSlot::from_u128(b.as_raw() as usize as u128))).unwrap();
        assert_eq!(b.strong_count(), 2);
        release_counts(g.take_reference()).unwrap();
        assert_eq!(b.strong_count(), 1);
    }
}
