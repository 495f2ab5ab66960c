//! Functions: Wasm functions of instances and host functions, as handles.
#![allow(unsafe_code)]

use std::sync::Arc;

use kiln_format::FuncType;

use crate::caller::Caller;
use crate::engine::Engine;
use crate::error::Error;
use crate::into_func::IntoFunc;
use crate::store::{opaque, opaque_mut, AsContext, AsContextMut};
use crate::typed_func::{TypedFunc, WasmParams, WasmResults};
use crate::values::Val;
use crate::vm::host_func::{HostFunc, HostFuncRef};
use crate::vm::store::{StoreId, StoreOpaque};
use crate::vm::{FuncRefPtr, ValueSlot};

/// A function of a store: an export of an instance, or a host function.
///
/// A small `Copy` handle; the store owns the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) func_ref: FuncRefPtr,
}

/// The signature of an untyped host function: arguments in, results out
/// (pre-filled with zeros of the result types).
pub type HostFn<T> = dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> anyhow::Result<()> + Send + Sync;

impl Func {
    pub(crate) fn from_raw(store: StoreId, func_ref: FuncRefPtr) -> Func {
        Func { store, func_ref }
    }

    /// A host function of type `ty`, called with untyped values.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        closure: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Func {
        let host = host_func_from_vals(&opaque(&store).engine, ty, closure);
        let store = opaque_mut(&mut store);
        Func::from_raw(store.id(), store.new_host_func(host))
    }

    /// A host function from a Rust closure, whose parameter and result
    /// types give the Wasm signature. The first parameter may be a
    /// [`Caller`]; the result may be a value, a tuple, or a `Result` of
    /// either (an error becomes the error of the Wasm call).
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let host = func.into_host_func_ref(&opaque(&store).engine);
        let store = opaque_mut(&mut store);
        Func::from_raw(store.id(), store.new_host_func(host))
    }

    /// Its type.
    ///
    /// # Panics
    /// If the function belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let store = opaque(&store);
        let id = store.func_ref(self).unwrap_or_else(|e| panic!("{e}")).type_id;
        store.engine.func_type(id).expect("every func ref's type is in its engine")
    }

    /// Calls the function with `params`, writing its results to `results`.
    pub fn call(&self, mut store: impl AsContextMut, params: &[Val], results: &mut [Val]) -> Result<(), Error> {
        let store = opaque_mut(&mut store);
        let ty = self.checked_type(store)?;
        check_values(store, "argument", &ty.params, params)?;
        if results.len() != ty.results.len() {
            return Err(Error::ty(format!(
                "expected room for {}, got {}",
                crate::wording::count_of(ty.results.len(), "result"),
                results.len()
            )));
        }
        let func_ref = store.func_ref(self)?;
        let mut slots = vec![ValueSlot::ZERO; ty.params.len().max(ty.results.len())];
        // The arguments are the host's until they move into Wasm below.
        store.collect_if_full()?;
        for ((slot, value), &t) in slots.iter_mut().zip(params).zip(&ty.params) {
            *slot = value.to_slot_for_wasm(store, t)?;
        }
        // SAFETY: the func ref is the store's, and the slots hold a value
        // of each parameter type (checked above) with room for the results.
        unsafe { store.call(&func_ref, &mut slots)? };
        for ((result, slot), &t) in results.iter_mut().zip(&slots).zip(&ty.results) {
            // SAFETY: the callee wrote a value of each result type; its
            // references are live (the activations table holds them).
            *result = unsafe { Val::from_slot(*slot, t, store) };
        }
        Ok(())
    }

    /// The function, checked once against the signature `P -> R`, for calls
    /// that convert nothing at run time.
    pub fn typed<P: WasmParams, R: WasmResults>(&self, store: impl AsContext) -> Result<TypedFunc<P, R>, Error> {
        let ty = self.checked_type(opaque(&store))?;
        TypedFunc::new(*self, &ty)
    }

    fn checked_type(&self, store: &StoreOpaque) -> Result<FuncType, Error> {
        let id = store.func_ref(self)?.type_id;
        store.engine.func_type(id).ok_or_else(|| Error::ty("the function's type is unknown to its engine"))
    }
}

/// Type-checks values against types (whose concrete types are engine
/// ids): each value must be of its type, null only for a nullable one.
pub(crate) fn check_values(
    store: &StoreOpaque,
    what: &str,
    types: &[kiln_format::ValType],
    values: &[Val],
) -> Result<(), Error> {
    if types.len() != values.len() {
        return Err(Error::ty(format!(
            "expected {}, got {}",
            crate::wording::count_of(types.len(), what),
            values.len()
        )));
    }
    for (i, (&t, v)) in types.iter().zip(values).enumerate() {
        if !v.is_of_type(store, t)? {
            let found = if v.is_null() { "null".to_string() } else { v.ty().to_string() };
            return Err(Error::ty(format!("{what} {i}: expected {t}, got {found}")));
        }
    }
    Ok(())
}

/// A host function of `ty` that converts its slots to and from [`Val`]s.
pub(crate) fn host_func_from_vals<T: 'static>(
    engine: &Engine,
    ty: FuncType,
    closure: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> anyhow::Result<()> + Send + Sync + 'static,
) -> HostFuncRef {
    let type_id = engine.intern_type(&ty);
    let (params, result_types) = (ty.params.clone(), ty.results.clone());
    let call = move |mut caller: Caller<'_, T>, slots: &mut [ValueSlot]| -> anyhow::Result<()> {
        let args: Vec<Val> = params
            .iter()
            .zip(slots.iter())
            // SAFETY: Wasm (or `Func::call`) wrote a value of each parameter
            // type; its references are live.
            .map(|(&t, slot)| unsafe { Val::from_slot(*slot, t, &caller.store.opaque) })
            .collect();
        let mut results: Vec<Val> = result_types.iter().map(|&t| Val::default_for(t)).collect();
        closure(caller.reborrow(), &args, &mut results)?;
        drop(args);
        check_values(&caller.store.opaque, "result", &result_types, &results)?;
        let store = &mut caller.store.opaque;
        // The results are the host's until they move into Wasm below.
        store.collect_if_full()?;
        for ((slot, value), &t) in slots.iter_mut().zip(&results).zip(&result_types) {
            *slot = value.to_slot_for_wasm(store, t)?;
        }
        Ok(())
    };
    Arc::new(HostFunc::new(&ty, Box::new(call))).into_ref(type_id)
}
