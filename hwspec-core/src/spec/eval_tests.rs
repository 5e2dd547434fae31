//! Evaluation over hand-built reports whose capability sets come from `caps::reduce`, so the
//! explanations are checked against the same derivation real probes use.

use std::collections::BTreeMap;

use super::*;
use crate::caps;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, HostInfo, Level, Reason, ReasonCode, Render,
    RenderApi, Report, Status, VaContext, Validation, ValidationKind, SCHEMA_VERSION,
};

fn device(name: &str, kind: DeviceKind, api: Option<&str>) -> Device {
    let mut d = Device::new(name, "vendor", kind);
    d.status = Status::Validated;
    d.api_version = api.map(str::to_owned);
    d
}

fn backend(name: BackendName, devices: Vec<Device>) -> BackendReport {
    let mut b = BackendReport::new(name, Status::Absent, None);
    b.devices = devices;
    b.settle_status();
    b
}

fn report(level: Level, backends: Vec<BackendReport>) -> Report {
    Report {
        schema: SCHEMA_VERSION,
        hwspec_version: "test".into(),
        level,
        capabilities: caps::reduce(level, &backends),
        backends,
        host: HostInfo {
            kernel: "Linux 6.1".into(),
            architecture: "x86_64".into(),
            root: false,
            driver_cache: None,
            environment: BTreeMap::new(),
            dropped_environment: Vec::new(),
        },
        elapsed_ms: 1.0,
        cache: None,
        overrides: Default::default(),
    }
}

fn cpu_backend() -> BackendReport {
    let mut cpu = device("AMD EPYC", DeviceKind::Cpu, None);
    cpu.features = vec!["x86-64-v2".into(), "x86-64-v3".into()];
    backend(BackendName::Cpu, vec![cpu])
}

/// This machine: PoCL and lavapipe, no CUDA library, a HIP runtime without a GPU.
fn software_only(level: Level) -> Report {
    let mut pocl = device(
        "pthread-skylake-avx512-AMD EPYC",
        DeviceKind::Software,
        Some("3.0"),
    );
    pocl.features.push("fp64".into());
    let lavapipe = device(
        "llvmpipe (LLVM 15.0.6, 256 bits)",
        DeviceKind::Software,
        Some("1.3.230"),
    );
    let mut backends = vec![
        cpu_backend(),
        backend(BackendName::Opencl, vec![pocl]),
        backend(BackendName::Vulkan, vec![lavapipe]),
        BackendReport::absent(
            BackendName::Cuda,
            ReasonCode::LibraryNotFound,
            "libcuda is not installed",
        ),
        BackendReport::absent(
            BackendName::Hip,
            ReasonCode::NoDevice,
            "/dev/kfd is missing",
        ),
    ];
    if level == Level::Quick {
        for d in backends.iter_mut().flat_map(|b| b.devices.iter_mut()) {
            d.status = Status::Enumerated;
        }
        for b in &mut backends {
            b.settle_status();
        }
    }
    report(level, backends)
}

fn cuda_gpu(name: &str, arch: &str, gib: u64) -> Device {
    let mut d = device(name, DeviceKind::Gpu, Some("12.4"));
    d.arch = Some(arch.into());
    d.memory_bytes = Some(gib << 30);
    d
}

fn cuda_machine(gpus: Vec<Device>) -> Report {
    let mut cuda = backend(BackendName::Cuda, gpus);
    cuda.runtime_version = Some("12.4".into());
    report(Level::Standard, vec![cpu_backend(), cuda])
}

fn check(expr: &str, report: &Report) -> Verdict {
    evaluate(&parse(expr).unwrap(), report, &[])
}

/// The one relation of a one-relation requirement.
fn only(expr: &str, report: &Report) -> RelationVerdict {
    let verdict = check(expr, report);
    assert_eq!(verdict.clauses.len(), 1, "{expr}");
    verdict.clauses[0].relations[0].clone()
}

#[test]
fn software_devices_satisfy_the_apis_but_not_opencl_gpu() {
    let r = software_only(Level::Full);
    assert!(check("opencl (>= 1.2), vulkan", &r).satisfied);
    let v = only("opencl (>= 1.2)", &r);
    assert_eq!(v.device.as_deref(), Some("pthread-skylake-avx512-AMD EPYC"));
    assert_eq!(
        v.explanation,
        "satisfied by pthread-skylake-avx512-AMD EPYC (opencl) with 3.0"
    );

    let v = only("opencl-gpu", &r);
    assert!(!v.satisfied);
    assert_eq!(
        v.explanation,
        "no hardware GPU; only software devices were found \
         (pthread-skylake-avx512-AMD EPYC (opencl, software))"
    );
    let v = only("gpu", &r);
    assert!(
        v.explanation.contains("only software devices were found"),
        "{v:?}"
    );
    assert!(v
        .explanation
        .contains("llvmpipe (LLVM 15.0.6, 256 bits) (vulkan, software)"));
    assert!(only("opencl-fp64", &r).satisfied);
}

