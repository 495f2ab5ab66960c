//! `kiln_caller_t`: what a host callback sees of its call, and the calling
//! instance's memory.

use std::ffi::{c_char, c_void};

use kiln_loader::{Caller, Extern, Memory};

use crate::error::kiln_error_t;
use crate::ffi::{self, catch, catch_or, ApiResult};
use crate::func::{call_checked, kiln_func_t};
use crate::store::{check_serial, StoreData};
use crate::val::kiln_val_t;

/// The caller of one host function call; C gets a pointer to it that is
/// valid only during the callback.
pub struct kiln_caller_t<'a> {
    pub(crate) caller: Caller<'a, StoreData>,
}

/// The memory that the calling instance exports as `name`.
fn caller_memory(caller: &kiln_caller_t<'_>, name: &str) -> ApiResult<Memory> {
    caller
        .caller
        .get_export(name)
        .and_then(Extern::into_memory)
        .ok_or_else(|| kiln_error_t::msg(format!("the calling instance exports no memory `{name}`")))
}

/// A memory offset as the loader takes it; one past the address space is
/// out of bounds, which `usize::MAX` is too.
pub(crate) fn offset(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// The store's user data during a host call.
///
/// # Safety
/// `caller` is NULL or the caller passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn kiln_caller_data(caller: *const kiln_caller_t<'_>) -> *mut c_void {
    // SAFETY: NULL or the live caller of the running callback (# Safety).
    catch_or(std::ptr::null_mut(), || unsafe { caller.as_ref() }.map_or(std::ptr::null_mut(), |c| c.caller.data().user))
}

/// The size of the calling instance's memory `memory_name`.
///
/// # Safety
/// `caller` is NULL or the caller passed to the running callback;
/// `memory_name` is NULL or NUL-terminated; `size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_caller_memory_size(
    caller: *const kiln_caller_t<'_>,
    memory_name: *const c_char,
    size: *mut u64,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or the live caller (# Safety).
        let caller = unsafe { ffi::required(caller, "caller") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(memory_name, "memory_name") }?;
        // SAFETY: NULL or writable (# Safety).
        let size = unsafe { ffi::required_mut(size, "size") }?;
        let memory = caller_memory(caller, name)?;
        *size = memory.data_size(&caller.caller) as u64;
        Ok(())
    })
}

/// Copies bytes out of the calling instance's memory.
///
/// # Safety
/// `caller` is NULL or the caller passed to the running callback;
/// `memory_name` is NULL or NUL-terminated; `buf` is NULL or has `len`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kiln_caller_memory_read(
    caller: *const kiln_caller_t<'_>,
    memory_name: *const c_char,
    offset: u64,
    buf: *mut c_void,
    len: usize,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or the live caller (# Safety).
        let caller = unsafe { ffi::required(caller, "caller") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(memory_name, "memory_name") }?;
        // SAFETY: NULL or `len` writable bytes (# Safety).
        let buf = unsafe { ffi::slice_mut(buf.cast::<u8>(), len, "buf") }?;
        let memory = caller_memory(caller, name)?;
        Ok(memory.read(&caller.caller, self::offset(offset), buf)?)
    })
}

/// Copies bytes into the calling instance's memory.
///
/// # Safety
/// `caller` is NULL or the caller passed to the running callback;
/// `memory_name` is NULL or NUL-terminated; `buf` is NULL or has `len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn kiln_caller_memory_write(
    caller: *mut kiln_caller_t<'_>,
    memory_name: *const c_char,
    offset: u64,
    buf: *const c_void,
    len: usize,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or the live caller, which the callback alone holds (# Safety).
        let caller = unsafe { ffi::required_mut(caller, "caller") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(memory_name, "memory_name") }?;
        // SAFETY: NULL or `len` readable bytes (# Safety).
        let buf = unsafe { ffi::slice(buf.cast::<u8>(), len, "buf") }?;
        let memory = caller_memory(caller, name)?;
        Ok(memory.write(&mut caller.caller, self::offset(offset), buf)?)
    })
}

/// The function that the calling instance exports as `name`.
///
/// # Safety
/// `caller` is NULL or the caller passed to the running callback; `name`
/// is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_caller_get_func(
    caller: *const kiln_caller_t<'_>,
    name: *const c_char,
    out: *mut *mut kiln_func_t,
) -> *mut kiln_error_t {
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or the live caller (# Safety).
        let caller = unsafe { ffi::required(caller, "caller") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(name, "name") }?;
        let func = caller
            .caller
            .get_export(name)
            .and_then(Extern::into_func)
            .ok_or_else(|| kiln_error_t::msg(format!("the calling instance exports no function `{name}`")))?;
        let serial = caller.caller.data().serial;
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, kiln_func_t { func, serial }) };
        Ok(())
    })
}

/// Calls a function of the caller's store from a host callback.
///
/// # Safety
/// `caller` is NULL or the caller passed to the running callback; `func`
/// is NULL or a live handle; `args` is NULL or has `nargs` values;
/// `results` is NULL or has room for `nresults`.
#[no_mangle]
pub unsafe extern "C" fn kiln_caller_func_call(
    caller: *mut kiln_caller_t<'_>,
    func: *const kiln_func_t,
    args: *const kiln_val_t,
    nargs: usize,
    results: *mut kiln_val_t,
    nresults: usize,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or the live caller, which the callback alone holds (# Safety).
        let caller = unsafe { ffi::required_mut(caller, "caller") }?;
        // The handle is copied: a nested host callback may delete it.
        let (func, serial) = {
            // SAFETY: NULL or live (# Safety).
            let func = unsafe { ffi::required(func, "func") }?;
            (func.func, func.serial)
        };
        check_serial(caller.caller.data().serial, serial, "function")?;
        // SAFETY: `args` and `results` are NULL or of their lengths (# Safety).
        unsafe { call_checked(&mut caller.caller, func, args, nargs, results, nresults) }
    })
}
