use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use super::*;
use crate::kernels::{SAXPY_ELEMENTS, SGEMM_N};
use crate::protocol::{NoProgress, Recorder};
use crate::testing::{compile_fixture, ChildRunner, TempDir};

const SOURCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/backends/cuda");

#[test]
fn libcuda_is_looked_up_by_soname_or_absolute_path_only() {
    let candidates = loader::default_candidates();
    assert_eq!(candidates[0], "libcuda.so.1");
    assert!(candidates.contains(&"/usr/lib/wsl/lib/libcuda.so.1"));
    for candidate in &candidates[1..] {
        assert!(candidate.starts_with('/'), "{candidate} is not absolute");
    }
    assert!(
        !candidates.iter().any(|c| c.ends_with(".so")),
        "an unversioned name would find the toolkit's stub: {candidates:?}"
    );
}

#[test]
fn a_missing_library_is_absent_and_every_candidate_named() {
    let report = probe_with(
        &["libhwspec-no-such-cuda.so.1", "/nonexistent/libcuda.so.1"],
        Level::Standard,
        &mut NoProgress,
    );
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LibraryNotFound);
    assert!(
        reason.message.contains("libhwspec-no-such-cuda.so.1"),
        "{}",
        reason.message
    );
    assert!(
        reason.message.contains("/nonexistent/libcuda.so.1"),
        "{}",
        reason.message
    );
    assert!(report.library.is_none());
    assert!(report.properties.contains_key("device_nodes"));
}

#[test]
fn the_ptx_declares_sm_50_and_the_entries_launched() {
    for (ptx, entry) in [
        (validate::SAXPY_PTX, validate::SAXPY_ENTRY),
        (validate::SGEMM_PTX, validate::SGEMM_ENTRY),
    ] {
        let text = ptx.to_str().unwrap();
        assert!(text.lines().any(|l| l.trim() == ".target sm_50"), "{text}");
        let entry = format!(".visible .entry {}(", entry.to_str().unwrap());
        assert!(text.contains(&entry), "no {entry} in\n{text}");
    }
}

/// The committed PTX must be what its source compiles to, so that nobody edits one alone.
#[test]
fn the_committed_ptx_is_what_clang_makes_of_the_source() {
    let out = TempDir::new("cuda-ptx");
    for kernel in ["saxpy", "sgemm"] {
        let ptx = out.path().join(format!("{kernel}.ptx"));
        let status = Command::new("clang-15")
            .args(["--cuda-device-only", "-S", "-nocudainc", "-nocudalib"])
            .args(["--cuda-gpu-arch=sm_50", "-O2", "-o"])
            .arg(&ptx)
            .arg(Path::new(SOURCE_DIR).join(format!("{kernel}.cu")))
            .status()
            .unwrap_or_else(|e| {
                panic!("clang-15 is needed to check the PTX (apt install clang-15): {e}")
            });
        assert!(status.success(), "clang-15 failed on {kernel}.cu");
        let committed =
            std::fs::read_to_string(Path::new(SOURCE_DIR).join(format!("{kernel}.ptx"))).unwrap();
        assert_eq!(
            std::fs::read_to_string(&ptx).unwrap(),
            committed,
            "{kernel}.ptx is stale: regenerate it from {kernel}.cu with the command in its header"
        );
    }
}

/// Builds `fake_libcuda.c` as `libcuda.so.1` in a directory of its own.
fn fake_libcuda(tag: &str, defines: &[&str]) -> TempDir {
    let dir = TempDir::new(&format!("cuda-{tag}"));
    let source = Path::new(SOURCE_DIR).join("fake_libcuda.c");
    compile_fixture(&source, dir.path(), "libcuda.so.1", defines);
    dir
}

/// Runs [`child_probe_entry`] in a child process: libcuda stays loaded for the life of a
/// process and is found through `LD_LIBRARY_PATH`, which the dynamic loader reads once, so
/// every library under test needs a fresh process.
const CHILD: ChildRunner = ChildRunner {
    module: module_path!(),
    entry: "child_probe_entry",
    switch: "HWSPEC_TEST_CUDA_CHILD_PROBE",
    level_var: "HWSPEC_TEST_CUDA_CHILD_LEVEL",
    marker: "hwspec-cuda-child-report:",
    cleared: &[&[diagnose::VISIBLE_DEVICES_ENV]],
};
const STAGES_MARKER: &str = "hwspec-cuda-child-stages:";

