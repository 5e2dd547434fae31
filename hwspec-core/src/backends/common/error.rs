//! The one error type of a runtime call: which C entry point failed, the number it gave, and
//! the runtime's own name for that number.
//!
//! Every runtime reports failure as a number (`CUresult`, `hipError_t`, `cl_int`,
//! `ze_result_t`, `VAStatus`, `eglGetError`), and a reason message is only useful to a person
//! when it names the call and the number as the vendor's headers spell them, so that both can
//! be searched for. Numbers the headers do not name stay numbers, never a transmuted enum.

use std::borrow::Cow;
use std::fmt;

/// How a runtime's headers write its error numbers, and so how a message writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// `cuInit returned 100 (CUDA_ERROR_NO_DEVICE)`: the call's return value, in decimal.
    Decimal,
    /// `zeInit returned ZE_RESULT_ERROR_UNINITIALIZED (0x78000001)`: the return value in
    /// hexadecimal, zero-padded to `digits`, as headers that define codes in hex write them.
    Hex {
        /// Hex digits after `0x`.
        digits: usize,
    },
    /// `eglInitialize failed with EGL_BAD_ALLOC (0x3003)`: the call only said it failed, and
    /// the number is what the runtime's last-error query said afterwards.
    LastError,
}

/// A runtime call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallError {
    /// The C entry point, as people search for it.
    pub(crate) call: &'static str,
    /// The number it returned, or the last-error query's answer after it.
    pub(crate) code: i64,
    /// The runtime's name for the number (`CUDA_ERROR_NO_DEVICE`), when it has one.
    pub(crate) name: Option<Cow<'static, str>>,
    spelling: Spelling,
}

impl CallError {
    /// `call` failed with `code`, written in decimal, not yet named.
    pub(crate) fn new(call: &'static str, code: impl Into<i64>) -> CallError {
        CallError {
            call,
            code: code.into(),
            name: None,
            spelling: Spelling::Decimal,
        }
    }

    /// The same error, with the runtime's name for its number.
    pub(crate) fn named(mut self, name: impl Into<Cow<'static, str>>) -> CallError {
        self.name = Some(name.into());
        self
    }

    /// The same error, named by `names` when it knows the number.
    pub(crate) fn named_by(self, names: impl FnOnce(i64) -> Option<&'static str>) -> CallError {
        match names(self.code) {
            Some(name) => self.named(name),
            None => self,
        }
    }

    /// The same error, written as the runtime's headers write its numbers.
    pub(crate) fn spelled(mut self, spelling: Spelling) -> CallError {
        self.spelling = spelling;
        self
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let call = self.call;
        match (self.spelling, &self.name) {
            (Spelling::Decimal, Some(name)) => write!(f, "{call} returned {} ({name})", self.code),
            (Spelling::Decimal, None) => write!(f, "{call} returned {}", self.code),
            (Spelling::Hex { digits }, Some(name)) => {
                write!(
                    f,
                    "{call} returned {name} ({:#0width$x})",
                    self.code,
                    width = digits + 2
                )
            }
            (Spelling::Hex { digits }, None) => {
                write!(
                    f,
                    "{call} returned {:#0width$x}",
                    self.code,
                    width = digits + 2
                )
            }
            (Spelling::LastError, Some(name)) => {
                write!(f, "{call} failed with {name} ({:#06x})", self.code)
            }
            (Spelling::LastError, None) => write!(f, "{call} failed with error {:#06x}", self.code),
        }
    }
}

impl std::error::Error for CallError {}

/// `Ok` when `code` is 0, the success value of every runtime that returns a status (CUDA, HIP,
/// OpenCL, Level Zero, VA-API, NVDEC/NVENC), otherwise the [`CallError`] of `call` (unnamed, in
/// decimal: the caller names and spells it as its runtime does).
pub(crate) fn check(call: &'static str, code: impl Into<i64>) -> Result<(), CallError> {
    let code = code.into();
    if code == 0 {
        Ok(())
    } else {
        Err(CallError::new(call, code))
    }
}

/// The name `table` gives `code`: for the runtimes whose headers define their error numbers as
/// a list of constants (`ze_result_t`, `EGL_BAD_*`), transcribed as `(value, name)` pairs.
pub(crate) fn name_in<T: PartialEq>(table: &[(T, &'static str)], code: &T) -> Option<&'static str> {
    table
        .iter()
        .find(|(value, _)| value == code)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(code: i64) -> Option<&'static str> {
        (code == 100).then_some("CUDA_ERROR_NO_DEVICE")
    }

    #[test]
    fn messages_name_the_call_and_the_number_as_the_headers_do() {
        let no_device = CallError::new("cuInit", 100u32).named_by(names);
        assert_eq!(
            no_device.to_string(),
            "cuInit returned 100 (CUDA_ERROR_NO_DEVICE)"
        );
        let unknown = CallError::new("cuInit", 7777u32).named_by(names);
        assert_eq!(unknown.to_string(), "cuInit returned 7777");
        let ze = CallError::new("zeInit", 0x7800_0001u32)
            .named("ZE_RESULT_ERROR_UNINITIALIZED")
            .spelled(Spelling::Hex { digits: 8 });
        assert_eq!(
            ze.to_string(),
            "zeInit returned ZE_RESULT_ERROR_UNINITIALIZED (0x78000001)"
        );
        let ze_unnamed = CallError::new("zeInit", 1u32).spelled(Spelling::Hex { digits: 8 });
        assert_eq!(ze_unnamed.to_string(), "zeInit returned 0x00000001");
        let egl = CallError::new("eglInitialize", 0x3003)
            .named("EGL_BAD_ALLOC")
            .spelled(Spelling::LastError);
        assert_eq!(
            egl.to_string(),
            "eglInitialize failed with EGL_BAD_ALLOC (0x3003)"
        );
        let negative = CallError::new("clGetPlatformIDs", -1001).named("CL_PLATFORM_NOT_FOUND_KHR");
        assert_eq!(
            negative.to_string(),
            "clGetPlatformIDs returned -1001 (CL_PLATFORM_NOT_FOUND_KHR)"
        );
    }

    #[test]
    fn check_passes_success_only() {
        assert_eq!(check("hipInit", 0), Ok(()));
        assert_eq!(check("hipInit", 100).unwrap_err().code, 100);
    }
}
