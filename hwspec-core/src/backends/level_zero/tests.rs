use crate::backends::conformance;
use std::ffi::{c_char, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::api::{fixed_string, group_counts, ze_error, DriverProperties, QueueGroup};
use super::sys::result_name;
use super::*;
use crate::kernels::{SAXPY_ELEMENTS, SGEMM_N};
use crate::protocol::NoProgress;
use crate::testing::{compile_fixture, ChildRunner, TempDir};

#[test]
fn versions_unpack_as_ze_make_version_packs_them() {
    assert_eq!(unpack_version(0x0001_0003), "1.3");
    assert_eq!(unpack_version(0x0001_000f), "1.15");
    assert_eq!(unpack_version(0x0002_0000), "2.0");
    assert_eq!(unpack_version(0), "0.0");
}

#[test]
fn device_types_map_to_kinds() {
    assert_eq!(device_kind(1), DeviceKind::Gpu);
    assert_eq!(device_kind(2), DeviceKind::Cpu);
    for accelerator in [3, 4, 5] {
        assert_eq!(device_kind(accelerator), DeviceKind::Accelerator);
    }
    assert_eq!(device_kind(0), DeviceKind::Other);
    assert_eq!(device_kind(6), DeviceKind::Other);
    assert_eq!(device_kind(0x7fff_ffff), DeviceKind::Other);
}

#[test]
fn uuids_are_lowercase_hex_in_driver_order() {
    let uuid: [u8; 16] = [
        0x86, 0x80, 0xa0, 0x56, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0xff, 0x0a,
    ];
    assert_eq!(hex(&uuid), "8680a05600000000000300000000ff0a");
    assert_eq!(hex(&[0xab, 0x01]), "ab01");
    assert_eq!(hex(&[]), "");
}

#[test]
fn memory_is_the_sum_of_every_listed_memory() {
    let memory = |name: &str, total_size| MemoryProperties {
        name: name.into(),
        total_size,
    };
    let tiles = [memory("HBM", 64 << 30), memory("HBM", 64 << 30)];
    assert_eq!(total_memory(&tiles), Some(128 << 30));
    assert_eq!(total_memory(&[]), None);
    assert_eq!(total_memory(&[memory("DDR", 0)]), None);
    assert_eq!(
        total_memory(&[memory("a", u64::MAX), memory("b", 1)]),
        Some(u64::MAX)
    );
}

#[test]
fn the_first_compute_group_with_queues_is_chosen() {
    let group = |compute, queues| QueueGroup { compute, queues };
    assert_eq!(
        compute_ordinal(&[group(false, 1), group(true, 4), group(true, 1)]),
        Some(1)
    );
    assert_eq!(compute_ordinal(&[group(true, 0), group(true, 2)]), Some(1));
    assert_eq!(compute_ordinal(&[group(false, 2)]), None);
    assert_eq!(compute_ordinal(&[]), None);
}

#[test]
fn no_driver_is_absent_and_other_init_errors_are_unusable() {
    let none = init_failure(ze_error("zeInit", ZE_RESULT_ERROR_UNINITIALIZED));
    assert_eq!(none.status, Status::Absent);
    let reason = none.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(reason.message.contains("0x78000001"), "{}", reason.message);

    let lost = init_failure(ze_error("zeInit", 0x7000_0001));
    assert_eq!(lost.status, Status::Unusable);
    let reason = lost.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert_eq!(
        reason.message,
        "zeInit returned ZE_RESULT_ERROR_DEVICE_LOST (0x70000001)"
    );

    let unknown = init_failure(ze_error("zeDriverGet", 0x7abc_0000));
    let reason = unknown.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert!(reason.message.contains("0x7abc0000"), "{}", reason.message);
}

fn arc_properties() -> DeviceProperties {
    DeviceProperties {
        device_type: 1,
        vendor_id: 0x8086,
        device_id: 0x56a0,
        integrated: false,
        core_clock_mhz: 2400,
        max_mem_alloc_size: 4 << 30,
        threads_per_eu: 8,
        eu_simd_width: 8,
        eus_per_subslice: 16,
        subslices_per_slice: 32,
        slices: 1,
        uuid: [7; 16],
        name: "Test GPU".into(),
    }
}

#[test]
fn device_facts_come_from_device_driver_and_memory_properties() {
    let driver = DriverFacts {
        index: 2,
        api_version: Some(0x0001_0005),
        properties: Some(DriverProperties {
            uuid: [1; 16],
            driver_version: 42,
        }),
    };
    let memories = [MemoryProperties {
        name: "DDR".into(),
        total_size: 16 << 30,
    }];
    let device = device_from(&arc_properties(), &driver, Some(&memories));
    assert_eq!(device.name, "Test GPU");
    assert_eq!(device.vendor, "Intel");
    assert_eq!(device.kind, DeviceKind::Gpu);
    assert_eq!(device.status, Status::Enumerated);
    assert_eq!(device.api_version.as_deref(), Some("1.5"));
    assert_eq!(device.driver_version.as_deref(), Some("42"));
    assert_eq!(device.memory_bytes, Some(16 << 30));
    let props = &device.properties;
    assert_eq!(props["driver"], "2");
    assert_eq!(props["device_id"], "0x56a0");
    assert_eq!(props["vendor_id"], "0x8086");
    assert_eq!(props["uuid"], "07".repeat(16));
    assert_eq!(props["driver_uuid"], "01".repeat(16));
    assert_eq!(props["integrated"], "false");
    assert_eq!(props["core_clock_mhz"], "2400");
    assert_eq!(props["eu_count"], "512");
    assert_eq!(props["hardware_threads"], "4096");
    assert_eq!(props["eu_simd_width"], "8");
    assert_eq!(props["memories"], "DDR: 17179869184 bytes");

    let bare = DriverFacts {
        index: 0,
        api_version: None,
        properties: None,
    };
    let device = device_from(&arc_properties(), &bare, None);
    assert_eq!(device.api_version, None);
    assert_eq!(device.driver_version, None);
    assert_eq!(device.memory_bytes, None);
    assert!(!device.properties.contains_key("memories"));
}

#[test]
fn the_loader_is_opened_by_its_versioned_soname() {
    assert_eq!(sys::LOADER_SONAME, "libze_loader.so.1");
}

#[test]
fn a_missing_loader_is_absent_and_named() {
    let missing = "libhwspec-no-such-ze-loader.so.1";
    conformance::missing_runtime(&[missing], |level, progress| {
        probe_with(missing, level, progress)
    });
}

fn kernel_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backends/level_zero")
}

