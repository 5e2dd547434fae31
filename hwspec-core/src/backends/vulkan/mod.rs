//! Vulkan through the loader (`libvulkan.so.1`, opened at run time with ash).
//!
//! [`api`] holds every unsafe call behind RAII wrappers; this module is the safe probe: create
//! an instance with no layers or extensions, describe each physical device, and at level
//! `standard` and above run `saxpy.comp` (and at `full` also `sgemm.comp`) on each device's
//! compute queue, checking the results against [`crate::kernels`].

mod api;
pub(crate) mod manifests;

use std::time::{Duration, Instant};

use ash::vk;

use crate::backends::common::capabilities;
use crate::backends::common::validation::{Pending, Problems};
use crate::backends::{Backend, Drivers, Variables};
use crate::kernels::Sgemm;
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status, Validation,
};
use crate::protocol::{Progress, Stage};

/// The loader's soname, as `dlopen` is asked for it.
const LIBRARY: &str = "libvulkan.so.1";

/// How long one dispatch may take before the device is given up on. Far beyond what a software
/// device needs for these problems, well inside the worker's kernel-stage deadline.
const FENCE_TIMEOUT: Duration = Duration::from_secs(20);

/// Probes Vulkan.
#[derive(Debug)]
pub struct VulkanBackend;

