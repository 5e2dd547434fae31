//! NVIDIA CUDA through the driver API (`libcuda.so.1`): every device, with SAXPY (and SGEMM at
//! level `full`) run from committed PTX on each.
//!
//! cudarc's three layers (design §8): [`sys`] finds libcuda and resolves every entry point
//! before one is called, [`api`] turns each call into a `Result` and owns contexts, modules and
//! memory, [`validate`] launches the kernels. [`facts`] reads the kernel driver's facts before
//! `cuInit` and turns a failure and those facts into a reason. This module is safe code that
//! assembles the report.
//!
//! NVDEC/NVENC (the `nvcodec` backend) start from the same libcuda: [`initialise`],
//! [`Initialised`], [`CudaContext`] and [`libcuda_candidates`] are what it uses.
//!
//! The JIT cache follows `CUDA_CACHE_PATH`, which the parent sets in the worker's environment.

mod api;
mod facts;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use cudarc::driver::sys::{CUdevice, CUdevice_attribute};

pub(crate) use self::api::Context as CudaContext;
use self::api::Driver;
use self::facts::{Evidence, Libcuda, VISIBLE_DEVICES_ENV};
pub(crate) use self::sys::libcuda_candidates;
use crate::backends::common::validation::{Inputs, Pending};
use crate::backends::common::{capabilities, skeleton, CallError, Library};
use crate::backends::{Backend, Runtime, Variables};
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

/// Probes CUDA through the driver API.
#[derive(Debug)]
pub struct CudaBackend;

impl Backend for CudaBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(&libcuda_candidates(), level, progress)
    }

    /// The highest CUDA version the driver supports, and each proven device's compute
    /// capability.
    fn capabilities(&self, report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        let archs = proven.iter().filter_map(|d| d.arch.as_deref());
        std::iter::once(capabilities::runtime("cuda", report))
            .chain(archs.map(|arch| Capability::versioned("cuda-arch", arch)))
            .collect()
    }

    fn variables(&self) -> Variables {
        Variables {
            runtime: &["CUDA_"],
            selectors: &["CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"],
            ..Variables::default()
        }
    }

    fn libraries_outside_linker_cache(&self) -> &'static [&'static str] {
        sys::KNOWN_LOCATIONS
    }

    /// libcuda's names: without any of them CUDA is absent, with the machine's NVIDIA evidence.
    fn runtime(&self) -> Option<Runtime> {
        Some(Runtime {
            libraries: libcuda_candidates(),
            absent: |why| absent_report(BackendName::Cuda, &Evidence::gather(), why),
        })
    }
}

/// The report of `backend` when no libcuda could be opened, `why` saying what was tried, with
/// `evidence` of NVIDIA hardware and drivers on the machine.
fn absent_report(backend: BackendName, evidence: &Evidence, why: &str) -> BackendReport {
    let driver_hint = match evidence.module_version() {
        Some(version) => format!(" although the nvidia kernel module {version} is loaded"),
        None => String::new(),
    };
    with_evidence(
        BackendReport::absent(
            backend,
            ReasonCode::LibraryNotFound,
            format!("libcuda is not installed{driver_hint}: {why}"),
        ),
        evidence,
        &[],
    )
}

/// libcuda opened, its entry points resolved and `cuInit` passed, with the facts gathered on
/// the way. Backends that need a CUDA context (NVDEC/NVENC) start from here too, so the same
/// fact (no libcuda, no device, a stub, a mismatch) reads the same in every one of them.
pub(crate) struct Initialised {
    driver: Driver,
    library: Libcuda,
    evidence: Evidence,
    visible_devices: Option<String>,
    /// `/dev/nvidia*` nodes that appeared during `cuInit`: run as root, libcuda creates them.
    created_nodes: Vec<String>,
}

impl Initialised {
    /// A report of `backend` with the library and the evidence behind it.
    pub(crate) fn report(
        &self,
        backend: BackendName,
        status: Status,
        reason: Option<Reason>,
    ) -> BackendReport {
        self.report_from(BackendReport::new(backend, status, reason))
    }

    fn report_from(&self, report: BackendReport) -> BackendReport {
        with_library(report, &self.evidence, &self.library, &self.created_nodes)
    }

