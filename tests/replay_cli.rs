//! Replays the reports captured on real machines (`tests/fixtures/reports/`, among them the
//! runs of the real NVIDIA, Intel and Mesa user space from tests/vendor.rs and, when a GPU
//! machine was at hand, scripts/device-check.sh) through the built binary: every output
//! format, and `hwspec check --explain`, read from the saved report with `--report`. A
//! regression in rendering or judging a real machine's answer shows here without downloading
//! or probing anything.
//!
//! The formats are the ones `--format` accepts, asked of the binary itself, so a format added
//! later is replayed too; the checks are properties every rendering of a report must have, not
//! golden text.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hwspec_core::model::Report;
use serde_json::Value;
use support::{hwspec, TestRun};

/// Every captured report, and its JSON as this version writes it.
fn fixtures() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/reports");
    let mut found: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            // As this version reads it: a schema-1 capture with its validations as kinds.
            let report = Report::from_json(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p, serde_json::to_value(report).unwrap())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.len() >= 4, "{found:?}");
    found
}

/// The values `--format` accepts, from clap's own refusal of one it does not.
fn formats() -> Vec<String> {
    let run = hwspec(&["probe", "--format", "hwspec-no-such-format"], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    let list = run
        .stderr
        .split("[possible values: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no possible values in {:?}", run.stderr));
    let formats: Vec<String> = list.split(", ").map(str::to_owned).collect();
    for known in ["table", "json"] {
        assert!(formats.iter().any(|f| f == known), "{formats:?}");
    }
    formats
}

