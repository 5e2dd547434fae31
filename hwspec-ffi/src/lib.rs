//! libhwspec: hwspec for C (and anything with a C FFI, such as Python's ctypes).
//!
//! The API follows rustls-ffi (design §8): opaque objects with `_new`/`_free` pairs whose
//! `_free` accepts NULL, every function returning a [`hwspec_result`] with the message in
//! [`hwspec_last_error`], outputs written only on success, and every export inside a panic
//! boundary. Probes run in worker processes as for the CLI (design §3), so the caller's
//! process never loads a vendor runtime. `include/hwspec.h` is generated from this crate by a
//! pinned cbindgen (`cargo test -p hwspec-ffi header`); `docs/c-api.md` is the user's guide.

// The exported types carry their C names (hwspec_report, hwspec_result), so that the Rust
// source, the header and the documentation all say the same thing.
#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::panic::catch_unwind;

mod error;
mod options;
mod package;
mod ptr;
mod report;
mod verdict;

#[cfg(test)]
mod tests;

pub use error::hwspec_result;
pub use options::*;
pub use package::*;
pub use report::*;
pub use verdict::*;

use error::{boundary_void, last_error_ptr};

/// This library's version, `HWSPEC_VERSION`, as a NUL-terminated static string.
const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(version) => version,
    Err(_) => panic!("the package version contains a NUL byte"),
};

/// The library's version, e.g. "0.1.0": a static string, never NULL, equal to the
/// `HWSPEC_VERSION` of the header it was built with.
#[no_mangle]
pub extern "C" fn hwspec_version() -> *const c_char {
    catch_unwind(|| VERSION.as_ptr()).unwrap_or(c"".as_ptr())
}

/// The message of the last failed call on the calling thread, or "" if none failed. Never
/// NULL. The pointer stays valid until the next hwspec call on the same thread.
#[no_mangle]
pub extern "C" fn hwspec_last_error() -> *const c_char {
    // Not `boundary`, which could overwrite the very message asked for.
    catch_unwind(last_error_ptr).unwrap_or(c"".as_ptr())
}

/// Frees a string returned by hwspec (JSON, explanations, requirements). NULL is fine. Not
/// for the borrowed strings of `hwspec_version`, `hwspec_last_error` or
/// `hwspec_report_capability`.
///
/// # Safety
///
/// `s` is NULL or a string hwspec returned for the caller to free, not freed before and not
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn hwspec_string_free(s: *mut c_char) {
    boundary_void("hwspec_string_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { ptr::free_c_string(s) }
    })
}
