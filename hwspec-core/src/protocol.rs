//! The worker protocol: how a worker is started, the stages of a probe, and the lines a worker
//! writes back.
//!
//! A worker is the `hwspec` executable (or any program that calls
//! [`worker::run_if_asked`](crate::worker::run_if_asked) first thing) started as
//! `PROGRAM WORKER_ARG BACKEND LEVEL`, with [`PARENT_ENV`] and, when limited,
//! `MEMORY_LIMIT_ENV` in its environment. It writes one JSON object per line on its
//! original standard output: `{"stage":"init"}` as each stage starts, `{"partial":{...}}` once
//! devices are enumerated, then exactly one `{"report":{...}}` (or `{"panic":"..."}`); see
//! `WorkerMessage`. The parent treats anything else as garbage and a missing final line as
//! partial output, and says which stage a worker was in when it hung or crashed.

use std::ffi::OsString;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{BackendName, BackendReport, Level};

/// The hidden first argument that turns the `hwspec` executable into a backend worker:
/// `hwspec __worker BACKEND LEVEL`. Only hwspec itself starts workers.
pub const WORKER_ARG: &str = "__worker";

/// The variable through which the parent tells a worker its own pid, to check against the
/// worker's parent after the parent-death signal is armed.
pub const PARENT_ENV: &str = "HWSPEC_WORKER_PARENT";

/// The variable through which the parent gives a worker its memory limit, in bytes.
pub(crate) const MEMORY_LIMIT_ENV: &str = "HWSPEC_WORKER_MEMORY_LIMIT";

/// What a worker's command line asks for, read from the arguments after the program name.
/// `None` when the first of them is not [`WORKER_ARG`] (the program was not started as a
/// worker); an error when the backend or level that must follow is missing or unknown.
pub(crate) fn worker_request(args: &[OsString]) -> Option<Result<(BackendName, Level), String>> {
    let (first, rest) = args.split_first()?;
    if first != WORKER_ARG {
        return None;
    }
    let text = |i: usize| rest.get(i).and_then(|a| a.to_str());
    let backend = text(0).and_then(BackendName::parse);
    let level = text(1).and_then(Level::parse);
    Some(match (backend, level) {
        (Some(backend), Some(level)) => Ok((backend, level)),
        _ => Err(format!(
            "{WORKER_ARG} is internal; it takes a backend and a level"
        )),
    })
}

/// One line of the worker protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WorkerMessage {
    /// The worker entered a stage.
    Stage(Stage),
    /// What is known so far.
    Partial(BackendReport),
    /// The final result.
    Report(BackendReport),
    /// The backend panicked; the text is the panic message.
    Panic(String),
    /// The worker's anonymous resident memory went over its limit; it ends right after.
    MemoryLimit {
        /// What it had resident when seen, in bytes.
        used_bytes: u64,
        /// The limit the parent set, in bytes.
        limit_bytes: u64,
    },
}

/// The variable that makes a worker of a test build crash or hang as it enters a stage
/// (`BACKEND:STAGE:crash|hang`, worker.rs), passed to workers by the supervisor. Only with the
/// `fault-injection` feature, which only the test suites enable.
#[cfg(feature = "fault-injection")]
pub(crate) const FAULT_VAR: &str = "HWSPEC_TEST_FAULT";

/// The fault [`FAULT_VAR`] asks of `backend`'s worker (`STAGE:crash|hang`), if it names it.
#[cfg(feature = "fault-injection")]
pub(crate) fn fault_asked_of(backend: crate::model::BackendName) -> Option<String> {
    let text = std::env::var(FAULT_VAR).ok()?;
    let (name, fault) = text.split_once(':')?;
    (name == backend.as_str()).then(|| fault.to_owned())
}

/// The stages of a probe, in order. A timeout or crash is reported against the stage it hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Loading the runtime library and resolving its symbols.
    Load,
    /// Initialising the runtime (creating an instance, finding platforms).
    Init,
    /// Listing devices and their properties.
    Enumerate,
    /// Building and running validation kernels.
    Kernel,
}

impl Stage {
    /// The lowercase name used in reasons and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Init => "init",
            Stage::Enumerate => "enumerate",
            Stage::Kernel => "kernel",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a backend reports how far it got.
pub(crate) trait Progress {
    /// The backend is entering `stage`.
    fn stage(&mut self, stage: Stage);
    /// What is known so far; used if the worker dies before its final report.
    fn partial(&mut self, report: &BackendReport);
}

/// A [`Progress`] that keeps nothing, for running a backend in-process in tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct NoProgress;

#[cfg(test)]
impl Progress for NoProgress {
    fn stage(&mut self, _stage: Stage) {}
    fn partial(&mut self, _report: &BackendReport) {}
}

/// A [`Progress`] that keeps every stage and partial report, for running a backend in-process
/// and looking at how it got where it did.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// Stages entered, in order.
    pub stages: Vec<Stage>,
    /// Partial reports, in order.
    pub partials: Vec<BackendReport>,
}

#[cfg(test)]
impl Progress for Recorder {
    fn stage(&mut self, stage: Stage) {
        self.stages.push(stage);
    }

    fn partial(&mut self, report: &BackendReport) {
        self.partials.push(report.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_worker_command_line_names_a_backend_and_a_level() {
        assert_eq!(
            worker_request(&args(&[WORKER_ARG, "opencl", "quick"])),
            Some(Ok((BackendName::Opencl, Level::Quick)))
        );
        assert_eq!(worker_request(&args(&["probe", "--json"])), None);
        assert_eq!(worker_request(&args(&[])), None);
        for bad in [
            &[WORKER_ARG][..],
            &[WORKER_ARG, "metal", "quick"],
            &[WORKER_ARG, "cpu", "deep"],
        ] {
            let refused = worker_request(&args(bad)).unwrap().unwrap_err();
            assert!(refused.contains("internal"), "{refused}");
        }
    }
}
