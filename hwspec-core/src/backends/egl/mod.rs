//! The egl backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes egl.
#[derive(Debug)]
pub struct EglBackend;

impl Backend for EglBackend {
    fn name(&self) -> BackendName {
        BackendName::Egl
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(BackendName::Egl, ReasonCode::ProbeFailed, "not built yet")
    }
}
