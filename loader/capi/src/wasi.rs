//! `kiln_wasi_config_t`: the arguments, environment, stdio and preopened
//! directories of a WASI program, and the store that holds them.

use std::ffi::c_char;
use std::os::unix::ffi::OsStrExt;

use kiln_loader::wasi::WasiCtxBuilder;

use crate::error::kiln_error_t;
use crate::ffi::{self, catch, catch_or};
use crate::store::kiln_store_t;

/// A WASI configuration being built.
pub struct kiln_wasi_config_t {
    builder: WasiCtxBuilder,
}

/// An empty WASI configuration.
#[no_mangle]
pub extern "C" fn kiln_wasi_config_new() -> *mut kiln_wasi_config_t {
    catch_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(kiln_wasi_config_t { builder: WasiCtxBuilder::default() }))
    })
}

/// Appends an argument.
///
/// # Safety
/// `config` is NULL or a live configuration used by no other thread
/// meanwhile; `arg` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kiln_wasi_config_arg(
    config: *mut kiln_wasi_config_t,
    arg: *const c_char,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and unshared (# Safety).
        let config = unsafe { ffi::required_mut(config, "config") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let arg = unsafe { ffi::os_str(arg, "arg") }?;
        config.builder.arg(arg);
        Ok(())
    })
}

/// Adds an environment variable.
///
/// # Safety
/// `config` is NULL or a live configuration used by no other thread
/// meanwhile; `key` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kiln_wasi_config_env(
    config: *mut kiln_wasi_config_t,
    key: *const c_char,
    value: *const c_char,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and unshared (# Safety).
        let config = unsafe { ffi::required_mut(config, "config") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let key = unsafe { ffi::os_str(key, "key") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let value = unsafe { ffi::os_str(value, "value") }?;
        if key.as_bytes().contains(&b'=') {
            return Err(kiln_error_t::msg(format!("environment key `{}` contains `=`", key.to_string_lossy())));
        }
        config.builder.env(key, value);
        Ok(())
    })
}

/// Shares this process's standard streams.
///
/// # Safety
/// `config` is NULL or a live configuration used by no other thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn kiln_wasi_config_inherit_stdio(config: *mut kiln_wasi_config_t) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and unshared (# Safety).
        let config = unsafe { ffi::required_mut(config, "config") }?;
        config.builder.inherit_stdio();
        Ok(())
    })
}

/// Preopens a host directory under a guest name.
///
/// # Safety
/// `config` is NULL or a live configuration used by no other thread
/// meanwhile; `host_path` and `guest_path` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kiln_wasi_config_preopen_dir(
    config: *mut kiln_wasi_config_t,
    host_path: *const c_char,
    guest_path: *const c_char,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and unshared (# Safety).
        let config = unsafe { ffi::required_mut(config, "config") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let host = unsafe { ffi::os_str(host_path, "host_path") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let guest = unsafe { ffi::os_str(guest_path, "guest_path") }?;
        config.builder.preopened_dir(host, guest)?;
        Ok(())
    })
}

/// Frees a configuration.
///
/// # Safety
/// `config` is NULL or a configuration of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_wasi_config_delete(config: *mut kiln_wasi_config_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(config) }
}

/// Makes a configuration the store's WASI state, taking it over.
///
/// # Safety
/// `store` is NULL or a live store used by no other thread meanwhile;
/// `config` is NULL or a configuration of this library, given up.
#[no_mangle]
pub unsafe extern "C" fn kiln_store_set_wasi(
    store: *mut kiln_store_t,
    config: *mut kiln_wasi_config_t,
) -> *mut kiln_error_t {
    catch(|| {
        if config.is_null() {
            return Err(kiln_error_t::msg("config is NULL"));
        }
        // SAFETY: a box of this library, given up (# Safety): taken first,
        // so that it is freed whatever fails below.
        let mut config = unsafe { Box::from_raw(config) };
        // SAFETY: NULL or live (# Safety).
        let mut store = unsafe { ffi::required(store, "store") }?.enter()?;
        store.data_mut().wasi = config.builder.build()?;
        Ok(())
    })
}