    /// A new context on `device`, current on this thread until dropped.
    pub(crate) fn context(&self, device: CUdevice) -> Result<CudaContext<'_>, CallError> {
        self.driver.context(device)
    }

    /// The devices, or the report of `backend` when there is none to use: the CUDA
    /// backend's reading of an empty or failed `cuDeviceGetCount`.
    pub(crate) fn devices(
        &self,
        backend: BackendName,
    ) -> Result<Vec<CUdevice>, Box<BackendReport>> {
        match self.driver.devices() {
            Ok(ids) if ids.is_empty() => {
                let (status, reason) = facts::no_devices(
                    &self.evidence,
                    self.visible_devices.as_deref(),
                    "cuDeviceGetCount gave 0",
                );
                Err(Box::new(self.report(backend, status, Some(reason))))
            }
            Ok(ids) => Ok(ids),
            Err(error) => Err(Box::new(self.report(
                backend,
                Status::Unusable,
                Some(Reason::new(ReasonCode::DriverError, error.to_string())),
            ))),
        }
    }
}

/// Evidence properties (kernel module, device nodes, nodes libcuda created) on `report`.
fn with_evidence(
    mut report: BackendReport,
    evidence: &Evidence,
    created: &[String],
) -> BackendReport {
    for (key, value) in evidence.properties() {
        report.properties.insert(key.to_owned(), value);
    }
    if !created.is_empty() {
        report.properties.insert(
            "device_nodes_created".into(),
            format!("{} (created by libcuda during cuInit)", created.join(", ")),
        );
    }
    report
}

/// As [`with_evidence`], plus the library libcuda was loaded from and its version.
fn with_library(
    report: BackendReport,
    evidence: &Evidence,
    library: &Libcuda,
    created: &[String],
) -> BackendReport {
    let mut report = with_evidence(report, evidence, created);
    report.library = Some(library.path.clone());
    if let Some(version) = &library.version {
        report
            .properties
            .insert("libcuda_version".into(), version.clone());
    }
    report
}

