//! `kiln_module_t`: loading artifacts.

use std::ffi::c_char;

use kiln_loader::Module;

use crate::engine::kiln_engine_t;
use crate::error::kiln_error_t;
use crate::ffi::{self, catch};

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
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or live (# Safety).
        let engine = unsafe { ffi::required(engine, "engine") }?;
        // SAFETY: NULL or NUL-terminated (# Safety).
        let path = unsafe { ffi::os_str(path, "path") }?;
        // SAFETY: the caller of this unverified entry point vouches for the
        // artifact (# Safety), as the header says.
        #[allow(unused_unsafe)]
        let module = unsafe { Module::from_file(&engine.engine, path) }?;
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, kiln_module_t { module }) };
        Ok(())
    })
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
    catch(|| {
        let out = ffi::out_pointer(out)?;
        // SAFETY: NULL or live (# Safety).
        let engine = unsafe { ffi::required(engine, "engine") }?;
        if bytes.is_null() {
            return Err(kiln_error_t::msg("bytes is NULL"));
        }
        // SAFETY: `bytes` is non-NULL with `len` readable bytes (# Safety).
        let bytes = unsafe { ffi::slice(bytes, len, "bytes") }?;
        // SAFETY: the caller of this unverified entry point vouches for the
        // artifact (# Safety), as the header says.
        #[allow(unused_unsafe)]
        let module = unsafe { Module::from_bytes(&engine.engine, bytes) }?;
        // SAFETY: `out` was checked non-NULL and is writable (# Safety).
        unsafe { ffi::hand_out(out, kiln_module_t { module }) };
        Ok(())
    })
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
