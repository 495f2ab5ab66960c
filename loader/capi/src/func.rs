//! `kiln_func_t`: calling exported functions with checked arguments.

use kiln_loader::wording::count_of;
use kiln_loader::{AsContextMut, Func, Val};

use crate::error::kiln_error_t;
use crate::ffi::{self, catch, ApiResult};
use crate::store::{kiln_store_t, StoreData};
use crate::val::{check_expressible, kiln_val_t, vals_for_c};

/// A function handle, with the serial of its store.
pub struct kiln_func_t {
    pub(crate) func: Func,
    pub(crate) serial: u64,
}

/// Calls a function.
///
/// # Safety
/// `store` and `func` are NULL or live (the store used by no other thread
/// meanwhile); `args` is NULL or has `nargs` values; `results` is NULL or
/// has room for `nresults`.
#[no_mangle]
pub unsafe extern "C" fn kiln_func_call(
    store: *mut kiln_store_t,
    func: *const kiln_func_t,
    args: *const kiln_val_t,
    nargs: usize,
    results: *mut kiln_val_t,
    nresults: usize,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let store = unsafe { ffi::required(store, "store") }?;
        // The handle is copied: a host callback may delete it during the call.
        let (func, serial) = {
            // SAFETY: NULL or live (# Safety).
            let func = unsafe { ffi::required(func, "func") }?;
            (func.func, func.serial)
        };
        store.check_serial(serial, "function")?;
        let mut guard = store.enter()?;
        // SAFETY: `args` and `results` are NULL or of their lengths (# Safety).
        unsafe { call_checked(&mut *guard, func, args, nargs, results, nresults) }
    })
}

/// Calls `func` of the store `context` reaches (a store, or a host
/// callback's caller), converting and checking the values, and writes the
/// results only on success.
///
/// # Safety
/// `args` is NULL or has `nargs` values; `results` is NULL or has room for
/// `nresults`.
pub(crate) unsafe fn call_checked(
    mut context: impl AsContextMut<Data = StoreData>,
    func: Func,
    args: *const kiln_val_t,
    nargs: usize,
    results: *mut kiln_val_t,
    nresults: usize,
) -> ApiResult<()> {
    let ty = func.ty(&context);
    check_expressible(&ty)?;
    // The counts first: a length C got wrong never sizes a buffer.
    if nargs != ty.params.len() {
        return Err(kiln_error_t::msg(format!("expected {}, got {nargs}", count_of(ty.params.len(), "argument"))));
    }
    if nresults != ty.results.len() {
        return Err(kiln_error_t::msg(format!(
            "expected room for {}, got {nresults}",
            count_of(ty.results.len(), "result")
        )));
    }
    if nresults > 0 && results.is_null() {
        return Err(kiln_error_t::msg(format!("results is NULL but its length is {nresults}")));
    }
    // Copied: a host callback may change the buffer during the call.
    // SAFETY: NULL or `nargs` values (# Safety).
    let args = unsafe { ffi::slice(args, nargs, "args") }?;
    let args =
        args.iter().enumerate().map(|(i, a)| a.to_val(&format!("argument {i}"))).collect::<Result<Vec<Val>, _>>()?;
    let mut values: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
    func.call(&mut context, &args, &mut values)?;
    let values = vals_for_c(&values, "result")?;
    // SAFETY: `results` is non-NULL (checked) with room for `nresults`
    // values (# Safety), and there are as many.
    let results = unsafe { ffi::slice_mut(results, nresults, "results") }?;
    results.copy_from_slice(&values);
    Ok(())
}

/// Frees the handle.
///
/// # Safety
/// `func` is NULL or a handle of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_func_delete(func: *mut kiln_func_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(func) }
}
