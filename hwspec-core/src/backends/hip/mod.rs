//! The hip backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes hip.
#[derive(Debug)]
pub struct HipBackend;

impl Backend for HipBackend {
    fn name(&self) -> BackendName {
        BackendName::Hip
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(BackendName::Hip, ReasonCode::ProbeFailed, "not built yet")
    }
}