/// Only does something in a child started through [`CHILD`]: probes with the default
/// candidates and prints the report, then the stages and number of partial reports.
#[test]
fn child_probe_entry() {
    if CHILD.mode().is_none() {
        return;
    }
    let mut progress = Recorder::default();
    CHILD.print_report(&CudaBackend.probe(CHILD.level(), &mut progress));
    let stages: Vec<&str> = progress.stages.iter().map(|s| s.as_str()).collect();
    println!(
        "{STAGES_MARKER}{} partials={}",
        stages.join(","),
        progress.partials.len()
    );
}

/// What a child probe reported: the report, and its stages and number of partial reports.
struct ChildProbe {
    report: BackendReport,
    progress: String,
}

/// Runs [`child_probe_entry`] at `level` in a new process of this test binary with `env`.
/// `library_dir`, when given, is where the dynamic loader finds libcuda.so.1 first.
fn probe_in_child(library_dir: Option<&Path>, level: Level, env: &[(&str, &str)]) -> ChildProbe {
    let mut env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();
    if let Some(dir) = library_dir {
        env.push(("LD_LIBRARY_PATH", dir.as_os_str()));
    }
    let output = CHILD.run("1", Some(level), &env);
    ChildProbe {
        report: output.json(CHILD.marker),
        progress: output.after(STAGES_MARKER).to_owned(),
    }
}

fn init_result(code: &str) -> BackendReport {
    let fake = fake_libcuda(&format!("init-{code}"), &[]);
    let probe = probe_in_child(
        Some(fake.path()),
        Level::Standard,
        &[("HWSPEC_FAKE_CUINIT", code)],
    );
    assert_eq!(probe.progress, "load,init partials=0");
    let library = probe.report.library.as_deref().unwrap_or_default();
    assert!(
        library.starts_with(fake.path().to_str().unwrap()),
        "library {library:?}"
    );
    probe.report
}

#[test]
fn without_libcuda_this_machine_is_absent_or_else_really_probed() {
    let probe = probe_in_child(None, Level::Quick, &[]);
    let report = probe.report;
    match report.library {
        None => {
            assert_eq!(report.status, Status::Absent, "{report:#?}");
            let reason = report.reason.unwrap();
            assert_eq!(reason.code, ReasonCode::LibraryNotFound);
            assert!(
                reason.message.contains("libcuda.so.1"),
                "{}",
                reason.message
            );
            assert!(
                reason.message.contains("/usr/lib/wsl/lib"),
                "{}",
                reason.message
            );
        }
        // A machine with an NVIDIA driver: whatever it has must be enumerated in full.
        Some(_) if report.status == Status::Enumerated => {
            assert!(report.runtime_version.is_some());
            for device in &report.devices {
                assert!(device.arch.is_some(), "{device:#?}");
                assert!(device.properties["uuid"].starts_with("GPU-"), "{device:#?}");
            }
        }
        Some(_) => {
            let code = report.reason.as_ref().map(|r| r.code);
            assert_ne!(code, Some(ReasonCode::LoadFailed), "{report:#?}");
        }
    }
}

#[test]
fn error_100_is_absent_with_no_device() {
    let report = init_result("100");
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.contains("CUDA_ERROR_NO_DEVICE"),
        "{}",
        reason.message
    );
}

#[test]
fn error_34_is_the_stub_library_named_by_path() {
    let report = init_result("34");
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::StubLibrary);
    assert!(
        reason.message.contains(report.library.as_deref().unwrap()),
        "{}",
        reason.message
    );
}

#[test]
fn error_803_is_a_refused_compat_library() {
    let report = init_result("803");
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::CompatRefused);
    assert!(reason.message.contains("803"), "{}", reason.message);
}

#[test]
fn error_999_names_a_missing_device_node() {
    let report = init_result("999");
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    let missing = [evidence::CONTROL_NODE, evidence::UVM_NODE]
        .into_iter()
        .find(|node| !Path::new(node).exists());
    match missing {
        Some(node) if !Path::new("/dev/dxg").exists() => {
            assert_eq!(reason.code, ReasonCode::MissingDeviceNode);
            assert!(reason.message.starts_with(node), "{}", reason.message);
        }
        _ => assert_ne!(reason.code, ReasonCode::MissingDeviceNode),
    }
}

