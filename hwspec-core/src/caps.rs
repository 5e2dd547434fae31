//! Reduces backend reports to the normalised capability set (design §5): each backend names
//! what its proven devices give, and this module adds what no single backend decides.
//!
//! Only what was proven at the level asked counts: a `validated` device at levels `standard`
//! and `full`, an `enumerated` one at level `quick`. Software devices (PoCL, lavapipe) count for
//! `opencl` and `vulkan` but never for `opencl-gpu`, `vulkan-gpu` or `gpu`.

use crate::backends;
use crate::model::{BackendReport, Capability, Device, DeviceKind, Level};

/// The capability set proven by `backends` at `level`, sorted by name then version: each
/// backend's own (see each backend's `Backend::capabilities`), and
/// those no single backend decides: `cpu` always, `gpu`, `gpu-count` and `gpu-memory` from the
/// hardware GPUs of every backend.
pub fn reduce(level: Level, backends: &[BackendReport]) -> Vec<Capability> {
    let mut caps = vec![Capability::flag("cpu")];
    for report in backends {
        let proven: Vec<&Device> = report
            .devices
            .iter()
            .filter(|d| d.proven_at(level))
            .collect();
        if !proven.is_empty() {
            caps.extend(backends::get(report.name).capabilities(report, &proven));
        }
    }

    // The same physical GPU shows up once per API, so GPUs are counted per backend and the
    // largest count is taken: a machine with two GPUs that Vulkan and OpenCL both see has two.
    let gpus_per_backend = backends.iter().map(|b| {
        b.devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Gpu && d.proven_at(level))
            .collect::<Vec<_>>()
    });
    let mut gpu_count = 0;
    let mut largest_memory: Option<u64> = None;
    for gpus in gpus_per_backend {
        gpu_count = gpu_count.max(gpus.len());
        for memory in gpus.iter().filter_map(|d| d.memory_bytes) {
            largest_memory = Some(largest_memory.map_or(memory, |m| m.max(memory)));
        }
    }
    if gpu_count > 0 {
        caps.push(Capability::flag("gpu"));
        caps.push(Capability::versioned("gpu-count", gpu_count.to_string()));
        if let Some(bytes) = largest_memory {
            caps.push(Capability::versioned(
                "gpu-memory",
                (bytes >> 30).to_string(),
            ));
        }
    }

    crate::model::sort_capabilities(&mut caps);
    caps.dedup();
    caps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BackendName, Status};

    fn device(kind: DeviceKind, status: Status, api: &str) -> Device {
        let mut d = Device::new("dev", "vendor", kind);
        d.status = status;
        d.api_version = Some(api.to_owned());
        d
    }

    fn backend(name: BackendName, devices: Vec<Device>) -> BackendReport {
        let mut b = BackendReport::new(name, Status::Absent, None);
        b.devices = devices;
        b.settle_status();
        b
    }

    fn names(caps: &[Capability]) -> Vec<String> {
        caps.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn software_devices_give_the_api_but_not_gpu() {
        let reports = [
            backend(
                BackendName::Opencl,
                vec![device(DeviceKind::Software, Status::Validated, "3.0")],
            ),
            backend(
                BackendName::Vulkan,
                vec![device(DeviceKind::Software, Status::Validated, "1.3.230")],
            ),
        ];
        assert_eq!(
            names(&reduce(Level::Standard, &reports)),
            ["cpu", "opencl (= 3.0)", "vulkan (= 1.3)"]
        );
    }

    #[test]
    fn enumerated_devices_count_only_at_quick() {
        let reports = [backend(
            BackendName::Vulkan,
            vec![device(DeviceKind::Gpu, Status::Enumerated, "1.2.0")],
        )];
        assert_eq!(names(&reduce(Level::Standard, &reports)), ["cpu"]);
        assert_eq!(
            names(&reduce(Level::Quick, &reports)),
            [
                "cpu",
                "gpu",
                "gpu-count (= 1)",
                "vulkan (= 1.2)",
                "vulkan-gpu"
            ]
        );
    }

    #[test]
    fn failed_devices_prove_nothing() {
        let reports = [backend(
            BackendName::Opencl,
            vec![device(DeviceKind::Gpu, Status::Failed, "3.0")],
        )];
        assert_eq!(names(&reduce(Level::Full, &reports)), ["cpu"]);
    }

    #[test]
    fn gpus_are_counted_per_backend_and_memory_is_the_largest() {
        let mut big = device(DeviceKind::Gpu, Status::Validated, "1.3.0");
        big.memory_bytes = Some(80 << 30);
        let mut small = device(DeviceKind::Gpu, Status::Validated, "1.3.0");
        small.memory_bytes = Some((16 << 30) + 5);
        let mut fp64 = device(DeviceKind::Gpu, Status::Validated, "1.2");
        fp64.features.push("fp64".into());
        let reports = [
            backend(BackendName::Vulkan, vec![big, small]),
            backend(BackendName::Opencl, vec![fp64]),
        ];
        assert_eq!(
            names(&reduce(Level::Standard, &reports)),
            [
                "cpu",
                "gpu",
                "gpu-count (= 2)",
                "gpu-memory (= 80)",
                "opencl (= 1.2)",
                "opencl-fp64",
                "opencl-gpu",
                "vulkan (= 1.3)",
                "vulkan-gpu"
            ]
        );
    }

    #[test]
    fn the_highest_version_wins_numerically() {
        let reports = [backend(
            BackendName::Opencl,
            vec![
                device(DeviceKind::Cpu, Status::Validated, "1.2"),
                device(DeviceKind::Cpu, Status::Validated, "1.10"),
                device(DeviceKind::Cpu, Status::Validated, "garbage"),
            ],
        )];
        assert_eq!(
            names(&reduce(Level::Standard, &reports)),
            ["cpu", "opencl (= 1.10)"]
        );
    }

    #[test]
    fn cpu_features_come_from_a_proven_cpu_device() {
        let mut cpu = device(DeviceKind::Cpu, Status::Validated, "");
        cpu.features = vec!["x86-64-v2".into(), "x86-64-v3".into()];
        let reports = [backend(BackendName::Cpu, vec![cpu])];
        assert_eq!(
            names(&reduce(Level::Standard, &reports)),
            ["cpu", "x86-64-v2", "x86-64-v3"]
        );
    }

    fn with_runtime(mut b: BackendReport, version: &str) -> BackendReport {
        b.runtime_version = Some(version.to_owned());
        b
    }

    #[test]
    fn cuda_gives_the_driver_version_and_one_arch_per_distinct_device() {
        let gpu = |arch: &str| {
            let mut d = device(DeviceKind::Gpu, Status::Validated, "12.8");
            d.arch = Some(arch.to_owned());
            d.memory_bytes = Some(80 << 30);
            d
        };
        let mut failed = gpu("7.5");
        failed.status = Status::Failed;
        let reports = [with_runtime(
            backend(
                BackendName::Cuda,
                vec![gpu("9.0"), gpu("9.0"), gpu("8.6"), failed],
            ),
            "12.8",
        )];
        assert_eq!(
            names(&reduce(Level::Standard, &reports)),
            [
                "cpu",
                "cuda (= 12.8)",
                "cuda-arch (= 8.6)",
                "cuda-arch (= 9.0)",
                "gpu",
                "gpu-count (= 3)",
                "gpu-memory (= 80)"
            ]
        );
    }

    #[test]
    fn rocm_gives_the_runtime_version_and_gfx_targets() {
        let mut d = device(DeviceKind::Gpu, Status::Validated, "5.2");
        d.arch = Some("gfx90a".into());
        let reports = [with_runtime(
            backend(BackendName::Hip, vec![d]),
            "5.2.21153",
        )];
        let caps = names(&reduce(Level::Standard, &reports));
        assert!(caps.contains(&"rocm (= 5.2)".to_owned()), "{caps:?}");
        assert!(caps.contains(&"rocm-gfx90a".to_owned()), "{caps:?}");
    }

    #[test]
    fn a_runtime_without_a_proven_device_gives_nothing() {
        let absent = with_runtime(
            BackendReport::absent(BackendName::Hip, crate::model::ReasonCode::NoDevice, "none"),
            "5.2.21153",
        );
        assert_eq!(names(&reduce(Level::Standard, &[absent])), ["cpu"]);
    }

    #[test]
    fn sycl_comes_from_a_level_zero_gpu_or_spirv_opencl() {
        let l0 = with_runtime(
            backend(
                BackendName::LevelZero,
                vec![device(DeviceKind::Gpu, Status::Validated, "1.3")],
            ),
            "1.3",
        );
        let caps = names(&reduce(Level::Standard, &[l0]));
        assert!(caps.contains(&"level-zero (= 1.3)".to_owned()), "{caps:?}");
        assert!(caps.contains(&"sycl".to_owned()), "{caps:?}");

        let mut spirv = device(DeviceKind::Software, Status::Validated, "3.0");
        spirv.features.push("spirv".into());
        let caps = names(&reduce(
            Level::Standard,
            &[backend(BackendName::Opencl, vec![spirv])],
        ));
        assert!(caps.contains(&"sycl".to_owned()), "{caps:?}");

        let plain = device(DeviceKind::Software, Status::Validated, "3.0");
        let caps = names(&reduce(
            Level::Standard,
            &[backend(BackendName::Opencl, vec![plain])],
        ));
        assert!(!caps.contains(&"sycl".to_owned()), "{caps:?}");
    }

    #[test]
    fn headless_rendering_gives_egl_gles_and_opengl() {
        let mut llvmpipe = device(DeviceKind::Software, Status::Validated, "3.2");
        llvmpipe.features.push("opengl".into());
        llvmpipe
            .properties
            .insert("opengl_version".into(), "4.5".into());
        let egl = with_runtime(backend(BackendName::Egl, vec![llvmpipe]), "1.5");
        assert_eq!(
            names(&reduce(Level::Standard, &[egl])),
            ["cpu", "egl (= 1.5)", "gles (= 3.2)", "opengl (= 4.5)"]
        );
    }

    #[test]
    fn video_features_are_named_after_their_interface() {
        let mut va = device(DeviceKind::Gpu, Status::Validated, "1.17");
        va.features = vec!["decode-h264".into(), "encode-hevc".into()];
        let mut nv = device(DeviceKind::Gpu, Status::Validated, "12.0");
        nv.features = vec!["decode-av1".into(), "encode-h264".into()];
        let mut vk = device(DeviceKind::Gpu, Status::Validated, "1.3.0");
        vk.features = vec!["compute-queue".into(), "video-decode-h264".into()];
        let caps = names(&reduce(
            Level::Standard,
            &[
                backend(BackendName::Vaapi, vec![va]),
                backend(BackendName::Nvcodec, vec![nv]),
                backend(BackendName::Vulkan, vec![vk]),
            ],
        ));
        for expected in [
            "vaapi-decode-h264",
            "vaapi-encode-hevc",
            "nvdec-av1",
            "nvenc-h264",
            "vulkan-video-decode-h264",
        ] {
            assert!(
                caps.contains(&expected.to_owned()),
                "{expected} in {caps:?}"
            );
        }
        assert!(
            !caps.iter().any(|c| c.contains("compute-queue")),
            "{caps:?}"
        );
    }

    #[test]
    fn gcc_offload_needs_a_region_that_really_ran() {
        let mut ran = device(DeviceKind::Gpu, Status::Validated, "12");
        ran.arch = Some("nvptx".into());
        let mut compiled = device(DeviceKind::Other, Status::Enumerated, "12");
        compiled.arch = Some("amdgcn".into());
        let reports = [backend(
            BackendName::GccOffload,
            vec![ran, compiled.clone()],
        )];
        let caps = names(&reduce(Level::Standard, &reports));
        assert!(caps.contains(&"gcc-offload-nvptx".to_owned()), "{caps:?}");
        assert!(!caps.contains(&"gcc-offload-amdgcn".to_owned()), "{caps:?}");
        let quick = names(&reduce(
            Level::Quick,
            &[backend(BackendName::GccOffload, vec![compiled])],
        ));
        assert!(
            !quick.contains(&"gcc-offload-amdgcn".to_owned()),
            "even at quick: {quick:?}"
        );
    }
}