#[test]
fn absent_and_unprobed_backends_say_why() {
    let r = software_only(Level::Standard);
    let v = only("cuda (>= 11.0)", &r);
    assert!(!v.satisfied);
    assert_eq!(
        v.explanation,
        "the cuda backend is absent: library-not-found: libcuda is not installed"
    );
    assert_eq!(
        only("rocm-gfx90a", &r).explanation,
        "the hip backend is absent: no-device: /dev/kfd is missing"
    );
    assert_eq!(
        only("level-zero", &r).explanation,
        "not probed: the level_zero backend was not part of this probe"
    );
    assert!(check("cuda (>= 11.0) | opencl", &r).satisfied);
}

#[test]
fn cpu_capabilities_name_the_cpu_or_its_best_level() {
    let r = software_only(Level::Standard);
    assert_eq!(only("cpu", &r).explanation, "satisfied by AMD EPYC (cpu)");
    assert_eq!(only("x86-64-v3", &r).device.as_deref(), Some("AMD EPYC"));
    assert_eq!(
        only("x86-64-v4", &r).explanation,
        "the CPU (AMD EPYC) meets x86-64-v3 at most"
    );
    assert_eq!(
        only("arm64-sve", &r).explanation,
        "the CPU is x86_64, not arm64"
    );
}

#[test]
fn cuda_arch_is_satisfied_by_some_device_and_names_it() {
    let r = cuda_machine(vec![
        cuda_gpu("Tesla T4", "7.5", 15),
        cuda_gpu("NVIDIA H100 80GB HBM3", "9.0", 79),
        cuda_gpu("NVIDIA A100", "8.0", 40),
    ]);
    let v = only("cuda-arch (>= 8.0)", &r);
    assert!(v.satisfied);
    assert_eq!(
        v.explanation,
        "satisfied by NVIDIA H100 80GB HBM3 (cuda) with 9.0"
    );
    let v = only("cuda-arch (<< 8.0)", &r);
    assert_eq!(v.device.as_deref(), Some("Tesla T4"));
    let v = only("cuda-arch (= 8.6)", &r);
    assert!(!v.satisfied);
    assert_eq!(
        v.explanation,
        "the devices have 7.5 (Tesla T4), 8.0 (NVIDIA A100), 9.0 (NVIDIA H100 80GB HBM3)"
    );
    let v = only("cuda (>= 12.8)", &r);
    assert_eq!(v.explanation, "the driver supports CUDA 12.4");
    assert_eq!(
        only("cuda (>= 12.0)", &r).explanation,
        "satisfied by Tesla T4 (cuda) with 12.4"
    );

    let old = cuda_machine(vec![cuda_gpu("Tesla T4", "7.5", 15)]);
    assert_eq!(
        only("cuda-arch (>= 8.0)", &old).explanation,
        "the best device has 7.5 (Tesla T4)"
    );
}

#[test]
fn gpu_memory_and_count_follow_the_largest_gpu_and_the_busiest_backend() {
    let r = cuda_machine(vec![
        cuda_gpu("GeForce RTX 3070", "8.6", 8),
        cuda_gpu("GeForce RTX 2060", "7.5", 6),
    ]);
    let v = only("gpu-memory (>= 16)", &r);
    assert!(!v.satisfied);
    assert_eq!(
        v.explanation,
        "the largest GPU has 8 GiB (GeForce RTX 3070)"
    );
    assert_eq!(
        only("gpu-memory (>= 8)", &r).explanation,
        "satisfied by GeForce RTX 3070 (cuda) with 8"
    );
    let v = only("gpu-count (>= 2)", &r);
    assert!(v.satisfied);
    assert_eq!(
        v.explanation,
        "satisfied by 2 GPUs: GeForce RTX 3070 (cuda), GeForce RTX 2060 (cuda)"
    );
    assert_eq!(
        only("gpu-count (>= 4)", &r).explanation,
        "2 hardware GPUs were found"
    );
    assert!(check("cuda (>= 12.0), gpu-count (>= 2)", &r).satisfied);
    let single = cuda_machine(vec![cuda_gpu("GeForce RTX 3070", "8.6", 8)]);
    assert_eq!(
        only("gpu-count (>= 2)", &single).explanation,
        "1 hardware GPU was found"
    );
}

