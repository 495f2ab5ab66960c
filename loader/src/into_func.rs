//! Typed host functions: Rust closures whose parameter and result types
//! give the Wasm signature. The closure reads its arguments straight from
//! the value slots and writes its results back, with no conversion through
//! [`Val`](crate::Val) and no allocation per call.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::{FuncType, ValType};

use crate::caller::Caller;
use crate::engine::Engine;
use crate::typed_func::{WasmResults, WasmTy};
use crate::vm::host_func::{HostFunc, HostFuncRef};
use crate::vm::store::StoreOpaque;
use crate::vm::ValueSlot;

/// What a typed host function returns: results, or a `Result` of them
/// whose error becomes the error of the Wasm call (keeping its type, for
/// [`Error::downcast_ref`](crate::Error::downcast_ref)).
#[allow(private_interfaces)]
pub trait WasmRet {
    /// The Wasm result types.
    fn valtypes() -> Vec<ValType>;
    /// Writes the results to the slots.
    #[doc(hidden)]
    fn store_results(self, store: &mut StoreOpaque, slots: &mut [ValueSlot]) -> anyhow::Result<()>;
}

#[allow(private_interfaces)]
impl<R: WasmResults> WasmRet for R {
    fn valtypes() -> Vec<ValType> {
        R::valtypes()
    }
    #[inline]
    fn store_results(self, store: &mut StoreOpaque, slots: &mut [ValueSlot]) -> anyhow::Result<()> {
        if R::HAS_EXTERNREFS {
            // The results are the host's until they move into Wasm below.
            store.collect_if_full()?;
        }
        Ok(self.store_slots(store, slots)?)
    }
}

#[allow(private_interfaces)]
impl<R: WasmResults, E: Into<anyhow::Error>> WasmRet for Result<R, E> {
    fn valtypes() -> Vec<ValType> {
        R::valtypes()
    }
    #[inline]
    fn store_results(self, store: &mut StoreOpaque, slots: &mut [ValueSlot]) -> anyhow::Result<()> {
        self.map_err(Into::into)?.store_results(store, slots)
    }
}

/// A Rust closure that can be a host function of host state `T`:
/// `Fn(A1, ..., An) -> R` or `Fn(Caller<'_, T>, A1, ..., An) -> R`, with
/// up to 8 [`WasmTy`] parameters and a [`WasmRet`] result.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The host function, with its type interned in `engine`.
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn into_host_func_ref(self, engine: &Engine) -> HostFuncRef;
}

/// Erases a typed host function's closure.
fn host_func_ref<T: 'static>(
    engine: &Engine,
    params: Vec<ValType>,
    results: Vec<ValType>,
    call: impl Fn(Caller<'_, T>, &mut [ValueSlot]) -> anyhow::Result<()> + Send + Sync + 'static,
) -> HostFuncRef {
    let ty = FuncType { params, results };
    let type_id = engine.intern_type(&ty);
    Arc::new(HostFunc::new(&ty, Box::new(call))).into_ref(type_id)
}

macro_rules! into_func {
    ($(($($a:ident),*))*) => {$(
        #[allow(non_snake_case, unused_mut, unused_variables, unused_assignments, private_interfaces)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func_ref(self, engine: &Engine) -> HostFuncRef {
                host_func_ref(engine, vec![$($a::valtype()),*], R::valtypes(), move |caller: Caller<'_, T>, slots: &mut [ValueSlot]| {
                    let mut i = 0;
                    // SAFETY: Wasm (or a host call) wrote a value of each
                    // parameter type; its references are live.
                    $(let $a = unsafe { $a::from_slot(slots[i], &caller.store.opaque) }; i += 1;)*
                    self($($a),*).store_results(&mut caller.store.opaque, slots)
                })
            }
        }

        #[allow(non_snake_case, unused_mut, unused_variables, unused_assignments, private_interfaces)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, (Caller<'_, T>, $($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func_ref(self, engine: &Engine) -> HostFuncRef {
                host_func_ref(engine, vec![$($a::valtype()),*], R::valtypes(), move |mut caller: Caller<'_, T>, slots: &mut [ValueSlot]| {
                    let mut i = 0;
                    // SAFETY: as above.
                    $(let $a = unsafe { $a::from_slot(slots[i], &caller.store.opaque) }; i += 1;)*
                    let ret = self(caller.reborrow(), $($a),*);
                    ret.store_results(&mut caller.store.opaque, slots)
                })
            }
        }
    )*};
}

into_func! {
    ()
    (A1)
    (A1, A2)
    (A1, A2, A3)
    (A1, A2, A3, A4)
    (A1, A2, A3, A4, A5)
    (A1, A2, A3, A4, A5, A6)
    (A1, A2, A3, A4, A5, A6, A7)
    (A1, A2, A3, A4, A5, A6, A7, A8)
}
