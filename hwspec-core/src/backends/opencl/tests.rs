use crate::backends::conformance;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::*;
use crate::backends::common::{Arg, LaunchError, SAXPY, SGEMM};
use crate::kernels::{SAXPY_ELEMENTS, SGEMM_N};
use crate::protocol::{NoProgress, Recorder};
use crate::testing::{ChildRunner, TempDir};

const CL_DEVICE_TYPE_DEFAULT: u64 = 1;

#[test]
fn api_version_is_the_number_after_opencl() {
    let pocl = "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-skylake-avx512";
    assert_eq!(parse_opencl_version(pocl).as_deref(), Some("3.0"));
    assert_eq!(
        parse_opencl_version("OpenCL 1.2 CUDA").as_deref(),
        Some("1.2")
    );
    assert_eq!(parse_opencl_version("OpenCL 2.1 ").as_deref(), Some("2.1"));
    assert_eq!(parse_opencl_version("OpenCL C 1.2 PoCL"), None);
    assert_eq!(parse_opencl_version("3.0 PoCL"), None);
    assert_eq!(parse_opencl_version("OpenCL 3"), None);
    assert_eq!(parse_opencl_version(""), None);
}

#[test]
fn software_implementations_are_software_whatever_type_they_claim() {
    let pocl_cpu = classify(CL_DEVICE_TYPE_CPU, POCL_PLATFORM, "pthread-skylake-avx512");
    assert_eq!(pocl_cpu, DeviceKind::Software);
    let rusticl = classify(
        CL_DEVICE_TYPE_GPU,
        "rusticl",
        "llvmpipe (LLVM 15.0.6, 256 bits)",
    );
    assert_eq!(rusticl, DeviceKind::Software);
    let clover = classify(CL_DEVICE_TYPE_CPU, "Clover", "LLVMpipe");
    assert_eq!(clover, DeviceKind::Software);
    let swiftshader = classify(CL_DEVICE_TYPE_GPU, "SwiftShader", "SwiftShader Device");
    assert_eq!(swiftshader, DeviceKind::Software);
}

#[test]
fn hardware_kinds_follow_the_device_type() {
    // PoCL's CUDA driver runs kernels on a real NVIDIA GPU.
    let pocl_cuda = classify(CL_DEVICE_TYPE_GPU, POCL_PLATFORM, "NVIDIA GeForce RTX 3090");
    assert_eq!(pocl_cuda, DeviceKind::Gpu);
    let nvidia = classify(
        CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_DEFAULT,
        "NVIDIA CUDA",
        "NVIDIA H100 80GB HBM3",
    );
    assert_eq!(nvidia, DeviceKind::Gpu);
    let intel_cpu = classify(CL_DEVICE_TYPE_CPU, "Intel(R) OpenCL", "Intel(R) Xeon(R)");
    assert_eq!(intel_cpu, DeviceKind::Cpu);
    let fpga = classify(CL_DEVICE_TYPE_ACCELERATOR, "Intel(R) FPGA SDK", "agilex");
    assert_eq!(fpga, DeviceKind::Accelerator);
    assert_eq!(
        classify(CL_DEVICE_TYPE_DEFAULT, "Odd", "thing"),
        DeviceKind::Other
    );
}

#[test]
fn features_come_from_queries_or_the_extension_list() {
    assert_eq!(features(Some(0x3f), None, ""), ["fp64"]);
    assert_eq!(
        features(Some(0), None, "cl_khr_int64 cl_khr_fp64"),
        ["fp64"]
    );
    assert_eq!(features(None, Some("SPIR-V_1.2 SPIR-V_1.0"), ""), ["spirv"]);
    assert_eq!(features(None, None, "cl_khr_il_program"), ["spirv"]);
    assert_eq!(
        features(Some(1), Some("SPIR-V_1.0"), "cl_khr_fp64"),
        ["fp64", "spirv"]
    );
    let none: [&str; 0] = [];
    assert_eq!(
        features(Some(0), Some(""), "cl_khr_fp64_suffix cl_khr_fp16"),
        none
    );
    assert_eq!(features(None, None, ""), none);
}

