//! Level Zero through its loader: every device of every driver, with SAXPY (and SGEMM at
//! level `full`) run on each.
//!
//! The layers (design §8): [`sys`] declares the C API and opens `libze_loader.so.1`; [`api`]
//! turns each call into a `Result` with handles that destroy their objects; [`validate`]
//! launches the committed SPIR-V kernels. This module turns what they return into a report.

mod api;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::Mutex;

use self::api::{
    DeviceHandle, DeviceProperties, Driver, DriverProperties, Loader, MemoryProperties, QueueGroup,
    ZeError,
};
use self::sys::{ZE_RESULT_ERROR_UNINITIALIZED, ZE_RESULT_NOT_READY};
use self::validate::KernelError;
use crate::backends::common::validation::{Inputs, Problems};
use crate::backends::common::{capabilities, skeleton};
use crate::backends::{Backend, Variables};
use crate::kernels::build_log_excerpt;
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

/// `zeInit` flags: 0 initialises every driver type (GPU and VPU), not only GPUs.
const INIT_ALL_DRIVER_TYPES: u32 = 0;

/// Variables that change which drivers the loader opens or which devices a driver shows; a
/// `no-device` reason names those that are set.
const DISCOVERY_VARIABLES: &[&str] = &[
    "ZE_ENABLE_ALT_DRIVERS",
    "ZE_ENABLE_NULL_DRIVER",
    "ZE_AFFINITY_MASK",
];

/// Probes Level Zero through its loader.
#[derive(Debug)]
pub struct LevelZeroBackend;

impl Backend for LevelZeroBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(sys::LOADER_SONAME, level, progress)
    }

    /// The Level Zero API version, and `sycl` for a hardware GPU (what a SYCL runtime uses).
    fn capabilities(&self, report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        let mut caps = vec![capabilities::runtime("level-zero", report)];
        if capabilities::any_gpu(proven) {
            caps.push(Capability::flag("sycl"));
        }
        caps
    }

    fn variables(&self) -> Variables {
        Variables {
            loaders: &["ZE_"],
            selectors: &["ZE_AFFINITY_MASK", "ZE_ENABLE_PCI_ID_DEVICE_ORDER"],
            ..Variables::default()
        }
    }
}

/// Held for the whole of a probe ([`skeleton::exclusive`]).
static ONE_PROBE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Probes with `soname` as the loader's name; tests name a missing one.
fn probe_with(soname: &'static str, level: Level, progress: &mut dyn Progress) -> BackendReport {
    // A probe that panicked leaves nothing half-made that the next one could trip on.
    let _one_at_a_time = skeleton::exclusive(&ONE_PROBE_AT_A_TIME);
    progress.stage(Stage::Load);
    let loader = match Loader::open(soname) {
        Ok(loader) => loader,
        Err(error) => return error.report(BackendName::LevelZero, soname, "libze_loader.so"),
    };
    let library = crate::sys::loaded_library("libze_loader.so");

    progress.stage(Stage::Init);
    let drivers = match loader
        .init(INIT_ALL_DRIVER_TYPES)
        .and_then(|()| loader.drivers())
    {
        Ok(drivers) if !drivers.is_empty() => drivers,
        Ok(_) => {
            return BackendReport {
                library,
                ..BackendReport::absent(
                    BackendName::LevelZero,
                    ReasonCode::NoDevice,
                    format!(
                        "zeInit succeeded but zeDriverGet lists 0 drivers{}",
                        discovery_note()
                    ),
                )
            };
        }
        Err(error) => {
            return BackendReport {
                library,
                ..init_failure(error)
            };
        }
    };

    progress.stage(Stage::Enumerate);
    let (mut report, targets) = enumerate(&drivers);
    report.library = library;
    if report.devices.is_empty() {
        return report;
    }
    if !skeleton::enter_kernel_stage(&mut report, level, progress) {
        return report;
    }
    let problems = Problems::new(level, Inputs::Copied);
    skeleton::validate_each(&mut report, &targets, |target, device| {
        validate_device(target, device, &problems);
    });
    report
}

/// The report for a failed `zeInit` or `zeDriverGet`. The loader answers
/// `ZE_RESULT_ERROR_UNINITIALIZED` when it has no driver to initialise (seen with Debian's
/// libze1 1.8 and no driver installed): the normal state of a machine without Level Zero
/// hardware. Anything else is a broken installation.
fn init_failure(error: ZeError) -> BackendReport {
    if error.code == i64::from(ZE_RESULT_ERROR_UNINITIALIZED) {
        BackendReport::absent(
            BackendName::LevelZero,
            ReasonCode::NoDevice,
            format!(
                "{error}: the loader found no driver that initialises{}",
                discovery_note()
            ),
        )
    } else {
        BackendReport::unusable(
            BackendName::LevelZero,
            ReasonCode::DriverError,
            error.to_string(),
        )
    }
}

