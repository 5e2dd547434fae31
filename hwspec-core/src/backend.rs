//! The backend trait and the registry of all backends.
//!
//! A backend's `probe` runs inside a worker process (see [`crate::isolate`]): it may load
//! vendor libraries, and it reports progress so that the parent can say which stage a worker
//! was in when it hung or crashed, and keep what was enumerated before a kernel stage died.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::backends;
use crate::model::{BackendName, BackendReport, Level};

/// The stages of a probe, in order. A timeout or crash is reported against the stage it hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Loading the runtime library and resolving its symbols.
    Load,
    /// Initialising the runtime (creating an instance, finding platforms).
    Init,
    /// Listing devices and their properties.
    Enumerate,
    /// Building and running validation kernels.
    Kernel,
}

impl Stage {
    /// The lowercase name used in reasons and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Init => "init",
            Stage::Enumerate => "enumerate",
            Stage::Kernel => "kernel",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a backend reports how far it got.
pub trait Progress {
    /// The backend is entering `stage`.
    fn stage(&mut self, stage: Stage);
    /// What is known so far; used if the worker dies before its final report.
    fn partial(&mut self, report: &BackendReport);
}

/// A [`Progress`] that keeps nothing, for running a backend in-process (tests, benches).
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&mut self, _stage: Stage) {}
    fn partial(&mut self, _report: &BackendReport) {}
}

/// A [`Progress`] that keeps every stage and partial report, for running a backend in-process
/// and looking at how it got where it did.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Stages entered, in order.
    pub stages: Vec<Stage>,
    /// Partial reports, in order.
    pub partials: Vec<BackendReport>,
}

impl Progress for Recorder {
    fn stage(&mut self, stage: Stage) {
        self.stages.push(stage);
    }

    fn partial(&mut self, report: &BackendReport) {
        self.partials.push(report.clone());
    }
}

/// How opening a runtime library failed, for backends that resolve their entry points
/// themselves.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The dynamic loader could not open the library: its name and the loader's message.
    Library(String, String),
    /// The library lacks an entry point: its name and the dynamic loader's message.
    Symbol(&'static str, String),
}

impl LoadError {
    /// The backend's report for this failure: `absent` with `library-not-found` when the file
    /// could not be opened (normal: the runtime is not installed), `unusable` with `load-failed`
    /// when `library` lacks an entry point, with the file the dynamic loader mapped (the first
    /// whose name starts with `mapped`).
    pub(crate) fn report(self, backend: BackendName, library: &str, mapped: &str) -> BackendReport {
        match self {
            LoadError::Library(name, why) => BackendReport::absent(
                backend,
                crate::model::ReasonCode::LibraryNotFound,
                format!("{name} could not be loaded: {why}"),
            ),
            LoadError::Symbol(symbol, why) => BackendReport {
                library: crate::sys::loaded_library(mapped),
                ..BackendReport::unusable(
                    backend,
                    crate::model::ReasonCode::LoadFailed,
                    format!("{library} lacks the entry point {symbol}: {why}"),
                )
            },
        }
    }
}

/// Whether the driver library at `path` (or found by that name) can be loaded. A library that
/// loads is kept loaded: the loader is about to load it in this worker anyway, and unloading
/// vendor code is where crashes live (design §3).
pub(crate) fn check_loadable(path: &std::path::Path) -> Result<(), String> {
    // SAFETY: loading a driver library runs its initialisers, the vendor code this worker
    // process exists to contain; no Rust invariant depends on what they do.
    match unsafe { libloading::Library::new(path) } {
        Ok(library) => {
            std::mem::forget(library);
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// One runtime that hwspec can probe.
pub trait Backend {
    /// Which backend this is.
    fn name(&self) -> BackendName;
    /// Probes the runtime at `level`. Never panics on a runtime's behalf: every failure of the
    /// runtime becomes a status and a reason in the returned report.
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport;
}

/// The backend implementation for `name`.
pub fn backend(name: BackendName) -> &'static dyn Backend {
    match name {
        BackendName::Cpu => &backends::cpu::CpuBackend,
        BackendName::Opencl => &backends::opencl::OpenclBackend,
        BackendName::Vulkan => &backends::vulkan::VulkanBackend,
        BackendName::Cuda => &backends::cuda::CudaBackend,
        BackendName::Hip => &backends::hip::HipBackend,
        BackendName::LevelZero => &backends::level_zero::LevelZeroBackend,
        BackendName::Egl => &backends::egl::EglBackend,
        BackendName::Vaapi => &backends::vaapi::VaapiBackend,
        BackendName::Nvcodec => &backends::nvcodec::NvcodecBackend,
        BackendName::GccOffload => &backends::gcc_offload::GccOffloadBackend,
    }
}
