//! Unit tests of the Vulkan backend: pure decoding and classification, and the probe against
//! the real loader (lavapipe here) and against loaders and drivers that fail.

use crate::backends::conformance;
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
    let call = |result| api::VkError::Call(api::vk_error("vkCreateInstance", result));
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
        "vkCreateInstance returned -3 (VK_ERROR_INITIALIZATION_FAILED)"
    );
    // A number ash does not name stays a number.
    let unknown = call(vk::Result::from_raw(-123_456));
    assert_eq!(unknown.to_string(), "vkCreateInstance returned -123456");
    assert_eq!(unknown.result(), Some(vk::Result::from_raw(-123_456)));
    assert_eq!(
        instance_failure(&api::VkError::MissingCommand(c"vkCreateDevice")),
        (Status::Unusable, ReasonCode::LoadFailed)
    );
}

#[test]
fn only_a_missing_file_counts_as_not_installed() {
    assert!(sys::is_missing_library(
        "libvulkan.so.1: cannot open shared object file: No such file or directory"
    ));
    assert!(!sys::is_missing_library(
        "libvulkan.so.1: wrong ELF class: ELFCLASS32"
    ));
}

#[test]
fn a_missing_loader_is_absent_and_named() {
    let missing = "libhwspec-no-such-vulkan.so.1";
    conformance::missing_runtime(&[missing], |level, progress| {
        probe_with(missing, level, progress)
    });
}

#[test]
fn a_missing_loader_is_absent_and_a_broken_one_unusable() {
    let missing = load_failure(
        LIBRARY,
        &LoadError::NotFound(vec![
            "libvulkan.so.1: cannot open shared object file: No such file or directory".into(),
        ]),
    );
    assert_eq!(missing.status, Status::Absent);
    let reason = missing.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LibraryNotFound);
    assert_eq!(
        reason.message,
        "libvulkan.so.1 is not installed: libvulkan.so.1: cannot open shared object file: \
         No such file or directory"
    );

    let broken = load_failure(
        LIBRARY,
        &LoadError::NotFound(vec!["libvulkan.so.1: wrong ELF class: ELFCLASS32".into()]),
    );
    assert_eq!(broken.status, Status::Unusable);
    let reason = broken.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LoadFailed);
    assert!(
        reason.message.contains("could not be used"),
        "{}",
        reason.message
    );

    let stripped = load_failure(
        LIBRARY,
        &LoadError::MissingSymbols {
            library: LIBRARY,
            symbols: vec!["vkGetInstanceProcAddr"],
        },
    );
    assert_eq!(stripped.status, Status::Unusable);
    assert_eq!(
        stripped.reason.unwrap().message,
        "libvulkan.so.1 lacks the entry point vkGetInstanceProcAddr"
    );
}

fn facts(families: &[vk::QueueFlags], heaps: &[(u64, vk::MemoryHeapFlags)]) -> api::DeviceFacts {
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
    memory.memory_types[0].property_flags = F::DEVICE_LOCAL | F::HOST_VISIBLE | F::HOST_COHERENT;
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
        let without_generator = |b: &[u8]| [&b[..8.min(b.len())], &b[12.min(b.len())..]].concat();
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
        .unwrap_or_else(|| panic!("no llvmpipe device (install mesa-vulkan-drivers): {report:#?}"))
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
