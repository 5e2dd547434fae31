//! Replays reports captured on real machines through the capability reduction.
//!
//! Each file under `tests/fixtures/reports/` is the unedited output of `hwspec probe --json`
//! on some machine (its commit message says which and with what command). Reducing its backends
//! again must give exactly the capability set the machine printed, so a change to the reduction
//! or the model that would alter a real machine's answer fails here. Files named `synthetic-*`
//! are the exception: made by hand in a real report's JSON shape, for GPUs no test machine has
//! (the exports' tests replay them), their capability sets written by `hwspec probe --json
//! --report`. Files captured before schema 2 stay as they were written: they are read the way
//! `--report` reads an operator's saved schema-1 report, so that path is replayed too.

use std::path::Path;

use hwspec_core::caps;
use hwspec_core::model::{BackendName, Level, Report, Status, ValidationKind, SCHEMA_VERSION};

/// Every fixture's text as written, by file name.
fn texts() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/reports");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                text,
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Every fixture as written, parsed as plain JSON.
fn raw_fixtures() -> Vec<(String, serde_json::Value)> {
    texts()
        .into_iter()
        .map(|(name, text)| {
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, json)
        })
        .collect()
}

/// Every fixture read as `--report` reads a saved report.
fn fixtures() -> Vec<(String, Report)> {
    texts()
        .into_iter()
        .map(|(name, text)| {
            let report = Report::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, report)
        })
        .collect()
}

#[test]
fn every_captured_report_reduces_to_the_capabilities_it_printed() {
    let reports = fixtures();
    assert!(!reports.is_empty(), "no captured reports");
    for (name, report) in reports {
        assert_eq!(report.schema, SCHEMA_VERSION, "{name}");
        assert_eq!(
            caps::reduce(report.level, &report.backends),
            report.capabilities,
            "{name}"
        );
    }
}

#[test]
fn software_devices_never_make_a_gpu() {
    for (name, report) in fixtures() {
        let only_software = report
            .backends
            .iter()
            .flat_map(|b| &b.devices)
            .all(|d| d.kind != hwspec_core::model::DeviceKind::Gpu);
        if only_software {
            for gpu_cap in ["gpu", "opencl-gpu", "vulkan-gpu", "gpu-count"] {
                assert!(report.capability(gpu_cap).is_none(), "{name}: {gpu_cap}");
            }
        }
    }
}

/// In every captured report a device is `validated` only with validations that all passed, and
/// one that failed a validation says which kind in its reason.
#[test]
fn validated_devices_carry_the_validations_that_proved_them() {
    for (name, report) in fixtures() {
        for device in report.backends.iter().flat_map(|b| &b.devices) {
            let what = format!("{name}: {}", device.name);
            match device.status {
                Status::Validated => {
                    assert!(!device.validations.is_empty(), "{what}");
                    assert!(device.validations.iter().all(|v| v.passed), "{what}");
                }
                Status::Failed if device.validations.iter().any(|v| !v.passed) => {
                    let reason = device.reason.as_ref().unwrap();
                    let failed = device.validations.iter().find(|v| !v.passed).unwrap();
                    assert!(reason.message.starts_with(failed.kind.name()), "{what}");
                }
                _ if report.level == Level::Quick => {
                    assert!(device.validations.is_empty(), "{what}")
                }
                _ => {}
            }
        }
    }
}

/// A schema-1 report kept its validations in `validation` and `gemm_validation`; read now,
/// each is one validation of the kind that ran, with the figures measured then.
#[test]
fn schema_1_captures_read_with_each_validation_as_its_kind() {
    let raw = raw_fixtures();
    let old: Vec<&(String, serde_json::Value)> =
        raw.iter().filter(|(_, json)| json["schema"] == 1).collect();
    assert!(!old.is_empty(), "no schema-1 capture left to replay");
    let read: std::collections::BTreeMap<String, Report> = fixtures().into_iter().collect();
    for (name, json) in old {
        let report = &read[name];
        for (backend, old_backend) in report
            .backends
            .iter()
            .zip(json["backends"].as_array().unwrap())
        {
            for (device, old_device) in backend
                .devices
                .iter()
                .zip(old_backend["devices"].as_array().unwrap())
            {
                let was: Vec<&serde_json::Value> = ["validation", "gemm_validation"]
                    .iter()
                    .map(|key| &old_device[key])
                    .filter(|v| !v.is_null())
                    .collect();
                let what = format!("{name}: {}: {}", backend.name, device.name);
                assert_eq!(device.validations.len(), was.len(), "{what}");
                for (now, was) in device.validations.iter().zip(was) {
                    let kind = match (backend.name, was["kernel"].as_str().unwrap()) {
                        (BackendName::Egl, "render" | "render-gl") => "render",
                        (BackendName::GccOffload, "saxpy") => "offload-region",
                        (_, kernel) => kernel,
                    };
                    assert_eq!(now.kind.name(), kind, "{what}");
                    assert_eq!(now.passed, was["passed"], "{what}");
                    assert_eq!(
                        now.elapsed_ms,
                        was["elapsed_ms"].as_f64().unwrap(),
                        "{what}"
                    );
                    match now.kind.compared() {
                        Some(c) => assert_eq!(c.elements, was["elements"], "{what}"),
                        None => assert!(matches!(now.kind, ValidationKind::Render(_)), "{what}"),
                    }
                }
            }
        }
    }
}
