//! `kiln_linker_t`: host functions as C callbacks, WASI, and instantiation.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kiln_loader::{Caller, FuncType, Linker, Val};

use crate::caller::kiln_caller_t;
use crate::engine::kiln_engine_t;
use crate::error::kiln_error_t;
use crate::ffi::{self, catch};
use crate::instance::kiln_instance_t;
use crate::module::kiln_module_t;
use crate::store::{kiln_finalizer_t, kiln_store_t, StoreData};
use crate::val::{kiln_val_t, kiln_valkind_t, kind_type, vals_for_c};

/// Named definitions for imports.
pub struct kiln_linker_t {
    linker: Linker<StoreData>,
}

/// A host function as C writes it.
pub type kiln_func_callback_t = Option<
    unsafe extern "C" fn(
        env: *mut c_void,
        caller: *mut kiln_caller_t<'_>,
        args: *const kiln_val_t,
        nargs: usize,
        results: *mut kiln_val_t,
        nresults: usize,
    ) -> *mut kiln_error_t,
>;

/// A C callback with its environment, finalized when the last definition
/// of it (the linker's, or a store's) goes.
struct HostCallback {
    callback: unsafe extern "C" fn(
        *mut c_void,
        *mut kiln_caller_t<'_>,
        *const kiln_val_t,
        usize,
        *mut kiln_val_t,
        usize,
    ) -> *mut kiln_error_t,
    env: *mut c_void,
    finalizer: kiln_finalizer_t,
    /// Whether the linker took the function: a refused definition leaves
    /// `env` to C, unfinalized.
    defined: Arc<AtomicBool>,
}

// SAFETY: the header tells C that the callback and its env are used from
// whichever thread runs the store (and the finalizer from whichever drops
// the last definition); the library only passes the pointer on.
unsafe impl Send for HostCallback {}
// SAFETY: as for `Send`: C vouches for concurrent calls of the callback
// from stores on several threads.
unsafe impl Sync for HostCallback {}

impl HostCallback {
    /// Calls C with the arguments as `kiln_val_t`s, and reads its results
    /// back as values of the kinds it wrote (the loader checks them against
    /// the signature).
    fn call(&self, caller: Caller<'_, StoreData>, args: &[Val], results: &mut [Val]) -> anyhow::Result<()> {
        let c_args = vals_for_c(args, "argument").map_err(kiln_error_t::into_host_error)?;
        let mut c_results = vals_for_c(results, "result").map_err(kiln_error_t::into_host_error)?;
        let mut c_caller = kiln_caller_t { caller };
        // SAFETY: the callback was given for this signature
        // (`kiln_linker_define_func`); the pointers are to live buffers of
        // the lengths passed, and the caller lives through the call.
        let error = unsafe {
            (self.callback)(
                self.env,
                &mut c_caller,
                c_args.as_ptr(),
                c_args.len(),
                c_results.as_mut_ptr(),
                c_results.len(),
            )
        };
        if !error.is_null() {
            // SAFETY: a callback returns NULL or an error of this library,
            // which it hands over (the header's contract).
            let error = unsafe { Box::from_raw(error) };
            return Err(error.into_host_error());
        }
        for (i, (slot, value)) in results.iter_mut().zip(&c_results).enumerate() {
            *slot = value.to_val(&format!("result {i}")).map_err(kiln_error_t::into_host_error)?;
        }
        Ok(())
    }
}

impl Drop for HostCallback {
    fn drop(&mut self) {
        if let (Some(finalizer), true) = (self.finalizer, self.defined.load(Ordering::Acquire)) {
            // SAFETY: C gave this finalizer for this env, to be called once
            // no definition of the function remains, which is now.
            unsafe { finalizer(self.env) };
        }
    }
}