/// The committed SPIR-V must be exactly what its OpenCL C compiles to, and valid.
#[test]
fn committed_spirv_is_what_the_opencl_c_compiles_to() {
    let out = TempDir::new("l0-spirv");
    let dir = kernel_dir();
    for kernel in ["saxpy", "sgemm"] {
        let bitcode = out.path().join(format!("{kernel}.bc"));
        let spirv = out.path().join(format!("{kernel}.spv"));
        let clang = Command::new("clang-15")
            .args([
                "-cl-std=CL1.2",
                "-target",
                "spir64",
                "-O2",
                "-c",
                "-emit-llvm",
                "-o",
            ])
            .arg(&bitcode)
            .arg(dir.join(format!("{kernel}.cl")))
            .output()
            .unwrap_or_else(|e| panic!("clang-15 could not run ({e}); install clang-15"));
        assert!(
            clang.status.success(),
            "{kernel}.cl: {}",
            String::from_utf8_lossy(&clang.stderr)
        );
        let translate = Command::new("llvm-spirv-15")
            .arg(&bitcode)
            .arg("-o")
            .arg(&spirv)
            .output()
            .unwrap_or_else(|e| panic!("llvm-spirv-15 could not run ({e}); install llvm-spirv-15"));
        assert!(
            translate.status.success(),
            "{kernel}.bc: {}",
            String::from_utf8_lossy(&translate.stderr)
        );
        let fresh = std::fs::read(&spirv).unwrap();
        let committed = std::fs::read(dir.join(format!("{kernel}.spv"))).unwrap();
        assert!(
            fresh == committed,
            "{kernel}.cl changed: rebuild {kernel}.spv with the commands in saxpy.cl"
        );
        if let Ok(val) = Command::new("spirv-val").arg(&spirv).output() {
            assert!(
                val.status.success(),
                "spirv-val rejects {kernel}.spv: {}",
                String::from_utf8_lossy(&val.stderr)
            );
        }
    }
}

