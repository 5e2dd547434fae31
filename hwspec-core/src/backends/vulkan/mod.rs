//! Vulkan through the loader (`libvulkan.so.1`, opened at run time with ash).
//!
//! The backend's files have the roles of every backend's: [`sys`] opens the loader, [`api`]
//! holds every Vulkan command behind RAII wrappers, [`validate`] runs `saxpy.comp` (and at
//! `full` also `sgemm.comp`) on a device's compute queue. This module is the safe probe: create
//! an instance with no layers or extensions, describe each physical device, and at level
//! `standard` and above validate each device, checking the results against the references.

mod api;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use ash::vk;

use self::sys::LIBRARY;
use crate::backends::common::validation::{Inputs, Pending};
use crate::backends::common::{capabilities, driver_files, skeleton, LoadError};
use crate::backends::{Backend, Drivers, Variables};
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

/// Probes Vulkan.
#[derive(Debug)]
pub struct VulkanBackend;

impl Backend for VulkanBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(LIBRARY, level, progress)
    }

    /// The best device's Vulkan version, whether a hardware GPU is among them, and the video
    /// operations their queues offer (`vulkan-video-decode-h264`).
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        let mut caps: Vec<Capability> = capabilities::highest_api("vulkan", proven)
            .into_iter()
            .collect();
        if capabilities::any_gpu(proven) {
            caps.push(Capability::flag("vulkan-gpu"));
        }
        caps.extend(capabilities::renamed_features(proven, |f| {
            f.starts_with("video-").then(|| format!("vulkan-{f}"))
        }));
        caps
    }

    /// The loader's variables, and Mesa's for its drivers (lavapipe is `LP_`).
    fn variables(&self) -> Variables {
        Variables {
            loaders: &["VK_", "MESA_", "LP_", "GALLIUM_"],
            ..Variables::default()
        }
    }

    fn drivers(&self, var: &dyn Fn(&str) -> Option<String>) -> Option<Drivers> {
        let home = var("HOME").map(std::path::PathBuf::from);
        Some(Drivers {
            label: "Vulkan driver manifest",
            files: driver_files::listed(
                var("VK_DRIVER_FILES")
                    .or_else(|| var("VK_ICD_FILENAMES"))
                    .as_deref(),
                var("VK_ADD_DRIVER_FILES").as_deref(),
                home.as_deref(),
            ),
            only: "VK_DRIVER_FILES",
            cleared: &["VK_ICD_FILENAMES", "VK_ADD_DRIVER_FILES"],
        })
    }
}

