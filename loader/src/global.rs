//! Globals.
//!
//! A global's value lives in a 16-byte slot: inline in the defining
//! VMContext, or owned by the global when the host made it. An externref
//! global owns one count of the reference it holds.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::rc::Rc;

use kiln_format::{GlobalType, ValType};

use crate::error::Error;
use crate::externref::{decrement_raw, increment_raw, VMExternData};
use crate::store::Store;
use crate::values::Val;
use crate::vm::ValueSlot;

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
        if ty.content == ValType::ExternRef {
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

    /// Writes a new value, keeping reference counts.
    pub(crate) fn write(&self, value: ValueSlot) {
        let old = self.read();
        // SAFETY: as in `read`.
        unsafe { self.home.write(value) };
        if self.ty.content == ValType::ExternRef {
            // SAFETY: the new value is live (the caller holds it); the global owned the old one.
            unsafe {
                increment_raw(value.pointer() as *mut VMExternData);
                decrement_raw(old.pointer() as *mut VMExternData);
            }
        }
    }

    /// Drops the count of a held externref; the store calls this once, when it is dropped.
    pub(crate) fn release_reference(&self) {
        if self.ty.content == ValType::ExternRef {
            let old = self.read();
            // SAFETY: as in `read`.
            unsafe { self.home.write(ValueSlot::default()) };
            // SAFETY: the global owned one count.
            unsafe { decrement_raw(old.pointer() as *mut VMExternData) };
        }
    }
}

/// A global.
#[derive(Clone)]
pub struct Global {
    pub(crate) store: Store,
    pub(crate) inner: Rc<GlobalInner>,
}

impl Global {
    /// A new global of type `ty` holding `value`.
    pub fn new(store: &Store, ty: GlobalType, value: Val) -> Result<Global, Error> {
        let slot = checked_slot(store, ty.content, &value)?;
        let inner = Rc::new(GlobalInner::new(ty, std::ptr::null_mut(), slot));
        store.inner.globals.borrow_mut().push(inner.clone());
        Ok(Global { store: store.clone(), inner })
    }

    /// Its type.
    pub fn ty(&self) -> GlobalType {
        self.inner.ty()
    }

    /// Its current value.
    pub fn get(&self) -> Val {
        // SAFETY: the slot holds a value of the global's type, owned by the global.
        unsafe { Val::from_slot(self.inner.read(), self.inner.ty().content, &self.store) }
    }

    /// Sets its value; fails for an immutable global or a value of another type.
    pub fn set(&self, value: Val) -> Result<(), Error> {
        if !self.inner.ty().mutable {
            return Err(Error::ty("cannot set an immutable global"));
        }
        let slot = checked_slot(&self.store, self.inner.ty().content, &value)?;
        self.inner.write(slot);
        Ok(())
    }

    /// The store it belongs to.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The slot encoding of `value`, which must be of type `ty`; no count is taken.
fn checked_slot(store: &Store, ty: ValType, value: &Val) -> Result<ValueSlot, Error> {
    if value.ty() != ty {
        return Err(Error::ty(format!("expected a {ty:?} value, got {:?}", value.ty())));
    }
    if let Val::FuncRef(Some(f)) = value {
        if !Store::same(f.store(), store) {
            return Err(Error::ty("funcref from another store"));
        }
    }
    Ok(match value {
        Val::I32(v) => ValueSlot::from_u128(*v as u32 as u128),
        Val::I64(v) => ValueSlot::from_u128(*v as u64 as u128),
        Val::F32(v) => ValueSlot::from_u128(*v as u128),
        Val::F64(v) => ValueSlot::from_u128(*v as u128),
        Val::V128(v) => ValueSlot::from_u128(*v),
        Val::FuncRef(_) | Val::ExternRef(_) => ValueSlot::from_u128(value.raw_ref() as u128),
    })
}

impl std::fmt::Debug for Global {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Global").field("ty", &self.ty()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::externref::ExternRef;

    #[test]
    fn externref_global_owns_one_count() {
        let a = ExternRef::new(1u8);
        let b = ExternRef::new(2u8);
        let ty = GlobalType { content: ValType::ExternRef, mutable: true };
        let g = GlobalInner::new(ty, std::ptr::null_mut(), ValueSlot::from_u128(a.as_raw() as usize as u128));
        assert_eq!(a.strong_count(), 2);
        g.write(ValueSlot::from_u128(b.as_raw() as usize as u128));
        assert_eq!((a.strong_count(), b.strong_count()), (1, 2));
        g.write(ValueSlot::from_u128(b.as_raw() as usize as u128));
        assert_eq!(b.strong_count(), 2);
        g.release_reference();
        assert_eq!(b.strong_count(), 1);
    }
}
