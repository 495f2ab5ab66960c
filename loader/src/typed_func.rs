//! Statically typed calls: `TypedFunc<P, R>` with Rust tuples as Wasm
//! signatures. A typed call converts nothing at run time and allocates
//! nothing: its arguments and results pass through a slot array on the
//! stack.
#![allow(unsafe_code)]

use std::marker::PhantomData;

use kiln_format::{FuncType, ValType};

use crate::error::Error;
use crate::func::Func;
use crate::gc_ref::AnyRef;
use crate::store::{opaque_mut, AsContextMut};
use crate::vm::store::StoreOpaque;
use crate::vm::values::SlotValue;
use crate::vm::{ExternRef, ValueSlot};

/// Most values a typed signature has on either side (the longest tuple).
pub(crate) const MAX_TYPED_VALUES: usize = 8;

/// A Rust type that is one Wasm value: `i32`, `u32`, `i64`, `u64`, `f32`,
/// `f64`, `u128` (`v128`), `Option<ExternRef>`, `Option<AnyRef>` (`anyref`)
/// and `Option<Func>`.
#[allow(private_bounds)]
pub trait WasmTy: SlotValue + Send + 'static {
    /// Its Wasm type.
    fn valtype() -> ValType;
    /// Whether it is a reference that the GC must see.
    #[doc(hidden)]
    const IS_EXTERNREF: bool = false;
}

macro_rules! wasm_ty {
    ($($t:ty => $vt:ident),*) => {$(
        impl WasmTy for $t {
            fn valtype() -> ValType {
                ValType::$vt
            }
        }
    )*};
}

wasm_ty!(i32 => I32, u32 => I32, i64 => I64, u64 => I64, f32 => F32, f64 => F64, u128 => V128, Option<Func> => FUNCREF);

impl WasmTy for Option<ExternRef> {
    fn valtype() -> ValType {
        ValType::EXTERNREF
    }
    const IS_EXTERNREF: bool = true;
}

impl WasmTy for Option<AnyRef> {
    fn valtype() -> ValType {
        ValType::Ref(kiln_format::RefType { nullable: true, heap: kiln_format::HeapType::Any })
    }
    const IS_EXTERNREF: bool = true;
}

/// The values of one side of a typed signature: `()`, one [`WasmTy`], or a
/// tuple of up to 8.
#[allow(private_interfaces)]
pub trait WasmValues: Sized {
    /// Their Wasm types.
    fn valtypes() -> Vec<ValType>;
    #[doc(hidden)]
    const COUNT: usize;
    #[doc(hidden)]
    const HAS_EXTERNREFS: bool;
    /// Writes the values to `slots`, moving externref counts into the
    /// activations table.
    #[doc(hidden)]
    fn store_slots(self, store: &mut StoreOpaque, slots: &mut [ValueSlot]) -> Result<(), Error>;
    /// Reads the values from slots that Wasm wrote.
    ///
    /// # Safety
    /// The slots must hold values of [`WasmValues::valtypes`], with live
    /// references of `store`.
    #[doc(hidden)]
    unsafe fn load_slots(slots: &[ValueSlot], store: &StoreOpaque) -> Self;
}

/// Parameters of a typed call.
pub trait WasmParams: WasmValues {}
impl<T: WasmValues> WasmParams for T {}

/// Results of a typed call.
pub trait WasmResults: WasmValues {}
impl<T: WasmValues> WasmResults for T {}

#[allow(private_interfaces)]
impl<T: WasmTy> WasmValues for T {
    fn valtypes() -> Vec<ValType> {
        vec![T::valtype()]
    }
    const COUNT: usize = 1;
    const HAS_EXTERNREFS: bool = T::IS_EXTERNREF;
    #[inline]
    fn store_slots(self, store: &mut StoreOpaque, slots: &mut [ValueSlot]) -> Result<(), Error> {
        slots[0] = self.into_slot(store)?;
        Ok(())
    }
    #[inline]
    unsafe fn load_slots(slots: &[ValueSlot], store: &StoreOpaque) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe { T::from_slot(slots[0], store) }
    }
}

macro_rules! tuples {
    ($(($($t:ident),*))*) => {$(
        #[allow(non_snake_case, unused_mut, unused_variables, unused_assignments, private_interfaces, clippy::unused_unit)]
        impl<$($t: WasmTy),*> WasmValues for ($($t,)*) {
            fn valtypes() -> Vec<ValType> {
                vec![$($t::valtype()),*]
            }
            const COUNT: usize = 0 $(+ { let _ = stringify!($t); 1 })*;
            const HAS_EXTERNREFS: bool = false $(|| $t::IS_EXTERNREF)*;
            #[inline]
            fn store_slots(self, store: &mut StoreOpaque, slots: &mut [ValueSlot]) -> Result<(), Error> {
                let ($($t,)*) = self;
                let mut i = 0;
                $(slots[i] = $t.into_slot(store)?; i += 1;)*
                Ok(())
            }
            #[inline]
            unsafe fn load_slots(slots: &[ValueSlot], store: &StoreOpaque) -> Self {
                let mut i = 0;
                // SAFETY: forwarded from the caller.
                ($({ let v = unsafe { $t::from_slot(slots[i], store) }; i += 1; v },)*)
            }
        }
    )*};
}

tuples! {
    ()
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
}

/// A function whose signature was checked once against `P -> R`.
pub struct TypedFunc<P, R> {
    func: Func,
    _signature: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Checks `func`'s type `ty` against `P -> R`.
    pub(crate) fn new(func: Func, ty: &FuncType) -> Result<Self, Error> {
        if ty.params != P::valtypes() || ty.results != R::valtypes() {
            return Err(Error::ty(format!(
                "function has type `{ty}`, not `{}`",
                FuncType { params: P::valtypes(), results: R::valtypes() }
            )));
        }
        Ok(TypedFunc { func, _signature: PhantomData })
    }

    /// Calls the function.
    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R, Error> {
        let store = opaque_mut(&mut store);
        let func_ref = store.func_ref(&self.func)?;
        let mut slots = [ValueSlot::ZERO; MAX_TYPED_VALUES];
        if P::HAS_EXTERNREFS {
            // The arguments are the host's until they move into Wasm below.
            store.collect_if_full()?;
        }
        params.store_slots(store, &mut slots)?;
        let used = P::COUNT.max(R::COUNT);
        // SAFETY: the func ref is the store's and of type `P -> R`
        // (checked when this was made), and the slots hold the arguments.
        unsafe { store.call(&func_ref, &mut slots[..used])? };
        // SAFETY: the callee wrote a value of each result type; its
        // references are live (the activations table holds them).
        Ok(unsafe { R::load_slots(&slots, store) })
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}

impl<P, R> std::fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedFunc").field(&self.func).finish()
    }
}