/// Probes with `library` as the loader's soname; tests name a missing one.
fn probe_with(library: &'static str, level: Level, progress: &mut dyn Progress) -> BackendReport {
    progress.stage(Stage::Load);
    let loader = match api::Loader::load(library) {
        Ok(loader) => loader,
        Err(error) => return load_failure(library, &error),
    };
    // The inputs and references do not depend on the device: a helper thread makes them on
    // the other core while the loader opens every driver (half of the worker's time).
    let expected = (level >= Level::Standard).then(|| Pending::start(level, Inputs::InPlace));
    let mut report = BackendReport::new(BackendName::Vulkan, Status::Absent, None);
    report.library = crate::sys::loaded_library("libvulkan.so");
    let (drivers, unusable) =
        driver_files::inspect(&driver_files::VULKAN, &driver_files::listed_here());
    report.warnings = unusable;
    let messages = api::LoaderMessages::leaked();

    progress.stage(Stage::Init);
    let instance_version = match loader.instance_version() {
        Ok(version) => version,
        Err(e) => return fail(report, Status::Unusable, ReasonCode::DriverError, e),
    };
    report.runtime_version = Some(format_version(instance_version));
    let api_version = instance_version.min(vk::API_VERSION_1_3);
    report
        .properties
        .insert("instance_api_version".into(), format_version(api_version));
    let instance = match loader.create_instance(api_version, messages) {
        Ok(instance) => instance,
        Err(e) => {
            let (status, code) = instance_failure(&e);
            report.status = status;
            report.reason = Some(Reason::new(code, instance_failure_message(code, &e)));
            report.warnings.extend(driver_files::dropped(
                &driver_files::VULKAN,
                &drivers,
                &messages.taken(),
                Some(&[]),
            ));
            return report;
        }
    };

    progress.stage(Stage::Enumerate);
    let physical = match instance.physical_devices() {
        Ok(physical) => physical,
        Err(e) => return fail(report, Status::Unusable, ReasonCode::DriverError, e),
    };
    let said = messages.taken();
    if physical.is_empty() {
        report.reason = Some(Reason::new(
            ReasonCode::NoDevice,
            "the Vulkan loader found drivers but no physical device",
        ));
        report.warnings.extend(driver_files::dropped(
            &driver_files::VULKAN,
            &drivers,
            &said,
            Some(&[]),
        ));
        return report;
    }
    let mut identities = Vec::new();
    let described: Vec<_> = physical
        .iter()
        .map(|p| {
            let facts = p.facts();
            let queue = compute_queue_family(&facts.queue_families);
            let device = describe(&facts, queue);
            identities.push((device.vendor.clone(), device.driver_version.clone()));
            report.devices.push(device);
            queue
        })
        .collect();
    let validating = skeleton::enter_kernel_stage(&mut report, level, progress);

    // Which library made each device, to name the drivers that made none. Only needed when
    // more drivers loaded than there are distinct drivers among the devices.
    identities.sort();
    identities.dedup();
    let accepted = drivers
        .iter()
        .filter(|d| !said.iter().any(|m| m.contains(&d.library)))
        .count();
    let trace = accepted > identities.len();
    let mut device_drivers: Vec<Option<std::path::PathBuf>> = vec![None; physical.len()];
    if let (true, Some(expected)) = (validating, expected) {
        let expected = expected.wait();
        // Devices without a compute queue were marked unusable by `describe`, so each one
        // validated has its queue.
        let targets = physical.iter().zip(&described).zip(&mut device_drivers);
        skeleton::validate_each(
            &mut report,
            targets,
            |((physical, queue), driver), device| {
                if let Some(queue) = *queue {
                    *driver = validate::device(physical, queue, &expected, device);
                }
            },
        );
    }
    if trace {
        for ((physical, queue), driver) in physical.iter().zip(&described).zip(&mut device_drivers)
        {
            if driver.is_none() {
                *driver = physical
                    .open(queue.unwrap_or(0))
                    .ok()
                    .and_then(|open| open.driver_library());
            }
        }
    }
    report.warnings.extend(driver_files::dropped(
        &driver_files::VULKAN,
        &drivers,
        &said,
        trace.then_some(device_drivers.as_slice()),
    ));
    report.settle_status();
    report
}

/// The report when the loader could not be used: `absent` when no `libvulkan.so.1` is
/// installed, `unusable` when one is there but does not load (wrong architecture, a missing
/// dependency, a bad ELF file) or lacks an entry point.
fn load_failure(library: &'static str, error: &LoadError) -> BackendReport {
    match error {
        LoadError::NotFound(why) if why.iter().all(|w| sys::is_missing_library(w)) => {
            BackendReport::absent(
                BackendName::Vulkan,
                ReasonCode::LibraryNotFound,
                format!("{library} is not installed: {error}"),
            )
        }
        LoadError::NotFound(_) => BackendReport {
            library: crate::sys::loaded_library("libvulkan.so"),
            ..BackendReport::unusable(
                BackendName::Vulkan,
                ReasonCode::LoadFailed,
                format!("{library} could not be used: {error}"),
            )
        },
        LoadError::MissingSymbols { .. } => {
            error.report(BackendName::Vulkan, library, "libvulkan.so")
        }
    }
}

/// Gives `report` a status and a reason from a Vulkan error.
fn fail(
    mut report: BackendReport,
    status: Status,
    code: ReasonCode,
    error: api::VkError,
) -> BackendReport {
    report.status = status;
    report.reason = Some(Reason::new(code, error.to_string()));
    report
}