#[test]
fn platform_errors_separate_no_icd_from_a_broken_one() {
    let none = platform_error(api::cl_error("clGetPlatformIDs", CL_PLATFORM_NOT_FOUND_KHR));
    assert_eq!(none.status, Status::Absent);
    assert_eq!(none.reason.unwrap().code, ReasonCode::NoDevice);

    let broken = platform_error(api::cl_error("clGetPlatformIDs", -5));
    assert_eq!(broken.status, Status::Unusable);
    let reason = broken.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert!(reason.message.contains("-5"), "{}", reason.message);
    assert!(
        reason.message.contains("CL_OUT_OF_RESOURCES"),
        "{}",
        reason.message
    );

    let stripped = platform_error(api::cl_error(
        "clGetPlatformIDs",
        DLOPEN_FUNCTION_NOT_AVAILABLE,
    ));
    assert_eq!(stripped.reason.unwrap().code, ReasonCode::LoadFailed);
}

#[test]
fn icd_directories_are_counted_by_extension() {
    let dir = TempDir::new("opencl-count");
    for file in ["pocl.icd", "nvidia.icd", "README"] {
        std::fs::write(dir.path().join(file), "libx.so\n").unwrap();
    }
    let seen = describe_icd_dir(dir.path());
    assert_eq!(seen, format!("2 .icd file(s) in {}", dir.path().display()));
    let missing = describe_icd_dir(&dir.path().join("nonexistent"));
    assert!(missing.contains("unreadable"), "{missing}");
}

#[test]
fn a_missing_loader_is_absent_and_named() {
    let missing = "libhwspec-no-such-opencl.so.1";
    conformance::missing_runtime(&[missing], |level, progress| {
        probe_with(missing, level, progress)
    });
}

#[test]
fn the_real_loader_is_named_libopencl_so_1() {
    assert_eq!(sys::OPENCL_LIBRARY, "libOpenCL.so.1");
}

fn pocl_device(report: &BackendReport) -> &Device {
    report
        .devices
        .iter()
        .find(|d| d.properties.get("platform").map(String::as_str) == Some(POCL_PLATFORM))
        .unwrap_or_else(|| {
            panic!("no PoCL device (install pocl-opencl-icd and ocl-icd-libopencl1): {report:#?}")
        })
}

#[test]
fn standard_validates_the_pocl_device_as_software() {
    let mut progress = Recorder::default();
    let start = Instant::now();
    let report = OpenclBackend.probe(Level::Standard, &mut progress);
    println!("OpenCL probe at level standard took {:?}", start.elapsed());

    assert_eq!(report.status, Status::Validated, "{report:#?}");
    assert!(report.reason.is_none());
    let library = report.library.as_deref().unwrap_or_default();
    assert!(library.contains("libOpenCL.so"), "library {library:?}");
    assert!(report.properties["platforms"].contains(POCL_PLATFORM));

    let device = pocl_device(&report);
    assert_eq!(device.kind, DeviceKind::Software);
    assert_eq!(device.status, Status::Validated);
    let api = device.api_version.as_deref().expect("api_version");
    let major: u32 = api.split('.').next().unwrap().parse().unwrap();
    assert!((1..=3).contains(&major), "api_version {api}");
    assert!(device.driver_version.is_some());
    assert!(device.memory_bytes.unwrap_or(0) > 0);
    assert!(device.properties.contains_key("compute_units"));
    if cfg!(target_arch = "x86_64") {
        assert!(device.has_feature("fp64"), "{:?}", device.features);
    }
    let saxpy = device.validation("saxpy").expect("saxpy validation");
    assert!(saxpy.passed);
    assert_eq!(saxpy.kind.name(), "saxpy");
    assert_eq!(
        saxpy.kind.compared().unwrap().elements,
        SAXPY_ELEMENTS as u64
    );
    assert_eq!(saxpy.kind.compared().unwrap().max_abs_error, 0.0);
    assert!(device.validation("sgemm").is_none());

    assert_eq!(
        progress.stages,
        [Stage::Load, Stage::Init, Stage::Enumerate, Stage::Kernel]
    );
    let [partial] = progress.partials.as_slice() else {
        panic!(
            "expected one partial report, got {}",
            progress.partials.len()
        );
    };
    assert_eq!(partial.status, Status::Enumerated);
    assert_eq!(partial.devices.len(), report.devices.len());
    assert!(partial.devices.iter().all(|d| d.validations.is_empty()));
}

