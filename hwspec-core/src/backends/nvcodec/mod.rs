//! The nvcodec backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes nvcodec.
#[derive(Debug)]
pub struct NvcodecBackend;

impl Backend for NvcodecBackend {
    fn name(&self) -> BackendName {
        BackendName::Nvcodec
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(
            BackendName::Nvcodec,
            ReasonCode::ProbeFailed,
            "not built yet",
        )
    }
}