/// How a failed instance creation is reported: no usable driver is the normal "no Vulkan
/// here", a missing command is a broken loader, anything else is a driver error.
fn instance_failure(error: &api::VkError) -> (Status, ReasonCode) {
    match error {
        api::VkError::MissingCommand(_) => (Status::Unusable, ReasonCode::LoadFailed),
        _ if error.result() == Some(vk::Result::ERROR_INCOMPATIBLE_DRIVER) => {
            (Status::Absent, ReasonCode::NoDevice)
        }
        _ => (Status::Unusable, ReasonCode::DriverError),
    }
}

fn instance_failure_message(code: ReasonCode, error: &api::VkError) -> String {
    if code == ReasonCode::NoDevice {
        format!("no Vulkan driver (ICD) could be loaded: {error}")
    } else {
        format!("no Vulkan instance: {error}")
    }
}

/// `major.minor.patch` of a packed Vulkan version (the variant is always 0 for Vulkan).
fn format_version(version: u32) -> String {
    format!(
        "{}.{}.{}",
        vk::api_version_major(version),
        vk::api_version_minor(version),
        vk::api_version_patch(version)
    )
}

/// `driverVersion` is vendor-defined: NVIDIA packs 10.8.8.6 bits, the others use Vulkan's
/// version packing.
fn decode_driver_version(vendor_id: u32, raw: u32) -> String {
    if vendor_id == 0x10DE {
        format!(
            "{}.{}.{}.{}",
            raw >> 22,
            (raw >> 14) & 0xFF,
            (raw >> 6) & 0xFF,
            raw & 0x3F
        )
    } else {
        format_version(raw)
    }
}

/// Software rasterisers that present themselves as Vulkan devices.
fn is_software(driver_id: Option<vk::DriverId>, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        driver_id,
        Some(vk::DriverId::MESA_LLVMPIPE | vk::DriverId::GOOGLE_SWIFTSHADER)
    ) || ["llvmpipe", "lavapipe", "swiftshader"]
        .iter()
        .any(|s| name.contains(s))
}

/// What the device is for scheduling. A CPU-type Vulkan device is in practice always a
/// software implementation (lavapipe, SwiftShader), never a hardware CPU offering Vulkan.
fn classify(
    device_type: vk::PhysicalDeviceType,
    driver_id: Option<vk::DriverId>,
    name: &str,
) -> DeviceKind {
    if device_type == vk::PhysicalDeviceType::CPU || is_software(driver_id, name) {
        return DeviceKind::Software;
    }
    match device_type {
        vk::PhysicalDeviceType::DISCRETE_GPU
        | vk::PhysicalDeviceType::INTEGRATED_GPU
        | vk::PhysicalDeviceType::VIRTUAL_GPU => DeviceKind::Gpu,
        _ => DeviceKind::Other,
    }
}

/// The first queue family that can run compute shaders.
fn compute_queue_family(families: &[vk::QueueFamilyProperties]) -> Option<u32> {
    families
        .iter()
        .position(|f| f.queue_count > 0 && f.queue_flags.contains(vk::QueueFlags::COMPUTE))
        .and_then(|i| u32::try_from(i).ok())
}

/// The largest device-local heap: what "device memory" means for a GPU.
fn device_memory(memory: &vk::PhysicalDeviceMemoryProperties) -> Option<u64> {
    memory
        .memory_heaps_as_slice()
        .iter()
        .filter(|h| h.flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL))
        .map(|h| h.size)
        .max()
}

/// Vulkan Video codecs: the queue flag a codec needs, the extension that defines it, and the
/// feature it proves.
const VIDEO_CODECS: &[(vk::QueueFlags, &str, &str)] = &[
    (
        vk::QueueFlags::VIDEO_DECODE_KHR,
        "VK_KHR_video_decode_h264",
        "video-decode-h264",
    ),
    (
        vk::QueueFlags::VIDEO_DECODE_KHR,
        "VK_KHR_video_decode_h265",
        "video-decode-hevc",
    ),
    (
        vk::QueueFlags::VIDEO_DECODE_KHR,
        "VK_KHR_video_decode_av1",
        "video-decode-av1",
    ),
    (
        vk::QueueFlags::VIDEO_ENCODE_KHR,
        "VK_KHR_video_encode_h264",
        "video-encode-h264",
    ),
    (
        vk::QueueFlags::VIDEO_ENCODE_KHR,
        "VK_KHR_video_encode_h265",
        "video-encode-hevc",
    ),
];