#[test]
fn full_also_validates_sgemm() {
    let report = OpenclBackend.probe(Level::Full, &mut NoProgress);
    let device = pocl_device(&report);
    assert_eq!(device.status, Status::Validated, "{device:#?}");
    assert!(device.validation("saxpy").expect("saxpy").passed);
    let gemm = device.validation("sgemm").expect("sgemm validation");
    assert!(gemm.passed);
    assert_eq!(gemm.kind.name(), "sgemm");
    assert_eq!(
        gemm.kind.compared().unwrap().elements,
        (SGEMM_N * SGEMM_N) as u64
    );
}

#[test]
fn quick_enumerates_without_running_kernels() {
    let mut progress = Recorder::default();
    let report = OpenclBackend.probe(Level::Quick, &mut progress);
    assert_eq!(report.status, Status::Enumerated);
    let device = pocl_device(&report);
    assert_eq!(device.status, Status::Enumerated);
    assert_eq!(device.kind, DeviceKind::Software);
    assert!(device.validations.is_empty());
    assert_eq!(
        progress.stages,
        [Stage::Load, Stage::Init, Stage::Enumerate]
    );
    assert_eq!(progress.partials.len(), 1);
}

#[test]
fn a_kernel_that_does_not_compile_reports_its_build_log() {
    let _one_at_a_time = skeleton::exclusive(&ONE_PROBE_AT_A_TIME);
    let context = api::Context::for_device(pocl_device_id()).unwrap();
    let program = context
        .program("__kernel void broken(__global float *x) { x[0] = undeclared_name; }")
        .unwrap();
    let failure = program.build().unwrap_err();
    assert_eq!(failure.error.call, "clBuildProgram");
    assert_eq!(
        failure.error.code,
        i64::from(opencl3::error_codes::CL_BUILD_PROGRAM_FAILURE)
    );
    assert!(
        build_log_excerpt(&failure.log, "(empty)").contains("undeclared_name"),
        "{}",
        failure.log
    );
}

/// The first device of the PoCL platform; the caller holds the probe lock.
fn pocl_device_id() -> DeviceId {
    assert!(Library::open(sys::OPENCL_LIBRARY).is_ok());
    let platform = api::platforms()
        .unwrap()
        .into_iter()
        .find(|p| p.string(CL_PLATFORM_NAME).as_deref() == Ok(POCL_PLATFORM))
        .expect("a PoCL platform");
    platform.devices().unwrap()[0]
}

