//! The one way a front end gets a report: the CLI, libhwspec and an embedding program all call
//! [`report`], so the report cache, concurrent callers sharing a probe and the
//! `HWSPEC_OVERRIDE_*` variables behave the same wherever hwspec is asked.

use std::ffi::OsStr;

use crate::model::Report;
use crate::options::ProbeOptions;
use crate::report_cache;
use crate::spec::{apply_overrides, Override, OverrideError};
use crate::supervise;

/// A report as a front end shows it: probed or cached, with the overrides applied.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The report, overrides applied and recorded in its `overrides` field.
    pub report: Report,
    /// The overrides applied, in variable order, so that explanations can name them.
    pub overrides: Vec<Override>,
}

impl Answer {
    /// `report` with the `HWSPEC_OVERRIDE_*` variables among `vars` applied, all or none; for
    /// a report that was not probed here (a saved one), and for [`report`] itself.
    pub fn with_overrides<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        mut report: Report,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Answer, OverrideError> {
        let overrides = apply_overrides(&mut report, vars)?;
        Ok(Answer { report, overrides })
    }
}

/// The report `options` ask for: from the report cache when [`ProbeOptions::cache`] allows and
/// it still holds, else from a new probe (one for all the callers asking at once, see
/// the report cache); then, when [`ProbeOptions::overrides`] is set, with this process's
/// `HWSPEC_OVERRIDE_*` variables applied. The cache holds reports as probed: overrides never
/// reach it. Fails only on a bad override variable; a backend that could not be probed says
/// why in its entry of the report.
pub fn report(options: &ProbeOptions) -> Result<Answer, OverrideError> {
    let report = match options.cache {
        Some(policy) => report_cache::probe_cached(options, policy),
        None => supervise::probe(options),
    };
    if options.overrides {
        Answer::with_overrides(report, std::env::vars_os())
    } else {
        Ok(Answer {
            report,
            overrides: Vec::new(),
        })
    }
}
