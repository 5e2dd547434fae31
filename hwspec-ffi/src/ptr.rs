//! Turning the C caller's pointers into Rust references, and back. All the unsafe code that
//! reads arguments lives here, so that each export is a short safe body.

use std::ffi::{c_char, CStr, CString};
use std::ptr::NonNull;

use crate::error::{c_string_lossy, Error};

/// `ptr` as a shared reference; `what` names the argument in the NULL error.
///
/// # Safety
///
/// `ptr` is NULL or points to a live, properly aligned `T` that nothing mutates during `'a`.
pub(crate) unsafe fn try_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller guarantees that a non-NULL `ptr` is valid for reads during 'a.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::null(what))
}

/// `ptr` as an exclusive reference; `what` names the argument in the NULL error.
///
/// # Safety
///
/// `ptr` is NULL or points to a live, properly aligned `T` that nothing else accesses during
/// `'a`.
pub(crate) unsafe fn try_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller guarantees that a non-NULL `ptr` is valid and unaliased during 'a.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::null(what))
}

/// The NUL-terminated UTF-8 string at `ptr`; NULL is `HWSPEC_ERR_NULL`, invalid UTF-8
/// `HWSPEC_ERR_INVALID`.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that stays unchanged during `'a`.
pub(crate) unsafe fn try_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded from this function's own contract.
    let text = unsafe { try_opt_str(ptr, what) }?;
    text.ok_or_else(|| Error::null(what))
}

/// Like [`try_str`], for an optional argument: NULL is `None`.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that stays unchanged during `'a`.
pub(crate) unsafe fn try_opt_str<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: `ptr` is not NULL, and the caller guarantees it is a NUL-terminated string that
    // outlives 'a unchanged.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map(Some).map_err(|err| {
        Error::invalid(format!(
            "{what} is not UTF-8 (at byte {})",
            err.valid_up_to()
        ))
    })
}

/// An output argument, checked for NULL before any work is done and written only on success.
#[derive(Debug)]
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// # Safety
    ///
    /// `ptr` is NULL or valid for a write of one properly aligned `T` for as long as the
    /// returned `Out` lives. What it points to may be uninitialised: it is overwritten, not
    /// dropped.
    pub(crate) unsafe fn new(ptr: *mut T, what: &str) -> Result<Out<T>, Error> {
        NonNull::new(ptr).map(Out).ok_or_else(|| Error::null(what))
    }

    pub(crate) fn write(self, value: T) {
        // SAFETY: `new`'s caller guaranteed the pointer valid for a write of a T while this
        // `Out` lives; `write` does not drop the (possibly uninitialised) old value.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Hands `value` to C as an opaque pointer, to be given back to [`free_boxed`].
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees an object made by [`into_raw`]; NULL is ignored.
///
/// # Safety
///
/// `ptr` is NULL or came from [`into_raw`] with the same `T` and has not been freed yet; no
/// one uses it afterwards.
pub(crate) unsafe fn free_boxed<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: per this function's contract the pointer came from Box::into_raw and is
        // freed exactly once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// `text` as a string the caller owns and frees with `hwspec_string_free`.
pub(crate) fn owned_c_string(text: impl Into<Vec<u8>>) -> *mut c_char {
    c_string_lossy(text).into_raw()
}

/// Frees a string made by [`owned_c_string`]; NULL is ignored.
///
/// # Safety
///
/// `ptr` is NULL or came from [`owned_c_string`] and has not been freed yet; no one uses it
/// afterwards.
pub(crate) unsafe fn free_c_string(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: per this function's contract the pointer came from CString::into_raw and is
        // freed exactly once.
        drop(unsafe { CString::from_raw(ptr) });
    }
}
