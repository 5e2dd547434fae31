//! Result codes, the per-thread last error, and the panic boundary every export runs in.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a hwspec function did. Every function that can fail returns one; outputs are written
/// only with `HWSPEC_OK`, and otherwise `hwspec_last_error()` says why.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hwspec_result {
    /// Success; the outputs are written.
    HWSPEC_OK = 0,
    /// A required pointer argument was NULL.
    HWSPEC_ERR_NULL = 1,
    /// An argument is invalid (bad level, backend name, UTF-8, index out of range).
    HWSPEC_ERR_INVALID = 2,
    /// A requirement expression does not parse.
    HWSPEC_ERR_PARSE = 3,
    /// A control/.dsc/.deb file cannot be read or is malformed.
    HWSPEC_ERR_CONTROL = 4,
    /// An HWSPEC_OVERRIDE_* variable is invalid.
    HWSPEC_ERR_OVERRIDE = 5,
    /// hwspec itself failed. A missing worker executable is not this: it is a reason in the
    /// report.
    HWSPEC_ERR_IO = 6,
    /// A bug in hwspec was caught at the boundary.
    HWSPEC_ERR_PANIC = 7,
}

/// A failed call: its code and what `hwspec_last_error()` will say.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) code: hwspec_result,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(code: hwspec_result, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    /// The required pointer argument `what` was NULL.
    pub(crate) fn null(what: &str) -> Error {
        Error::new(hwspec_result::HWSPEC_ERR_NULL, format!("{what} is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(hwspec_result::HWSPEC_ERR_INVALID, message)
    }
}

thread_local! {
    /// The message of the last failed call on this thread, as `hwspec_last_error()` returns it.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: String) {
    let message = c_string_lossy(message);
    // A thread being torn down has no slot left; its caller cannot ask for the message anyway.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = message);
}

/// The calling thread's last error message; valid until the next call that fails on it.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Runs an export's body: converts its error, or a panic, into a result code and the thread's
/// last error message. `function` names the export in messages.
pub(crate) fn boundary(function: &str, body: impl FnOnce() -> Result<(), Error>) -> hwspec_result {
    // Unwind safety: after a panic nothing the body touched is used again (outputs are
    // written last, and objects handed in are only read).
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => hwspec_result::HWSPEC_OK,
        Ok(Err(err)) => {
            set_last_error(format!("{function}: {}", err.message));
            err.code
        }
        Err(payload) => {
            set_last_error(format!(
                "{function}: a bug in hwspec was caught ({}); please report it",
                panic_message(payload.as_ref())
            ));
            hwspec_result::HWSPEC_ERR_PANIC
        }
    }
}

/// Runs the body of an export that cannot report failure (the `_free` functions): a panic is
/// stopped at the boundary and recorded as the thread's last error.
pub(crate) fn boundary_void(function: &str, body: impl FnOnce()) {
    let _ = boundary(function, || {
        body();
        Ok(())
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic"
    }
}

/// `text` as a C string; NUL bytes, which only a corrupted cache file could put into a report,
/// are dropped rather than failing the call.
pub(crate) fn c_string_lossy(text: impl Into<Vec<u8>>) -> CString {
    let mut bytes = text.into();
    bytes.retain(|&b| b != 0);
    CString::new(bytes).unwrap_or_default()
}
