//! One module per runtime behind one trait, and the registry: the only place that lists the
//! backends. Each loads its runtime (unsafe code fenced in the module's loading layer),
//! enumerates devices and runs the validation kernels of [`crate::kernels`].
//!
//! A backend's `probe` runs inside a worker process (see [`crate::isolate`]) and reports its
//! progress through the stages of [`crate::protocol`].

use crate::model::{BackendName, BackendReport, Level};
use crate::protocol::Progress;

pub(crate) mod common;

pub mod cpu;
pub mod cuda;
pub mod egl;
pub mod gcc_offload;
pub mod hip;
pub mod level_zero;
pub mod nvcodec;
pub mod opencl;
pub mod vaapi;
pub mod vulkan;

/// One runtime that hwspec can probe.
pub trait Backend {
    /// Which backend this is.
    fn name(&self) -> BackendName;
    /// Probes the runtime at `level`. Never panics on a runtime's behalf: every failure of the
    /// runtime becomes a status and a reason in the returned report.
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport;
}

/// The backend implementation for `name`.
pub fn get(name: BackendName) -> &'static dyn Backend {
    match name {
        BackendName::Cpu => &cpu::CpuBackend,
        BackendName::Opencl => &opencl::OpenclBackend,
        BackendName::Vulkan => &vulkan::VulkanBackend,
        BackendName::Cuda => &cuda::CudaBackend,
        BackendName::Hip => &hip::HipBackend,
        BackendName::LevelZero => &level_zero::LevelZeroBackend,
        BackendName::Egl => &egl::EglBackend,
        BackendName::Vaapi => &vaapi::VaapiBackend,
        BackendName::Nvcodec => &nvcodec::NvcodecBackend,
        BackendName::GccOffload => &gcc_offload::GccOffloadBackend,
    }
}
