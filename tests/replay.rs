//! Replays reports captured on real machines through the capability reduction.
//!
//! Each file under `tests/fixtures/reports/` is the unedited output of `hwspec probe --json`
//! on some machine (its commit message says which and with what command). Reducing its backends
//! again must give exactly the capability set the machine printed, so a change to the reduction
//! or the model that would alter a real machine's answer fails here. Files named `synthetic-*`
//! are the exception: made by hand in a real report's JSON shape, for GPUs no test machine has
//! (the exports' tests replay them), their capability sets written by `hwspec probe --json
//! --report`.

use std::path::Path;

use hwspec_core::caps;
use hwspec_core::model::{Report, SCHEMA_VERSION};

fn fixtures() -> Vec<(String, Report)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/reports");
    let mut reports: Vec<(String, Report)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let report =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                report,
            )
        })
        .collect();
    reports.sort_by(|a, b| a.0.cmp(&b.0));
    reports
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
