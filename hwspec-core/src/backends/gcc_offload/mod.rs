//! The gcc_offload backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes gcc_offload.
#[derive(Debug)]
pub struct GccOffloadBackend;

impl Backend for GccOffloadBackend {
    fn name(&self) -> BackendName {
        BackendName::GccOffload
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(
            BackendName::GccOffload,
            ReasonCode::ProbeFailed,
            "not built yet",
        )
    }
}
