//! What every entry point does at the boundary: catching panics, refusing
//! NULL pointers, reading C strings, writing out-pointers.

use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use crate::error::kiln_error_t;

/// The result of an entry point's work; the error becomes the returned
/// `kiln_error_t *`.
pub(crate) type ApiResult<T> = Result<T, kiln_error_t>;

/// Runs an entry point's `body`: `Ok` is NULL, an error is returned to C
/// as a new `kiln_error_t`, and a panic becomes one too instead of
/// unwinding into C, which would be undefined behaviour.
pub(crate) fn catch(body: impl FnOnce() -> ApiResult<()>) -> *mut kiln_error_t {
    let error = match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return ptr::null_mut(),
        Ok(Err(error)) => error,
        Err(payload) => kiln_error_t::from_panic(payload),
    };
    Box::into_raw(Box::new(error))
}

/// [`catch`] for the entry points that return a value instead of an
/// error (accessors, deleters): a panic gives `fallback`.
pub(crate) fn catch_or<R>(fallback: R, body: impl FnOnce() -> R) -> R {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// `ptr` as a reference, or an error naming the NULL argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing mutates for `'a`.
pub(crate) unsafe fn required<'a, T>(ptr: *const T, what: &str) -> ApiResult<&'a T> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is valid for `'a`.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_argument(what))
}

/// `ptr` as a unique reference, or an error naming the NULL argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing else reaches for `'a`.
pub(crate) unsafe fn required_mut<'a, T>(ptr: *mut T, what: &str) -> ApiResult<&'a mut T> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is valid and unaliased for `'a`.
    unsafe { ptr.as_mut() }.ok_or_else(|| null_argument(what))
}

/// The NUL-terminated UTF-8 string at `ptr`, or an error naming the
/// argument when it is NULL or not UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string live for `'a`.
pub(crate) unsafe fn string<'a>(ptr: *const c_char, what: &str) -> ApiResult<&'a str> {
    if ptr.is_null() {
        return Err(null_argument(what));
    }
    // SAFETY: non-NULL, and the caller guarantees it is NUL-terminated and live.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| kiln_error_t::msg(format!("{what} is not UTF-8: {e}")))
}

/// The NUL-terminated bytes at `ptr` as an OS string (a path, say, which
/// need not be UTF-8), or an error naming the argument when it is NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string live for `'a`.
pub(crate) unsafe fn os_str<'a>(ptr: *const c_char, what: &str) -> ApiResult<&'a OsStr> {
    if ptr.is_null() {
        return Err(null_argument(what));
    }
    // SAFETY: non-NULL, and the caller guarantees it is NUL-terminated and live.
    Ok(OsStr::from_bytes(unsafe { CStr::from_ptr(ptr) }.to_bytes()))
}

/// `len` items at `ptr`; NULL is allowed (and gives an empty slice) only
/// when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` points to `len` initialised items live for `'a`.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> ApiResult<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(kiln_error_t::msg(format!("{what} is NULL but its length is {len}")));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` live items.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// [`slice`], writable.
///
/// # Safety
/// A non-NULL `ptr` points to `len` items live for `'a` that nothing else
/// reaches meanwhile.
pub(crate) unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize, what: &str) -> ApiResult<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(kiln_error_t::msg(format!("{what} is NULL but its length is {len}")));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` writable items.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Checks an out-pointer before any work, so that nothing is made that
/// could not be handed back.
pub(crate) fn out_pointer<T>(out: *mut *mut T) -> ApiResult<*mut *mut T> {
    if out.is_null() {
        Err(null_argument("out"))
    } else {
        Ok(out)
    }
}

/// Hands `value` to C through the out-pointer checked by [`out_pointer`].
///
/// # Safety
/// `out` is non-NULL and points to writable room for a pointer.
pub(crate) unsafe fn hand_out<T>(out: *mut *mut T, value: T) {
    // SAFETY: the caller guarantees `out` is a writable pointer slot.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
}

/// Frees an object that C got from [`hand_out`]; NULL does nothing.
///
/// # Safety
/// `ptr` is NULL or came from [`hand_out`] (or `Box::into_raw`) of a `T`
/// and is not used afterwards.
pub(crate) unsafe fn delete<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller guarantees `ptr` is a live box it gives up.
        catch_or((), || drop(unsafe { Box::from_raw(ptr) }));
    }
}

fn null_argument(what: &str) -> kiln_error_t {
    kiln_error_t::msg(format!("{what} is NULL"))
}
