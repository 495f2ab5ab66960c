//! `kiln_error_t`: why an operation failed, with its message as a C string.

use std::any::Any;
use std::ffi::{c_char, CString};
use std::ptr;

use kiln_loader::Error;

use crate::ffi::{self, catch_or};

/// An error handed to C: the loader's error when there is one (so that a
/// trap or an exit keeps its code, and a host callback passing it on keeps
/// it), and the message C reads.
pub struct kiln_error_t {
    cause: Option<Error>,
    message: CString,
}

impl kiln_error_t {
    /// An error of the API itself (a NULL argument, say), or one a host
    /// callback made.
    pub(crate) fn msg(message: impl Into<String>) -> kiln_error_t {
        kiln_error_t { cause: None, message: c_string(message.into()) }
    }

    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> kiln_error_t {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        kiln_error_t::msg(format!("internal error in kiln: {what}"))
    }

    /// The error as a host function's result: the loader's own error comes
    /// back as itself from the call (the loader unwraps it), any other
    /// becomes a host error with the message.
    pub(crate) fn into_host_error(self) -> anyhow::Error {
        match self.cause {
            Some(error) => anyhow::Error::from(error),
            None => anyhow::Error::msg(self.message.to_string_lossy().into_owned()),
        }
    }

    fn cause(&self) -> Option<&Error> {
        self.cause.as_ref()
    }
}

impl From<Error> for kiln_error_t {
    fn from(error: Error) -> kiln_error_t {
        kiln_error_t { message: c_string(error.to_string()), cause: Some(error) }
    }
}

impl From<kiln_loader::wasi::WasiError> for kiln_error_t {
    /// The message with its causes, which the error gives as its sources.
    fn from(error: kiln_loader::wasi::WasiError) -> kiln_error_t {
        kiln_error_t::msg(format!("{:#}", anyhow::Error::new(error)))
    }
}

/// `message` as a C string; a NUL inside (which C could not see past)
/// becomes U+FFFD.
fn c_string(message: String) -> CString {
    CString::new(message).unwrap_or_else(|e| {
        let cleaned = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\u{FFFD}");
        CString::new(cleaned).expect("no NUL is left")
    })
}

/// A new error with `message`, for host callbacks to return.
///
/// # Safety
/// `message` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn kiln_error_new(message: *const c_char) -> *mut kiln_error_t {
    catch_or(ptr::null_mut(), || {
        // SAFETY: `message` is NULL or NUL-terminated (# Safety).
        let error = match unsafe { ffi::string(message, "message") } {
            Ok(message) => kiln_error_t::msg(message),
            Err(error) => error,
        };
        Box::into_raw(Box::new(error))
    })
}

/// The error's message, owned by the error.
///
/// # Safety
/// `error` is NULL or a live error of this library.
#[no_mangle]
pub unsafe extern "C" fn kiln_error_message(error: *const kiln_error_t) -> *const c_char {
    // SAFETY: `error` is NULL or live (# Safety).
    match unsafe { error.as_ref() } {
        Some(error) => error.message.as_ptr(),
        None => ptr::null(),
    }
}

/// Whether the error is a Wasm trap.
///
/// # Safety
/// `error` is NULL or a live error of this library.
#[no_mangle]
pub unsafe extern "C" fn kiln_error_is_trap(error: *const kiln_error_t) -> bool {
    // SAFETY: `error` is NULL or live (# Safety).
    let error = unsafe { error.as_ref() };
    error.and_then(kiln_error_t::cause).is_some_and(|cause| cause.trap().is_some())
}

/// The trap's code, if the error is a trap with one.
///
/// # Safety
/// `error` is NULL or a live error of this library; `code` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_error_trap_code(error: *const kiln_error_t, code: *mut u8) -> bool {
    // SAFETY: `error` is NULL or live (# Safety).
    let error = unsafe { error.as_ref() };
    match error.and_then(kiln_error_t::cause).and_then(Error::trap).and_then(|trap| trap.code) {
        Some(trap_code) if !code.is_null() => {
            // SAFETY: `code` is non-NULL and writable (# Safety).
            unsafe { code.write(trap_code.as_u8()) };
            true
        }
        _ => false,
    }
}

/// The WASI exit status, if the error is an exit.
///
/// # Safety
/// `error` is NULL or a live error of this library; `status` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kiln_error_exit_status(error: *const kiln_error_t, status: *mut i32) -> bool {
    // SAFETY: `error` is NULL or live (# Safety).
    let error = unsafe { error.as_ref() };
    match error.and_then(kiln_error_t::cause) {
        Some(Error::Exit(exit)) if !status.is_null() => {
            // SAFETY: `status` is non-NULL and writable (# Safety).
            unsafe { status.write(*exit) };
            true
        }
        _ => false,
    }
}

/// Frees the error.
///
/// # Safety
/// `error` is NULL or an error of this library that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kiln_error_delete(error: *mut kiln_error_t) {
    // SAFETY: NULL or a box of this library given up (# Safety).
    unsafe { ffi::delete(error) }
}