/// The refusal `args` get from `kernel`, which nothing launches.
fn refused(queue: &api::Queue, kernel: &api::Kernel, args: &[Arg<'_, api::Buffer>]) -> String {
    match queue.launch(kernel, args, &[4]).unwrap_err() {
        LaunchError::Refused(why) => why,
        LaunchError::Call(error) => panic!("the driver was called: {error}"),
    }
}

/// The shared SAXPY and SGEMM declarations hold the real kernels' launches: wrong kinds, a
/// wrong count, buffers shorter than the kernel reaches and a buffer of another context are
/// refused before the driver sees them, and the fitting launch runs.
#[test]
fn launches_are_held_to_the_kernel_signature() {
    let _one_at_a_time = skeleton::exclusive(&ONE_PROBE_AT_A_TIME);
    let device = pocl_device_id();
    let context = api::Context::for_device(device).unwrap();
    let queue = context.queue().unwrap();
    let program = context.program(validate::source(true)).unwrap();
    program.build().unwrap();
    let saxpy = program.kernel(&SAXPY).unwrap();
    let sgemm = program.kernel(&SGEMM).unwrap();
    let mut x = context.buffer(4).unwrap();
    let mut y = context.buffer(4).unwrap();
    queue.fill(&mut x, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    queue.fill(&mut y, &[1.0]).unwrap();

    let axpy = |x, y, n| [Arg::F32(2.0), Arg::Buffer(x), Arg::Buffer(y), Arg::U32(n)];
    let message = refused(&queue, &saxpy, &[Arg::U32(4), Arg::Buffer(&x)]);
    assert!(
        message.starts_with("saxpy declares (f32, buffer, buffer, u32)"),
        "{message}"
    );
    let message = refused(
        &queue,
        &saxpy,
        &[Arg::F32(2.0), Arg::Buffer(&x), Arg::U32(4)],
    );
    assert!(
        message.ends_with("was given (f32, buffer, u32)"),
        "{message}"
    );
    let message = refused(&queue, &saxpy, &axpy(&x, &y, 5));
    assert_eq!(message, "saxpy reaches 5 elements but parameter 1 holds 4");
    let gemm = |n| {
        [
            Arg::Buffer(&x),
            Arg::Buffer(&x),
            Arg::Buffer(&y),
            Arg::U32(n),
        ]
    };
    let message = refused(&queue, &sgemm, &gemm(2)[..3]);
    assert!(message.starts_with("sgemm declares"), "{message}");
    let message = refused(&queue, &sgemm, &gemm(4));
    assert_eq!(message, "sgemm reaches 16 elements but parameter 0 holds 4");
    // A buffer of another context.
    let other = api::Context::for_device(device).unwrap();
    let foreign = other.buffer(4).unwrap();
    let message = refused(&queue, &saxpy, &axpy(&x, &foreign, 4));
    assert!(message.contains("buffer of another context"), "{message}");

    // Nothing refused ran; the fitting launch does: y = 2x + y.
    queue.launch(&saxpy, &axpy(&x, &y, 4), &[4]).unwrap();
    let got = queue.inspect(&mut y, <[f32]>::to_vec).unwrap();
    assert_eq!(got, [3.0, 5.0, 7.0, 9.0]);
}

#[test]
fn strings_stop_at_the_first_nul_and_are_trimmed() {
    use api::decode_string;
    assert_eq!(
        decode_string(b"Portable Computing Language\0"),
        "Portable Computing Language"
    );
    assert_eq!(decode_string(b"3.1+debian \0\0\0garbage"), "3.1+debian");
    assert_eq!(decode_string(b"no terminator"), "no terminator");
    assert_eq!(decode_string(b""), "");
}

#[test]
fn unsigned_values_follow_the_size_the_driver_wrote() {
    use api::decode_unsigned;
    assert_eq!(decode_unsigned(&7u32.to_ne_bytes()), Some(7));
    assert_eq!(decode_unsigned(&(1u64 << 40).to_ne_bytes()), Some(1 << 40));
    assert_eq!(decode_unsigned(&[1, 2]), None);
    assert_eq!(decode_unsigned(&[]), None);
}

#[test]
fn errors_name_the_call_the_number_and_the_constant() {
    let error = api::cl_error("clGetPlatformIDs", -1001);
    assert_eq!(
        error.to_string(),
        "clGetPlatformIDs returned -1001 (CL_PLATFORM_NOT_FOUND_KHR)"
    );
    // A number the headers do not name stays a number.
    let unknown = api::cl_error("clGetPlatformIDs", -9999);
    assert_eq!(unknown.to_string(), "clGetPlatformIDs returned -9999");
}

/// Runs [`child_probe_entry`] in a child process. The ICD loader reads `OCL_ICD_VENDORS` once
/// per process, so each environment needs a fresh process.
const CHILD: ChildRunner = ChildRunner {
    module: module_path!(),
    entry: "child_probe_entry",
    switch: "HWSPEC_TEST_OPENCL_CHILD_PROBE",
    level_var: "HWSPEC_TEST_OPENCL_CHILD_LEVEL",
    marker: "hwspec-child-report:",
    cleared: &[&["OCL_ICD_FILENAMES", "OPENCL_DYLIB_PATH"]],
};

/// Only does something in a child started through [`CHILD`]: probes and prints the report.
#[test]
fn child_probe_entry() {
    if CHILD.mode().is_none() {
        return;
    }
    CHILD.print_report(&OpenclBackend.probe(CHILD.level(), &mut NoProgress));
}

/// Probes at level quick in a child whose ICD loader is pointed at `vendors`.
fn probe_in_child(vendors: &Path) -> BackendReport {
    CHILD.probe(Level::Quick, &[("OCL_ICD_VENDORS", vendors)])
}

#[test]
fn an_empty_vendors_directory_is_absent_with_no_device() {
    let vendors = TempDir::new("opencl-empty-vendors");
    let report = probe_in_child(vendors.path());
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.contains("0 .icd file(s)"),
        "{}",
        reason.message
    );
    assert!(report.library.is_some());
    assert!(report.devices.is_empty());
}

#[test]
fn an_icd_whose_library_is_missing_is_absent_and_counted() {
    let vendors = TempDir::new("opencl-dangling-icd");
    std::fs::write(
        vendors.path().join("dangling.icd"),
        "libhwspec-no-such-icd.so\n",
    )
    .unwrap();
    let report = probe_in_child(vendors.path());
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.contains("1 .icd file(s)"),
        "{}",
        reason.message
    );
}

