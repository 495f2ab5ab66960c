//! The encoding of values in the 16-byte slots that trampolines, globals
//! and tables use, with the externref counting that crossing into Wasm needs.
#![allow(unsafe_code)]

use kiln_format::{gc, HeapType, RefType, ValType};

use super::abi::{FuncRefPtr, ValueSlot};
use super::externref::{ExternRef, VMExternData};
use super::store::StoreOpaque;
use crate::error::Error;
use crate::exn::Exn;
use crate::func::Func;
use crate::gc_ref::AnyRef;
use crate::values::Val;

impl Val {
    /// The raw encoding of a reference value, without changing counts; a
    /// funcref, a GC reference and an exception holding either must belong
    /// to `store`.
    pub(crate) fn raw_ref(&self, store: &StoreOpaque) -> Result<usize, Error> {
        Ok(match self {
            Val::FuncRef(Some(f)) => {
                store.check(f.store, "function")?;
                f.func_ref.as_ptr() as usize
            }
            Val::ExternRef(Some(r)) => r.word(store)? as usize,
            Val::AnyRef(Some(a)) => a.word(store)? as usize,
            Val::ExnRef(Some(e)) => {
                // An exception holding another store's funcrefs or GC
                // objects never reaches this store's Wasm, tables or
                // objects, nor a new exception of this store.
                e.check_store(store)?;
                e.as_extern_ref().as_raw() as usize
            }
            _ => 0,
        })
    }

    /// Whether the value is of type `ty`, which names concrete types by
    /// engine id: a null reference of a nullable type of its hierarchy, a
    /// function of a subtype of a concrete type, any other value of its own
    /// type. The store is the one a function belongs to.
    pub(crate) fn is_of_type(&self, store: &StoreOpaque, ty: ValType) -> Result<bool, Error> {
        let ValType::Ref(r) = ty else { return Ok(self.ty() == ty) };
        Ok(match self {
            Val::FuncRef(None) => r.nullable && r.is_func_ref(),
            Val::ExternRef(None) => r.nullable && r.is_extern_ref(),
            Val::ExternRef(Some(_)) => r.heap == HeapType::Extern,
            Val::AnyRef(None) => r.nullable && r.is_any_ref(),
            Val::AnyRef(Some(a)) => r.is_any_ref() && a.matches(store, r.heap)?,
            Val::ExnRef(None) => r.nullable && r.is_exn_ref(),
            Val::ExnRef(Some(_)) => r.heap == HeapType::Exn,
            Val::FuncRef(Some(f)) => match r.heap {
                HeapType::Func => true,
                HeapType::ConcreteFunc(id) => store.engine.is_subtype(store.func_ref(f)?.type_id, id),
                _ => false,
            },
            _ => false,
        })
    }

    /// The raw encoding of a reference of type `ty`, checking type and store.
    pub(crate) fn checked_ref(&self, store: &StoreOpaque, ty: RefType) -> Result<usize, Error> {
        if !self.is_of_type(store, ValType::Ref(ty))? {
            return Err(Error::ty(format!("expected a {ty} value, got {}", self.ty())));
        }
        self.raw_ref(store)
    }

    /// The slot encoding of the value, checking its type; no count is taken.
    pub(crate) fn to_raw_slot(&self, store: &StoreOpaque, ty: ValType) -> Result<ValueSlot, Error> {
        if !self.is_of_type(store, ty)? {
            return Err(Error::ty(format!("expected a {ty} value, got {}", self.ty())));
        }
        Ok(match self {
            Val::I32(v) => ValueSlot::from_u128(*v as u32 as u128),
            Val::I64(v) => ValueSlot::from_u128(*v as u64 as u128),
            Val::F32(v) => ValueSlot::from_u128(*v as u128),
            Val::F64(v) => ValueSlot::from_u128(*v as u128),
            Val::V128(v) => ValueSlot::from_u128(*v),
            Val::FuncRef(_) | Val::ExternRef(_) | Val::AnyRef(_) | Val::ExnRef(_) => {
                ValueSlot::from_u128(self.raw_ref(store)? as u128)
            }
        })
    }

    /// Encodes the value for Wasm, checking its type. A new count of a
    /// counted reference moves into the store's activations table, which
    /// keeps it alive while Wasm holds it.
    pub(crate) fn to_slot_for_wasm(&self, store: &mut StoreOpaque, ty: ValType) -> Result<ValueSlot, Error> {
        let slot = self.to_raw_slot(store, ty)?;
        if matches!(self, Val::ExternRef(Some(_)) | Val::AnyRef(Some(_)) | Val::ExnRef(Some(_))) {
            let word = slot.to_u128() as u64;
            if word & gc::I31_TAG == 0 {
                // SAFETY: the value's handle (its own count, or its root)
                // keeps the block live.
                unsafe { store.clone_into_activations(word) };
            }
        }
        Ok(slot)
    }