/// `"; ZE_X=value is set"` for each [`DISCOVERY_VARIABLES`] entry in the environment.
fn discovery_note() -> String {
    DISCOVERY_VARIABLES
        .iter()
        .filter_map(|name| {
            std::env::var_os(name)
                .map(|value| format!("; {name}={} is set", value.to_string_lossy()))
        })
        .collect()
}

/// What the kernel stage needs of one listed device.
struct Target {
    device: DeviceHandle,
    /// The ordinal of the first command queue group with the compute flag, if any.
    compute_ordinal: Result<Option<u32>, ZeError>,
}

/// Facts about one driver that each of its devices reports.
struct DriverFacts {
    index: usize,
    api_version: Option<u32>,
    properties: Option<DriverProperties>,
}

/// Lists every device of every driver. The targets come back in the order of
/// `report.devices`. A driver whose devices cannot be listed becomes a warning, so that one
/// broken driver does not hide the others; only when no device is found at all does its error
/// decide the state.
fn enumerate(drivers: &[Driver]) -> (BackendReport, Vec<Target>) {
    let mut report = BackendReport::new(BackendName::LevelZero, Status::Enumerated, None);
    let mut targets = Vec::new();
    let mut first_error = None;
    let mut versions = Vec::new();
    for (index, driver) in drivers.iter().enumerate() {
        let facts = DriverFacts {
            index,
            api_version: note_failure(&mut report, driver.api_version()),
            properties: note_failure(&mut report, driver.properties()),
        };
        versions.extend(facts.api_version);
        match driver.devices() {
            Ok(devices) => {
                for device in devices {
                    let compute_ordinal = device.queue_groups().map(|g| compute_ordinal(&g));
                    report.devices.push(describe(device, &facts));
                    targets.push(Target {
                        device,
                        compute_ordinal,
                    });
                }
            }
            Err(error) => {
                report.warnings.push(format!("driver {index}: {error}"));
                first_error.get_or_insert((index, error));
            }
        }
    }
    report.runtime_version = versions.iter().max().map(|&v| unpack_version(v));
    report
        .properties
        .insert("drivers".into(), drivers.len().to_string());
    report.properties.insert(
        "driver_api_versions".into(),
        versions
            .iter()
            .map(|&v| unpack_version(v))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if report.devices.is_empty() {
        let (status, reason) = match first_error {
            Some((index, error)) => (
                Status::Unusable,
                Reason::new(
                    ReasonCode::DriverError,
                    format!("listing the devices of driver {index} failed: {error}"),
                ),
            ),
            None => (
                Status::Absent,
                Reason::new(
                    ReasonCode::NoDevice,
                    format!(
                        "{} driver(s) list no device{}",
                        drivers.len(),
                        discovery_note()
                    ),
                ),
            ),
        };
        report.status = status;
        report.reason = Some(reason);
    }
    (report, targets)
}

/// The value of an optional query; a failure becomes a warning on the report.
fn note_failure<T>(report: &mut BackendReport, result: Result<T, ZeError>) -> Option<T> {
    result
        .map_err(|error| report.warnings.push(error.to_string()))
        .ok()
}

/// Everything the report says about one device. A failed property query makes the device
/// `unusable`; a failed memory query only leaves the memory out.
fn describe(handle: DeviceHandle, driver: &DriverFacts) -> Device {
    let properties = match handle.properties() {
        Ok(properties) => properties,
        Err(error) => {
            let mut device = Device::new("unknown device", "unknown", DeviceKind::Other);
            device.status = Status::Unusable;
            device.reason = Some(Reason::new(ReasonCode::DriverError, error.to_string()));
            device
                .properties
                .insert("driver".into(), driver.index.to_string());
            return device;
        }
    };
    let memories = handle.memories();
    device_from(&properties, driver, memories.as_deref().ok())
}

/// The report's view of a device's properties: pure, so that tests can feed it any values.
fn device_from(
    properties: &DeviceProperties,
    driver: &DriverFacts,
    memories: Option<&[MemoryProperties]>,
) -> Device {
    let mut device = Device::new(
        properties.name.clone(),
        crate::host::vendor_label(properties.vendor_id),
        device_kind(properties.device_type),
    );
    device.api_version = driver.api_version.map(unpack_version);
    device.driver_version = driver
        .properties
        .as_ref()
        .map(|p| p.driver_version.to_string());
    device.memory_bytes = memories.and_then(total_memory);

    let eu_count = u64::from(properties.slices)
        * u64::from(properties.subslices_per_slice)
        * u64::from(properties.eus_per_subslice);
    let props = &mut device.properties;
    props.insert("driver".into(), driver.index.to_string());
    if let Some(driver_properties) = &driver.properties {
        props.insert("driver_uuid".into(), hex(&driver_properties.uuid));
    }
    props.insert("vendor_id".into(), format!("{:#06x}", properties.vendor_id));
    props.insert("device_id".into(), format!("{:#06x}", properties.device_id));
    props.insert("uuid".into(), hex(&properties.uuid));
    props.insert("integrated".into(), properties.integrated.to_string());
    props.insert(
        "core_clock_mhz".into(),
        properties.core_clock_mhz.to_string(),
    );
    props.insert(
        "max_mem_alloc_bytes".into(),
        properties.max_mem_alloc_size.to_string(),
    );
    props.insert("eu_count".into(), eu_count.to_string());
    props.insert(
        "threads_per_eu".into(),
        properties.threads_per_eu.to_string(),
    );
    props.insert(
        "hardware_threads".into(),
        (eu_count * u64::from(properties.threads_per_eu)).to_string(),
    );
    props.insert("eu_simd_width".into(), properties.eu_simd_width.to_string());
    if let Some(memories) = memories.filter(|m| !m.is_empty()) {
        let list: Vec<String> = memories
            .iter()
            .map(|m| format!("{}: {} bytes", m.name, m.total_size))
            .collect();
        props.insert("memories".into(), list.join("; "));
    }
    device
}

/// Device memory as the sum of every memory the device lists: a multi-tile GPU lists one per
/// tile, and all of it is usable by one context. `None` when the device lists none.
fn total_memory(memories: &[MemoryProperties]) -> Option<u64> {
    let total = memories
        .iter()
        .fold(0u64, |sum, m| sum.saturating_add(m.total_size));
    (total > 0).then_some(total)
}

/// The first command queue group that can run kernels.
fn compute_ordinal(groups: &[QueueGroup]) -> Option<u32> {
    (0..)
        .zip(groups)
        .find(|(_, group)| group.compute && group.queues > 0)
        .map(|(ordinal, _)| ordinal)
}

/// `major.minor` of a version packed as ZE_MAKE_VERSION does (`major << 16 | minor`).
fn unpack_version(packed: u32) -> String {
    format!("{}.{}", packed >> 16, packed & 0xffff)
}

/// What a device is for scheduling, from its `ze_device_type_t`.
fn device_kind(device_type: u32) -> DeviceKind {
    match device_type {
        1 => DeviceKind::Gpu,
        2 => DeviceKind::Cpu,
        // FPGA, memory copy accelerator, vision processing unit.
        3..=5 => DeviceKind::Accelerator,
        _ => DeviceKind::Other,
    }
}

/// Lowercase hex of a UUID's bytes in the order the driver gave them.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the validation problems on one device and records the outcome in `device`.
fn validate_device(target: &Target, device: &mut Device, problems: &Problems) {
    let ordinal = match &target.compute_ordinal {
        Ok(Some(ordinal)) => *ordinal,
        Ok(None) => {
            device.reason = Some(Reason::new(
                ReasonCode::Unsupported,
                "the device lists no command queue group with the compute flag, so Level Zero \
                 cannot launch a kernel on it",
            ));
            return;
        }
        Err(error) => {
            device.fail(ReasonCode::LaunchFailed, error.to_string());
            return;
        }
    };
    device
        .properties
        .insert("compute_queue_group".into(), ordinal.to_string());
    let context = match api::Context::new(target.device) {
        Ok(context) => context,
        Err(error) => {
            device.fail(ReasonCode::LaunchFailed, error.to_string());
            return;
        }
    };
    match validate::saxpy(&context, ordinal, problems) {
        Ok(validation) => device.validations.push(validation),
        Err(error) => {
            fail_kernel(device, "saxpy", error);
            return;
        }
    }
    if let Some(sgemm) = problems.sgemm() {
        match validate::sgemm(&context, ordinal, sgemm, problems) {
            Ok(validation) => device.validations.push(validation),
            Err(error) => {
                fail_kernel(device, "sgemm", error);
                return;
            }
        }
    }
    device.judge_validations();
}

/// Records why `kernel` gave no result.
fn fail_kernel(device: &mut Device, kernel: &str, error: KernelError) {
    match error {
        KernelError::Build(failure) => {
            let message = format!(
                "{kernel}: {}; build log: {}",
                failure.error,
                build_log_excerpt(&failure.log, "(empty)")
            );
            device.fail(ReasonCode::BuildFailed, message);
        }
        KernelError::Call(error) if error.code == i64::from(ZE_RESULT_NOT_READY) => {
            let seconds = validate::SYNC_TIMEOUT_NS / 1_000_000_000;
            let message = format!("{kernel} did not finish within {seconds} s ({error})");
            device.fail(ReasonCode::LaunchFailed, message);
        }
        KernelError::Call(error) => {
            device.fail(ReasonCode::LaunchFailed, format!("{kernel}: {error}"));
        }
        KernelError::Refused(why) => {
            device.fail(
                ReasonCode::LaunchFailed,
                format!("{kernel} not launched: {why}"),
            );
        }
    }
}
