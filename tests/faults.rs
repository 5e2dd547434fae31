//! Fault injection (issue 4, design §3, §4, §7): vendor runtimes that hang, crash, exit, spew,
//! fork or lie, put in front of the real libraries with `LD_LIBRARY_PATH`, `OCL_ICD_VENDORS` and
//! `VK_DRIVER_FILES`, and callers with a hostile environment. Every case checks the promise made
//! to a buildd: `hwspec probe` returns within its deadline plus one second, exits 0, gives the
//! affected backend the documented state and reason, reports the others as usual, writes
//! nothing but its own JSON to stdout, and leaves no process behind.
//!
//! `docs/reliability.md` is the matrix of these cases; a test below keeps it complete.
//!
//! The tests run as root on CI, where hwspec drops loader variables from its workers'
//! environment unless told `--trust-env`, so every case that injects through the environment
//! passes it.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hwspec_core::model::BackendName;
use serde_json::Value;
use support::harness::*;
use support::{backend, compile_shared_object, scratch_dir};

// ---------------------------------------------------------------------------------------------
// CUDA: a fake libcuda.so.1 whose cuInit misbehaves.

const CUDA_BACKENDS: &str = "cpu,opencl,vulkan,cuda";

fn cuda_fault(name: &str, fault: &str, timeout: f64) -> Probe {
    Probe::new(name, CUDA_BACKENDS, timeout)
        .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
        .env("CUDA_HWSPEC_FAULT", fault)
}

/// Runs cuInit with `fault` and checks the CUDA backend's state, reason and loaded library,
/// and that the other backends are unaffected. Returns the report.
fn check_cuda_fault(name: &str, fault: &str, timeout: f64, status: &str, code: &str) -> Value {
    let report = cuda_fault(name, fault, timeout).run();
    assert_backend(&report, "cuda", status, Some(code));
    if worker_reported(code) {
        let cuda = backend(&report, "cuda");
        let fake = fixtures().cuda_dir.join("libcuda.so.1");
        assert_eq!(
            cuda["library"].as_str(),
            Some(fake.to_str().unwrap()),
            "the report names the library loaded: {cuda:#}"
        );
    }
    assert_software_devices_validated(&report);
    report
}

#[test]
fn cuda_init_that_hangs_times_out_in_stage_init() {
    let name = "cuda_init_that_hangs_times_out_in_stage_init";
    let report = check_cuda_fault(name, "hang", HANG_TIMEOUT, "unusable", "timeout");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("stage init"), "{message}");
}

#[test]
fn cuda_init_no_device_is_absent() {
    let name = "cuda_init_no_device_is_absent";
    check_cuda_fault(name, "code:100", TIMEOUT, "absent", "no-device");
}

#[test]
fn cuda_init_stub_library_is_named() {
    let name = "cuda_init_stub_library_is_named";
    let report = check_cuda_fault(name, "code:34", TIMEOUT, "unusable", "stub-library");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("libcuda.so.1"), "{message}");
}

#[test]
fn cuda_init_803_is_compat_refused() {
    let name = "cuda_init_803_is_compat_refused";
    check_cuda_fault(name, "code:803", TIMEOUT, "unusable", "compat-refused");
}

#[test]
fn cuda_init_804_is_compat_refused() {
    let name = "cuda_init_804_is_compat_refused";
    check_cuda_fault(name, "code:804", TIMEOUT, "unusable", "compat-refused");
}

#[test]
fn cuda_init_999_without_device_nodes_is_missing_device_node() {
    assert!(
        !Path::new("/dev/nvidiactl").exists(),
        "this case models a machine without NVIDIA device nodes"
    );
    let name = "cuda_init_999_without_device_nodes_is_missing_device_node";
    let report = check_cuda_fault(name, "code:999", TIMEOUT, "unusable", "missing-device-node");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("/dev/nvidia"), "{message}");
}

#[test]
fn cuda_init_that_segfaults_is_crashed() {
    let name = "cuda_init_that_segfaults_is_crashed";
    let report = check_cuda_fault(name, "segv", TIMEOUT, "unusable", "crashed");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("SIGSEGV"), "{message}");
    assert!(message.contains("stage init"), "{message}");
}

#[test]
fn cuda_init_that_aborts_is_crashed() {
    let name = "cuda_init_that_aborts_is_crashed";
    let report = check_cuda_fault(name, "abort", TIMEOUT, "unusable", "crashed");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("SIGABRT"), "{message}");
}

#[test]
fn cuda_init_that_exits_0_is_partial_output() {
    let name = "cuda_init_that_exits_0_is_partial_output";
    let report = check_cuda_fault(name, "exit0", TIMEOUT, "unusable", "partial-output");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("stage init"), "{message}");
}

