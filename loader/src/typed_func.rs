//! Statically typed calls: `TypedFunc<P, R>` with Rust tuples as Wasm signatures.

use std::marker::PhantomData;

use kiln_format::{FuncType, ValType};

use crate::error::Error;
use crate::externref::ExternRef;
use crate::func::Func;
use crate::values::Val;

/// A Rust type that is one Wasm value.
pub trait WasmTy: Sized {
    /// Its Wasm type.
    fn valtype() -> ValType;
    /// As a value.
    fn into_val(self) -> Val;
    /// From a value of type [`WasmTy::valtype`].
    fn from_val(val: Val) -> Option<Self>;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, |$v:ident| $into:expr, $pat:pat => $from:expr) => {
        impl WasmTy for $t {
            fn valtype() -> ValType {
                ValType::$vt
            }
            fn into_val(self) -> Val {
                let $v = self;
                $into
            }
            fn from_val(val: Val) -> Option<Self> {
                match val {
                    $pat => Some($from),
                    _ => None,
                }
            }
        }
    };
}

wasm_ty!(i32, I32, |v| Val::I32(v), Val::I32(v) => v);
wasm_ty!(u32, I32, |v| Val::I32(v as i32), Val::I32(v) => v as u32);
wasm_ty!(i64, I64, |v| Val::I64(v), Val::I64(v) => v);
wasm_ty!(u64, I64, |v| Val::I64(v as i64), Val::I64(v) => v as u64);
wasm_ty!(f32, F32, |v| Val::F32(v.to_bits()), Val::F32(v) => f32::from_bits(v));
wasm_ty!(f64, F64, |v| Val::F64(v.to_bits()), Val::F64(v) => f64::from_bits(v));
wasm_ty!(u128, V128, |v| Val::V128(v), Val::V128(v) => v);
wasm_ty!(Option<ExternRef>, ExternRef, |v| Val::ExternRef(v), Val::ExternRef(v) => v);
wasm_ty!(Option<Func>, FuncRef, |v| Val::FuncRef(v), Val::FuncRef(v) => v);

/// Parameters of a typed call: `()`, one [`WasmTy`], or a tuple of up to 8.
pub trait WasmParams {
    /// Their Wasm types.
    fn valtypes() -> Vec<ValType>;
    /// As values.
    fn into_vals(self) -> Vec<Val>;
}

/// Results of a typed call: `()`, one [`WasmTy`], or a tuple of up to 8.
pub trait WasmResults: Sized {
    /// Their Wasm types.
    fn valtypes() -> Vec<ValType>;
    /// From values of [`WasmResults::valtypes`].
    fn from_vals(vals: Vec<Val>) -> Option<Self>;
}

impl<T: WasmTy> WasmParams for T {
    fn valtypes() -> Vec<ValType> {
        vec![T::valtype()]
    }
    fn into_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
}

impl<T: WasmTy> WasmResults for T {
    fn valtypes() -> Vec<ValType> {
        vec![T::valtype()]
    }
    fn from_vals(vals: Vec<Val>) -> Option<Self> {
        let mut it = vals.into_iter();
        let v = T::from_val(it.next()?)?;
        it.next().is_none().then_some(v)
    }
}

macro_rules! tuples {
    ($(($($t:ident),*))*) => {$(
        #[allow(non_snake_case, unused_mut, unused_variables)]
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            fn valtypes() -> Vec<ValType> {
                vec![$($t::valtype()),*]
            }
            fn into_vals(self) -> Vec<Val> {
                let ($($t,)*) = self;
                vec![$($t.into_val()),*]
            }
        }

        #[allow(non_snake_case, unused_mut, unused_variables)]
        impl<$($t: WasmTy),*> WasmResults for ($($t,)*) {
            fn valtypes() -> Vec<ValType> {
                vec![$($t::valtype()),*]
            }
            fn from_vals(vals: Vec<Val>) -> Option<Self> {
                let mut it = vals.into_iter();
                let out = ($($t::from_val(it.next()?)?,)*);
                it.next().is_none().then_some(out)
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
    ty: FuncType,
    _signature: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc { func: self.func.clone(), ty: self.ty.clone(), _signature: PhantomData }
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Checks `func`'s type against `P -> R`.
    pub fn new(func: Func) -> Result<Self, Error> {
        let ty = func.ty();
        if ty.params != P::valtypes() || ty.results != R::valtypes() {
            return Err(Error::ty(format!(
                "function is {:?} -> {:?}, not {:?} -> {:?}",
                ty.params,
                ty.results,
                P::valtypes(),
                R::valtypes()
            )));
        }
        Ok(TypedFunc { func, ty, _signature: PhantomData })
    }

    /// Calls the function.
    pub fn call(&self, params: P) -> Result<R, Error> {
        let results = self.func.call_as(&self.ty, &params.into_vals())?;
        R::from_vals(results).ok_or_else(|| Error::ty("results do not match the signature"))
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