/// Opens libcuda from `candidates` and runs `cuInit`, for `backend`; the report when that fails.
pub(crate) fn initialise(
    backend: BackendName,
    candidates: &[&'static str],
    progress: &mut dyn Progress,
) -> Result<Initialised, Box<BackendReport>> {
    let evidence = Evidence::gather();
    let visible_devices = std::env::var(VISIBLE_DEVICES_ENV).ok();

    progress.stage(Stage::Load);
    let opened = match Library::open_first(candidates) {
        Ok(opened) => opened,
        Err(error) => {
            return Err(Box::new(absent_report(
                backend,
                &evidence,
                &error.to_string(),
            )))
        }
    };
    let library = Libcuda::new(
        crate::sys::loaded_library("libcuda.so").unwrap_or_else(|| opened.name().to_owned()),
    );
    let api = match sys::Api::resolve(&opened) {
        Ok(api) => api,
        Err(error) => {
            return Err(Box::new(with_library(
                BackendReport::unusable(backend, ReasonCode::LoadFailed, error.to_string()),
                &evidence,
                &library,
                &[],
            )));
        }
    };
    let driver = Driver::new(api);

    progress.stage(Stage::Init);
    let init = driver.init();
    let created_nodes = evidence.created_since();
    let initialised = Initialised {
        driver,
        library,
        evidence,
        visible_devices,
        created_nodes,
    };
    match init {
        Ok(()) => Ok(initialised),
        Err(error) => {
            let (status, reason) = facts::init_failure(
                &error,
                &initialised.library,
                &initialised.evidence,
                initialised.visible_devices.as_deref(),
            );
            Err(Box::new(initialised.report(backend, status, Some(reason))))
        }
    }
}

/// Probes with `candidates` as the libcuda names to try; tests name missing ones.
fn probe_with(
    candidates: &[&'static str],
    level: Level,
    progress: &mut dyn Progress,
) -> BackendReport {
    let cuda = match initialise(BackendName::Cuda, candidates, progress) {
        Ok(cuda) => cuda,
        Err(report) => return *report,
    };
    // The references are made while the devices are enumerated; not before libcuda is known
    // to work, so that a machine without it pays nothing for them.
    let pending = Pending::start(level, Inputs::Copied);
    let driver = cuda.driver;
    let library = &cuda.library;
    let evidence = &cuda.evidence;
    let with_library = |report: BackendReport| cuda.report_from(report);
    let cuda_version = match driver.version() {
        Ok(encoded) => facts::cuda_version(encoded),
        Err(error) => {
            return with_library(BackendReport::unusable(
                BackendName::Cuda,
                ReasonCode::DriverError,
                error.to_string(),
            ));
        }
    };

    progress.stage(Stage::Enumerate);
    let mut report = with_library(BackendReport::new(
        BackendName::Cuda,
        Status::Enumerated,
        None,
    ));
    report.runtime_version = Some(cuda_version.clone());
    let ids = match cuda.devices(BackendName::Cuda) {
        Ok(ids) => ids,
        Err(mut empty) => {
            empty.runtime_version = report.runtime_version;
            return *empty;
        }
    };
    let driver_version = library
        .version
        .clone()
        .or_else(|| evidence.module_version().map(str::to_owned));
    for &id in &ids {
        let mut device = describe(&driver, id);
        device.api_version = Some(cuda_version.clone());
        device.driver_version.clone_from(&driver_version);
        report.devices.push(device);
    }
    if !skeleton::enter_kernel_stage(&mut report, level, progress) {
        return report;
    }
    let problems = pending.wait();
    let mut readback = Vec::new();
    skeleton::validate_each(&mut report, &ids, |&id, device| {
        match validate::run(&driver, id, &problems, &mut readback) {
            Ok((saxpy, sgemm)) => {
                device.validations.push(saxpy);
                device.validations.extend(sgemm);
                device.judge_validations();
            }
            Err((code, message)) => device.fail(code, message),
        }
    });
    report
}

/// Everything the report says about one device. A failed identity query (name, compute
/// capability) makes the device `unusable`; the other facts are left out when theirs fail.
fn describe(driver: &Driver, id: CUdevice) -> Device {
    let attribute = |attribute| driver.attribute(id, attribute);
    let identity = || -> Result<(String, i32, i32), CallError> {
        Ok((
            driver.name(id)?,
            attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
            attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
        ))
    };
    let (name, major, minor) = match identity() {
        Ok(identity) => identity,
        Err(error) => {
            let mut device = Device::new(format!("CUDA device {id}"), "NVIDIA", DeviceKind::Gpu);
            device.fail(ReasonCode::DriverError, error.to_string());
            device.status = Status::Unusable;
            return device;
        }
    };
    let mut device = Device::new(name, "NVIDIA", DeviceKind::Gpu);
    device.arch = Some(format!("{major}.{minor}"));
    device.memory_bytes = driver.total_memory(id).ok();

    let gpu_uuid = driver.uuid(id).ok();
    let instance_uuid = driver.uuid_v2(id).and_then(Result::ok);
    let props = &mut device.properties;
    props.insert("ordinal".into(), id.to_string());
    if let Some(uuid) = &gpu_uuid {
        props.insert("uuid".into(), facts::format_uuid("GPU", uuid));
    }
    // A MIG instance shows as a CUDA device named after its profile ("... MIG 1g.10gb") whose
    // cuDeviceGetUuid_v2 differs from its GPU's cuDeviceGetUuid.
    let distinct_instance = instance_uuid.filter(|uuid| Some(uuid) != gpu_uuid.as_ref());
    if let Some(uuid) = &distinct_instance {
        props.insert("mig_uuid".into(), facts::format_uuid("MIG", uuid));
    }
    if distinct_instance.is_some() || device.name.split_whitespace().any(|w| w == "MIG") {
        props.insert("mig".into(), "instance".into());
    }
    if let Ok(bus_id) = driver.pci_bus_id(id) {
        // The node Slurm's gres.conf binds this GPU through; MIG instances share their GPU's.
        let roots = crate::host::HostRoots::system();
        if let Some(node) = crate::host::nvidia_device_node(&bus_id, &roots) {
            props.insert("device_node".into(), node.display().to_string());
        }
        props.insert("pci_bus_id".into(), bus_id);
    }
    if let Ok(count) = attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) {
        props.insert("multiprocessors".into(), count.to_string());
    }
    device
}
