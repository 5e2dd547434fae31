//! The level_zero backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes level_zero.
#[derive(Debug)]
pub struct LevelZeroBackend;

impl Backend for LevelZeroBackend {
    fn name(&self) -> BackendName {
        BackendName::LevelZero
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(
            BackendName::LevelZero,
            ReasonCode::ProbeFailed,
            "not built yet",
        )
    }
}