#[test]
fn failed_gpus_are_named_with_their_reason() {
    let mut broken = cuda_gpu("Tesla T4", "7.5", 15);
    broken.fail(ReasonCode::WrongResult, "saxpy differs");
    let r = cuda_machine(vec![broken]);
    let v = only("cuda", &r);
    assert!(!v.satisfied);
    assert_eq!(
        v.explanation,
        "no cuda device was proven: Tesla T4 (cuda) is failed: wrong-result: saxpy differs"
    );
}

#[test]
fn quick_reports_say_devices_were_only_enumerated() {
    let r = software_only(Level::Quick);
    let v = only("vulkan (>= 1.3)", &r);
    assert!(v.satisfied);
    assert_eq!(
        v.explanation,
        "satisfied by llvmpipe (LLVM 15.0.6, 256 bits) (vulkan) with 1.3 \
         (level quick: devices were enumerated, not validated)"
    );
    assert!(only("vulkan-gpu", &r)
        .explanation
        .ends_with("(level quick: devices were enumerated, not validated)"));
}

#[test]
fn enumerated_devices_at_standard_are_explained() {
    let mut b = backend(
        BackendName::Vulkan,
        vec![device("Radeon", DeviceKind::Gpu, Some("1.3"))],
    );
    b.devices[0].status = Status::Enumerated;
    b.status = Status::Unusable;
    b.reason = Some(Reason::new(
        ReasonCode::Timeout,
        "stage kernel did not finish",
    ));
    let r = report(Level::Standard, vec![b]);
    assert_eq!(
        only("vulkan-gpu", &r).explanation,
        "no vulkan device was proven: the vulkan backend is unusable: timeout: stage kernel did \
         not finish; Radeon (vulkan) is enumerated (enumerated devices count only at level quick)"
    );
}

#[test]
fn rocm_targets_name_the_gfx_of_the_devices_present() {
    let mut gpu = device("Radeon RX 7900 XTX", DeviceKind::Gpu, Some("6.0"));
    gpu.arch = Some("gfx1100".into());
    let mut hip = backend(BackendName::Hip, vec![gpu]);
    hip.runtime_version = Some("6.0.32830".into());
    let r = report(Level::Standard, vec![hip]);
    let v = check("rocm (>= 6.0), rocm-gfx90a | rocm-gfx1100", &r);
    assert!(v.satisfied);
    assert_eq!(
        v.clauses[1].relations[0].explanation,
        "no proven HIP device is gfx90a; the proven ones are gfx1100 (Radeon RX 7900 XTX)"
    );
    assert_eq!(
        v.clauses[1].relations[1].explanation,
        "satisfied by Radeon RX 7900 XTX (hip)"
    );
    // `|` binds tighter than `,`: this reads rocm AND (gfx90a OR rocm) AND gfx1100, which is
    // why docs/requirements.md spells "ROCm 6 on gfx90a or gfx1100" as above.
    let v = check(
        "rocm (>= 6.0), rocm-gfx90a | rocm (>= 6.0), rocm-gfx1100",
        &r,
    );
    assert_eq!(v.clauses.len(), 3);
    assert!(v.satisfied);
    let mi300 = check(
        "rocm (>= 6.0), rocm-gfx90a | rocm (>= 6.0), rocm-gfx942",
        &r,
    );
    assert!(
        !mi300.satisfied,
        "a gfx1100 machine passed a gfx942 requirement"
    );
}

#[test]
fn every_alternative_is_judged_and_clauses_combine() {
    let r = software_only(Level::Standard);
    let v = check("cuda | opencl, vulkan-gpu", &r);
    assert!(!v.satisfied);
    assert_eq!(v.clauses[0].text, "cuda | opencl");
    assert!(v.clauses[0].satisfied);
    assert_eq!(v.clauses[0].relations.len(), 2);
    assert!(!v.clauses[0].relations[0].satisfied);
    assert!(!v.clauses[1].satisfied);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["satisfied"], false);
    assert_eq!(
        json["clauses"][0]["relations"][1]["device"],
        "pthread-skylake-avx512-AMD EPYC"
    );
    assert_eq!(json["clauses"][1]["relations"][0]["text"], "vulkan-gpu");
}