/// Runs [`child_probe_entry`] in a child process whose environment is cleared of the
/// variables that steer the loader. The dynamic loader maps one `libze_loader.so.1` per
/// process, so each loader under test needs a fresh process.
const CHILD: ChildRunner = ChildRunner {
    module: module_path!(),
    entry: "child_probe_entry",
    switch: "HWSPEC_TEST_LEVEL_ZERO_CHILD_PROBE",
    level_var: "HWSPEC_TEST_LEVEL_ZERO_CHILD_LEVEL",
    marker: "hwspec-child-report:",
    cleared: &[&["ZE_ENABLE_LOADER_DEBUG_TRACE"], DISCOVERY_VARIABLES],
};

/// Only does something in a child started through [`CHILD`]: probes and prints the report.
#[test]
fn child_probe_entry() {
    if CHILD.mode().is_none() {
        return;
    }
    CHILD.print_report(&LevelZeroBackend.probe(CHILD.level(), &mut NoProgress));
}

#[test]
fn the_real_loader_without_a_driver_is_absent_with_no_device() {
    // The loader opens the drivers this variable names instead of the installed ones, so the
    // test sees "loader present, no driver" on any machine.
    let missing = OsString::from("/nonexistent/libhwspec-no-such-ze-driver.so.1");
    let report = CHILD.probe(Level::Standard, &[("ZE_ENABLE_ALT_DRIVERS", missing)]);
    if report
        .reason
        .as_ref()
        .is_some_and(|r| r.code == ReasonCode::LibraryNotFound)
    {
        panic!("libze_loader.so.1 is not installed (install libze1): {report:#?}");
    }
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.contains("ZE_ENABLE_ALT_DRIVERS="),
        "{}",
        reason.message
    );
    let library = report.library.as_deref().unwrap_or_default();
    assert!(library.contains("libze_loader.so.1"), "library {library:?}");
    assert!(report.devices.is_empty());
}

/// A directory holding `fake_loader.c` built as `libze_loader.so.1` with `defines`.
fn fake_loader(tag: &str, defines: &[&str]) -> TempDir {
    let dir = TempDir::new(&format!("l0-{tag}"));
    let source = kernel_dir().join("fake_loader.c");
    compile_fixture(&source, dir.path(), "libze_loader.so.1", defines);
    dir
}

/// Probes at `level` in a child whose dynamic loader finds `loader` first.
fn probe_with_fake(loader: &TempDir, level: Level) -> BackendReport {
    let mut path = OsString::from(loader.path());
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        path.push(":");
        path.push(existing);
    }
    let report = CHILD.probe(level, &[("LD_LIBRARY_PATH", path)]);
    let library = report.library.as_deref().unwrap_or_default();
    assert!(
        library.starts_with(loader.path().to_str().unwrap()),
        "the fake loader was not the one loaded: {library:?}"
    );
    report
}

fn only_device(report: &BackendReport) -> &Device {
    let [device] = report.devices.as_slice() else {
        panic!("expected one device: {report:#?}");
    };
    device
}

#[test]
fn a_failing_zeinit_is_unusable_and_named() {
    let loader = fake_loader("init-lost", &["INIT_RESULT=0x70000001u"]);
    let report = probe_with_fake(&loader, Level::Standard);
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert_eq!(
        reason.message,
        "zeInit returned ZE_RESULT_ERROR_DEVICE_LOST (0x70000001)"
    );
}

#[test]
fn an_unknown_result_is_printed_as_a_number() {
    let loader = fake_loader("init-unknown", &["INIT_RESULT=0x7abc0001u"]);
    let report = probe_with_fake(&loader, Level::Quick);
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert!(
        reason.message.ends_with("returned 0x7abc0001"),
        "{}",
        reason.message
    );
}

#[test]
fn a_loader_lacking_an_entry_point_is_unusable_and_names_it() {
    let loader = fake_loader("no-kernel-create", &["OMIT_KERNEL_CREATE"]);
    let report = probe_with_fake(&loader, Level::Quick);
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LoadFailed);
    assert!(
        reason.message.contains("zeKernelCreate"),
        "{}",
        reason.message
    );
}

