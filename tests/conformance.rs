//! The conformance suite every backend runs (issue 13): the same promises, checked the same
//! way for each backend the registry lists, with the runtimes this machine really has (PoCL,
//! lavapipe, llvmpipe, the HIP runtime, the Level Zero loader, libva; the NVIDIA ones absent).
//!
//! A test build of hwspec (feature `fault-injection`, which only the test suites enable) makes
//! the worker of one backend abort or block for good as it enters a chosen stage
//! (`HWSPEC_TEST_FAULT=BACKEND:STAGE:crash|hang`). Every backend must then give:
//! - a crash in any stage it reaches: `unusable`/`crashed` naming that stage; the devices it
//!   had listed survive a crash in the kernel stage (the partial report; after a re-probe of
//!   each driver, each such device carries the crash as its reason), and nothing is ever
//!   `validated` by a worker that crashed;
//! - a hang in any stage it reaches: `unusable`/`timeout` naming that stage, within the stage's
//!   deadline (the harness bounds the whole run and checks nothing is left running);
//! - stages in order: a backend that validated a device reached enumerate and kernel, one
//!   that listed devices reached enumerate, and a stage it never reaches changes nothing;
//! - a missing runtime is `absent` (the unit suites name the library; here: a backend that is
//!   absent on this machine is absent because of its load or init stage, never later).

#[path = "support/mod.rs"]
mod support;

use std::thread;

use hwspec_core::model::BackendName;
use serde_json::Value;
use support::backend;
use support::harness::{Probe, HANG_TIMEOUT, TIMEOUT};

const STAGES: [&str; 4] = ["load", "init", "enumerate", "kernel"];

/// The variable the test build's workers read (hwspec-core's worker.rs).
const FAULT_VAR: &str = "HWSPEC_TEST_FAULT";

/// Seconds a hanging stage is given; well under [`HANG_TIMEOUT`], so the stage's own deadline,
/// not the worker's, must end it.
const HANG_STAGE_SECONDS: f64 = 2.0;

fn devices(report: &Value) -> Vec<(String, String)> {
    report["devices"]
        .as_array()
        .map(|devices| {
            devices
                .iter()
                .map(|d| {
                    (
                        d["name"].as_str().unwrap_or_default().to_owned(),
                        d["status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the suite for `name` and returns the stages it was seen to reach.
fn conform(name: BackendName) -> Vec<&'static str> {
    let b = name.as_str();
    let probe = |case: &str, timeout: f64| {
        Probe::new(&format!("conformance-{b}-{case}"), b, timeout)
            .arg("--level")
            .arg("standard")
    };
    let baseline = probe("baseline", TIMEOUT).run();
    let baseline = backend(&baseline, b).clone();
    let baseline_status = baseline["status"].as_str().unwrap().to_owned();

    let mut reached = Vec::new();
    for stage in STAGES {
        let report = probe(&format!("crash-{stage}"), TIMEOUT)
            .env(FAULT_VAR, format!("{b}:{stage}:crash"))
            .run();
        let crashed = backend(&report, b);
        // OpenCL and Vulkan re-probe each driver after a runtime-wide failure; the re-probes
        // crash too, so the backend's own reason may name the driver rather than the stage.
        let hit = crashed["reason"]["code"] == "crashed"
            || crashed["warnings"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|w| w.as_str().unwrap_or("").contains("SIGABRT"))
            });
        if !hit {
            // Never reached: the backend ended before this stage, exactly as without a fault.
            assert_eq!(
                crashed["status"], baseline_status,
                "{b}: a fault in stage {stage}, which it never reaches, changed its report: \
                 {crashed:#}"
            );
            continue;
        }
        reached.push(stage);
        // Devices listed before the crash keep the backend `enumerated`, each saying why it
        // was not validated; otherwise the backend is unusable.
        let said_by_devices = crashed["devices"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["reason"]["code"] == "crashed"));
        assert!(
            crashed["status"] == "unusable"
                || crashed["status"] == "failed"
                || crashed["status"] == "enumerated" && said_by_devices,
            "{b}: crash in stage {stage}: {crashed:#}"
        );
        if crashed["reason"]["code"] == "crashed" {
            let message = crashed["reason"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("stage {stage}")),
                "{b}: the crash names its stage {stage}: {message}"
            );
        }
        assert!(
            devices(crashed)
                .iter()
                .all(|(_, status)| status != "validated"),
            "{b}: nothing is validated by a crashed worker: {crashed:#}"
        );
        if stage == "kernel" {
            let listed: Vec<String> = devices(&baseline).into_iter().map(|(n, _)| n).collect();
            let kept: Vec<String> = devices(crashed).into_iter().map(|(n, _)| n).collect();
            assert_eq!(
                kept, listed,
                "{b}: the partial report keeps the devices listed before the kernel stage"
            );
        }
    }

    for &stage in &reached {
        let report = probe(&format!("hang-{stage}"), HANG_TIMEOUT)
            .arg("--stage-timeout")
            .arg(&format!("{stage}={HANG_STAGE_SECONDS}"))
            .env(FAULT_VAR, format!("{b}:{stage}:hang"))
            .run();
        let hung = backend(&report, b);
        let timed_out = hung["reason"]["code"] == "timeout"
            || hung["warnings"]
                .as_array()
                .is_some_and(|w| w.iter().any(|w| w.as_str().unwrap_or("").contains("stage")));
        assert!(timed_out, "{b}: hang in stage {stage}: {hung:#}");
        if hung["reason"]["code"] == "timeout" {
            let message = hung["reason"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("stage {stage}")),
                "{b}: the timeout names its stage {stage}: {message}"
            );
        }
    }

    let listed = !devices(&baseline).is_empty();
    let validated = baseline_status == "validated";
    if listed {
        assert!(
            reached.contains(&"enumerate"),
            "{b} listed devices: {reached:?}"
        );
    }
    if validated {
        assert!(reached.contains(&"kernel"), "{b} validated: {reached:?}");
    }
    if baseline_status == "absent" {
        assert!(
            !reached.contains(&"kernel"),
            "{b} is absent here, yet reached the kernel stage: {reached:?}"
        );
    }
    reached
}

#[test]
fn every_backend_keeps_the_same_promises_at_every_stage() {
    let runs: Vec<_> = BackendName::ALL
        .iter()
        .map(|&name| (name, thread::spawn(move || conform(name))))
        .collect();
    let mut failures = Vec::new();
    for (name, run) in runs {
        match run.join() {
            Ok(reached) => eprintln!("{}: stages reached {reached:?}", name.as_str()),
            Err(_) => failures.push(name.as_str()),
        }
    }
    assert!(
        failures.is_empty(),
        "backends that broke a promise: {failures:?}"
    );
}