    /// Decodes a slot; a counted reference becomes a new reference (a GC
    /// reference a new root of `store`).
    ///
    /// # Safety
    /// A reference in the slot must be null or live, and a funcref must
    /// belong to `store`.
    pub(crate) unsafe fn from_slot(slot: ValueSlot, ty: ValType, store: &StoreOpaque) -> Val {
        let bits = slot.to_u128();
        let word = bits as u64;
        match ty {
            ValType::I32 => Val::I32(bits as u32 as i32),
            ValType::I64 => Val::I64(bits as u64 as i64),
            ValType::F32 => Val::F32(bits as u32),
            ValType::F64 => Val::F64(bits as u64),
            ValType::V128 => Val::V128(bits),
            // SAFETY: forwarded from the caller.
            ValType::Ref(r) if r.is_extern_ref() => Val::ExternRef(unsafe { ExternRef::clone_from_word(store, word) }),
            // SAFETY: forwarded from the caller.
            ValType::Ref(r) if r.is_any_ref() => Val::AnyRef(unsafe { AnyRef::clone_from_word(store, word) }),
            ValType::Ref(r) if r.is_exn_ref() => Val::ExnRef(
                // SAFETY: forwarded from the caller; an exnref is an externref block.
                unsafe { ExternRef::clone_from_raw(slot.pointer() as *mut VMExternData) }.map(Exn::from_extern_ref),
            ),
            // The function hierarchy, the only other one.
            ValType::Ref(_) => {
                Val::FuncRef(FuncRefPtr::new(slot.pointer() as *const _).map(|p| Func::from_raw(store.id(), p)))
            }
        }
    }
}

/// Encodes and decodes one Rust value of a typed call or host function.
pub(crate) trait SlotValue: Sized {
    /// The slot of the value for Wasm; an externref's new count moves into
    /// the activations table.
    fn into_slot(self, store: &mut StoreOpaque) -> Result<ValueSlot, Error>;

    /// The value in a slot written by Wasm.
    ///
    /// # Safety
    /// As [`Val::from_slot`], for a slot of this type.
    unsafe fn from_slot(slot: ValueSlot, store: &StoreOpaque) -> Self;
}

macro_rules! numeric_slot_value {
    ($($t:ty => |$v:ident| $to:expr, |$bits:ident| $from:expr;)*) => {$(
        impl SlotValue for $t {
            #[inline]
            fn into_slot(self, _: &mut StoreOpaque) -> Result<ValueSlot, Error> {
                let $v = self;
                Ok(ValueSlot::from_u128($to))
            }
            #[inline]
            unsafe fn from_slot(slot: ValueSlot, _: &StoreOpaque) -> Self {
                let $bits = slot.to_u128();
                $from
            }
        }
    )*};
}

numeric_slot_value! {
    i32 => |v| v as u32 as u128, |b| b as u32 as i32;
    u32 => |v| v as u128, |b| b as u32;
    i64 => |v| v as u64 as u128, |b| b as u64 as i64;
    u64 => |v| v as u128, |b| b as u64;
    f32 => |v| v.to_bits() as u128, |b| f32::from_bits(b as u32);
    f64 => |v| v.to_bits() as u128, |b| f64::from_bits(b as u64);
    u128 => |v| v, |b| b;
}

impl SlotValue for Option<ExternRef> {
    fn into_slot(self, store: &mut StoreOpaque) -> Result<ValueSlot, Error> {
        Ok(match self {
            Some(r) if r.as_internal().is_none() => {
                let slot = ValueSlot::from_u128(r.as_raw() as usize as u128);
                store.move_into_activations(r);
                slot
            }
            Some(r) => Val::ExternRef(Some(r)).to_slot_for_wasm(store, ValType::EXTERNREF)?,
            None => ValueSlot::ZERO,
        })
    }

    unsafe fn from_slot(slot: ValueSlot, store: &StoreOpaque) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe { ExternRef::clone_from_word(store, slot.to_u128() as u64) }
    }
}

impl SlotValue for Option<AnyRef> {
    fn into_slot(self, store: &mut StoreOpaque) -> Result<ValueSlot, Error> {
        Val::AnyRef(self).to_slot_for_wasm(store, ValType::Ref(RefType { nullable: true, heap: HeapType::Any }))
    }

    unsafe fn from_slot(slot: ValueSlot, store: &StoreOpaque) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe { AnyRef::clone_from_word(store, slot.to_u128() as u64) }
    }
}

impl SlotValue for Option<Func> {
    fn into_slot(self, store: &mut StoreOpaque) -> Result<ValueSlot, Error> {
        Ok(ValueSlot::from_u128(Val::FuncRef(self).raw_ref(store)? as u128))
    }

    unsafe fn from_slot(slot: ValueSlot, store: &StoreOpaque) -> Self {
        FuncRefPtr::new(slot.pointer() as *const _).map(|p| Func::from_raw(store.id(), p))
    }
}

impl super::table::TableInner {
    /// The element at `index` as a value (an externref as a new reference).
    pub(crate) fn get_val(&self, index: u32, store: &StoreOpaque) -> Option<Val> {
        let raw = self.get(index).ok()?;
        let ty = ValType::Ref(self.element_type());
        // SAFETY: the table owns a count of each externref element, and
        // holds only func refs of its store.
        Some(unsafe { Val::from_slot(ValueSlot::from_u128(raw as u128), ty, store) })
    }
}

impl super::global::GlobalInner {
    /// The current value (an externref as a new reference).
    pub(crate) fn get_val(&self, store: &StoreOpaque) -> Val {
        // SAFETY: the slot holds a value of the global's type; an externref
        // is owned by the global, a funcref is of its store.
        unsafe { Val::from_slot(self.read(), self.ty().content, store) }
    }
}
