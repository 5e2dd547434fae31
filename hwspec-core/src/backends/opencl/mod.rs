//! The opencl backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes opencl.
#[derive(Debug)]
pub struct OpenclBackend;

impl Backend for OpenclBackend {
    fn name(&self) -> BackendName {
        BackendName::Opencl
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(
            BackendName::Opencl,
            ReasonCode::ProbeFailed,
            "not built yet",
        )
    }
}
