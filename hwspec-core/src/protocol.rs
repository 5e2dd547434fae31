//! The worker protocol's vocabulary: the stages of a probe and how a backend reports its
//! progress through them.
//!
//! A backend's `probe` runs inside a worker process (see [`crate::isolate`]): it may load
//! vendor libraries, and it reports progress so that the parent can say which stage a worker
//! was in when it hung or crashed, and keep what was enumerated before a kernel stage died.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::BackendReport;

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
pub trait Progress {
    /// The backend is entering `stage`.
    fn stage(&mut self, stage: Stage);
    /// What is known so far; used if the worker dies before its final report.
    fn partial(&mut self, report: &BackendReport);
}

/// A [`Progress`] that keeps nothing, for running a backend in-process (tests, benches).
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&mut self, _stage: Stage) {}
    fn partial(&mut self, _report: &BackendReport) {}
}

/// A [`Progress`] that keeps every stage and partial report, for running a backend in-process
/// and looking at how it got where it did.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Stages entered, in order.
    pub stages: Vec<Stage>,
    /// Partial reports, in order.
    pub partials: Vec<BackendReport>,
}

impl Progress for Recorder {
    fn stage(&mut self, stage: Stage) {
        self.stages.push(stage);
    }

    fn partial(&mut self, report: &BackendReport) {
        self.partials.push(report.clone());
    }
}
