//! The vaapi backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes vaapi.
#[derive(Debug)]
pub struct VaapiBackend;

impl Backend for VaapiBackend {
    fn name(&self) -> BackendName {
        BackendName::Vaapi
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(BackendName::Vaapi, ReasonCode::ProbeFailed, "not built yet")
    }
}
