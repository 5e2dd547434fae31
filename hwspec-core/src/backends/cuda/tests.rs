use crate::backends::conformance;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use super::*;
use crate::backends::common::{Arg, LaunchError, SAXPY, SGEMM};
use crate::kernels::{SAXPY_ELEMENTS, SGEMM_N};
use crate::protocol::Recorder;
use crate::testing::{compile_fixture, ChildRunner, TempDir};

const SOURCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/backends/cuda");

#[test]
fn libcuda_is_looked_up_by_soname_or_absolute_path_only() {
    let candidates = libcuda_candidates();
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
    let missing = ["libhwspec-no-such-cuda.so.1", "/nonexistent/libcuda.so.1"];
    let report = conformance::missing_runtime(&missing, |level, progress| {
        probe_with(&missing, level, progress)
    });
    assert!(report.properties.contains_key("device_nodes"));
}

#[test]
fn the_ptx_declares_sm_50_and_the_entries_launched() {
    for (ptx, kernel) in [(validate::SAXPY_PTX, &SAXPY), (validate::SGEMM_PTX, &SGEMM)] {
        let entry = kernel.entry;
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
    cleared: &[&[facts::VISIBLE_DEVICES_ENV]],
};
const STAGES_MARKER: &str = "hwspec-cuda-child-stages:";

/// Only does something in a child started through [`CHILD`]: probes with the default
/// candidates and prints the report, then the stages and number of partial reports.
#[test]
fn child_probe_entry() {
    let Some(mode) = CHILD.mode() else {
        return;
    };
    if mode == LAUNCH_MODE {
        println!("{LAUNCH_MARKER}{}", refused_launches());
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

/// The child mode that launches SAXPY with wrong arguments instead of probing.
const LAUNCH_MODE: &str = "launch";
const LAUNCH_MARKER: &str = "hwspec-cuda-child-launches:";

/// Launches SAXPY through the api layer with too few arguments, with a buffer of another
/// context, and with a count its buffers are too short for, and returns the refusals joined
/// by ` | `.
fn refused_launches() -> String {
    use super::api::Driver;
    let library = crate::backends::common::Library::open("libcuda.so.1").unwrap();
    let driver = Driver::new(sys::Api::resolve(&library).unwrap());
    driver.init().unwrap();
    let device = driver.devices().unwrap()[0];
    let first = driver.context(device).unwrap();
    let second = driver.context(device).unwrap();
    let module = first.load_ptx(validate::SAXPY_PTX).unwrap();
    let saxpy = module.function(&SAXPY).unwrap();
    let mine = first.alloc(4).unwrap();
    let theirs = second.alloc(4).unwrap();
    let launch = |args: &[Arg<'_, _>]| saxpy.launch((1, 1), (8, 1), args).unwrap_err().to_string();
    let too_few = launch(&[Arg::F32(2.0), Arg::Buffer(&mine), Arg::U32(4)]);
    let foreign = launch(&[
        Arg::F32(2.0),
        Arg::Buffer(&mine),
        Arg::Buffer(&theirs),
        Arg::U32(4),
    ]);
    let too_short = launch(&[
        Arg::F32(2.0),
        Arg::Buffer(&mine),
        Arg::Buffer(&mine),
        Arg::U32(8),
    ]);
    format!("{too_few} | {foreign} | {too_short}")
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
    let missing = [facts::CONTROL_NODE, facts::UVM_NODE]
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
        reason.message.ends_with("lacks the entry point cuInit"),
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

/// The only code that turns arguments into pointers refuses a list that does not match the
/// kernel's parameters, a buffer another context owns, and a buffer shorter than the kernel
/// reaches, before calling the driver.
#[test]
fn a_launch_with_the_wrong_arguments_never_reaches_the_driver() {
    let fake = fake_libcuda("launch", &[]);
    let output = CHILD.run(
        LAUNCH_MODE,
        None,
        &[("LD_LIBRARY_PATH", fake.path().as_os_str())],
    );
    assert_eq!(
        output.after(LAUNCH_MARKER),
        "not launched: saxpy declares (f32, buffer, buffer, u32) but was given (f32, buffer, \
         u32) | not launched: saxpy was given a buffer of another context as parameter 2 | \
         not launched: saxpy reaches 8 elements but parameter 1 holds 4"
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

/// The buffers `validate` allocates are what the shared declarations require of a CUDA
/// launch: as many floats as the problem has, and one fewer is refused.
#[test]
fn launches_are_checked_against_the_declared_parameters() {
    /// A CUDA allocation's length, without a driver.
    struct Floats(usize);
    impl crate::backends::common::Floats for Floats {
        fn floats(&self) -> usize {
            self.0
        }
        fn address(&self) -> u64 {
            0
        }
    }
    let ours = |_: &Floats| true;
    let n = |len: usize| Arg::U32(u32::try_from(len).unwrap());
    for len in [SAXPY_ELEMENTS, SAXPY_ELEMENTS - 1] {
        let (x, y) = (Floats(len), Floats(SAXPY_ELEMENTS));
        let args = [
            Arg::F32(2.0),
            Arg::Buffer(&x),
            Arg::Buffer(&y),
            n(SAXPY_ELEMENTS),
        ];
        assert_eq!(SAXPY.check(&args, ours).is_ok(), len == SAXPY_ELEMENTS);
    }
    for len in [SGEMM_N * SGEMM_N, SGEMM_N * SGEMM_N - 1] {
        let (a, c) = (Floats(SGEMM_N * SGEMM_N), Floats(len));
        let args = [
            Arg::Buffer(&a),
            Arg::Buffer(&a),
            Arg::Buffer(&c),
            n(SGEMM_N),
        ];
        assert_eq!(SGEMM.check(&args, ours).is_ok(), len == SGEMM_N * SGEMM_N);
    }
    let error = SGEMM
        .check(&[Arg::Buffer(&Floats(4)), Arg::F32(2.0)], ours)
        .unwrap_err();
    assert!(matches!(error, LaunchError::Refused(_)), "{error}");
}

/// The parameters declared once for every backend are those the PTX entries declare: a
/// buffer is a 64-bit address (`.u64`), and so on.
#[test]
fn the_declared_parameters_are_the_ptx_entrys() {
    for (ptx, kernel) in [(validate::SAXPY_PTX, &SAXPY), (validate::SGEMM_PTX, &SGEMM)] {
        let text = ptx.to_str().unwrap();
        let prefix = format!("{}_param_", kernel.entry.to_str().unwrap());
        let in_ptx: Vec<&str> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix(".param ."))
            .filter(|rest| rest.contains(&prefix))
            .map(|rest| match rest.split_whitespace().next() {
                Some("u64") => "buffer",
                Some("f32") => "f32",
                Some("u32") => "u32",
                other => panic!("unexpected PTX parameter type {other:?}"),
            })
            .collect();
        let declared: Vec<String> = kernel.params.iter().map(ToString::to_string).collect();
        assert_eq!(in_ptx, declared, "{}", kernel.entry.to_str().unwrap());
    }
}

/// The facts and their diagnosis, from made-up facts.
mod facts_and_diagnosis {
    use super::super::facts::*;
    use crate::backends::common::CallError;
    use crate::model::{Reason, ReasonCode, Status};

    #[test]
    fn proc_version_of_the_proprietary_and_open_modules() {
        let proprietary = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
        assert_eq!(
            parse_proc_version(proprietary).as_deref(),
            Some("550.54.15")
        );
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Aug 16 21:42:42 UTC 2024\n";
        assert_eq!(parse_proc_version(open).as_deref(), Some("560.35.03"));
        assert_eq!(parse_proc_version("GCC version: 12.2.0\n"), None);
        assert_eq!(
            parse_proc_version("NVRM version: NVIDIA UNIX Kernel Module\n"),
            None
        );
    }

    #[test]
    fn gpu_nodes_are_numbered_nvidia_nodes_in_numeric_order() {
        let names = [
            "nvidia10",
            "nvidiactl",
            "nvidia-uvm",
            "nvidia2",
            "nvidia",
            "null",
        ];
        assert_eq!(
            gpu_nodes(names.iter().map(|n| n.to_string())),
            ["/dev/nvidia2", "/dev/nvidia10"]
        );
    }

    #[test]
    fn groups_are_named_from_etc_group() {
        let groups = "root:x:0:\nvideo:x:44:alice\nrender:x:105:\n";
        assert_eq!(crate::sys::group_name(groups, 44), "video");
        assert_eq!(crate::sys::group_name(groups, 105), "render");
        assert_eq!(crate::sys::group_name(groups, 7), "gid 7");
        assert_eq!(crate::sys::group_name("garbage\n", 0), "gid 0");
    }

    #[test]
    fn evidence_names_its_facts() {
        let evidence = Evidence {
            proc_driver_version: Some("550.54.15".into()),
            kernel_module_version: Some("550.54.15".into()),
            nodes: vec![Node {
                path: CONTROL_NODE.into(),
                accessible: true,
                group: "root".into(),
            }],
            wsl: false,
            pci_gpus: vec!["0000:17:00.0".into()],
        };
        let props = evidence.properties();
        assert!(props.contains(&("pci_gpus", "0000:17:00.0".into())));
        assert!(props.contains(&("kernel_module_version", "550.54.15".into())));
        assert!(props.contains(&("device_nodes", CONTROL_NODE.into())));
        assert!(Evidence::default()
            .properties()
            .contains(&("device_nodes", "none".into())));
    }

    fn error(code: u32, name: &'static str) -> CallError {
        CallError::new("cuInit", code).named(name)
    }

    fn node(path: &str) -> Node {
        Node {
            path: path.to_owned(),
            accessible: true,
            group: "root".to_owned(),
        }
    }

    /// A healthy machine with one GPU and driver 550.54.15.
    fn healthy() -> Evidence {
        Evidence {
            proc_driver_version: Some("550.54.15".into()),
            kernel_module_version: Some("550.54.15".into()),
            nodes: vec![node(CONTROL_NODE), node(UVM_NODE), node("/dev/nvidia0")],
            wsl: false,
            pci_gpus: vec!["0000:17:00.0".into()],
        }
    }

    fn driver_library() -> Libcuda {
        Libcuda::new("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15".into())
    }

    fn classify(code: u32, name: &'static str, evidence: &Evidence) -> (Status, Reason) {
        init_failure(&error(code, name), &driver_library(), evidence, None)
    }

    #[test]
    fn versions_are_formatted_as_nvidia_does() {
        assert_eq!(cuda_version(12080), "12.8");
        assert_eq!(cuda_version(11040), "11.4");
        assert_eq!(cuda_version(13000), "13.0");
        assert_eq!(cuda_version(12020), "12.2");
        let uuid = [
            0x5f, 0x1c, 0x2a, 0x93, 0x0b, 0x44, 0x7e, 0x01, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34,
            0x56, 0x78,
        ];
        assert_eq!(
            format_uuid("GPU", &uuid),
            "GPU-5f1c2a93-0b44-7e01-9abc-def012345678"
        );
    }

    #[test]
    fn library_versions_come_from_the_file_name() {
        assert_eq!(
            library_version("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15").as_deref(),
            Some("550.54.15")
        );
        assert_eq!(library_version("/usr/lib/wsl/lib/libcuda.so.1"), None);
        assert_eq!(library_version("/usr/lib/libcuda.so"), None);
        assert_eq!(library_version("/tmp/libnvcuda.so.1.2"), None);
    }

    #[test]
    fn a_mismatch_needs_both_versions_to_differ_and_no_compat_library() {
        let library = driver_library();
        assert_eq!(driver_mismatch(&healthy(), &library), None);
        let mut old_module = healthy();
        old_module.kernel_module_version = Some("535.161.07".into());
        assert_eq!(
            driver_mismatch(&old_module, &library),
            Some(("535.161.07", "550.54.15"))
        );
        let compat = Libcuda::new("/usr/local/cuda-12.4/compat/libcuda.so.550.54.15".into());
        assert_eq!(driver_mismatch(&old_module, &compat), None);
        assert_eq!(driver_mismatch(&Evidence::default(), &library), None);
        let wsl = Libcuda::new("/usr/lib/wsl/lib/libcuda.so.1".into());
        assert_eq!(driver_mismatch(&old_module, &wsl), None);
        let proc_only = Evidence {
            proc_driver_version: Some("535.161.07".into()),
            ..Evidence::default()
        };
        assert!(driver_mismatch(&proc_only, &library).is_some());
    }

    #[test]
    fn error_34_is_the_stub_library() {
        let stub = Libcuda::new("/usr/local/cuda/lib64/stubs/libcuda.so.1".into());
        let (status, reason) = init_failure(
            &error(34, "CUDA_ERROR_STUB_LIBRARY"),
            &stub,
            &healthy(),
            None,
        );
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::StubLibrary);
        assert!(reason
            .message
            .contains("/usr/local/cuda/lib64/stubs/libcuda.so.1"));
        assert!(reason.message.contains("34"), "{}", reason.message);
    }

    #[test]
    fn differing_versions_with_a_failed_init_need_a_reboot() {
        let mut evidence = healthy();
        evidence.kernel_module_version = Some("535.161.07".into());
        let (status, reason) = classify(803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", &evidence);
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::DriverMismatch);
        assert!(
            reason.message.contains("reboot needed"),
            "{}",
            reason.message
        );
        assert!(reason.message.contains("535.161.07"));
        assert!(reason.message.contains("550.54.15"));
    }

    #[test]
    fn errors_803_and_804_with_matching_versions_are_a_refused_compat_library() {
        for (code, name) in [
            (803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"),
            (804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"),
        ] {
            let (status, reason) = classify(code, name, &healthy());
            assert_eq!(status, Status::Unusable);
            assert_eq!(reason.code, ReasonCode::CompatRefused, "{code}");
            assert!(reason.message.contains(name), "{}", reason.message);
        }
        let compat = Libcuda::new("/usr/local/cuda-12.4/compat/libcuda.so.560.28.03".into());
        let mut old_module = healthy();
        old_module.kernel_module_version = Some("535.161.07".into());
        let (_, reason) = init_failure(
            &error(804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"),
            &compat,
            &old_module,
            None,
        );
        assert_eq!(reason.code, ReasonCode::CompatRefused);
    }

    #[test]
    fn error_999_names_the_missing_node() {
        let mut evidence = healthy();
        evidence.nodes.retain(|n| n.path != UVM_NODE);
        let (status, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &evidence);
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::MissingDeviceNode);
        assert!(reason.message.starts_with(UVM_NODE), "{}", reason.message);

        let (_, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &healthy());
        assert_eq!(reason.code, ReasonCode::DriverError);

        let mut wsl = Evidence {
            wsl: true,
            ..Evidence::default()
        };
        let (_, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &wsl);
        assert_eq!(reason.code, ReasonCode::DriverError, "WSL has no nodes");
        wsl.wsl = false;
        let (_, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &wsl);
        assert!(
            reason.message.starts_with(CONTROL_NODE),
            "{}",
            reason.message
        );
    }

    #[test]
    fn an_inaccessible_node_is_permission_denied_with_its_group() {
        let mut evidence = healthy();
        evidence.nodes[2].accessible = false;
        evidence.nodes[2].group = "video".into();
        let (status, reason) = classify(100, "CUDA_ERROR_NO_DEVICE", &evidence);
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::PermissionDenied);
        assert!(
            reason.message.contains("/dev/nvidia0"),
            "{}",
            reason.message
        );
        assert!(reason.message.contains("video"), "{}", reason.message);
    }

    #[test]
    fn no_device_is_absent_unless_the_environment_hides_present_gpus() {
        let (status, reason) = classify(100, "CUDA_ERROR_NO_DEVICE", &Evidence::default());
        assert_eq!(status, Status::Absent);
        assert_eq!(reason.code, ReasonCode::NoDevice);
        assert!(reason.message.contains("CUDA_ERROR_NO_DEVICE"));

        let (status, reason) = init_failure(
            &error(100, "CUDA_ERROR_NO_DEVICE"),
            &driver_library(),
            &healthy(),
            Some(""),
        );
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::HiddenByEnv);
        assert!(
            reason.message.contains("CUDA_VISIBLE_DEVICES=\"\""),
            "{}",
            reason.message
        );
        assert!(
            reason.message.contains("0000:17:00.0"),
            "{}",
            reason.message
        );

        let (_, reason) = no_devices(&healthy(), Some("GPU-bogus"), "0 devices");
        assert!(
            reason.message.contains("\"GPU-bogus\""),
            "{}",
            reason.message
        );
        let (status, reason) = no_devices(&Evidence::default(), Some("0"), "0 devices");
        assert_eq!(status, Status::Absent, "set, but no GPU to hide");
        assert_eq!(reason.code, ReasonCode::NoDevice);
        // What libcuda leaves behind as root on a machine without a GPU: nodes, no hardware.
        let nodes_only = Evidence {
            pci_gpus: Vec::new(),
            ..healthy()
        };
        let (status, reason) = no_devices(&nodes_only, Some(""), "0 devices");
        assert_eq!(status, Status::Absent, "a device node is not a device");
        assert_eq!(reason.code, ReasonCode::NoDevice);
        let (status, _) = no_devices(&healthy(), None, "0 devices");
        assert_eq!(status, Status::Absent);
    }

    #[test]
    fn other_errors_are_driver_errors_with_name_and_number() {
        let (status, reason) = classify(3, "CUDA_ERROR_NOT_INITIALIZED", &healthy());
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::DriverError);
        assert_eq!(
            reason.message,
            "cuInit returned 3 (CUDA_ERROR_NOT_INITIALIZED)"
        );
        let unnamed = CallError::new("cuInit", 4242u32);
        let (_, reason) = init_failure(&unnamed, &driver_library(), &healthy(), None);
        assert_eq!(reason.message, "cuInit returned 4242");
    }
}
