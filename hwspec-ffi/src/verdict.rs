//! `hwspec_verdict`: a requirement expression judged against a report.

use std::ffi::c_char;
use std::fmt::Write as _;

use hwspec_core::spec::{self, Verdict};
use hwspec_core::Report;
use serde::Serialize;

use crate::error::{boundary, boundary_void, hwspec_result, Error};
use crate::ptr::{free_boxed, into_raw, owned_c_string, try_ref, try_str, Out};
use crate::report::hwspec_report;

/// A judged requirement (opaque, immutable). Made by `hwspec_check`, freed by
/// `hwspec_verdict_free`; may be read from many threads at once.
#[derive(Debug, Serialize)]
pub struct hwspec_verdict {
    /// The expression in canonical spelling (`cpu` for an empty one).
    expression: String,
    #[serde(flatten)]
    verdict: Verdict,
    /// The `--explain` text, made with the verdict since it needs the report.
    #[serde(skip)]
    explanation: String,
}

impl hwspec_verdict {
    fn new(expression: &str, report: &hwspec_report) -> Result<hwspec_verdict, Error> {
        let requirement = spec::parse(expression).map_err(|e| {
            Error::new(
                hwspec_result::HWSPEC_ERR_PARSE,
                format!("invalid requirement: {e}\n{}", e.render().trim_end()),
            )
        })?;
        let verdict = spec::evaluate(&requirement, &report.report, &report.overrides);
        let expression = requirement.to_string();
        let explanation = explain(&expression, &verdict, &report.report);
        Ok(hwspec_verdict {
            expression,
            verdict,
            explanation,
        })
    }
}

/// The text `hwspec check --explain` prints for one expression: the verdict, then each
/// clause and each of its relations with the reason it holds or not.
fn explain(expression: &str, verdict: &Verdict, report: &Report) -> String {
    let mut out = verdict.explanation(expression);
    if let Some(cache) = report.cache.as_ref().filter(|c| c.hit) {
        let _ = writeln!(
            out,
            "(answered from the report cache, {:.0} s old; \
             hwspec_options_set_use_cache(options, false) probes again)",
            cache.age_seconds
        );
    }
    out
}

/// Judges a requirement expression in Debian relationship syntax (`"opencl (>= 3.0) | cuda"`)
/// against the report; an empty expression means `cpu`. An expression that does not parse is
/// `HWSPEC_ERR_PARSE`, with the line and column in `hwspec_last_error()`. Many threads may
/// check against one report at once.
///
/// # Safety
///
/// `report` is NULL or a live `hwspec_report`; `expression` is NULL or a NUL-terminated
/// string; `out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_check(
    report: *const hwspec_report,
    expression: *const c_char,
    out: *mut *mut hwspec_verdict,
) -> hwspec_result {
    boundary("hwspec_check", || {
        // SAFETY: forwarded from this function's contract.
        let (report, expression, out) = unsafe {
            (
                try_ref(report, "report")?,
                try_str(expression, "expression")?,
                Out::new(out, "out")?,
            )
        };
        out.write(into_raw(hwspec_verdict::new(expression, report)?));
        Ok(())
    })
}

/// Frees a verdict. NULL is fine.
///
/// # Safety
///
/// `verdict` is NULL or came from `hwspec_check`, no other thread uses it, and it is not
/// used again.
#[no_mangle]
pub unsafe extern "C" fn hwspec_verdict_free(verdict: *mut hwspec_verdict) {
    boundary_void("hwspec_verdict_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { free_boxed(verdict) }
    })
}

/// Whether the report satisfies the whole expression.
///
/// # Safety
///
/// `verdict` is NULL or a live `hwspec_verdict`; `out` is NULL or valid for writing a `bool`.
#[no_mangle]
pub unsafe extern "C" fn hwspec_verdict_satisfied(
    verdict: *const hwspec_verdict,
    out: *mut bool,
) -> hwspec_result {
    boundary("hwspec_verdict_satisfied", || {
        // SAFETY: forwarded from this function's contract.
        let (verdict, out) = unsafe { (try_ref(verdict, "verdict")?, Out::new(out, "out")?) };
        out.write(verdict.verdict.satisfied);
        Ok(())
    })
}

/// The explanation `hwspec check --explain` prints: one line for the expression, then per
/// clause `[yes]` or `[no ]` and each relation with the device that proves it or why nothing
/// does. Free it with `hwspec_string_free`.
///
/// # Safety
///
/// `verdict` is NULL or a live `hwspec_verdict`; `out` is NULL or valid for writing one
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_verdict_explanation(
    verdict: *const hwspec_verdict,
    out: *mut *mut c_char,
) -> hwspec_result {
    boundary("hwspec_verdict_explanation", || {
        // SAFETY: forwarded from this function's contract.
        let (verdict, out) = unsafe { (try_ref(verdict, "verdict")?, Out::new(out, "out")?) };
        out.write(owned_c_string(verdict.explanation.as_str()));
        Ok(())
    })
}

/// The verdict as JSON: `{"expression": ..., "satisfied": ..., "clauses": [{"text",
/// "satisfied", "relations": [{"text", "satisfied", "explanation", "device"}]}]}`, the shape
/// of a verdict in `hwspec check --json`. Free it with `hwspec_string_free`.
///
/// # Safety
///
/// `verdict` is NULL or a live `hwspec_verdict`; `out` is NULL or valid for writing one
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_verdict_json(
    verdict: *const hwspec_verdict,
    out: *mut *mut c_char,
) -> hwspec_result {
    boundary("hwspec_verdict_json", || {
        // SAFETY: forwarded from this function's contract.
        let (verdict, out) = unsafe { (try_ref(verdict, "verdict")?, Out::new(out, "out")?) };
        let mut json = serde_json::to_string_pretty(verdict)
            .map_err(|e| Error::new(hwspec_result::HWSPEC_ERR_IO, e.to_string()))?;
        json.push('\n');
        out.write(owned_c_string(json));
        Ok(())
    })
}