fn capabilities(report: &Value) -> Vec<(String, Option<String>)> {
    report["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `hwspec check --explain --report PATH REQUIREMENT`: a requirement judged against a saved
/// report.
fn explain(path: &Path, requirement: &str) -> TestRun {
    hwspec(
        &[
            "check",
            "--explain",
            "--report",
            path_str(path),
            requirement,
        ],
        &[],
    )
}
#[test]
fn every_captured_report_renders_in_every_format() {
    let formats = formats();
    for (path, report) in fixtures() {
        for format in &formats {
            let run = hwspec(
                &["probe", "--report", path_str(&path), "--format", format],
                &[],
            );
            let what = format!("{} as {format}", path.display());
            assert_eq!(run.code, Some(0), "{what}: {run:?}");
            // debci lists one tag per validated AMD GPU, so a machine without one prints nothing.
            if format != "debci" {
                assert!(!run.stdout.trim().is_empty(), "{what}");
            }
            assert!(run.stderr.is_empty(), "{what}: {}", run.stderr);
            match format.as_str() {
                "debci" => {
                    for tag in run.stdout.lines() {
                        let (arch, gfx) = tag
                            .split_once('+')
                            .unwrap_or_else(|| panic!("{what}: {tag}"));
                        assert!(!arch.is_empty() && gfx.starts_with("gfx"), "{what}: {tag}");
                    }
                }
                "json" => {
                    let again: Value = serde_json::from_str(&run.stdout).unwrap();
                    assert_eq!(again["backends"], report["backends"], "{what}");
                    assert_eq!(capabilities(&again), capabilities(&report), "{what}");
                }
                "table" => {
                    for backend in report["backends"].as_array().unwrap() {
                        let name = backend["name"].as_str().unwrap();
                        assert!(run.stdout.contains(name), "{what}: {name}");
                        for warning in backend["warnings"].as_array().unwrap() {
                            let warning = format!("warning: {}", warning.as_str().unwrap());
                            assert!(run.stdout.contains(&warning), "{what}: {warning}");
                        }
                    }
                    let listed = run
                        .stdout
                        .split("CAPABILITIES")
                        .nth(1)
                        .unwrap_or_else(|| panic!("{what}: no CAPABILITIES"));
                    for (name, _) in capabilities(&report) {
                        assert!(listed.contains(&name), "{what}: {name}");
                    }
                }
                // The fleet formats label nodes by capability: each one is there, and a GPU
                // label only where the report proved a GPU.
                "nfd" | "slurm" => {
                    let caps = capabilities(&report);
                    for (name, _) in &caps {
                        assert!(run.stdout.contains(name.as_str()), "{what}: {name}");
                    }
                    if !caps.iter().any(|(n, _)| n == "gpu") {
                        assert!(
                            !run.stdout.lines().any(|l| !l.starts_with('#')
                                && (l.contains("hwspec-gpu=") || l.contains(",gpu,"))),
                            "{what}: a GPU label without a GPU:\n{}",
                            run.stdout
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

/// Requirements whose verdict follows from the capability names alone.
const PLAIN_REQUIREMENTS: &[&str] = &[
    "cpu",
    "gpu",
    "opencl",
    "opencl-gpu",
    "vulkan",
    "vulkan-gpu",
    "cuda",
    "egl",
    "nvenc-h264",
    "gcc-offload-nvptx",
];

#[test]
fn every_captured_report_is_judged_and_explained_from_its_capabilities() {
    for (path, report) in fixtures() {
        let names: BTreeSet<String> = capabilities(&report).into_iter().map(|(n, _)| n).collect();
        for requirement in PLAIN_REQUIREMENTS {
            let run = explain(&path, requirement);
            let what = format!("{} against {requirement}", path.display());
            let expected = if names.contains(*requirement) { 0 } else { 1 };
            assert_eq!(run.code, Some(expected), "{what}: {run:?}");
            let verdict = if expected == 0 {
                ": satisfied"
            } else {
                ": NOT satisfied"
            };
            assert!(run.stdout.contains(verdict), "{what}: {}", run.stdout);
        }
    }
}

#[test]
fn explanations_of_the_real_vendor_run_name_the_dropped_drivers() {
    let vendor: Vec<(PathBuf, Value)> = fixtures()
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains("nvidia535"))
        .collect();
    assert!(
        !vendor.is_empty(),
        "the vendor-matrix reports are committed"
    );
    for (path, _) in vendor {
        let explain = |requirement: &str| {
            let run = explain(&path, requirement);
            assert_eq!(run.code, Some(1), "{run:?}");
            run.stdout
        };
        let vulkan = explain("vulkan-gpu");
        assert!(vulkan.contains("nvidia_icd.json"), "{vulkan}");
        assert!(
            vulkan.contains("Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr'"),
            "{vulkan}"
        );
        let opencl = explain("opencl-gpu");
        for named in ["nvidia.icd", "intel.icd", "\"Clover\"", "\"rusticl\""] {
            assert!(opencl.contains(named), "{named}: {opencl}");
        }
        let cuda = explain("cuda (>= 12.0)");
        assert!(cuda.contains("CUDA_ERROR_NO_DEVICE"), "{cuda}");
        let egl_gpu = explain("gpu");
        assert!(egl_gpu.contains("dropped drivers"), "{egl_gpu}");
    }
}

#[test]
fn a_saved_report_is_judged_by_its_evidence_not_its_claims() {
    let (path, mut report) = fixtures().swap_remove(0);
    report["capabilities"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "gpu", "version": null}));
    let dir = support::scratch_dir("replay-claims");
    let forged = dir.join("forged.json");
    std::fs::write(&forged, report.to_string()).unwrap();
    let run = hwspec(&["check", "--report", path_str(&forged), "gpu"], &[]);
    assert_eq!(
        run.code,
        Some(1),
        "{} claims a GPU it never proved: {run:?}",
        path.display()
    );

    for (name, text) in [
        ("not-json.json", "this is not a report"),
        ("other-schema.json", r#"{"schema": 999}"#),
    ] {
        let bad = dir.join(name);
        std::fs::write(&bad, text).unwrap();
        let run = hwspec(&["probe", "--report", path_str(&bad)], &[]);
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        assert!(run.stdout.is_empty(), "{name}");
        assert!(run.stderr.contains(name), "{name}: {}", run.stderr);
    }
    let run = hwspec(&["probe", "--report", "/dev/zero"], &[]);
    assert_eq!(run.code, Some(2), "a device is not a report: {run:?}");
    let run = hwspec(&["probe", "--report", path_str(&dir), "--fresh"], &[]);
    assert_eq!(run.code, Some(2), "--report and --fresh conflict: {run:?}");
}

/// An operator's report saved by a hwspec of schema 1 (the NVIDIA/Intel/Mesa vendor run was
/// captured so) is read with each validation as the kind that ran, and written as schema 2.
#[test]
fn a_schema_1_report_is_read_as_the_current_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/reports/debian12-x86_64-nvidia535-intel-mesa-standard.json");
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(raw["schema"], 1, "the capture stays as it was written");

    let run = hwspec(&["probe", "--json", "--report", path_str(&path)], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let read: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(read["schema"], 2);
    let egl = read["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "egl")
        .unwrap();
    let llvmpipe = &egl["devices"][0];
    assert!(llvmpipe.get("validation").is_none(), "{llvmpipe:#}");
    assert_eq!(
        llvmpipe["validations"],
        serde_json::json!([{"kind": "render", "api": "gles", "pixels": 4096,
                            "mismatched_pixels": 0, "max_channel_error": 0, "passed": true,
                            "elapsed_ms": 394.430768}])
    );

    let table = hwspec(&["probe", "--report", path_str(&path)], &[]);
    assert!(
        table.stdout.contains("render gles ok (394.4 ms, exact)"),
        "{}",
        table.stdout
    );
    let explained = explain(&path, "gles");
    assert_eq!(explained.code, Some(0), "{explained:?}");
    assert!(
        explained.stdout.contains("validated by render gles"),
        "{}",
        explained.stdout
    );
}
