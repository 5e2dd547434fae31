//! `hwspec_report`: one probe of this machine, with the caller's overrides applied.

use std::ffi::{c_char, CString};
use std::ptr;

use hwspec_core::spec::OverrideError;
use hwspec_core::spec::{Op, Override};
use hwspec_core::{Answer, Report};

use crate::error::{boundary, boundary_void, c_string_lossy, hwspec_result, Error};
use crate::options::hwspec_options;
use crate::ptr::{free_boxed, into_raw, owned_c_string, try_opt_str, try_ref, try_str, Out};

/// A probe's report (opaque, immutable). Made by `hwspec_probe`, freed by
/// `hwspec_report_free`; may be read from many threads at once.
#[derive(Debug)]
pub struct hwspec_report {
    pub(crate) report: Report,
    /// The `HWSPEC_OVERRIDE_*` variables applied, so that explanations can name them.
    pub(crate) overrides: Vec<Override>,
    /// Each capability's name and version as C strings, in the report's order: what
    /// `hwspec_report_capability` lends out.
    capabilities: Vec<(CString, Option<CString>)>,
}

impl hwspec_report {
    /// Lends out `answer`'s capabilities as C strings.
    pub(crate) fn new(answer: Answer) -> hwspec_report {
        let Answer { report, overrides } = answer;
        let capabilities = report
            .capabilities
            .iter()
            .map(|c| {
                (
                    c_string_lossy(c.name.as_str()),
                    c.version.as_deref().map(c_string_lossy),
                )
            })
            .collect();
        hwspec_report {
            report,
            overrides,
            capabilities,
        }
    }

    /// Whether capability `name` is present and, with a constraint, has a value satisfying it.
    fn has(&self, name: &str, constraint: Option<(Op, &str)>) -> Result<bool, Error> {
        let mut values = self
            .report
            .capabilities
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.version.as_deref());
        let Some((op, want)) = constraint else {
            return Ok(values.next().is_some());
        };
        hwspec_core::version::parse_version(want)
            .map_err(|e| Error::invalid(format!("version {want:?}: {e}")))?;
        Ok(values
            .flatten()
            .any(|have| hwspec_core::version::compare(have, want).is_some_and(|o| op.holds(o))))
    }
}

/// A bad `HWSPEC_OVERRIDE_*` variable as libhwspec reports it.
pub(crate) fn override_error(err: OverrideError) -> Error {
    Error::new(hwspec_result::HWSPEC_ERR_OVERRIDE, err.to_string())
}

/// Probes this machine, each backend in its own worker process, or answers from the report
/// cache as the options allow; then applies the `HWSPEC_OVERRIDE_*` environment variables, as
/// the CLI does. `options` may be NULL for the defaults. A backend that could not be probed
/// (no runtime, no device, a crashing driver, a missing worker) is no error: its entry in the
/// report says why. Errors: `HWSPEC_ERR_OVERRIDE` for a bad override variable,
/// `HWSPEC_ERR_INVALID` when `HWSPEC_WORKER` is not an absolute path (and is used: as root it
/// is ignored unless the options trust the environment).
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` that no thread changes during the call;
/// `out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_probe(
    options: *const hwspec_options,
    out: *mut *mut hwspec_report,
) -> hwspec_result {
    boundary("hwspec_probe", || {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out, "out") }?;
        // SAFETY: forwarded from this function's contract.
        let options = unsafe { options.as_ref() }.cloned().unwrap_or_default();
        let (options, worker_withheld) = options.to_probe()?;
        let mut answer = hwspec_core::report(&options).map_err(override_error)?;
        if worker_withheld {
            let dropped = &mut answer.report.host.dropped_environment;
            dropped.push(crate::options::WORKER_ENV.to_owned());
            dropped.sort();
            dropped.dedup();
        }
        let report = hwspec_report::new(answer);
        out.write(into_raw(report));
        Ok(())
    })
}

/// Frees a report. NULL is fine. Strings borrowed from it become invalid.
///
/// # Safety
///
/// `report` is NULL or came from `hwspec_probe`, no other thread uses it, and it is not used
/// again.
#[no_mangle]
pub unsafe extern "C" fn hwspec_report_free(report: *mut hwspec_report) {
    boundary_void("hwspec_report_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { free_boxed(report) }
    })
}

