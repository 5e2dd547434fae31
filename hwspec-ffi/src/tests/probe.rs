//! Probes of this machine through the built `hwspec` CLI as the worker. The test machine has
//! PoCL, so OpenCL must show up.

use std::ffi::CStr;
use std::path::PathBuf;
use std::ptr::null_mut;

use super::*;
use crate::*;

/// The `hwspec` binary of the same build profile: this test runs as
/// `target/<profile>/deps/hwspec-<hash>`.
fn built_worker() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let worker = profile_dir.join("hwspec");
    assert!(
        worker.is_file(),
        "{} is missing: run `cargo build -p hwspec-cli` (same profile) before these tests",
        worker.display()
    );
    worker
}

/// Probes with `backends`, fresh, with `worker`.
fn probe(backends: &str, worker: &std::path::Path) -> *mut hwspec_report {
    let mut options = null_mut();
    let mut report = null_mut();
    // SAFETY: every pointer passed is valid; `options` is freed before returning.
    unsafe {
        assert_eq!(hwspec_options_new(&mut options), HWSPEC_OK);
        assert_eq!(
            hwspec_options_set_backends(options, c(backends).as_ptr()),
            HWSPEC_OK
        );
        assert_eq!(hwspec_options_set_use_cache(options, false), HWSPEC_OK);
        assert_eq!(hwspec_options_set_timeout_ms(options, 60_000), HWSPEC_OK);
        let worker = c(worker.to_str().unwrap());
        assert_eq!(
            hwspec_options_set_worker(options, worker.as_ptr()),
            HWSPEC_OK
        );
        assert_eq!(
            hwspec_probe(options, &mut report),
            HWSPEC_OK,
            "{}",
            last_error()
        );
        hwspec_options_free(options);
    }
    assert!(!report.is_null());
    report
}

fn capability_names(report: *const hwspec_report) -> Vec<String> {
    let mut count = 0;
    // SAFETY: `report` is live; every out pointer is valid.
    unsafe {
        assert_eq!(
            hwspec_report_capability_count(report, &mut count),
            HWSPEC_OK
        );
        (0..count)
            .map(|i| {
                let (mut name, mut version) = (std::ptr::null(), std::ptr::null());
                assert_eq!(
                    hwspec_report_capability(report, i, &mut name, &mut version),
                    HWSPEC_OK
                );
                CStr::from_ptr(name).to_str().unwrap().to_owned()
            })
            .collect()
    }
}

#[test]
fn probing_this_machine_finds_opencl() {
    let report = probe("cpu,opencl", &built_worker());
    let names = capability_names(report);
    assert!(names.iter().any(|n| n == "cpu"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "opencl"),
        "PoCL is installed: {names:?}"
    );
    let mut has = false;
    let mut json = null_mut();
    // SAFETY: `report` is live; every out pointer is valid; freed once at the end.
    unsafe {
        assert_eq!(
            hwspec_report_has(
                report,
                c("opencl").as_ptr(),
                c(">=").as_ptr(),
                c("1.2").as_ptr(),
                &mut has
            ),
            HWSPEC_OK
        );
        assert!(has);
        assert_eq!(hwspec_report_json(report, &mut json), HWSPEC_OK);
    }
    let json: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    assert_eq!(json["schema"], 2);
    assert_eq!(json["level"], "standard");
    assert_eq!(json["cache"]["hit"], false);
    let opencl = &json["backends"][1]["devices"][0];
    assert_eq!(opencl["validations"][0]["kind"], "saxpy", "{opencl:#}");
    assert_eq!(opencl["validations"][0]["passed"], true, "{opencl:#}");
    let backends: Vec<&str> = json["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(backends, ["cpu", "opencl"]);
    let (satisfied, explanation, _) = check(report, "opencl, cuda");
    assert!(!satisfied);
    assert!(explanation.contains("[yes] opencl"), "{explanation}");
    // SAFETY: freed once.
    unsafe { hwspec_report_free(report) };
}

#[test]
fn a_missing_worker_is_a_reason_in_the_report_not_an_error() {
    let report = probe("opencl", std::path::Path::new("/nonexistent/hwspec-worker"));
    let names = capability_names(report);
    assert!(!names.iter().any(|n| n == "opencl"), "{names:?}");
    let mut json = null_mut();
    // SAFETY: `report` is live; freed once.
    unsafe {
        assert_eq!(hwspec_report_json(report, &mut json), HWSPEC_OK);
        hwspec_report_free(report);
    }
    let json = take(json);
    assert!(json.contains("/nonexistent/hwspec-worker"), "{json}");
}
