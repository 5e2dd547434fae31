//! HIP: a fake libamdhip64.so.5 whose hipGetDeviceCount misbehaves.

use super::*;

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
