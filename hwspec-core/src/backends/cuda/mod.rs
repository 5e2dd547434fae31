//! The cuda backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes cuda.
#[derive(Debug)]
pub struct CudaBackend;

impl Backend for CudaBackend {
    fn name(&self) -> BackendName {
        BackendName::Cuda
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(BackendName::Cuda, ReasonCode::ProbeFailed, "not built yet")
    }
}