#[test]
fn a_library_without_cuinit_is_load_failed_not_a_panic() {
    let fake = fake_libcuda("no-cuinit", &["OMIT_CUINIT"]);
    let probe = probe_in_child(Some(fake.path()), Level::Standard, &[]);
    assert_eq!(probe.progress, "load partials=0");
    let report = probe.report;
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LoadFailed);
    assert!(
        reason.message.ends_with("lacks cuInit"),
        "{}",
        reason.message
    );
}

#[test]
fn quick_enumerates_the_fake_device_with_its_identity() {
    let fake = fake_libcuda("quick", &[]);
    let probe = probe_in_child(Some(fake.path()), Level::Quick, &[]);
    assert_eq!(probe.progress, "load,init,enumerate partials=1");
    let report = probe.report;
    assert_eq!(report.status, Status::Enumerated, "{report:#?}");
    assert_eq!(report.runtime_version.as_deref(), Some("12.8"));
    let [device] = report.devices.as_slice() else {
        panic!("one device expected: {report:#?}");
    };
    assert_eq!(device.name, "Fake CUDA Device");
    assert_eq!(device.vendor, "NVIDIA");
    assert_eq!(device.kind, DeviceKind::Gpu);
    assert_eq!(device.status, Status::Enumerated);
    assert_eq!(device.arch.as_deref(), Some("9.0"));
    assert_eq!(device.api_version.as_deref(), Some("12.8"));
    assert_eq!(device.memory_bytes, Some(3 << 30));
    assert_eq!(
        device.properties["uuid"],
        "GPU-00112233-4455-6677-8899-aabbccddeeff"
    );
    assert_eq!(device.properties["pci_bus_id"], "0000:17:00.0");
    assert_eq!(device.properties["multiprocessors"], "7");
    assert!(!device.properties.contains_key("mig"));
    assert!(device.validations.is_empty());
}

#[test]
fn standard_and_full_run_the_kernels_through_the_driver_api() {
    let fake = fake_libcuda("validate", &[]);
    let standard = probe_in_child(Some(fake.path()), Level::Standard, &[]);
    assert_eq!(standard.progress, "load,init,enumerate,kernel partials=1");
    let device = &standard.report.devices[0];
    assert_eq!(device.status, Status::Validated, "{device:#?}");
    let saxpy = device.validation("saxpy").unwrap();
    assert!(saxpy.passed);
    assert_eq!(
        saxpy.kind.compared().unwrap().elements,
        SAXPY_ELEMENTS as u64
    );
    assert_eq!(device.validations.len(), 1, "no sgemm at standard");

    let full = probe_in_child(Some(fake.path()), Level::Full, &[]).report;
    assert_eq!(full.status, Status::Validated, "{full:#?}");
    let gemm = full.devices[0].validation("sgemm").unwrap();
    assert!(gemm.passed);
    assert_eq!(
        gemm.kind.compared().unwrap().elements,
        (SGEMM_N * SGEMM_N) as u64
    );
}

#[test]
fn a_wrong_result_fails_the_device() {
    let fake = fake_libcuda("wrong", &[]);
    let report = probe_in_child(
        Some(fake.path()),
        Level::Full,
        &[("HWSPEC_FAKE_WRONG", "1")],
    )
    .report;
    assert_eq!(report.status, Status::Failed, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::WrongResult);
    assert!(reason.message.starts_with("saxpy"), "{}", reason.message);
}

#[test]
fn a_jit_failure_is_build_failed_with_the_log() {
    let fake = fake_libcuda("jit", &[]);
    let report = probe_in_child(
        Some(fake.path()),
        Level::Standard,
        &[("HWSPEC_FAKE_JIT_FAIL", "1")],
    )
    .report;
    assert_eq!(report.status, Status::Failed, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::BuildFailed);
    assert!(
        reason.message.contains("CUDA_ERROR_INVALID_PTX"),
        "{}",
        reason.message
    );
    assert!(
        reason.message.contains("ptxas fatal : fake JIT failure"),
        "{}",
        reason.message
    );
}
