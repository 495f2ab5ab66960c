//! `kiln_instance_t`: exports of an instance, and its memory from the host.

use std::ffi::{c_char, c_void};

use kiln_loader::{Instance, Memory, Store};

use crate::caller::offset;
use crate::error::kiln_error_t;
use crate::ffi::{self, catch, ApiResult};
use crate::func::kiln_func_t;
use crate::store::{kiln_store_t, StoreData};

/// An instance handle, with the serial of its store.
pub struct kiln_instance_t {
    pub(crate) instance: Instance,
    pub(crate) serial: u64,
}

/// The memory that `instance` exports as `name`.
fn instance_memory(store: &Store<StoreData>, instance: &kiln_instance_t, name: &str) -> ApiResult<Memory> {
    instance
        .instance
        .get_memory(store, name)
        .ok_or_else(|| kiln_error_t::msg(format!("the instance exports no memory `{name}`")))
}

/// An exported function.
///
/// # Safety
/// `store` and `instance` are NULL or live (the store used by no other
/// thread meanwhile); `name` is NULL or NUL-terminated; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_instance_get_func(
    store: *const kiln_store_t,
    instance: *const kiln_instance_t,
    name: *const c_char,
    out: *mut *mut kiln_func_t,
) -> *mut kiln_error_t {
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or live (# Safety).
        let store = unsafe { ffi::required(store, "store") }?;
        // SAFETY: NULL or live (# Safety).
        let instance = unsafe { ffi::required(instance, "instance") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(name, "name") }?;
        store.check_serial(instance.serial, "instance")?;
        let guard = store.enter()?;
        let func = instance
            .instance
            .get_func(&*guard, name)
            .ok_or_else(|| kiln_error_t::msg(format!("the instance exports no function `{name}`")))?;
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, kiln_func_t { func, serial: store.serial }) };
        Ok(())
    })
}

/// The size of an exported memory.
///
/// # Safety
/// `store` and `instance` are NULL or live (the store used by no other
/// thread meanwhile); `memory_name` is NULL or NUL-terminated; `size` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_instance_memory_size(
    store: *const kiln_store_t,
    instance: *const kiln_instance_t,
    memory_name: *const c_char,
    size: *mut u64,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let store = unsafe { ffi::required(store, "store") }?;
        // SAFETY: NULL or live (# Safety).
        let instance = unsafe { ffi::required(instance, "instance") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(memory_name, "memory_name") }?;
        // SAFETY: NULL or writable (# Safety).
        let size = unsafe { ffi::required_mut(size, "size") }?;
        store.check_serial(instance.serial, "instance")?;
        let guard = store.enter()?;
        *size = instance_memory(&guard, instance, name)?.data_size(&*guard) as u64;
        Ok(())
    })
}

/// Copies bytes out of an exported memory.
///
/// # Safety
/// `store` and `instance` are NULL or live (the store used by no other
/// thread meanwhile); `memory_name` is NULL or NUL-terminated; `buf` is
/// NULL or has `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kiln_instance_memory_read(
    store: *const kiln_store_t,
    instance: *const kiln_instance_t,
    memory_name: *const c_char,
    offset: u64,
    buf: *mut c_void,
    len: usize,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let store = unsafe { ffi::required(store, "store") }?;
        // SAFETY: NULL or live (# Safety).
        let instance = unsafe { ffi::required(instance, "instance") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(memory_name, "memory_name") }?;
        // SAFETY: NULL or `len` writable bytes (# Safety).
        let buf = unsafe { ffi::slice_mut(buf.cast::<u8>(), len, "buf") }?;
        store.check_serial(instance.serial, "instance")?;
        let guard = store.enter()?;
        Ok(instance_memory(&guard, instance, name)?.read(&*guard, self::offset(offset), buf)?)
    })
}

/// Copies bytes into an exported memory.
///
/// # Safety
/// `store` and `instance` are NULL or live (the store used by no other
/// thread meanwhile); `memory_name` is NULL or NUL-terminated; `buf` is
/// NULL or has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn kiln_instance_memory_write(
    store: *mut kiln_store_t,
    instance: *const kiln_instance_t,
    memory_name: *const c_char,
    offset: u64,
    buf: *const c_void,
    len: usize,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live (# Safety).
        let store = unsafe { ffi::required(store, "store") }?;
        // SAFETY: NULL or live (# Safety).
        let instance = unsafe { ffi::required(instance, "instance") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let name = unsafe { ffi::string(memory_name, "memory_name") }?;
        // SAFETY: NULL or `len` readable bytes (# Safety).
        let buf = unsafe { ffi::slice(buf.cast::<u8>(), len, "buf") }?;
        store.check_serial(instance.serial, "instance")?;
        let mut guard = store.enter()?;
        let memory = instance_memory(&guard, instance, name)?;
        Ok(memory.write(&mut *guard, self::offset(offset), buf)?)
    })
}

/// Frees the handle.
///
/// # Safety
/// `instance` is NULL or a handle of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_instance_delete(instance: *mut kiln_instance_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(instance) }
}