#[test]
fn cuda_init_spewing_10_mb_to_stdout_is_contained() {
    let name = "cuda_init_spewing_10_mb_to_stdout_is_contained";
    // Run::run checks that none of the 10 MB reached the caller.
    check_cuda_fault(name, "spew", TIMEOUT, "absent", "no-device");
}

#[test]
fn cuda_grandchild_holding_the_pipe_is_killed() {
    let name = "cuda_grandchild_holding_the_pipe_is_killed";
    // The report arrives although the grandchild keeps the pipe open (a wait for end of file
    // would have ended in a timeout), and Run::run checks the grandchild is gone.
    let report = check_cuda_fault(name, "fork", TIMEOUT, "absent", "no-device");
    assert!(warnings(&report, "cuda").is_empty(), "{report:#}");
}

/// The worker leaves with `_exit` after its report (design §3), so exit-time code in a vendor
/// library never runs: no crash, no hang, no warning.
fn check_exit_time_code_never_runs(name: &str, fault: &str) {
    let report = check_cuda_fault(name, fault, TIMEOUT, "absent", "no-device");
    assert!(warnings(&report, "cuda").is_empty(), "{report:#}");
}

#[test]
fn cuda_atexit_handler_that_crashes_never_runs() {
    let name = "cuda_atexit_handler_that_crashes_never_runs";
    check_exit_time_code_never_runs(name, "atexit-crash");
}

#[test]
fn cuda_atexit_handler_that_hangs_never_runs() {
    let name = "cuda_atexit_handler_that_hangs_never_runs";
    check_exit_time_code_never_runs(name, "atexit-hang");
}

#[test]
fn cuda_destructor_that_crashes_never_runs() {
    let name = "cuda_destructor_that_crashes_never_runs";
    check_exit_time_code_never_runs(name, "dtor-crash");
}

#[test]
fn cuda_destructor_that_hangs_never_runs() {
    let name = "cuda_destructor_that_hangs_never_runs";
    check_exit_time_code_never_runs(name, "dtor-hang");
}

/// A stage deadline ends a hang long before the overall one (issue 4 item 3).
#[test]
fn cuda_stage_timeout_ends_a_hang_in_its_stage() {
    let name = "cuda_stage_timeout_ends_a_hang_in_its_stage";
    let stage_timeout = 2.0;
    let mut probe = Probe::new(name, "cpu,cuda", 60.0)
        .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
        .env("CUDA_HWSPEC_FAULT", "hang")
        .arg("--stage-timeout")
        .arg(&format!("init={stage_timeout}"));
    // Loading the fake library before stage init takes milliseconds; the bound is the stage
    // deadline plus one second, not the overall 60 s.
    probe.deadline = stage_timeout;
    let report = probe.run();
    assert_backend(&report, "cuda", "unusable", Some("timeout"));
    let message = reason_message(&report, "cuda");
    assert!(message.contains("stage init"), "{message}");
    assert_backend(&report, "cpu", "validated", None);
}