#[test]
fn a_validated_build_is_cached_and_a_bad_cache_entry_falls_back_to_source() {
    let cache_dir = TempDir::new("opencl-binary-cache");
    let env = [(
        crate::driver_dirs::DRIVER_CACHE_ENV,
        cache_dir.path().as_os_str(),
    )];
    let program = |report: &BackendReport| {
        let device = pocl_device(report);
        assert_eq!(device.status, Status::Validated, "{device:#?}");
        device.properties["program"].clone()
    };

    let first = CHILD.probe(Level::Standard, &env);
    assert_eq!(program(&first), "built from source");
    let entries: Vec<_> = std::fs::read_dir(cache_dir.path().join("opencl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");

    let second = CHILD.probe(Level::Standard, &env);
    assert_eq!(program(&second), "binary cached from an earlier build");

    std::fs::write(&entries[0], b"not a program binary").unwrap();
    let third = CHILD.probe(Level::Standard, &env);
    assert_eq!(program(&third), "built from source");
    assert_ne!(std::fs::read(&entries[0]).unwrap(), b"not a program binary");
}

#[test]
fn icd_files_follow_ocl_icd_rules_for_the_vendors_variable() {
    let dir = TempDir::new("opencl-icd-files");
    std::fs::write(dir.path().join("b.icd"), "libb.so\n").unwrap();
    std::fs::write(dir.path().join("a.icd"), "liba.so\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "").unwrap();
    assert_eq!(
        icd_files(Some(dir.path().as_os_str())),
        [dir.path().join("a.icd"), dir.path().join("b.icd")]
    );
    let one = dir.path().join("b.icd");
    assert_eq!(icd_files(Some(one.as_os_str())), [one]);
    let library = std::ffi::OsStr::new("/opt/vendor/libicd.so");
    assert_eq!(icd_files(Some(library)), [PathBuf::from(library)]);
    let unset = icd_files(None);
    assert!(
        unset.iter().all(|p| p.starts_with(DEFAULT_VENDORS_DIR)),
        "{unset:?}"
    );
    assert_eq!(icd_files(Some(std::ffi::OsStr::new(""))), unset);
}

#[test]
fn icds_naming_unloadable_libraries_are_named() {
    let dir = TempDir::new("opencl-unloadable");
    std::fs::write(
        dir.path().join("missing.icd"),
        "libhwspec-no-such-icd.so.9\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.icd"), "\n").unwrap();
    std::fs::write(dir.path().join("libc.icd"), "libc.so.6\n").unwrap();
    let (loaded, warnings) = loadable_icds(&icd_files(Some(dir.path().as_os_str())));
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].library, "libc.so.6");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("empty.icd") && warnings[0].contains("names no library"));
    assert!(warnings[1].contains("missing.icd"), "{}", warnings[1]);
    assert!(
        warnings[1].contains("libhwspec-no-such-icd.so.9"),
        "{}",
        warnings[1]
    );
}