/// The Vulkan Video features of a device: a codec counts only when a queue family has the
/// video flag it needs and the driver offers its extension, since either alone cannot decode
/// or encode anything.
fn video_features(facts: &api::DeviceFacts) -> impl Iterator<Item = &'static str> + '_ {
    VIDEO_CODECS
        .iter()
        .filter(|(flag, extension, _)| {
            facts
                .queue_families
                .iter()
                .any(|f| f.queue_count > 0 && f.queue_flags.contains(*flag))
                && facts.extensions.iter().any(|e| e == extension)
        })
        .map(|(_, _, feature)| *feature)
}

/// The queue families with a video flag, e.g. `2 (decode), 3 (encode)`; `None` when there is
/// none.
fn video_queue_families(families: &[vk::QueueFamilyProperties]) -> Option<String> {
    let list: Vec<String> = families
        .iter()
        .enumerate()
        .filter_map(|(index, family)| {
            let flags = family.queue_flags;
            let kinds: Vec<&str> = [
                (vk::QueueFlags::VIDEO_DECODE_KHR, "decode"),
                (vk::QueueFlags::VIDEO_ENCODE_KHR, "encode"),
            ]
            .iter()
            .filter(|(flag, _)| flags.contains(*flag))
            .map(|(_, kind)| *kind)
            .collect();
            (!kinds.is_empty()).then(|| format!("{index} ({})", kinds.join(", ")))
        })
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// The report entry for one physical device, from what the driver said.
fn describe(facts: &api::DeviceFacts, compute_queue: Option<u32>) -> Device {
    let p = &facts.properties;
    let name = p
        .device_name_as_c_str()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let driver_id = facts.driver.as_ref().map(|d| d.id);
    let mut device = Device::new(
        name.clone(),
        crate::host::vendor_label(p.vendor_id),
        classify(p.device_type, driver_id, &name),
    );
    device.api_version = Some(format_version(p.api_version));
    let raw_driver_version = decode_driver_version(p.vendor_id, p.driver_version);
    device.driver_version = Some(match &facts.driver {
        Some(d) if !d.info.is_empty() => d.info.clone(),
        Some(d) if !d.name.is_empty() => d.name.clone(),
        _ => raw_driver_version.clone(),
    });
    device.memory_bytes = device_memory(&facts.memory);
    if compute_queue.is_some() {
        device.features.push("compute-queue".into());
    }
    if facts.shader_float64 {
        device.features.push("fp64".into());
    }
    device
        .features
        .extend(video_features(facts).map(str::to_owned));
    let props = &mut device.properties;
    props.insert("device_type".into(), format!("{:?}", p.device_type));
    props.insert("vendor_id".into(), format!("{:#06x}", p.vendor_id));
    props.insert("device_id".into(), format!("{:#06x}", p.device_id));
    props.insert("driver_version_raw".into(), raw_driver_version);
    if let Some(d) = &facts.driver {
        props.insert("driver_name".into(), d.name.clone());
        props.insert("driver_id".into(), format!("{:?}", d.id));
        let c = d.conformance;
        props.insert(
            "conformance_version".into(),
            format!("{}.{}.{}.{}", c.major, c.minor, c.subminor, c.patch),
        );
    }
    if let Some(queue) = compute_queue {
        props.insert("compute_queue_family".into(), queue.to_string());
    }
    if let Some(size) = facts.subgroup_size {
        props.insert("subgroup_size".into(), size.to_string());
    }
    if let Some(families) = video_queue_families(&facts.queue_families) {
        props.insert("video_queue_families".into(), families);
    }
    if compute_queue.is_none() {
        device.status = Status::Unusable;
        device.reason = Some(Reason::new(
            ReasonCode::Unsupported,
            "the device has no queue family with compute support",
        ));
    }
    device
}
