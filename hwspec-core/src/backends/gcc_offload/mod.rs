//! GCC's OpenMP offloading (`gcc -fopenmp -foffload=<target>`) to NVIDIA (nvptx) and AMD
//! (amdgcn) GPUs, as Debian's `gcc-N-offload-nvptx` and `gcc-N-offload-amdgcn` provide it.
//!
//! No library is loaded here. Detection looks for the offload compilers and libgomp plugins in
//! the file system ([`facts`]); validation compiles a SAXPY in a `#pragma omp target` region
//! with the system's `gcc-N` and runs it with `OMP_TARGET_OFFLOAD=MANDATORY`, both as child
//! processes under deadlines ([`run`]). libgomp loads its plugin, and the plugin libcuda or the
//! HSA runtime, in that child, so a driver that crashes or hangs takes only the child down.
//!
//! Which GPU a target region runs on is unknown until one has run there, so a device is
//! `other` until validated and `gpu` after. A compiled program that ran on the host is the
//! usual state of a machine without the GPU: `enumerated` with `no-device` and `compiled: yes`.

mod facts;
#[cfg(test)]
mod tests;
mod validate;

use std::path::Path;
use std::process::Command;

use crate::backends::{Backend, Variables};
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

pub use facts::Layout;
use facts::{detect, OffloadCompiler};
use validate::{run_bounded, VERSION_LIMIT};

/// Probes GCC's OpenMP offloading.
#[derive(Debug)]
pub struct GccOffloadBackend;

impl Backend for GccOffloadBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(&Layout::system(), level, progress)
    }

    /// `gcc-offload-ARCH` for each target whose region really ran on the device: validated,
    /// even at level quick, where a compiled program proves nothing.
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        proven
            .iter()
            .filter(|d| d.status == Status::Validated)
            .filter_map(|d| d.arch.as_deref())
            .map(|arch| Capability::flag(format!("gcc-offload-{arch}")))
            .collect()
    }

    /// The variables of the runtimes libgomp's plugins load: libcuda for nvptx, the HSA
    /// runtime for amdgcn.
    fn variables(&self) -> Variables {
        Variables {
            runtime: &["CUDA_", "HSA_", "ROCR_"],
            selectors: &["CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"],
            ..Variables::default()
        }
    }
}

/// Probes the offload compilers installed under `layout`.
pub fn probe_with(layout: &Layout, level: Level, progress: &mut dyn Progress) -> BackendReport {
    progress.stage(Stage::Enumerate);
    let installation = detect(layout);
    if installation.compilers.is_empty() {
        let versions = if installation.gcc_versions.is_empty() {
            vec!["N".to_owned()]
        } else {
            installation.gcc_versions.clone()
        };
        let packages: Vec<String> = versions
            .iter()
            .flat_map(|v| facts::TARGETS.iter().map(move |t| (v, t)))
            .map(|(v, t)| format!("gcc-{v}-{}", t.compiler_package))
            .collect();
        return BackendReport::absent(
            BackendName::GccOffload,
            ReasonCode::LibraryNotFound,
            format!(
                "no GCC offload compiler installed ({})",
                packages.join(", ")
            ),
        );
    }
    let mut report = BackendReport::new(BackendName::GccOffload, Status::Enumerated, None);
    report
        .properties
        .insert("gcc_versions".into(), installation.gcc_versions.join(", "));
    if let Some(default) = &installation.default_version {
        report
            .properties
            .insert("default_gcc_version".into(), default.clone());
    }
    report
        .properties
        .insert("source".into(), layout.root.display().to_string());
    report.devices = installation.compilers.iter().map(describe).collect();
    report.settle_status();
    if level >= Level::Standard {
        for (compiler, index) in installation.compilers.iter().zip(0..) {
            progress.partial(&report);
            progress.stage(Stage::Kernel);
            validate::device(compiler, &mut report.devices[index]);
        }
        report.settle_status();
    }
    report
}

/// The device an offload compiler stands for, before anything has run.
fn describe(compiler: &OffloadCompiler) -> Device {
    let target = compiler.target;
    let mut device = Device::new(
        format!("GCC {} offloading to {}", compiler.version, target.triple),
        "GCC",
        DeviceKind::Other,
    );
    device.arch = Some(target.arch.to_owned());
    let props = &mut device.properties;
    props.insert("offload_target".into(), target.triple.to_owned());
    props.insert("mkoffload".into(), compiler.mkoffload.display().to_string());
    props.insert(
        "plugin".into(),
        match &compiler.plugin {
            Some(path) => path.display().to_string(),
            None => format!(
                "{} not installed ({})",
                target.plugin, target.plugin_package
            ),
        },
    );
    props.insert("plugin_present".into(), yes_no(compiler.plugin.is_some()));
    props.insert("default_gcc".into(), yes_no(compiler.default_gcc));
    if !compiler.other_versions.is_empty() {
        props.insert(
            "other_gcc_versions".into(),
            compiler.other_versions.join(", "),
        );
    }
    let version = compiler.driver.as_deref().and_then(full_version);
    props.insert(
        "gcc_version".into(),
        version.unwrap_or_else(|| compiler.version.clone()),
    );
    match &compiler.driver {
        Some(driver) => {
            props.insert("gcc".into(), driver.display().to_string());
        }
        None => {
            device.status = Status::Unusable;
            device.reason = Some(Reason::new(
                ReasonCode::LibraryNotFound,
                format!(
                    "{} is installed but its driver gcc-{} is not",
                    compiler.mkoffload.display(),
                    compiler.version
                ),
            ));
        }
    }
    device
}

/// `gcc-N -dumpfullversion` (`12.2.0`).
fn full_version(driver: &Path) -> Option<String> {
    let finished = run_bounded(Command::new(driver).arg("-dumpfullversion"), VERSION_LIMIT).ok()?;
    let version = finished.stdout.trim();
    (finished.succeeded() && !version.is_empty()).then(|| version.to_owned())
}

pub(super) fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}