#[test]
fn stage_timeout_usage_errors_exit_2() {
    let accepted = support::hwspec(
        &[
            "probe",
            "--json",
            "--backend",
            "cpu",
            "--stage-timeout",
            "load=5",
            "--stage-timeout",
            "kernel=2.5",
        ],
        &[],
    );
    assert_eq!(accepted.code, Some(0), "{accepted:?}");
    for bad in ["warp=1", "init=0", "init=-1", "init", "init=soon", "=3"] {
        let run = support::hwspec(&["probe", "--stage-timeout", bad], &[]);
        assert_eq!(run.code, Some(2), "--stage-timeout {bad}: {run:?}");
        assert!(run.stdout.is_empty(), "--stage-timeout {bad}");
        assert!(!run.stderr.is_empty(), "--stage-timeout {bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// HIP: a fake libamdhip64.so.5 whose hipGetDeviceCount misbehaves.

fn check_hip_fault(name: &str, fault: &str, timeout: f64, code: &str) -> Value {
    let report = Probe::new(name, "cpu,opencl,vulkan,hip", timeout)
        .env("LD_LIBRARY_PATH", &fixtures().hip_dir)
        .env("HIP_HWSPEC_FAULT", fault)
        .run();
    assert_backend(&report, "hip", "unusable", Some(code));
    if worker_reported(code) {
        let hip = backend(&report, "hip");
        let fake = fixtures().hip_dir.join("libamdhip64.so.5");
        assert_eq!(
            hip["library"].as_str(),
            Some(fake.to_str().unwrap()),
            "{hip:#}"
        );
    }
    assert_software_devices_validated(&report);
    report
}

#[test]
fn hip_device_count_that_hangs_times_out() {
    let name = "hip_device_count_that_hangs_times_out";
    let report = check_hip_fault(name, "hang", HANG_TIMEOUT, "timeout");
    let message = reason_message(&report, "hip");
    assert!(message.contains("stage init"), "{message}");
}

#[test]
fn hip_device_count_error_is_driver_error() {
    let name = "hip_device_count_error_is_driver_error";
    let report = check_hip_fault(name, "error", TIMEOUT, "driver-error");
    let message = reason_message(&report, "hip");
    assert!(
        message.contains("hipGetDeviceCount") && message.contains("999"),
        "{message}"
    );
}

#[test]
fn hip_device_count_that_segfaults_is_crashed() {
    let name = "hip_device_count_that_segfaults_is_crashed";
    let report = check_hip_fault(name, "segv", TIMEOUT, "crashed");
    let message = reason_message(&report, "hip");
    assert!(message.contains("SIGSEGV"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// OpenCL: a vendors directory with a faulty ICD next to a copy of the real pocl.icd.

/// A fresh vendors directory holding a copy of pocl.icd and the `.icd` files `extra`
/// (file name, contents). Returns the directory.
fn vendors_dir(name: &str, extra: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::copy(POCL_ICD, dir.join("pocl.icd")).expect("PoCL's ICD file (pocl-opencl-icd)");
    for (file, contents) in extra {
        std::fs::write(dir.join(file), contents).unwrap();
    }
    dir
}

fn icd_naming(library: &Path) -> Vec<u8> {
    format!("{}\n", library.display()).into_bytes()
}

fn opencl_fault(name: &str, extra: &[(&str, Vec<u8>)], timeout: f64) -> (Probe, PathBuf) {
    let dir = vendors_dir(name, extra);
    let probe = Probe::new(name, CUDA_BACKENDS, timeout).env("OCL_ICD_VENDORS", &dir);
    (probe, dir)
}

/// The warning that names `icd` in the OpenCL report, if any.
fn warning_naming(report: &Value, icd: &Path) -> Option<String> {
    let prefix = format!("OpenCL ICD {}", icd.display());
    warnings(report, "opencl")
        .into_iter()
        .find(|w| w.starts_with(&prefix))
}

/// OpenCL validated on PoCL, the culprit `icd` named in a warning that contains `words`, and
/// the other backends as usual.
fn assert_icd_named(report: &Value, icd: &Path, words: &[&str]) {
    assert_software_devices_validated(report);
    let warning = warning_naming(report, icd).unwrap_or_else(|| {
        panic!(
            "no warning names {}: {:#}",
            icd.display(),
            backend(report, "opencl")
        )
    });
    for word in words {
        assert!(warning.contains(word), "{word:?} not in {warning:?}");
    }
    assert_backend(report, "cuda", "absent", Some("library-not-found"));
}

#[test]
fn opencl_empty_vendors_dir_is_absent() {
    let name = "opencl_empty_vendors_dir_is_absent";
    let dir = scratch_dir(name);
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("OCL_ICD_VENDORS", &dir)
        .run();
    assert_backend(&report, "opencl", "absent", Some("no-device"));
    assert_backend(&report, "cpu", "validated", None);
    assert_backend(&report, "vulkan", "validated", None);
}

#[test]
fn opencl_icd_naming_a_missing_library_is_named() {
    let name = "opencl_icd_naming_a_missing_library_is_named";
    let missing = "/nonexistent/libhwspec-missing-icd.so";
    let (probe, dir) = opencl_fault(
        name,
        &[("missing.icd", format!("{missing}\n").into_bytes())],
        TIMEOUT,
    );
    let report = probe.run();
    let icd = dir.join("missing.icd");
    assert_icd_named(&report, &icd, &[missing, "cannot be loaded"]);
}

#[test]
fn opencl_icd_with_garbage_contents_is_named() {
    let name = "opencl_icd_with_garbage_contents_is_named";
    let garbage = b"\x7f\x00\xffnot a library path \x01\x02\n\xfe\xfd".to_vec();
    let (probe, dir) = opencl_fault(name, &[("garbage.icd", garbage)], TIMEOUT);
    let report = probe.run();
    assert_icd_named(&report, &dir.join("garbage.icd"), &["cannot be loaded"]);
}

#[test]
fn opencl_icd_naming_a_garbage_library_is_named() {
    let name = "opencl_icd_naming_a_garbage_library_is_named";
    let dir = scratch_dir(&format!("{name}-lib"));
    let library = dir.join("libhwspec_garbage_icd.so");
    std::fs::write(&library, b"this is not an ELF shared object\n").unwrap();
    let (probe, vendors) = opencl_fault(name, &[("garbage.icd", icd_naming(&library))], TIMEOUT);
    let report = probe.run();
    assert_icd_named(
        &report,
        &vendors.join("garbage.icd"),
        &[library.to_str().unwrap(), "cannot be loaded"],
    );
}

#[test]
fn opencl_icd_that_segfaults_is_isolated() {
    let name = "opencl_icd_that_segfaults_is_isolated";
    let icd = icd_naming(&fixtures().icd_segv);
    let (probe, dir) = opencl_fault(name, &[("segv.icd", icd)], TIMEOUT);
    let report = probe.rounds(2).run();
    assert_icd_named(&report, &dir.join("segv.icd"), &["crashed", "SIGSEGV"]);
}

#[test]
fn opencl_icd_that_hangs_is_isolated() {
    let name = "opencl_icd_that_hangs_is_isolated";
    let icd = icd_naming(&fixtures().icd_hang);
    let (probe, dir) = opencl_fault(name, &[("hang.icd", icd)], HANG_TIMEOUT);
    let report = probe.rounds(2).run();
    assert_icd_named(&report, &dir.join("hang.icd"), &["timeout"]);
}

#[test]
fn opencl_icd_that_crashes_at_unload_never_unloads() {
    let name = "opencl_icd_that_crashes_at_unload_never_unloads";
    let icd = icd_naming(&fixtures().icd_unload_crash);
    let (probe, _) = opencl_fault(name, &[("unload.icd", icd)], TIMEOUT);
    let report = probe.run();
    // The worker leaves with _exit: the destructor never runs, so nothing crashed; the one
    // warning is the platform without devices, named as every such platform is.
    assert_software_devices_validated(&report);
    let named = warnings(&report, "opencl");
    assert_eq!(named.len(), 1, "{report:#}");
    assert!(
        named[0].starts_with(&format!("OpenCL platform \"{ZERO_DEVICE_PLATFORM}\"")),
        "{named:?}"
    );
    let platforms = backend(&report, "opencl")["properties"]["platforms"].to_string();
    assert!(platforms.contains(ZERO_DEVICE_PLATFORM), "{platforms}");
}

#[test]
fn opencl_icd_with_zero_devices_is_listed() {
    let name = "opencl_icd_with_zero_devices_is_listed";
    let icd = icd_naming(&fixtures().icd_zero_devices);
    let (probe, _) = opencl_fault(name, &[("zero.icd", icd)], TIMEOUT);
    let report = probe.run();
    assert_software_devices_validated(&report);
    let platforms = backend(&report, "opencl")["properties"]["platforms"].to_string();
    assert!(platforms.contains(ZERO_DEVICE_PLATFORM), "{platforms}");
    assert!(
        platforms.contains("Portable Computing Language"),
        "{platforms}"
    );
    let named = warnings(&report, "opencl");
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(
        named[0].starts_with(&format!("OpenCL platform \"{ZERO_DEVICE_PLATFORM}\" (ICD "))
            && named[0].contains("zero.icd")
            && named[0].contains("lists no device"),
        "{named:?}"
    );
}

/// Design §7, issue 4 item 5: as root, loader variables from the caller do not reach workers
/// unless `--trust-env` is given, and the report lists the ones dropped.
#[test]
fn root_drops_loader_variables_without_trust_env() {
    let name = "root_drops_loader_variables_without_trust_env";
    let empty = scratch_dir(name);
    let report = Probe::new(name, "cpu,opencl", TIMEOUT)
        .untrusted_env()
        .env("OCL_ICD_VENDORS", &empty)
        .run();
    if report["host"]["root"] != true {
        eprintln!("{name}: not running as root, so nothing is dropped; skipping the root checks");
        return;
    }
    assert_opencl_validated_on_pocl(&report);
    let dropped: BTreeSet<&str> = report["host"]["dropped_environment"]
        .as_array()
        .unwrap_or_else(|| panic!("host.dropped_environment: {:#}", report["host"]))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(dropped.contains("OCL_ICD_VENDORS"), "{dropped:?}");
    assert!(
        report["host"]["environment"]
            .get("OCL_ICD_VENDORS")
            .is_none(),
        "{:#}",
        report["host"]
    );
}

// ---------------------------------------------------------------------------------------------
// Vulkan: a bad driver manifest next to lavapipe's, and a crashing implicit layer.

fn vulkan_with_manifest(name: &str, manifest: &str) -> Value {
    let dir = scratch_dir(name);
    let bad = dir.join("bad_icd.json");
    std::fs::write(&bad, manifest).unwrap();
    Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env(
            "VK_DRIVER_FILES",
            format!("{}:{LAVAPIPE_MANIFEST}", bad.display()),
        )
        .run()
}

#[test]
fn vulkan_manifest_naming_a_missing_library_is_skipped() {
    let name = "vulkan_manifest_naming_a_missing_library_is_skipped";
    let report = vulkan_with_manifest(
        name,
        r#"{"file_format_version": "1.0.0",
            "ICD": {"api_version": "1.3.0", "library_path": "/nonexistent/libhwspec_vk.so"}}"#,
    );
    assert_software_devices_validated(&report);
    let named = warnings(&report, "vulkan");
    assert!(
        named.iter().any(|w| w.starts_with("Vulkan driver manifest")
            && w.contains("/nonexistent/libhwspec_vk.so")
            && w.contains("cannot be loaded")),
        "{named:?}"
    );
}

#[test]
fn vulkan_malformed_manifest_does_not_hide_lavapipe() {
    let name = "vulkan_malformed_manifest_does_not_hide_lavapipe";
    let report = vulkan_with_manifest(name, r#"{ "ICD": { "library_path": "#);
    let (status, code) = status_and_code(&report, "vulkan");
    assert!(
        status == "validated",
        "Vulkan is {status} ({code}): loader 1.3.239 fails vkCreateInstance with \
         ERROR_OUT_OF_HOST_MEMORY when any manifest is not JSON (KhronosGroup/Vulkan-Loader#1324), \
         so lavapipe is reported only if hwspec isolates the manifests: {:#}",
        backend(&report, "vulkan")
    );
    assert_software_devices_validated(&report);
    let named = warnings(&report, "vulkan");
    assert!(
        named
            .iter()
            .any(|w| w.starts_with("Vulkan driver manifest") && w.contains("not valid JSON")),
        "{named:?}"
    );
    assert!(
        backend(&report, "vulkan")["properties"]["isolation"].is_string(),
        "each manifest was probed alone: {:#}",
        backend(&report, "vulkan")
    );
}

/// A home directory whose only content is an implicit Vulkan layer that segfaults, found by
/// the loader under `$HOME/.local/share/vulkan/implicit_layer.d`.
fn home_with_crashing_layer(name: &str) -> PathBuf {
    let home = scratch_dir(name).join("home");
    let layers = home.join(".local/share/vulkan/implicit_layer.d");
    std::fs::create_dir_all(&layers).unwrap();
    let manifest = serde_json::json!({
        "file_format_version": "1.1.2",
        "layer": {
            "name": "VK_LAYER_HWSPEC_crash",
            "type": "GLOBAL",
            "library_path": fixtures().crashing_layer,
            "api_version": "1.3.239",
            "implementation_version": "1",
            "description": "hwspec fault fixture: segfaults when loaded",
            "disable_environment": {"HWSPEC_TEST_NO_CRASH_LAYER": "1"}
        }
    });
    std::fs::write(layers.join("hwspec_crash.json"), manifest.to_string()).unwrap();
    home
}

#[test]
fn vulkan_crashing_implicit_layer_is_not_loaded() {
    let name = "vulkan_crashing_implicit_layer_is_not_loaded";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("HOME", home_with_crashing_layer(name))
        .env("VK_DRIVER_FILES", LAVAPIPE_MANIFEST)
        .run();
    assert_software_devices_validated(&report);
}

/// The control for the case above: the layer does crash Vulkan when the caller makes its own
/// layer choice, which hwspec respects instead of disabling implicit layers.
#[test]
fn vulkan_crashing_layer_crashes_when_the_caller_enables_it() {
    let name = "vulkan_crashing_layer_crashes_when_the_caller_enables_it";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("HOME", home_with_crashing_layer(name))
        .env("VK_DRIVER_FILES", LAVAPIPE_MANIFEST)
        .env("VK_LOADER_LAYERS_ENABLE", "VK_LAYER_HWSPEC_crash")
        .run();
    assert_backend(&report, "vulkan", "unusable", Some("crashed"));
    let message = reason_message(&report, "vulkan");
    assert!(message.contains("SIGSEGV"), "{message}");
    assert_backend(&report, "cpu", "validated", None);
    assert_opencl_validated_on_pocl(&report);
}

// ---------------------------------------------------------------------------------------------
// EGL: a libglvnd vendor library in Mesa's place whose __egl_Main never returns.

#[test]
fn egl_vendor_that_hangs_times_out_in_stage_init() {
    let name = "egl_vendor_that_hangs_times_out_in_stage_init";
    let report = Probe::new(name, "cpu,opencl,vulkan,egl", HANG_TIMEOUT)
        .env("LD_LIBRARY_PATH", &fixtures().egl_dir)
        .run();
    assert_backend(&report, "egl", "unusable", Some("timeout"));
    let message = reason_message(&report, "egl");
    assert!(message.contains("stage init"), "{message}");
    assert_software_devices_validated(&report);
}

// ---------------------------------------------------------------------------------------------
// The caller's environment.

fn check_cuda_visible_devices_without_libcuda(name: &str, value: &str) {
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("CUDA_VISIBLE_DEVICES", value)
        .run();
    assert_backend(&report, "cuda", "absent", Some("library-not-found"));
    assert_eq!(
        report["host"]["environment"]["CUDA_VISIBLE_DEVICES"], value,
        "the report shows the variable: {:#}",
        report["host"]
    );
    assert_software_devices_validated(&report);
}

#[test]
fn cuda_visible_devices_empty_without_libcuda() {
    check_cuda_visible_devices_without_libcuda("cuda_visible_devices_empty_without_libcuda", "");
}

#[test]
fn cuda_visible_devices_minus_one_without_libcuda() {
    let name = "cuda_visible_devices_minus_one_without_libcuda";
    check_cuda_visible_devices_without_libcuda(name, "-1");
}

#[test]
fn cuda_visible_devices_duplicate_without_libcuda() {
    let name = "cuda_visible_devices_duplicate_without_libcuda";
    check_cuda_visible_devices_without_libcuda(name, "0,0");
}

/// With a libcuda that answers an empty or `-1` list with "no device", as the real one does,
/// on a machine without GPU nodes that is `no-device`, not `hidden-by-env`.
fn check_cuda_visible_devices_hiding_all(name: &str, value: &str) {
    let report = cuda_fault(name, "visible", TIMEOUT)
        .env("CUDA_VISIBLE_DEVICES", value)
        .run();
    assert_backend(&report, "cuda", "absent", Some("no-device"));
    assert_software_devices_validated(&report);
}

#[test]
fn cuda_visible_devices_empty_with_fake_libcuda() {
    check_cuda_visible_devices_hiding_all("cuda_visible_devices_empty_with_fake_libcuda", "");
}

#[test]
fn cuda_visible_devices_minus_one_with_fake_libcuda() {
    let name = "cuda_visible_devices_minus_one_with_fake_libcuda";
    check_cuda_visible_devices_hiding_all(name, "-1");
}

#[test]
fn home_pointing_nowhere() {
    let name = "home_pointing_nowhere";
    let report = Probe::new(name, "cpu,opencl,vulkan,cuda,hip", TIMEOUT)
        .env("HOME", "/nonexistent/hwspec-home")
        .run();
    assert_software_devices_validated(&report);
    assert_backend(&report, "cuda", "absent", Some("library-not-found"));
    assert_backend(&report, "hip", "absent", Some("no-device"));
}

/// PoCL lists no device, silently, when its cache directory is not writable (design §7);
/// hwspec gives it its own driver cache instead. A directory below a regular file is
/// unwritable even for root, which ignores permission bits.
#[test]
fn unwritable_pocl_cache_dir_is_overridden() {
    let name = "unwritable_pocl_cache_dir_is_overridden";
    let dir = scratch_dir(name);
    std::fs::write(dir.join("file"), b"").unwrap();
    let unwritable = dir.join("file/pocl-cache");
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("POCL_CACHE_DIR", &unwritable)
        .run();
    assert_software_devices_validated(&report);
    let used = report["host"]["environment"]["POCL_CACHE_DIR"].as_str();
    assert_ne!(used, unwritable.to_str(), "{:#}", report["host"]);
}

#[test]
fn closed_stdin_stdout_and_stderr() {
    let name = "closed_stdin_stdout_and_stderr";
    let output = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .through_shell(r#"exec "$@" <&- >&- 2>&-"#)
        .run_raw();
    // Nothing can be read back; the documented outcome is success, in bounded time, with
    // no process left behind (checked by run_raw).
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.is_empty());
}

#[test]
fn closed_stdin_and_stderr_still_report() {
    let name = "closed_stdin_and_stderr_still_report";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .through_shell(r#"exec "$@" <&- 2>&-"#)
        .run();
    assert_software_devices_validated(&report);
}

/// A caller that ignores SIGCHLD passes that on through exec; children are then reaped by the
/// kernel and waitpid fails, in hwspec and in the runtimes (PoCL waits for its linker).
#[test]
fn ignored_sigchld_in_the_caller() {
    let name = "ignored_sigchld_in_the_caller";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .through_shell(r#"trap '' CHLD; exec "$@""#)
        .run();
    assert_software_devices_validated(&report);
    // Nothing about workers (a reaped child, a missing exit status); drivers that found no
    // device on this machine (Mesa's Intel and AMD Vulkan drivers) are named as always.
    for b in report["backends"].as_array().unwrap() {
        for warning in b["warnings"].as_array().unwrap() {
            let warning = warning.as_str().unwrap();
            assert!(
                warning.starts_with("Vulkan driver manifest ")
                    && warning.ends_with("the driver loaded and reported no physical device"),
                "{b:#}"
            );
        }
    }
}

/// A program linking hwspec with 50 busy threads (each taking a shared lock and allocating,
/// so that some thread always holds the allocator's and the lock's state) starts its workers
/// with exec, never fork alone, and gets a correct report.
#[test]
fn fifty_busy_threads_in_the_caller() {
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let stop = Arc::clone(&stop);
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    {
                        let mut held = shared.lock().unwrap();
                        held.push(vec![i as u8; 4096 + i]);
                        if held.len() > 64 {
                            held.clear();
                        }
                    }
                    // Busy, but not so greedy that two cores cannot run the workers.
                    thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let mut options = hwspec_core::ProbeOptions::new(hwspec_core::WorkerCommand::hwspec(env!(
        "CARGO_BIN_EXE_hwspec"
    )));
    options.backends = vec![BackendName::Cpu, BackendName::Opencl, BackendName::Vulkan];
    options.deadlines.total = Duration::from_secs_f64(TIMEOUT);
    let started = Instant::now();
    let report = hwspec_core::probe(&options);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        elapsed <= Duration::from_secs_f64(TIMEOUT + 1.0),
        "took {elapsed:?}"
    );
    let report = serde_json::to_value(&report).unwrap();
    assert_backend(&report, "cpu", "validated", None);
    assert_opencl_validated_on_pocl(&report);
    assert_backend(&report, "vulkan", "validated", None);
}

// ---------------------------------------------------------------------------------------------
// Everything at once.

/// Every driver fault at once: a hanging, a segfaulting and a missing-library ICD next to
/// pocl.icd, a manifest naming a missing library and a crashing implicit layer next to
/// lavapipe, a hanging libcuda and a segfaulting libamdhip64. Run twice at the same time: with
/// `HOME` pointing nowhere (as sbuild does) and with `HOME` holding the crashing layer (the
/// Vulkan loader finds implicit layers only through `HOME` in a worker's environment, so one
/// run cannot have both).
#[test]
fn hostile_run_still_reports_pocl_and_lavapipe() {
    let name = "hostile_run_still_reports_pocl_and_lavapipe";
    let f = fixtures();
    let vendors = vendors_dir(
        name,
        &[
            ("hang.icd", icd_naming(&f.icd_hang)),
            ("segv.icd", icd_naming(&f.icd_segv)),
            (
                "missing.icd",
                b"/nonexistent/libhwspec-missing-icd.so\n".to_vec(),
            ),
        ],
    );
    let missing_manifest = scratch_dir(&format!("{name}-vk")).join("missing_icd.json");
    std::fs::write(
        &missing_manifest,
        r#"{"file_format_version": "1.0.0",
            "ICD": {"api_version": "1.3.0", "library_path": "/nonexistent/libhwspec_vk.so"}}"#,
    )
    .unwrap();
    let library_path = format!("{}:{}", f.cuda_dir.display(), f.hip_dir.display());
    let hostile = |run: &str, home: &Path| {
        Probe::new(
            &format!("{name}-{run}"),
            "cpu,opencl,vulkan,cuda,hip,level_zero",
            HANG_TIMEOUT,
        )
        .rounds(2)
        .env("OCL_ICD_VENDORS", &vendors)
        .env(
            "VK_DRIVER_FILES",
            format!("{}:{LAVAPIPE_MANIFEST}", missing_manifest.display()),
        )
        .env("LD_LIBRARY_PATH", &library_path)
        .env("CUDA_HWSPEC_FAULT", "hang")
        .env("HIP_HWSPEC_FAULT", "segv")
        .env("HOME", home)
    };
    let layered_home = home_with_crashing_layer(&format!("{name}-home"));
    let homeless = hostile("homeless", Path::new("/nonexistent/hwspec-home"));
    let layered = hostile("layered", &layered_home);
    let other = thread::spawn(move || layered.run());
    let reports = [homeless.run(), other.join().unwrap()];
    for report in &reports {
        assert_software_devices_validated(report);
        assert!(warning_naming(report, &vendors.join("hang.icd")).is_some());
        assert!(warning_naming(report, &vendors.join("segv.icd")).is_some());
        assert!(warning_naming(report, &vendors.join("missing.icd")).is_some());
        assert_backend(report, "cuda", "unusable", Some("timeout"));
        assert_backend(report, "hip", "unusable", Some("crashed"));
        assert_eq!(status_and_code(report, "level_zero").0, "absent");
    }
}

// ---------------------------------------------------------------------------------------------
// VA-API: a libva driver that segfaults in its init function.
//
// This machine has no DRM device, and libva opens a driver only for a DRM fd. So the probe runs
// in a private user and mount namespace where `/dev/dri/renderD128` exists (it is `/dev/null`,
// made to look like a DRM node to libdrm by a `device/drm` entry under a private
// `/sys/dev/char/1:3`), and where libva's own driver directory holds the fixture driver. The
// kernel's answer to DRM_IOCTL_VERSION, which names the driver, cannot be faked by files, so a
// `drmGetVersion` shim comes in through `LD_PRELOAD`. hwspec, its worker, libva and its driver
// loading are the real ones, found where they are on a real machine.

/// Run by `unshare` before hwspec: builds the namespace described above, then execs hwspec.
const VAAPI_NAMESPACE_SETUP: &str = r#"
set -e
S=$HWSPEC_VAAPI_SCRATCH
mkdir -p "$S/olddev" "$S/char" "$S/drivers"
for entry in /sys/dev/char/*; do ln -s "$(readlink -f "$entry")" "$S/char/${entry##*/}"; done
rm -f "$S/char/1:3"
mkdir -p "$S/char/1:3/device/drm"
mount --bind "$S/char" /sys/dev/char
mount --rbind /dev "$S/olddev"
mount -t tmpfs tmpfs /dev
for node in null zero full random urandom tty; do
    touch "/dev/$node"
    mount --bind "$S/olddev/$node" "/dev/$node"
done
mkdir /dev/shm /dev/pts /dev/dri
mount --rbind "$S/olddev/shm" /dev/shm
ln -s /proc/self/fd /dev/fd
touch /dev/dri/renderD128
mount --bind "$S/olddev/null" /dev/dri/renderD128
cp "$HWSPEC_VAAPI_DRIVER" "$S/drivers/"
mount --bind "$S/drivers" "$HWSPEC_VAAPI_DRIVER_DIR"
exec "$@"
"#;

/// libva 2.17's compiled-in driver directory on Debian amd64.
const LIBVA_DRIVER_DIR: &str = "/usr/lib/x86_64-linux-gnu/dri";

#[test]
fn vaapi_driver_that_segfaults_in_init_is_crashed() {
    let name = "vaapi_driver_that_segfaults_in_init_is_crashed";
    assert!(
        Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "true"])
            .status()
            .is_ok_and(|s| s.success()),
        "this case needs unprivileged user and mount namespaces (`unshare` from util-linux)"
    );
    assert!(
        Path::new(LIBVA_DRIVER_DIR).is_dir(),
        "{LIBVA_DRIVER_DIR} must exist to be replaced in the namespace (mesa-va-drivers)"
    );
    let dir = scratch_dir("vaapi-fault");
    let driver = compile_shared_object(
        &["faults/vaapi_driver.c"],
        &[],
        &dir.join("hwspec_crash_drv_video.so"),
    );
    let shim = compile_shared_object(
        &["faults/vaapi_driver.c"],
        &["VAAPI_DRM_VERSION_SHIM"],
        &dir.join("libhwspec_drm_version.so"),
    );
    let scratch = dir.join("namespace");
    std::fs::create_dir_all(&scratch).unwrap();
    let report = Probe::new(name, "cpu,opencl,vulkan,vaapi", TIMEOUT)
        .env("HWSPEC_VAAPI_SETUP", VAAPI_NAMESPACE_SETUP)
        .env("HWSPEC_VAAPI_SCRATCH", &scratch)
        .env("HWSPEC_VAAPI_DRIVER", &driver)
        .env("HWSPEC_VAAPI_DRIVER_DIR", LIBVA_DRIVER_DIR)
        .env("LD_PRELOAD", &shim)
        .through_shell(
            r#"exec unshare --user --map-root-user --mount /bin/sh -c "$HWSPEC_VAAPI_SETUP" sh "$@""#,
        )
        .run();
    assert_backend(&report, "vaapi", "unusable", Some("crashed"));
    let message = reason_message(&report, "vaapi");
    assert!(message.contains("SIGSEGV"), "{message}");
    assert!(message.contains("stage init"), "{message}");
    assert!(
        message.contains("VA-API driver init segfaults"),
        "the crash is the fixture driver's: {message}"
    );
    assert_software_devices_validated(&report);
}

// ---------------------------------------------------------------------------------------------
// The matrix stays true.

/// Every test in this file has its row in docs/reliability.md, so the matrix cannot drift
/// from what is tested.
#[test]
fn every_fault_test_is_in_the_reliability_matrix() {
    support::assert_every_test_is_documented("tests/faults.rs", "docs/reliability.md", 30);
}