impl Backend for VulkanBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe(level, progress)
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
            files: manifests::listed(
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

fn probe(level: Level, progress: &mut dyn Progress) -> BackendReport {
    progress.stage(Stage::Load);
    let loader = match api::Loader::load() {
        Ok(loader) => loader,
        Err(api::LoadError::NotFound(why)) => {
            return BackendReport::absent(
                BackendName::Vulkan,
                ReasonCode::LibraryNotFound,
                format!("{LIBRARY} is not installed: {why}"),
            )
        }
        Err(api::LoadError::Broken(why)) => {
            let mut report = BackendReport::unusable(
                BackendName::Vulkan,
                ReasonCode::LoadFailed,
                format!("{LIBRARY} could not be used: {why}"),
            );
            report.library = crate::sys::loaded_library("libvulkan.so");
            return report;
        }
    };
    // The inputs and references do not depend on the device: a helper thread makes them on
    // the other core while the loader opens every driver (half of the worker's time).
    let expected = (level >= Level::Standard).then(|| Pending::start(level));
    let mut report = BackendReport::new(BackendName::Vulkan, Status::Absent, None);
    report.library = crate::sys::loaded_library("libvulkan.so");
    let (drivers, unusable) = manifests::inspect(&manifests::VULKAN, &manifests::listed_here());
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
            report.warnings.extend(manifests::dropped(
                &manifests::VULKAN,
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
        report.warnings.extend(manifests::dropped(
            &manifests::VULKAN,
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
    report.settle_status();
    progress.partial(&report);

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
    if let Some(expected) = expected {
        progress.stage(Stage::Kernel);
        let expected = expected.wait();
        for (((physical, queue), device), driver) in physical
            .iter()
            .zip(&described)
            .zip(&mut report.devices)
            .zip(&mut device_drivers)
        {
            if let Some(queue) = *queue {
                *driver = validate(physical, queue, &expected, device);
            }
        }
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
    report.warnings.extend(manifests::dropped(
        &manifests::VULKAN,
        &drivers,
        &said,
        trace.then_some(device_drivers.as_slice()),
    ));
    report.settle_status();
    report
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
        api::VkError::Call {
            result: vk::Result::ERROR_INCOMPATIBLE_DRIVER,
            ..
        } => (Status::Absent, ReasonCode::NoDevice),
        api::VkError::MissingCommand(_) => (Status::Unusable, ReasonCode::LoadFailed),
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

/// A kernel that could not give a validation, and how to report it.
struct KernelFailure {
    code: ReasonCode,
    message: String,
}

impl KernelFailure {
    fn build(kernel: &str, e: api::VkError) -> KernelFailure {
        KernelFailure {
            code: ReasonCode::BuildFailed,
            message: format!("the {kernel} pipeline could not be built: {e}"),
        }
    }

    fn launch(kernel: &str, e: api::VkError) -> KernelFailure {
        KernelFailure {
            code: ReasonCode::LaunchFailed,
            message: format!("{kernel} could not run: {e}"),
        }
    }
}

/// Opens the device on `queue` and runs the kernels of `problems`, recording the outcome.
/// Returns the driver library that runs the device, when it opened.
fn validate(
    physical: &api::PhysicalDevice<'_>,
    queue: u32,
    problems: &Problems,
    device: &mut Device,
) -> Option<std::path::PathBuf> {
    let open = match physical.open(queue) {
        Ok(open) => open,
        Err(e) => {
            device.status = Status::Unusable;
            let code = match e {
                api::VkError::MissingCommand(_) => ReasonCode::LoadFailed,
                _ => ReasonCode::DriverError,
            };
            device.reason = Some(Reason::new(code, format!("no logical device: {e}")));
            return None;
        }
    };
    let driver = open.driver_library();
    let saxpy = run_saxpy(&open, problems);
    let saxpy_passed = settle_kernel(device, saxpy);
    if let (true, Some(sgemm)) = (saxpy_passed, problems.sgemm()) {
        let sgemm = run_sgemm(&open, sgemm, problems);
        settle_kernel(device, sgemm);
    }
    driver
}

/// Records one kernel's outcome on `device` and says whether it passed. A device is validated
/// only while every kernel run on it passed.
fn settle_kernel(device: &mut Device, outcome: Result<Validation, KernelFailure>) -> bool {
    match outcome {
        Ok(v) => {
            let passed = v.passed;
            device.validations.push(v);
            device.judge_validations();
            passed
        }
        Err(failure) => {
            device.status = Status::Failed;
            device.reason = Some(Reason::new(failure.code, failure.message));
            false
        }
    }
}

/// Runs the SAXPY of `problems` on `device` and compares the result with its reference.
fn run_saxpy(device: &api::Device<'_>, problems: &Problems) -> Result<Validation, KernelFailure> {
    let problem = &problems.saxpy;
    let pipeline = device
        .pipeline(api::Shader::Saxpy)
        .map_err(|e| KernelFailure::build("saxpy", e))?;
    let launch = |e| KernelFailure::launch("saxpy", e);
    let start = Instant::now();
    let x = device.buffer(&problem.x).map_err(launch)?;
    let mut y = device.buffer(&problem.y).map_err(launch)?;
    device
        .run_saxpy(&pipeline, problem.a, &x, &mut y, FENCE_TIMEOUT)
        .map_err(launch)?;
    let elapsed = start.elapsed();
    let got = y.contents().map_err(launch)?;
    Ok(problems.check_saxpy(got, elapsed))
}

/// As [`run_saxpy`], for `sgemm.comp`.
fn run_sgemm(
    device: &api::Device<'_>,
    problem: &Sgemm,
    problems: &Problems,
) -> Result<Validation, KernelFailure> {
    let pipeline = device
        .pipeline(api::Shader::Sgemm)
        .map_err(|e| KernelFailure::build("sgemm", e))?;
    let launch = |e| KernelFailure::launch("sgemm", e);
    let n = u32::try_from(problem.n).map_err(|_| {
        launch(api::VkError::Invalid(
            "the matrix side does not fit in 32 bits",
        ))
    })?;
    let start = Instant::now();
    let a = device.buffer(&problem.a).map_err(launch)?;
    let b = device.buffer(&problem.b).map_err(launch)?;
    let mut c = device
        .buffer(&vec![0.0; problem.n * problem.n])
        .map_err(launch)?;
    device
        .run_sgemm(&pipeline, n, [&a, &b], &mut c, FENCE_TIMEOUT)
        .map_err(launch)?;
    let elapsed = start.elapsed();
    let got = c.contents().map_err(launch)?;
    Ok(problems.check_sgemm(got, elapsed))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::*;
    use crate::protocol::{NoProgress, Recorder};
    use crate::testing::{ChildRunner, TempDir};

    #[test]
    fn versions_are_formatted_per_vendor() {
        assert_eq!(
            format_version(vk::make_api_version(0, 1, 3, 239)),
            "1.3.239"
        );
        assert_eq!(format_version(vk::API_VERSION_1_0), "1.0.0");
        let nvidia = (535 << 22) | (104 << 14) | (5 << 6) | 1;
        assert_eq!(decode_driver_version(0x10DE, nvidia), "535.104.5.1");
        let mesa = vk::make_api_version(0, 22, 3, 6);
        assert_eq!(decode_driver_version(0x10005, mesa), "22.3.6");
    }

    #[test]
    fn software_devices_are_never_gpus() {
        use vk::PhysicalDeviceType as T;
        let llvmpipe = Some(vk::DriverId::MESA_LLVMPIPE);
        assert_eq!(
            classify(T::CPU, llvmpipe, "llvmpipe (LLVM 15.0.6, 256 bits)"),
            DeviceKind::Software
        );
        assert_eq!(
            classify(T::CPU, None, "some CPU device"),
            DeviceKind::Software
        );
        assert_eq!(
            classify(T::OTHER, None, "SwiftShader Device (Subzero)"),
            DeviceKind::Software
        );
        let radv = Some(vk::DriverId::MESA_RADV);
        assert_eq!(
            classify(T::DISCRETE_GPU, radv, "AMD Radeon RX 7900"),
            DeviceKind::Gpu
        );
        assert_eq!(
            classify(T::INTEGRATED_GPU, None, "Intel(R) UHD"),
            DeviceKind::Gpu
        );
        assert_eq!(
            classify(T::VIRTUAL_GPU, None, "Virtio-GPU Venus"),
            DeviceKind::Gpu
        );
        assert_eq!(
            classify(T::OTHER, None, "an accelerator"),
            DeviceKind::Other
        );
    }

    #[test]
    fn incompatible_driver_means_absent_and_other_errors_unusable() {
        let call = |result| api::VkError::Call {
            call: "vkCreateInstance",
            result,
        };
        assert_eq!(
            instance_failure(&call(vk::Result::ERROR_INCOMPATIBLE_DRIVER)),
            (Status::Absent, ReasonCode::NoDevice)
        );
        let init = call(vk::Result::ERROR_INITIALIZATION_FAILED);
        assert_eq!(
            instance_failure(&init),
            (Status::Unusable, ReasonCode::DriverError)
        );
        assert_eq!(
            init.to_string(),
            "vkCreateInstance returned ERROR_INITIALIZATION_FAILED (-3)"
        );
        assert_eq!(
            instance_failure(&api::VkError::MissingCommand(c"vkCreateDevice")),
            (Status::Unusable, ReasonCode::LoadFailed)
        );
    }

    #[test]
    fn only_a_missing_file_counts_as_not_installed() {
        assert!(api::is_missing_library(
            "libvulkan.so.1: cannot open shared object file: No such file or directory"
        ));
        assert!(!api::is_missing_library(
            "libvulkan.so.1: wrong ELF class: ELFCLASS32"
        ));
    }

    fn facts(
        families: &[vk::QueueFlags],
        heaps: &[(u64, vk::MemoryHeapFlags)],
    ) -> api::DeviceFacts {
        let mut properties = vk::PhysicalDeviceProperties::default();
        let name = b"llvmpipe (LLVM 15.0.6, 256 bits)";
        for (dst, src) in properties.device_name.iter_mut().zip(name) {
            *dst = *src as std::ffi::c_char;
        }
        properties.device_type = vk::PhysicalDeviceType::CPU;
        properties.vendor_id = 0x10005;
        properties.api_version = vk::make_api_version(0, 1, 3, 230);
        properties.driver_version = vk::make_api_version(0, 0, 0, 1);
        let mut memory = vk::PhysicalDeviceMemoryProperties {
            memory_heap_count: heaps.len() as u32,
            ..Default::default()
        };
        for (heap, (size, flags)) in memory.memory_heaps.iter_mut().zip(heaps) {
            heap.size = *size;
            heap.flags = *flags;
        }
        api::DeviceFacts {
            properties,
            driver: Some(api::DriverFacts {
                id: vk::DriverId::MESA_LLVMPIPE,
                name: "llvmpipe".into(),
                info: "Mesa 22.3.6 (LLVM 15.0.6)".into(),
                conformance: vk::ConformanceVersion {
                    major: 1,
                    minor: 3,
                    subminor: 1,
                    patch: 1,
                },
            }),
            subgroup_size: Some(8),
            memory,
            queue_families: families
                .iter()
                .map(|&queue_flags| vk::QueueFamilyProperties {
                    queue_flags,
                    queue_count: 1,
                    ..Default::default()
                })
                .collect(),
            shader_float64: true,
            extensions: Vec::new(),
        }
    }

    #[test]
    fn video_features_need_both_the_queue_flag_and_the_extension() {
        let mut f = facts(
            &[
                vk::QueueFlags::GRAPHICS | vk::QueueFlags::COMPUTE,
                vk::QueueFlags::VIDEO_DECODE_KHR,
            ],
            &[],
        );
        f.extensions = [
            "VK_KHR_video_queue",
            "VK_KHR_video_decode_h264",
            "VK_KHR_video_decode_h265",
            "VK_KHR_video_encode_h264",
        ]
        .map(String::from)
        .to_vec();
        // No encode queue: the encode extension alone proves nothing.
        let d = describe(&f, Some(0));
        assert_eq!(d.properties["video_queue_families"], "1 (decode)");
        assert_eq!(
            d.features,
            [
                "compute-queue",
                "fp64",
                "video-decode-h264",
                "video-decode-hevc"
            ]
        );

        f.queue_families[1].queue_flags |= vk::QueueFlags::VIDEO_ENCODE_KHR;
        f.extensions.push("VK_KHR_video_decode_av1".into());
        f.extensions.push("VK_KHR_video_encode_h265".into());
        let all: Vec<_> = video_features(&f).collect();
        assert_eq!(
            all,
            [
                "video-decode-h264",
                "video-decode-hevc",
                "video-decode-av1",
                "video-encode-h264",
                "video-encode-hevc"
            ]
        );

        // A video queue family with no queues offers nothing.
        f.queue_families[1].queue_count = 0;
        assert_eq!(video_features(&f).count(), 0);
    }

    #[test]
    fn describe_reports_what_the_driver_said() {
        let local = vk::MemoryHeapFlags::DEVICE_LOCAL;
        let f = facts(
            &[
                vk::QueueFlags::TRANSFER,
                vk::QueueFlags::GRAPHICS | vk::QueueFlags::COMPUTE,
            ],
            &[
                (8 << 30, vk::MemoryHeapFlags::empty()),
                (2 << 30, local),
                (4 << 30, local),
            ],
        );
        let queue = compute_queue_family(&f.queue_families);
        assert_eq!(queue, Some(1));
        let d = describe(&f, queue);
        assert_eq!(d.name, "llvmpipe (LLVM 15.0.6, 256 bits)");
        assert_eq!(d.vendor, "Mesa");
        assert_eq!(d.kind, DeviceKind::Software);
        assert_eq!(d.status, Status::Enumerated);
        assert_eq!(d.api_version.as_deref(), Some("1.3.230"));
        assert_eq!(
            d.driver_version.as_deref(),
            Some("Mesa 22.3.6 (LLVM 15.0.6)")
        );
        assert_eq!(d.memory_bytes, Some(4 << 30));
        assert_eq!(d.features, ["compute-queue", "fp64"]);
        assert_eq!(d.properties["driver_id"], "MESA_LLVMPIPE");
        assert_eq!(d.properties["device_type"], "CPU");
        assert_eq!(d.properties["vendor_id"], "0x10005");
        assert_eq!(d.properties["conformance_version"], "1.3.1.1");
        assert_eq!(d.properties["compute_queue_family"], "1");
        assert_eq!(d.properties["subgroup_size"], "8");
    }

    #[test]
    fn a_device_without_compute_is_unusable() {
        let f = facts(&[vk::QueueFlags::GRAPHICS | vk::QueueFlags::TRANSFER], &[]);
        let queue = compute_queue_family(&f.queue_families);
        assert_eq!(queue, None);
        let d = describe(&f, queue);
        assert_eq!(d.status, Status::Unusable);
        assert_eq!(d.reason.as_ref().unwrap().code, ReasonCode::Unsupported);
        assert!(!d.has_feature("compute-queue"));
        assert_eq!(d.memory_bytes, None);
    }

    #[test]
    fn without_driver_properties_the_raw_version_is_decoded() {
        let mut f = facts(&[vk::QueueFlags::COMPUTE], &[]);
        f.driver = None;
        f.properties.vendor_id = 0x10DE;
        f.properties.driver_version = (550 << 22) | (54 << 14) | (14 << 6);
        let d = describe(&f, Some(0));
        assert_eq!(d.driver_version.as_deref(), Some("550.54.14.0"));
        assert!(!d.properties.contains_key("driver_id"));
    }

    #[test]
    fn host_memory_needs_both_visible_and_coherent() {
        let mut memory = vk::PhysicalDeviceMemoryProperties {
            memory_type_count: 3,
            ..Default::default()
        };
        memory.memory_types[0].property_flags = vk::MemoryPropertyFlags::DEVICE_LOCAL;
        memory.memory_types[1].property_flags = vk::MemoryPropertyFlags::HOST_VISIBLE;
        memory.memory_types[2].property_flags =
            vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
        assert_eq!(api::host_coherent_type(&memory, 0b111), Some(2));
        assert_eq!(api::host_coherent_type(&memory, 0b011), None);
    }

    #[test]
    fn host_memory_prefers_cached_when_allowed() {
        use vk::MemoryPropertyFlags as F;
        let mut memory = vk::PhysicalDeviceMemoryProperties {
            memory_type_count: 3,
            ..Default::default()
        };
        memory.memory_types[0].property_flags =
            F::DEVICE_LOCAL | F::HOST_VISIBLE | F::HOST_COHERENT;
        memory.memory_types[1].property_flags = F::HOST_VISIBLE | F::HOST_COHERENT;
        memory.memory_types[2].property_flags = F::HOST_VISIBLE | F::HOST_COHERENT | F::HOST_CACHED;
        assert_eq!(api::host_coherent_type(&memory, 0b111), Some(2));
        // A cached type the buffer may not use is no choice; the first coherent one is.
        assert_eq!(api::host_coherent_type(&memory, 0b011), Some(0));
        assert_eq!(api::host_coherent_type(&memory, 0b010), Some(1));
        // Cached but not coherent would need flushes: never picked.
        memory.memory_types[2].property_flags = F::HOST_VISIBLE | F::HOST_CACHED;
        assert_eq!(api::host_coherent_type(&memory, 0b111), Some(0));
    }

    fn shader_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backends/vulkan")
    }

    #[test]
    fn workgroup_sizes_match_the_shader_sources() {
        let read = |f: &str| std::fs::read_to_string(shader_dir().join(f)).unwrap();
        let saxpy = format!("layout(local_size_x = {}) in;", api::SAXPY_GROUP);
        assert!(read("saxpy.comp").contains(&saxpy));
        let t = api::SGEMM_TILE;
        let sgemm = format!("layout(local_size_x = {t}, local_size_y = {t}) in;");
        assert!(read("sgemm.comp").contains(&sgemm));
    }

    /// The SPIR-V header's generator word names the compiler's version; everything else must
    /// match what the committed GLSL compiles to.
    #[test]
    fn committed_spirv_is_what_the_glsl_compiles_to() {
        let out = TempDir::new("vulkan-spv");
        for (source, shader) in [
            ("saxpy.comp", api::Shader::Saxpy),
            ("sgemm.comp", api::Shader::Sgemm),
        ] {
            let spv = out.path().join(source).with_extension("spv");
            let status = Command::new("glslangValidator")
                .args(["-V", "--target-env", "vulkan1.0"])
                .arg(shader_dir().join(source))
                .arg("-o")
                .arg(&spv)
                .output()
                .unwrap_or_else(|e| {
                    panic!("glslangValidator could not run ({e}); install glslang-tools")
                });
            assert!(
                status.status.success(),
                "{source}: {}",
                String::from_utf8_lossy(&status.stdout)
            );
            let fresh = std::fs::read(&spv).unwrap();
            let committed = shader.spirv();
            let without_generator =
                |b: &[u8]| [&b[..8.min(b.len())], &b[12.min(b.len())..]].concat();
            assert_eq!(
                without_generator(committed),
                without_generator(&fresh),
                "{source} changed: rebuild with glslangValidator -V --target-env vulkan1.0 {source} -o {}",
                spv.file_name().unwrap().to_string_lossy()
            );
            if let Ok(val) = Command::new("spirv-val")
                .args(["--target-env", "vulkan1.0"])
                .arg(&spv)
                .output()
            {
                assert!(
                    val.status.success(),
                    "spirv-val rejects {source}: {}",
                    String::from_utf8_lossy(&val.stderr)
                );
            }
        }
    }

    fn lavapipe(report: &BackendReport) -> &Device {
        report
            .devices
            .iter()
            .find(|d| d.name.contains("llvmpipe"))
            .unwrap_or_else(|| {
                panic!("no llvmpipe device (install mesa-vulkan-drivers): {report:#?}")
            })
    }

    #[test]
    fn standard_validates_lavapipe_as_software() {
        let mut progress = Recorder::default();
        let report = VulkanBackend.probe(Level::Standard, &mut progress);
        assert_eq!(report.status, Status::Validated, "{report:#?}");
        assert!(report
            .library
            .as_deref()
            .is_some_and(|l| l.contains("libvulkan.so")));
        assert!(report
            .runtime_version
            .as_deref()
            .is_some_and(|v| v.starts_with("1.")));
        let device = lavapipe(&report);
        assert_eq!(device.kind, DeviceKind::Software);
        assert_eq!(device.status, Status::Validated);
        assert!(device.has_feature("compute-queue"));
        let v = device.validation("saxpy").unwrap();
        assert!(v.passed);
        assert_eq!(v.kind.name(), "saxpy");
        assert_eq!(
            v.kind.compared().unwrap().elements,
            crate::kernels::SAXPY_ELEMENTS as u64
        );
        assert!(device.validation("sgemm").is_none());
        assert_eq!(
            progress.stages,
            [Stage::Load, Stage::Init, Stage::Enumerate, Stage::Kernel]
        );
        assert_eq!(progress.partials.len(), 1);
        assert_eq!(progress.partials[0].status, Status::Enumerated);
        assert_eq!(progress.partials[0].devices.len(), report.devices.len());
    }

    #[test]
    fn full_also_validates_sgemm() {
        let report = VulkanBackend.probe(Level::Full, &mut NoProgress);
        let device = lavapipe(&report);
        assert_eq!(device.status, Status::Validated, "{device:#?}");
        let gemm = device.validation("sgemm").unwrap();
        assert!(gemm.passed);
        assert_eq!(gemm.kind.name(), "sgemm");
        assert_eq!(
            gemm.kind.compared().unwrap().elements,
            (crate::kernels::SGEMM_N * crate::kernels::SGEMM_N) as u64
        );
    }

    #[test]
    fn quick_only_enumerates() {
        let report = VulkanBackend.probe(Level::Quick, &mut NoProgress);
        assert_eq!(report.status, Status::Enumerated);
        let device = lavapipe(&report);
        assert_eq!(device.status, Status::Enumerated);
        assert!(device.validations.is_empty());
        assert!(device.api_version.is_some());
    }

    /// Re-runs the test below in a child process, where it probes and prints its report, so
    /// environment changes never reach other tests.
    const CHILD: ChildRunner = ChildRunner {
        module: module_path!(),
        entry: "no_driver_manifest_means_absent_with_no_device",
        switch: "HWSPEC_VULKAN_TEST_CHILD",
        level_var: "HWSPEC_VULKAN_TEST_CHILD_LEVEL",
        marker: "hwspec-vulkan-report:",
        cleared: &[],
    };

    #[test]
    fn no_driver_manifest_means_absent_with_no_device() {
        if CHILD.mode().is_some() {
            CHILD.print_report(&VulkanBackend.probe(CHILD.level(), &mut NoProgress));
            return;
        }
        let nowhere = "/nonexistent/hwspec-test-icd.json";
        let report = CHILD.probe(
            Level::Quick,
            &[("VK_DRIVER_FILES", nowhere), ("VK_ICD_FILENAMES", nowhere)],
        );
        assert_eq!(report.status, Status::Absent, "{report:#?}");
        assert_eq!(report.reason.unwrap().code, ReasonCode::NoDevice);
        assert!(report.devices.is_empty());
        assert!(report.library.is_some());
    }
}
