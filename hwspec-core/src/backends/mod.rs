//! One module per runtime behind one trait, and the registry: the only place that lists the
//! backends. Each loads its runtime (unsafe code fenced in the module's loading layer),
//! enumerates devices and runs the validation kernels of [`crate::kernels`].
//!
//! A backend's `probe` runs inside a worker process (see [`crate::supervise`]) and reports its
//! progress through the stages of [`crate::protocol`]. The rest of hwspec asks a backend, through
//! the same trait, what it cannot know without naming one: the capabilities its proven devices
//! give ([`crate::caps`]), the environment its runtime reads (the workers' environment policy),
//! and the driver files its loader reads (the report cache's fingerprint, and re-probing one
//! driver at a time).

use std::path::PathBuf;

use crate::model::{BackendName, BackendReport, Capability, Device, Level};
use crate::protocol::Progress;

pub(crate) mod common;
#[cfg(test)]
mod conformance;

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
pub(crate) trait Backend {
    /// Probes the runtime at `level`. Never panics on a runtime's behalf: every failure of the
    /// runtime becomes a status and a reason in the returned report.
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport;

    /// The capabilities (design §5) that `proven`, the devices of `report` proven at the level
    /// asked (at least one), give. Capabilities no single backend decides (`cpu`, `gpu`,
    /// `gpu-count`, `gpu-memory`) are [`crate::caps`]'s; one that several backends can prove
    /// (`sycl`) may come from each, and is listed once.
    fn capabilities(&self, report: &BackendReport, proven: &[&Device]) -> Vec<Capability>;

    /// The environment variables the runtime reads, which workers get.
    fn variables(&self) -> Variables {
        Variables::default()
    }

    /// The drivers the backend's loader would load, one file each, in a worker whose
    /// environment `var` reads; `None` for a runtime that does not load drivers that way.
    fn drivers(&self, var: &dyn Fn(&str) -> Option<String>) -> Option<Drivers> {
        let _ = var;
        None
    }

    /// Libraries the backend opens by absolute path, outside the dynamic linker's cache, which
    /// the report cache watches as it watches that cache.
    fn libraries_outside_linker_cache(&self) -> &'static [&'static str] {
        &[]
    }

    /// The libraries the backend opens before any other code of its runtime runs, when finding
    /// none of them ends its probe as `absent`: the parent then writes that report itself,
    /// without a worker, when the dynamic loader provably could find none of them
    /// (`supervise::absence`). `None` for a backend that always needs a worker to know.
    fn runtime(&self) -> Option<Runtime> {
        None
    }
}

/// What [`Backend::runtime`] tells the parent.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    /// Sonames or absolute paths, in the order the worker tries them.
    pub(crate) libraries: Vec<&'static str>,
    /// The backend's report when none of them can be found, `why` saying so for each; the
    /// worker makes the same one when none of them opens.
    pub(crate) absent: fn(why: &str) -> BackendReport,
}

/// The environment variables a runtime reads, by what they can make it do (design §7). Every
/// one of them passes to workers; as root without `--trust-env` the environment policy
/// withholds what could load code another user chose.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Variables {
    /// Name prefixes of variables that make the loader, runtime or driver load code or read
    /// manifests (`OCL_ICD_`, `VK_`): withheld as root.
    pub(crate) loaders: &'static [&'static str],
    /// Name prefixes of the runtime's other variables (`CUDA_`, `HSA_`): withheld as root only
    /// when a word of the name says it names code or a place to load from
    /// (`CUDA_INJECTION64_PATH`).
    pub(crate) runtime: &'static [&'static str],
    /// Variables that only choose among the devices found (`CUDA_VISIBLE_DEVICES`): they load
    /// nothing and pass even as root.
    pub(crate) selectors: &'static [&'static str],
}

/// The drivers a loader finds through separate files, any one of which can take the whole
/// runtime down: OpenCL's ICDs and Vulkan's driver manifests (design §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Drivers {
    /// How a report names one (`OpenCL ICD`, `Vulkan driver manifest`).
    pub(crate) label: &'static str,
    /// The files that name the drivers, as the loader would read them.
    pub(crate) files: Vec<PathBuf>,
    /// The variable that makes a worker's loader load only the driver named by one file.
    pub(crate) only: &'static str,
    /// Variables that would add drivers back, removed when one driver is probed alone.
    pub(crate) cleared: &'static [&'static str],
}

/// The backend implementation for `name`.
pub(crate) fn get(name: BackendName) -> &'static dyn Backend {
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

/// Every backend, in report order.
pub(crate) fn all() -> impl Iterator<Item = &'static dyn Backend> {
    BackendName::ALL.iter().map(|&name| get(name))
}
