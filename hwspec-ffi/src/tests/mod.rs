//! Tests calling the exports as C would, through raw pointers.

mod api;
mod header;
mod probe;

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr, CString};

use hwspec_core::model::{Capability, HostInfo, SCHEMA_VERSION};
use hwspec_core::{Level, Report};

use crate::error::hwspec_result;
use crate::*;

pub(crate) use crate::error::hwspec_result::*;

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

/// The calling thread's last error message.
fn last_error() -> String {
    // SAFETY: hwspec_last_error returns a valid NUL-terminated string, never NULL.
    unsafe { CStr::from_ptr(hwspec_last_error()) }
        .to_str()
        .unwrap()
        .to_owned()
}

/// Copies a string hwspec returned, then frees it.
fn take(s: *mut c_char) -> String {
    assert!(!s.is_null());
    // SAFETY: `s` is a live string returned by hwspec.
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_owned();
    // SAFETY: `s` came from hwspec and is freed once.
    unsafe { hwspec_string_free(s) };
    text
}

/// A report as a machine with PoCL would give, made without probing, with `vars` as the
/// environment for overrides.
fn fixture_with(vars: &[(&str, &str)]) -> Result<*mut hwspec_report, crate::error::Error> {
    let report = Report {
        schema: SCHEMA_VERSION,
        hwspec_version: env!("CARGO_PKG_VERSION").to_owned(),
        level: Level::Standard,
        capabilities: vec![
            Capability::flag("cpu"),
            Capability::versioned("opencl", "3.0"),
            Capability::versioned("opencl", "1.2"),
            Capability::flag("x86-64-v2"),
        ],
        backends: Vec::new(),
        host: HostInfo {
            kernel: "Linux 6.1".into(),
            architecture: "x86_64".into(),
            root: false,
            driver_cache: None,
            environment: BTreeMap::new(),
            dropped_environment: Vec::new(),
        },
        elapsed_ms: 1.0,
        cache: None,
        overrides: BTreeMap::new(),
    };
    let vars = vars.iter().copied();
    hwspec_core::Answer::with_overrides(report, vars)
        .map(|answer| crate::ptr::into_raw(hwspec_report::new(answer)))
        .map_err(crate::report::override_error)
}

fn fixture() -> *mut hwspec_report {
    fixture_with(&[]).unwrap()
}

/// A pointer that no call may write to an output on failure.
fn sentinel<T>() -> *mut T {
    std::ptr::NonNull::dangling().as_ptr()
}

/// `hwspec_check` on `report`: satisfied, explanation, JSON.
fn check(report: *const hwspec_report, expression: &str) -> (bool, String, serde_json::Value) {
    let expression = c(expression);
    let mut verdict = std::ptr::null_mut();
    let mut satisfied = false;
    let (mut explanation, mut json) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: every pointer passed is valid; `verdict` is freed before returning.
    unsafe {
        assert_eq!(
            hwspec_check(report, expression.as_ptr(), &mut verdict),
            HWSPEC_OK,
            "{}",
            last_error()
        );
        assert_eq!(hwspec_verdict_satisfied(verdict, &mut satisfied), HWSPEC_OK);
        assert_eq!(
            hwspec_verdict_explanation(verdict, &mut explanation),
            HWSPEC_OK
        );
        assert_eq!(hwspec_verdict_json(verdict, &mut json), HWSPEC_OK);
        hwspec_verdict_free(verdict);
    }
    (
        satisfied,
        take(explanation),
        serde_json::from_str(&take(json)).unwrap(),
    )
}