/// A new, empty linker.
///
/// # Safety
/// `engine` is NULL or a live engine; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_linker_new(
    engine: *const kiln_engine_t,
    out: *mut *mut kiln_linker_t,
) -> *mut kiln_error_t {
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or live (# Safety).
        let engine = unsafe { ffi::required(engine, "engine") }?;
        let linker = kiln_linker_t { linker: Linker::new(&engine.engine) };
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, linker) };
        Ok(())
    })
}

/// Defines a host function.
///
/// # Safety
/// `linker` is NULL or a live linker used by no other thread meanwhile;
/// `module` and `name` are NULL or NUL-terminated; `params` (`results`)
/// is NULL or has `nparams` (`nresults`) kinds; `callback` is NULL or a
/// function of the header's `kiln_func_callback_t` contract, callable with
/// `env` from any thread running a store, and `env_finalizer` NULL or
/// callable with `env` once.
#[no_mangle]
pub unsafe extern "C" fn kiln_linker_define_func(
    linker: *mut kiln_linker_t,
    module: *const c_char,
    name: *const c_char,
    params: *const kiln_valkind_t,
    nparams: usize,
    results: *const kiln_valkind_t,
    nresults: usize,
    callback: kiln_func_callback_t,
    env: *mut c_void,
    env_finalizer: kiln_finalizer_t,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and unshared (# Safety).
        let linker = unsafe { ffi::required_mut(linker, "linker") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let module = unsafe { ffi::string(module, "module") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(name, "name") }?;
        // SAFETY: NULL or `nparams` kinds (# Safety).
        let params = unsafe { ffi::slice(params, nparams, "params") }?;
        // SAFETY: NULL or `nresults` kinds (# Safety).
        let results = unsafe { ffi::slice(results, nresults, "results") }?;
        let callback = callback.ok_or_else(|| kiln_error_t::msg("callback is NULL"))?;
        let ty = FuncType {
            params: params.iter().map(|&k| kind_type(k)).collect::<Result<_, _>>()?,
            results: results.iter().map(|&k| kind_type(k)).collect::<Result<_, _>>()?,
        };
        let defined = Arc::new(AtomicBool::new(false));
        let host = HostCallback { callback, env, finalizer: env_finalizer, defined: defined.clone() };
        linker.linker.func_new(module, name, ty, move |caller, args, results| host.call(caller, args, results))?;
        defined.store(true, Ordering::Release);
        Ok(())
    })
}

/// Defines WASI preview1.
///
/// # Safety
/// `linker` is NULL or a live linker used by no other thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn kiln_linker_define_wasi(linker: *mut kiln_linker_t) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and unshared (# Safety).
        let linker = unsafe { ffi::required_mut(linker, "linker") }?;
        kiln_loader::wasi::add_to_linker(&mut linker.linker, |data: &mut StoreData| &mut data.wasi)?;
        Ok(())
    })
}

/// Instantiates a module in a store.
///
/// # Safety
/// `linker`, `store` and `module` are NULL or live objects of this library
/// (the store used by no other thread meanwhile); `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_linker_instantiate(
    linker: *const kiln_linker_t,
    store: *mut kiln_store_t,
    module: *const kiln_module_t,
    out: *mut *mut kiln_instance_t,
) -> *mut kiln_error_t {
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // The linker and module are read here and not again: the start
        // function's host callbacks may delete them.
        let pre = {
            // SAFETY: NULL or live (# Safety).
            let linker = unsafe { ffi::required(linker, "linker") }?;
            // SAFETY: NULL or live (# Safety).
            let module = unsafe { ffi::required(module, "module") }?;
            linker.linker.instantiate_pre(&module.module)?
        };
        // SAFETY: NULL or live (# Safety).
        let store = unsafe { ffi::required(store, "store") }?;
        let serial = store.serial;
        let mut guard = store.enter()?;
        let instance = pre.instantiate(&mut *guard)?;
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, kiln_instance_t { instance, serial }) };
        Ok(())
    })
}

/// Frees the linker.
///
/// # Safety
/// `linker` is NULL or a linker of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_linker_delete(linker: *mut kiln_linker_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(linker) }
}
