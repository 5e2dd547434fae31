//! The vulkan backend.

use crate::backend::{Backend, Progress};
use crate::model::{BackendName, BackendReport, Level, ReasonCode};

/// Probes vulkan.
#[derive(Debug)]
pub struct VulkanBackend;

impl Backend for VulkanBackend {
    fn name(&self) -> BackendName {
        BackendName::Vulkan
    }

    fn probe(&self, _level: Level, _progress: &mut dyn Progress) -> BackendReport {
        BackendReport::unusable(
            BackendName::Vulkan,
            ReasonCode::ProbeFailed,
            "not built yet",
        )
    }
}