/// The whole report as JSON: the document `hwspec probe --json` prints. Free it with
/// `hwspec_string_free`.
///
/// # Safety
///
/// `report` is NULL or a live `hwspec_report`; `out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_report_json(
    report: *const hwspec_report,
    out: *mut *mut c_char,
) -> hwspec_result {
    boundary("hwspec_report_json", || {
        // SAFETY: forwarded from this function's contract.
        let (report, out) = unsafe { (try_ref(report, "report")?, Out::new(out, "out")?) };
        let mut json = serde_json::to_string_pretty(&report.report)
            .map_err(|e| Error::new(hwspec_result::HWSPEC_ERR_IO, e.to_string()))?;
        json.push('\n');
        out.write(owned_c_string(json));
        Ok(())
    })
}

/// The number of capabilities in the report.
///
/// # Safety
///
/// `report` is NULL or a live `hwspec_report`; `out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hwspec_report_capability_count(
    report: *const hwspec_report,
    out: *mut usize,
) -> hwspec_result {
    boundary("hwspec_report_capability_count", || {
        // SAFETY: forwarded from this function's contract.
        let (report, out) = unsafe { (try_ref(report, "report")?, Out::new(out, "out")?) };
        out.write(report.capabilities.len());
        Ok(())
    })
}

/// The capability at `index` (from 0, sorted by name): `*name` is its name and `*version` its
/// version, or NULL for a capability without one. Both point into the report and stay valid
/// while it lives. An index past the end is `HWSPEC_ERR_INVALID`.
///
/// # Safety
///
/// `report` is NULL or a live `hwspec_report`; `name` and `version` are each NULL or valid
/// for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_report_capability(
    report: *const hwspec_report,
    index: usize,
    name: *mut *const c_char,
    version: *mut *const c_char,
) -> hwspec_result {
    boundary("hwspec_report_capability", || {
        // SAFETY: forwarded from this function's contract.
        let (report, name_out, version_out) = unsafe {
            (
                try_ref(report, "report")?,
                Out::new(name, "name")?,
                Out::new(version, "version")?,
            )
        };
        let count = report.capabilities.len();
        let (name, version) = report.capabilities.get(index).ok_or_else(|| {
            Error::invalid(format!(
                "index {index} is out of range: the report has {count} capabilities"
            ))
        })?;
        name_out.write(name.as_ptr());
        version_out.write(version.as_ref().map_or(ptr::null(), |v| v.as_ptr()));
        Ok(())
    })
}

/// Whether capability `name` is present; with `op` and `version` (both given, or both NULL),
/// whether some value of it satisfies `op version` in Debian version order. `op` is one of
/// `"<<"`, `"<="`, `"="`, `">="`, `">>"`. A capability without a version satisfies no
/// constraint. Only one of `op` and `version` given is `HWSPEC_ERR_NULL`; an unknown `op` or a
/// `version` that is not a Debian version is `HWSPEC_ERR_INVALID`.
///
/// # Safety
///
/// `report` is NULL or a live `hwspec_report`; `name`, `op` and `version` are each NULL or a
/// NUL-terminated string; `out` is NULL or valid for writing a `bool`.
#[no_mangle]
pub unsafe extern "C" fn hwspec_report_has(
    report: *const hwspec_report,
    name: *const c_char,
    op: *const c_char,
    version: *const c_char,
    out: *mut bool,
) -> hwspec_result {
    boundary("hwspec_report_has", || {
        // SAFETY: forwarded from this function's contract.
        let (report, name, op, version, out) = unsafe {
            (
                try_ref(report, "report")?,
                try_str(name, "name")?,
                try_opt_str(op, "op")?,
                try_opt_str(version, "version")?,
                Out::new(out, "out")?,
            )
        };
        let constraint = match (op, version) {
            (None, None) => None,
            (Some(_), None) => return Err(Error::null("version (op is given)")),
            (None, Some(_)) => return Err(Error::null("op (version is given)")),
            (Some(op), Some(version)) => {
                let op = Op::parse(op).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown operator {op:?}; operators are <<, <=, =, >=, >>"
                    ))
                })?;
                Some((op, version))
            }
        };
        out.write(report.has(name, constraint)?);
        Ok(())
    })
}