#[test]
fn zero_drivers_are_absent_with_no_device() {
    let loader = fake_loader("no-drivers", &["DRIVER_COUNT=0"]);
    let report = probe_with_fake(&loader, Level::Standard);
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(reason.message.contains("0 drivers"), "{}", reason.message);
}

#[test]
fn quick_lists_the_fake_gpu_with_every_property() {
    let loader = fake_loader("quick", &[]);
    let report = probe_with_fake(&loader, Level::Quick);
    assert_eq!(report.status, Status::Enumerated, "{report:#?}");
    assert_eq!(report.runtime_version.as_deref(), Some("1.3"));
    let device = only_device(&report);
    assert_eq!(device.name, "hwspec fake GPU");
    assert_eq!(device.vendor, "Intel");
    assert_eq!(device.kind, DeviceKind::Gpu);
    assert_eq!(device.status, Status::Enumerated);
    assert!(device.reason.is_none());
    assert_eq!(device.api_version.as_deref(), Some("1.3"));
    assert_eq!(device.driver_version.as_deref(), Some("16909060"));
    assert_eq!(device.memory_bytes, Some(3 << 30));
    assert!(device.validations.is_empty());
    let props = &device.properties;
    assert_eq!(props["device_id"], "0x56a0");
    assert_eq!(props["uuid"], "000102030405060708090a0b0c0d0e0f");
    assert_eq!(props["driver_uuid"], "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    assert_eq!(props["integrated"], "false");
    assert_eq!(props["core_clock_mhz"], "2400");
    assert_eq!(props["max_mem_alloc_bytes"], "4294959104");
    assert_eq!(props["eu_count"], "512");
    assert_eq!(props["threads_per_eu"], "8");
    assert_eq!(
        props["memories"],
        "HBM: 1073741824 bytes; HBM2: 2147483648 bytes"
    );
}

#[test]
fn the_runtime_version_is_the_highest_driver_api_version() {
    let loader = fake_loader("two-drivers", &["DRIVER_COUNT=2"]);
    let report = probe_with_fake(&loader, Level::Quick);
    assert_eq!(
        report.runtime_version.as_deref(),
        Some("1.4"),
        "{report:#?}"
    );
    assert_eq!(report.properties["drivers"], "2");
    assert_eq!(report.properties["driver_api_versions"], "1.3, 1.4");
    assert_eq!(only_device(&report).api_version.as_deref(), Some("1.3"));
}

#[test]
fn standard_and_full_validate_the_fake_gpu_and_prove_level_zero_and_sycl() {
    let loader = fake_loader("kernels", &[]);
    let report = probe_with_fake(&loader, Level::Standard);
    assert_eq!(report.status, Status::Validated, "{report:#?}");
    let device = only_device(&report);
    let saxpy = device.validation("saxpy").expect("saxpy validation");
    assert!(saxpy.passed);
    assert_eq!(
        saxpy.kind.compared().unwrap().elements,
        SAXPY_ELEMENTS as u64
    );
    assert!(device.validation("sgemm").is_none());
    assert_eq!(device.properties["compute_queue_group"], "1");
    let caps: Vec<String> = crate::caps::reduce(Level::Standard, std::slice::from_ref(&report))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(caps.contains(&"level-zero (= 1.3)".to_owned()), "{caps:?}");
    assert!(caps.contains(&"sycl".to_owned()), "{caps:?}");

    let full = probe_with_fake(&loader, Level::Full);
    let device = only_device(&full);
    assert_eq!(device.status, Status::Validated, "{device:#?}");
    let sgemm = device.validation("sgemm").expect("sgemm validation");
    assert!(sgemm.passed);
    assert_eq!(
        sgemm.kind.compared().unwrap().elements,
        (SGEMM_N * SGEMM_N) as u64
    );
}

fn failed_reason(defines: &[&str], tag: &str) -> Reason {
    let loader = fake_loader(tag, defines);
    let report = probe_with_fake(&loader, Level::Standard);
    let device = only_device(&report);
    assert_eq!(device.status, Status::Failed, "{report:#?}");
    assert_eq!(report.status, Status::Failed);
    device.reason.clone().unwrap()
}

#[test]
fn a_module_that_does_not_build_is_failed_with_its_build_log() {
    let reason = failed_reason(&["MODULE_BUILD_FAILS"], "build-fails");
    assert_eq!(reason.code, ReasonCode::BuildFailed);
    assert!(
        reason
            .message
            .contains("ZE_RESULT_ERROR_MODULE_BUILD_FAILURE"),
        "{}",
        reason.message
    );
    assert!(
        reason
            .message
            .contains("fake: no compiler for this device | second line"),
        "{}",
        reason.message
    );
}

#[test]
fn a_wrong_result_is_failed() {
    let reason = failed_reason(&["WRONG_RESULT"], "wrong");
    assert_eq!(reason.code, ReasonCode::WrongResult);
    assert!(reason.message.starts_with("saxpy"), "{}", reason.message);
}

#[test]
fn a_kernel_that_does_not_finish_in_time_is_failed_and_says_so() {
    let reason = failed_reason(&["SYNC_RESULT=1"], "timeout");
    assert_eq!(reason.code, ReasonCode::LaunchFailed);
    assert!(
        reason.message.contains("did not finish"),
        "{}",
        reason.message
    );
}

#[test]
fn a_device_lost_while_waiting_is_a_launch_failure() {
    let reason = failed_reason(&["SYNC_RESULT=0x70000001u"], "lost");
    assert_eq!(reason.code, ReasonCode::LaunchFailed);
    assert!(
        reason.message.contains("ZE_RESULT_ERROR_DEVICE_LOST"),
        "{}",
        reason.message
    );
}

#[test]
fn a_device_without_a_compute_queue_stays_enumerated_and_says_why() {
    let loader = fake_loader("no-compute", &["NO_COMPUTE_GROUP"]);
    let report = probe_with_fake(&loader, Level::Standard);
    assert_eq!(report.status, Status::Enumerated, "{report:#?}");
    let device = only_device(&report);
    assert_eq!(device.status, Status::Enumerated);
    assert!(device.validations.is_empty());
    assert_eq!(
        device.reason.as_ref().unwrap().code,
        ReasonCode::Unsupported
    );
}

// ---- the C API's names and helpers ----

#[test]
fn known_results_have_their_header_names() {
    assert_eq!(
        result_name(ZE_RESULT_ERROR_UNINITIALIZED),
        Some("ZE_RESULT_ERROR_UNINITIALIZED")
    );
    assert_eq!(
        result_name(0x7000_0001),
        Some("ZE_RESULT_ERROR_DEVICE_LOST")
    );
    assert_eq!(result_name(0x7fff_fffe), Some("ZE_RESULT_ERROR_UNKNOWN"));
    assert_eq!(result_name(0x7fff_ffff), None);
    assert_eq!(result_name(0x1234), None);
}

#[test]
fn errors_name_the_call_the_constant_and_the_hex_value() {
    let known = ze_error("zeInit", ZE_RESULT_ERROR_UNINITIALIZED);
    assert_eq!(
        known.to_string(),
        "zeInit returned ZE_RESULT_ERROR_UNINITIALIZED (0x78000001)"
    );
    let unknown = ze_error("zeDeviceGet", 0x7abc_0001);
    assert_eq!(unknown.to_string(), "zeDeviceGet returned 0x7abc0001");
    let small = ze_error("zeCommandQueueSynchronize", ZE_RESULT_NOT_READY);
    assert!(small.to_string().ends_with("(0x00000001)"), "{small}");
}

#[test]
fn fixed_strings_stop_at_the_first_nul() {
    let mut name = [0 as c_char; 8];
    for (slot, byte) in name.iter_mut().zip(b"Arc A770") {
        *slot = *byte as c_char;
    }
    assert_eq!(fixed_string(&name), "Arc A770");
    name[3] = 0;
    assert_eq!(fixed_string(&name), "Arc");
    assert_eq!(fixed_string(&[0; 4]), "");
}

#[test]
fn group_counts_cover_every_item() {
    assert_eq!(group_counts([1 << 20, 1, 1], [64, 1, 1]), [1 << 14, 1, 1]);
    assert_eq!(group_counts([100, 1, 1], [64, 1, 1]), [2, 1, 1]);
    assert_eq!(group_counts([128, 128, 1], [16, 8, 1]), [8, 16, 1]);
    assert_eq!(group_counts([5, 1, 1], [0, 1, 1]), [5, 1, 1]);
}