#[test]
fn overridden_capabilities_name_the_variable() {
    let mut r = software_only(Level::Standard);
    let vars = [
        ("HWSPEC_OVERRIDE_CUDA", "12.4"),
        ("HWSPEC_OVERRIDE_OPENCL", "absent"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let overrides = apply_overrides(&mut r, vars).unwrap();
    let judge = |expr: &str| {
        evaluate(&parse(expr).unwrap(), &r, &overrides).clauses[0].relations[0].clone()
    };
    let v = judge("cuda (>= 12.0)");
    assert!(v.satisfied);
    assert_eq!(v.explanation, "set by HWSPEC_OVERRIDE_CUDA=12.4");
    assert_eq!(v.device, None);
    assert_eq!(
        judge("cuda (>= 12.8)").explanation,
        "12.4 does not satisfy it; set by HWSPEC_OVERRIDE_CUDA=12.4"
    );
    assert_eq!(
        judge("opencl").explanation,
        "removed by HWSPEC_OVERRIDE_OPENCL=absent"
    );
}

#[test]
fn the_captured_pocl_lavapipe_report_gives_the_issue_verdicts() {
    let report = Report::from_json(include_str!(
        "../../../tests/fixtures/reports/debian12-x86_64-pocl-lavapipe-full.json"
    ))
    .unwrap();
    assert!(check("opencl (>= 1.2), vulkan", &report).satisfied);
    assert!(check("cuda (>= 11.0) | opencl", &report).satisfied);
    // The schema-1 file's validations, read as kinds, are named as the evidence.
    assert_eq!(
        only("vulkan", &report).explanation,
        "satisfied by llvmpipe (LLVM 15.0.6, 256 bits) (vulkan) with 1.3, validated by saxpy, \
         sgemm"
    );
    let v = only("opencl-gpu", &report);
    assert!(!v.satisfied);
    assert!(
        v.explanation
            .starts_with("no hardware GPU; only software devices were found (pthread-"),
        "{}",
        v.explanation
    );
    let v = only("cuda", &report);
    assert!(
        v.explanation
            .starts_with("the cuda backend is absent: library-not-found: "),
        "{}",
        v.explanation
    );
}

#[test]
fn rendering_video_and_offload_name_their_device_or_reason() {
    let mut llvmpipe = device("llvmpipe", DeviceKind::Software, Some("3.2"));
    llvmpipe.features = vec!["egl".into(), "gles".into(), "opengl".into()];
    llvmpipe
        .properties
        .insert("opengl_version".into(), "4.5".into());
    for api in [RenderApi::Gles, RenderApi::OpenGl] {
        llvmpipe.validations.push(Validation {
            kind: ValidationKind::Render(Render {
                api,
                pixels: 4096,
                mismatched_pixels: Some(0),
                max_channel_error: 0,
            }),
            passed: true,
            elapsed_ms: 2.0,
        });
    }
    let mut egl = backend(BackendName::Egl, vec![llvmpipe]);
    egl.runtime_version = Some("1.5".into());
    let mut va = device("Intel iHD", DeviceKind::Gpu, Some("1.17"));
    va.features = vec!["decode-h264".into()];
    va.validations.push(Validation {
        kind: ValidationKind::VaContext(VaContext {
            profile: "H264Main".into(),
        }),
        passed: true,
        elapsed_ms: 1.0,
    });
    let mut offload = device("GCC 12 offloading to nvptx-none", DeviceKind::Other, None);
    offload.status = Status::Enumerated;
    offload.arch = Some("nvptx".into());
    offload.reason = Some(crate::model::Reason::new(
        crate::model::ReasonCode::NoDevice,
        "ran on the host",
    ));
    let nvcodec = BackendReport::absent(
        BackendName::Nvcodec,
        crate::model::ReasonCode::LibraryNotFound,
        "no libnvcuvid.so.1",
    );
    let machine = report(
        Level::Standard,
        vec![
            egl,
            backend(BackendName::Vaapi, vec![va]),
            backend(BackendName::GccOffload, vec![offload]),
            nvcodec,
        ],
    );

    let gles = only("gles (>= 3.0)", &machine);
    assert!(gles.satisfied);
    assert_eq!(gles.device.as_deref(), Some("llvmpipe"));
    assert_eq!(
        gles.explanation,
        "satisfied by llvmpipe (egl) with 3.2, validated by render gles, render opengl"
    );
    let h264 = only("vaapi-decode-h264", &machine);
    assert!(h264.satisfied, "{}", h264.explanation);
    assert_eq!(
        h264.explanation,
        "satisfied by Intel iHD (vaapi), validated by va-context H264Main"
    );
    assert_eq!(h264.device.as_deref(), Some("Intel iHD"));
    let hevc = only("vaapi-decode-hevc", &machine);
    assert!(!hevc.satisfied);
    assert!(
        hevc.explanation.contains("Intel iHD has decode-h264"),
        "{}",
        hevc.explanation
    );
    let nvdec = only("nvdec-h264", &machine);
    assert!(
        nvdec.explanation.contains("no libnvcuvid.so.1"),
        "{}",
        nvdec.explanation
    );
    let gcc = only("gcc-offload-nvptx", &machine);
    assert!(!gcc.satisfied);
    assert!(
        gcc.explanation.contains("ran on the host"),
        "{}",
        gcc.explanation
    );
    assert!(
        !gcc.explanation.contains("level quick"),
        "{}",
        gcc.explanation
    );
}
