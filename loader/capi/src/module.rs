//! `kiln_module_t`: loading artifacts.

use std::ffi::c_char;

use kiln_loader::{Engine, Module, TrustedKeys};

use crate::engine::kiln_engine_t;
use crate::error::kiln_error_t;
use crate::ffi::{self, catch, ApiResult};

/// A loaded artifact.
pub struct kiln_module_t {
    pub(crate) module: Module,
}

/// Loads the artifact at `path`, unverified.
///
/// # Safety
/// `engine` is NULL or a live engine; `path` is NULL or NUL-terminated;
/// `out` is NULL or writable. The artifact's native code will run: the
/// caller vouches that it comes from a trusted kilnc.
#[no_mangle]
pub unsafe extern "C" fn kiln_module_from_file(
    engine: *const kiln_engine_t,
    path: *const c_char,
    out: *mut *mut kiln_module_t,
) -> *mut kiln_error_t {
    // SAFETY: `engine` and `out` as `# Safety` says.
    unsafe {
        load_into(engine, out, |engine| {
            // SAFETY: NULL or NUL-terminated (# Safety).
            let path = ffi::os_str(path, "path")?;
            // SAFETY: the caller of this unverified entry point vouches for
            // the artifact (# Safety), as the header says.
            Ok(Module::from_file(engine, path)?)
        })
    }
}

/// Loads an artifact from bytes, unverified.
///
/// # Safety
/// `engine` is NULL or a live engine; `bytes` is NULL or points to `len`
/// readable bytes; `out` is NULL or writable. The artifact's native code
/// will run: the caller vouches that it comes from a trusted kilnc.
#[no_mangle]
pub unsafe extern "C" fn kiln_module_from_bytes(
    engine: *const kiln_engine_t,
    bytes: *const u8,
    len: usize,
    out: *mut *mut kiln_module_t,
) -> *mut kiln_error_t {
    // SAFETY: `engine` and `out` as `# Safety` says.
    unsafe {
        load_into(engine, out, |engine| {
            // SAFETY: `bytes` as `# Safety` says.
            let bytes = artifact_bytes(bytes, len)?;
            // SAFETY: the caller of this unverified entry point vouches for
            // the artifact (# Safety), as the header says.
            Ok(Module::from_bytes(engine, bytes)?)
        })
    }
}

/// Public keys whose signatures the verified loads accept.
pub struct kiln_trusted_keys_t {
    pub(crate) keys: TrustedKeys,
}

/// A new, empty set of trusted keys (which every verified load refuses
/// until a key is added).
#[no_mangle]
pub extern "C" fn kiln_trusted_keys_new() -> *mut kiln_trusted_keys_t {
    Box::into_raw(Box::new(kiln_trusted_keys_t { keys: TrustedKeys::new() }))
}

/// Adds the 32-byte Ed25519 public key at `key`.
///
/// # Safety
/// `keys` is NULL or live; `key` is NULL or points to 32 readable bytes.
#[no_mangle]
pub unsafe extern "C" fn kiln_trusted_keys_add(keys: *mut kiln_trusted_keys_t, key: *const u8) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and not shared during the call (# Safety).
        let keys = unsafe { ffi::required_mut(keys, "keys") }?;
        if key.is_null() {
            return Err(kiln_error_t::msg("key is NULL"));
        }
        // SAFETY: `key` is non-NULL with 32 readable bytes (# Safety).
        let key: &[u8; 32] = unsafe { &*key.cast::<[u8; 32]>() };
        keys.keys.add_key(key).map_err(|e| kiln_error_t::msg(e.to_string()))?;
        Ok(())
    })
}

/// Adds the key of the public key file at `path` (`kiln keygen`'s
/// `NAME.pub`).
///
/// # Safety
/// `keys` is NULL or live; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kiln_trusted_keys_add_file(
    keys: *mut kiln_trusted_keys_t,
    path: *const c_char,
) -> *mut kiln_error_t {
    catch(|| {
        // SAFETY: NULL or live and not shared during the call (# Safety).
        let keys = unsafe { ffi::required_mut(keys, "keys") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let path = unsafe { ffi::os_str(path, "path") }?;
        keys.keys.add_key_file(path.as_ref()).map_err(|e| kiln_error_t::msg(e.to_string()))?;
        Ok(())
    })
}

/// Releases a set of trusted keys.
///
/// # Safety
/// `keys` is NULL or a set of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_trusted_keys_delete(keys: *mut kiln_trusted_keys_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(keys) }
}

/// Loads the artifact at `path` once it is found signed by one of `keys`.
///
/// # Safety
/// `engine` and `keys` are NULL or live; `path` is NULL or NUL-terminated;
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_module_from_file_verified(
    engine: *const kiln_engine_t,
    path: *const c_char,
    keys: *const kiln_trusted_keys_t,
    out: *mut *mut kiln_module_t,
) -> *mut kiln_error_t {
    // SAFETY: `engine` and `out` as `# Safety` says.
    unsafe {
        load_into(engine, out, |engine| {
            // SAFETY: NULL or live (# Safety).
            let keys = ffi::required(keys, "keys")?;
            // SAFETY: NULL or NUL-terminated (# Safety).
            let path = ffi::os_str(path, "path")?;
            Ok(Module::from_file_verified(engine, path, &keys.keys)?)
        })
    }
}

/// Loads an artifact from bytes once it is found signed by one of `keys`.
///
/// # Safety
/// `engine` and `keys` are NULL or live; `bytes` is NULL or points to `len`
/// readable bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_module_from_bytes_verified(
    engine: *const kiln_engine_t,
    bytes: *const u8,
    len: usize,
    keys: *const kiln_trusted_keys_t,
    out: *mut *mut kiln_module_t,
) -> *mut kiln_error_t {
    // SAFETY: `engine` and `out` as `# Safety` says.
    unsafe {
        load_into(engine, out, |engine| {
            // SAFETY: NULL or live (# Safety).
            let keys = ffi::required(keys, "keys")?;
            // SAFETY: `bytes` as `# Safety` says.
            let bytes = artifact_bytes(bytes, len)?;
            Ok(Module::from_bytes_verified(engine, bytes, &keys.keys)?)
        })
    }
}

/// What every loading entry point does around its load: checks `out` and
/// `engine`, loads, and hands the module out.
///
/// # Safety
/// `engine` is NULL or a live engine; `out` is NULL or writable.
unsafe fn load_into(
    engine: *const kiln_engine_t,
    out: *mut *mut kiln_module_t,
    load: impl FnOnce(&Engine) -> ApiResult<Module>,
) -> *mut kiln_error_t {
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or live (# Safety).
        let engine = unsafe { ffi::required(engine, "engine") }?;
        let module = load(&engine.engine)?;
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, kiln_module_t { module }) };
        Ok(())
    })
}

/// The artifact bytes an entry point was given; NULL is an error even with
/// a length of 0.
///
/// # Safety
/// `bytes` is NULL or points to `len` readable bytes that live for `'a`.
unsafe fn artifact_bytes<'a>(bytes: *const u8, len: usize) -> ApiResult<&'a [u8]> {
    if bytes.is_null() {
        return Err(kiln_error_t::msg("bytes is NULL"));
    }
    // SAFETY: `bytes` is non-NULL with `len` readable bytes (# Safety).
    unsafe { ffi::slice(bytes, len, "bytes") }
}

/// Releases the caller's module.
///
/// # Safety
/// `module` is NULL or a module of this library not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_module_delete(module: *mut kiln_module_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(module) }
}
