use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use super::facts::{detect, Layout, TARGETS};
use super::validate::{judge_compile, judge_run, parse_result, run_bounded, End, Finished};
use super::*;
use crate::kernels::Saxpy;
use crate::protocol::{NoProgress, Recorder};
use crate::testing::TempDir;

const MULTIARCH: &str = "x86_64-linux-gnu";

/// A fake Debian tree under a temporary root.
struct Tree {
    dir: TempDir,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            dir: TempDir::new("gcc_offload-tree"),
        }
    }

    fn layout(&self) -> Layout {
        Layout {
            root: self.dir.path().to_owned(),
            multiarch: MULTIARCH.to_owned(),
        }
    }

    fn file(&self, relative: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        path
    }

    fn link(&self, relative: &str, target: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn driver(&self, version: &str) -> PathBuf {
        self.file(&format!("usr/bin/gcc-{version}"))
    }

    fn offload(&self, version: &str, triple: &str) -> PathBuf {
        self.file(&format!(
            "usr/lib/gcc/{MULTIARCH}/{version}/accel/{triple}/mkoffload"
        ))
    }

    fn plugin(&self, name: &str) -> PathBuf {
        self.file(&format!("usr/lib/{MULTIARCH}/{name}"))
    }
}

#[test]
fn detection_prefers_the_default_gcc_and_lists_the_others() {
    let tree = Tree::new();
    let gcc12 = tree.driver("12");
    let gcc13 = tree.driver("13");
    tree.link("usr/bin/gcc", "gcc-12");
    let nvptx12 = tree.offload("12", "nvptx-none");
    tree.offload("13", "nvptx-none");
    let gcn13 = tree.offload("13", "amdgcn-amdhsa");
    // A version directory without accel/ and a cross compiler's directory are not offloaders.
    tree.file(&format!("usr/lib/gcc/{MULTIARCH}/11/cc1"));
    tree.file("usr/lib/gcc/x86_64-w64-mingw32/12/accel/nvptx-none/mkoffload");
    let nvptx_plugin = tree.plugin("libgomp-plugin-nvptx.so.1");

    let found = detect(&tree.layout());
    assert_eq!(found.gcc_versions, ["12", "13"]);
    assert_eq!(found.default_version.as_deref(), Some("12"));
    assert_eq!(found.compilers.len(), 2);
    let nvptx = &found.compilers[0];
    assert_eq!(nvptx.target, &TARGETS[0]);
    assert_eq!(nvptx.version, "12");
    assert_eq!(nvptx.driver.as_deref(), Some(gcc12.as_path()));
    assert_eq!(nvptx.mkoffload, nvptx12);
    assert_eq!(nvptx.plugin.as_deref(), Some(nvptx_plugin.as_path()));
    assert!(nvptx.default_gcc);
    assert_eq!(nvptx.other_versions, ["13"]);
    let gcn = &found.compilers[1];
    assert_eq!(gcn.target.triple, "amdgcn-amdhsa");
    assert_eq!(gcn.version, "13");
    assert_eq!(gcn.driver.as_deref(), Some(gcc13.as_path()));
    assert_eq!(gcn.mkoffload, gcn13);
    assert_eq!(gcn.plugin, None);
    assert!(!gcn.default_gcc);
    assert!(gcn.other_versions.is_empty());
}

#[test]
fn detection_follows_triplet_named_drivers_and_picks_the_newest_without_a_default() {
    let tree = Tree::new();
    let driver = tree.file(&format!("usr/bin/{MULTIARCH}-gcc-14"));
    tree.link("usr/bin/gcc", &format!("{MULTIARCH}-gcc-14"));
    tree.offload("14", "nvptx-none");
    let found = detect(&tree.layout());
    assert_eq!(found.default_version.as_deref(), Some("14"));
    assert_eq!(found.compilers[0].driver.as_deref(), Some(driver.as_path()));

    let tree = Tree::new();
    tree.driver("12");
    tree.driver("9");
    tree.offload("9", "nvptx-none");
    tree.offload("12", "nvptx-none");
    let found = detect(&tree.layout());
    assert_eq!(
        found.gcc_versions,
        ["9", "12"],
        "numeric, not string, order"
    );
    assert_eq!(found.default_version, None);
    assert_eq!(found.compilers[0].version, "12");
    assert_eq!(found.compilers[0].other_versions, ["9"]);
}

#[test]
fn no_offload_compiler_is_absent_and_names_the_packages() {
    let tree = Tree::new();
    let report = probe_with(&tree.layout(), Level::Standard, &mut NoProgress);
    assert_eq!(report.status, Status::Absent);
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LibraryNotFound);
    assert_eq!(
        reason.message,
        "no GCC offload compiler installed (gcc-N-offload-nvptx, gcc-N-offload-amdgcn)"
    );

    tree.driver("12");
    let report = probe_with(&tree.layout(), Level::Standard, &mut NoProgress);
    assert_eq!(report.status, Status::Absent);
    assert!(report
        .reason
        .unwrap()
        .message
        .contains("gcc-12-offload-nvptx, gcc-12-offload-amdgcn"),);
}

#[test]
fn quick_level_enumerates_one_device_per_target_without_compiling() {
    let tree = Tree::new();
    // Empty, non-executable "drivers": -dumpfullversion cannot run, so the version directory
    // stands in, and nothing is compiled at level quick anyway.
    tree.driver("12");
    tree.link("usr/bin/gcc", "gcc-12");
    let mkoffload = tree.offload("12", "nvptx-none");
    tree.offload("12", "amdgcn-amdhsa");
    tree.plugin("libgomp-plugin-gcn.so.1");
    let mut progress = Recorder::default();
    let report = probe_with(&tree.layout(), Level::Quick, &mut progress);
    assert_eq!(progress.stages, [Stage::Enumerate]);
    assert_eq!(report.status, Status::Enumerated);
    assert!(report.reason.is_none());
    assert_eq!(report.properties["gcc_versions"], "12");
    assert_eq!(report.properties["default_gcc_version"], "12");
    let names: Vec<&str> = report.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "GCC 12 offloading to nvptx-none",
            "GCC 12 offloading to amdgcn-amdhsa"
        ]
    );
    let nvptx = &report.devices[0];
    assert_eq!(nvptx.vendor, "GCC");
    assert_eq!(nvptx.kind, DeviceKind::Other);
    assert_eq!(nvptx.status, Status::Enumerated);
    assert_eq!(nvptx.arch.as_deref(), Some("nvptx"));
    assert!(nvptx.validations.is_empty());
    let props = &nvptx.properties;
    assert_eq!(props["mkoffload"], mkoffload.display().to_string());
    assert_eq!(props["gcc_version"], "12");
    assert_eq!(props["offload_target"], "nvptx-none");
    assert_eq!(props["plugin_present"], "no");
    assert_eq!(
        props["plugin"],
        "libgomp-plugin-nvptx.so.1 not installed (libgomp-plugin-nvptx1)"
    );
    assert_eq!(props["default_gcc"], "yes");
    assert!(!props.contains_key("compiled"));
    let gcn = &report.devices[1];
    assert_eq!(gcn.arch.as_deref(), Some("amdgcn"));
    assert_eq!(gcn.properties["plugin_present"], "yes");
}

#[test]
fn an_offload_compiler_without_its_driver_is_unusable() {
    let tree = Tree::new();
    tree.offload("13", "nvptx-none");
    let report = probe_with(&tree.layout(), Level::Standard, &mut NoProgress);
    let device = &report.devices[0];
    assert_eq!(device.status, Status::Unusable);
    let reason = device.reason.as_ref().unwrap();
    assert_eq!(reason.code, ReasonCode::LibraryNotFound);
    assert!(reason.message.contains("gcc-13"), "{}", reason.message);
    assert_eq!(report.status, Status::Unusable);
}

fn compiler(plugin: bool) -> OffloadCompiler {
    OffloadCompiler {
        target: &TARGETS[0],
        version: "12".into(),
        driver: Some("/usr/bin/gcc-12".into()),
        mkoffload: "/usr/lib/gcc/x86_64-linux-gnu/12/accel/nvptx-none/mkoffload".into(),
        plugin: plugin.then(|| "/usr/lib/x86_64-linux-gnu/libgomp-plugin-nvptx.so.1".into()),
        default_gcc: true,
        other_versions: Vec::new(),
    }
}

fn exited(code: i32) -> End {
    End::Exited(ExitStatus::from_raw(code << 8))
}

fn finished(end: End, stdout: &str, stderr: &str) -> Finished {
    Finished {
        end,
        stdout: stdout.into(),
        stderr: stderr.into(),
    }
}

/// Judges a run of the program built for `n` elements, on a fresh nvptx device.
fn judge(plugin: bool, run: Finished, n: usize) -> Device {
    let compiler = compiler(plugin);
    let mut device = describe(&compiler);
    judge_run(&mut device, &compiler, &run, n);
    device
}

fn reference_checksum(n: usize) -> f64 {
    Saxpy::with_len(n)
        .reference()
        .iter()
        .map(|v| f64::from(*v))
        .sum()
}

/// The line the program prints, with its fields.
fn result_line(host_iterations: usize, n: usize, checksum: f64, max_abs_error: &str) -> String {
    format!(
        "hwspec-gcc-offload devices=1 host_iterations={host_iterations} elements={n} \
         checksum={checksum:.3} max_abs_error={max_abs_error} elapsed_ms=1.250000\n"
    )
}

#[test]
fn a_region_that_ran_on_the_device_with_the_right_result_validates_a_gpu() {
    let n = 1000;
    let stdout = result_line(0, n, reference_checksum(n), "0");
    let device = judge(true, finished(exited(0), &stdout, ""), n);
    assert_eq!(device.status, Status::Validated, "{:?}", device.reason);
    assert_eq!(device.kind, DeviceKind::Gpu);
    assert_eq!(device.arch.as_deref(), Some("nvptx"));
    let validation = device.validation("offload-region").unwrap();
    assert!(validation.passed);
    assert_eq!(validation.kind.compared().unwrap().elements, 1000);
    assert_eq!(validation.elapsed_ms, 1.25);
    assert_eq!(device.properties["ran_on_device"], "yes");
    assert_eq!(device.properties["offload_devices"], "1");
}

#[test]
fn a_wrong_device_result_fails_with_wrong_result() {
    let n = 1000;
    let stdout = result_line(0, n, reference_checksum(n) + 0.5, "0.5");
    let device = judge(true, finished(exited(0), &stdout, ""), n);
    assert_eq!(device.status, Status::Failed);
    assert_eq!(device.kind, DeviceKind::Other);
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::WrongResult);
    assert!(reason.message.contains("0.5"), "{}", reason.message);

    // The program's own comparison passing does not outweigh a checksum that differs.
    let stdout = result_line(0, n, reference_checksum(n) + 2.0, "0");
    let device = judge(true, finished(exited(0), &stdout, ""), n);
    assert_eq!(device.reason.unwrap().code, ReasonCode::WrongResult);
}

#[test]
fn a_silent_host_fallback_is_no_device_with_the_compile_path_working() {
    // GCC 12's libgomp with no device: MANDATORY does not abort, the region runs on the host.
    let n = 1 << 20;
    let stdout = format!(
        "hwspec-gcc-offload devices=0 host_iterations={n} elements={n} checksum=90041662.875 \
         max_abs_error=0 elapsed_ms=10.433079\n"
    );
    let device = judge(false, finished(exited(0), &stdout, ""), n);
    assert_eq!(device.status, Status::Enumerated);
    assert_eq!(device.kind, DeviceKind::Other);
    assert!(device.validations.is_empty());
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.contains("found 0 offload device(s)")
            && reason.message.contains("libgomp-plugin-nvptx1"),
        "{}",
        reason.message
    );
    assert_eq!(device.properties["ran_on_device"], "no");
}

#[test]
fn libgomp_refusing_the_host_under_mandatory_is_no_device_and_quoted() {
    let stderr = "libgomp: OMP_TARGET_OFFLOAD is set to MANDATORY, but only the host device is \
                  available\n";
    let device = judge(true, finished(exited(1), "", stderr), 1000);
    assert_eq!(device.status, Status::Enumerated);
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason
            .message
            .contains("libgomp: OMP_TARGET_OFFLOAD is set to MANDATORY, but only the host"),
        "{}",
        reason.message
    );
    let stderr = "libgomp: OMP_TARGET_OFFLOAD is set to MANDATORY, but device not found\n";
    let device = judge(true, finished(exited(1), "", stderr), 1000);
    assert_eq!(device.reason.unwrap().code, ReasonCode::NoDevice);
}

#[test]
fn a_device_that_fails_is_launch_failed_crashed_or_timeout() {
    let unusable = "libgomp: OMP_TARGET_OFFLOAD is set to MANDATORY, but device cannot be used \
                    for offloading\n";
    let cuda = "libgomp: cuCtxCreate error: out of memory\n";
    for stderr in [unusable, cuda] {
        let device = judge(true, finished(exited(1), "", stderr), 1000);
        assert_eq!(device.status, Status::Failed);
        let reason = device.reason.unwrap();
        assert_eq!(reason.code, ReasonCode::LaunchFailed);
        assert!(
            reason.message.contains("exited with status 1")
                && reason.message.contains(stderr.trim()),
            "{}",
            reason.message
        );
    }
    let segv = End::Exited(ExitStatus::from_raw(libc::SIGSEGV));
    let device = judge(true, finished(segv, "", ""), 1000);
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::Crashed);
    assert!(reason.message.contains("SIGSEGV"), "{}", reason.message);

    let hung = End::TimedOut(Duration::from_secs(9));
    let device = judge(true, finished(hung, "", ""), 1000);
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::Timeout);
    assert!(reason.message.contains("9 s"), "{}", reason.message);
}

#[test]
fn a_compile_that_fails_is_build_failed_with_the_log() {
    let stderr = "lto-wrapper: fatal error: could not find accel/amdgcn-amdhsa/mkoffload in \
                  /usr/lib/gcc/x86_64-linux-gnu/12/ (consider using '-B')\ncompilation \
                  terminated.\n/usr/bin/ld: error: lto-wrapper failed\n";
    let mut device = describe(&compiler(true));
    let built = judge_compile(
        &mut device,
        Path::new("/usr/bin/gcc-12"),
        "amdgcn-amdhsa",
        Ok(finished(exited(1), "", stderr)),
    );
    assert!(!built);
    assert_eq!(device.status, Status::Failed);
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::BuildFailed);
    assert!(
        reason.message.starts_with(
            "/usr/bin/gcc-12 -fopenmp -foffload=amdgcn-amdhsa failed (exited with status 1): \
             lto-wrapper: fatal error: could not find accel/amdgcn-amdhsa/mkoffload"
        ) && reason.message.contains(" | compilation terminated."),
        "{}",
        reason.message
    );

    let mut device = describe(&compiler(true));
    let hung = Ok(finished(End::TimedOut(Duration::from_secs(9)), "", ""));
    assert!(!judge_compile(
        &mut device,
        Path::new("/usr/bin/gcc-12"),
        "nvptx-none",
        hung
    ));
    assert_eq!(device.reason.unwrap().code, ReasonCode::Timeout);
}

#[test]
fn garbled_result_lines_are_not_results() {
    assert_eq!(parse_result(""), None);
    assert_eq!(parse_result("hwspec-gcc-offload devices=1\n"), None);
    assert_eq!(
        parse_result("hwspec-gcc-offload devices=x host_iterations=0 elements=1 checksum=1 max_abs_error=0 elapsed_ms=1"),
        None
    );
    let parsed = parse_result("noise\nhwspec-gcc-offload devices=2 host_iterations=0 elements=4 checksum=1.5 max_abs_error=inf elapsed_ms=0.5\n").unwrap();
    assert_eq!(parsed.devices, 2);
    assert!(parsed.max_abs_error.is_infinite());
}

#[test]
fn bounded_children_are_killed_with_their_grandchildren_and_never_share_stdout() {
    let start = Instant::now();
    let finished = run_bounded(
        Command::new("sh").args(["-c", "echo out; echo err >&2; sleep 30 & sleep 30"]),
        Duration::from_millis(300),
    )
    .unwrap();
    assert_eq!(finished.end, End::TimedOut(Duration::from_millis(300)));
    assert_eq!(finished.stdout, "out\n");
    assert_eq!(finished.stderr, "err\n");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    let finished = run_bounded(
        Command::new("sh").args(["-c", "exit 3"]),
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(!finished.succeeded());
    assert_eq!(finished.end, exited(3));
}

/// A descendant that leaves the child's process group (`setsid`) cannot be killed with it and
/// holds the pipes open; what the child wrote is still returned, at once: an empty pipe that
/// nobody is reading from has nothing more to give. (Before, the output was waited for with a
/// fixed grace and then dropped.)
#[test]
fn output_held_open_by_an_escaped_descendant_is_returned_at_once() {
    let dir = TempDir::new("gcc-escape");
    let pidfile = dir.path().join("pid");
    let script = format!(
        "echo out; echo err >&2; setsid sh -c 'echo $$ > {}; exec sleep 30' & \
         while [ ! -s {} ]; do sleep 0.01; done",
        pidfile.display(),
        pidfile.display()
    );
    let start = Instant::now();
    let finished = run_bounded(
        Command::new("sh").args(["-c", &script]),
        Duration::from_secs(10),
    )
    .unwrap();
    let elapsed = start.elapsed();
    // The escaped descendant is not the probe's to leave behind.
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        let _ = Command::new("kill").arg("-KILL").arg(pid.trim()).status();
    }
    assert!(finished.succeeded(), "{:?}", finished.end);
    assert_eq!(finished.stdout, "out\n");
    assert_eq!(finished.stderr, "err\n");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// The compile path on this machine (issue 7: "the GCC nvptx offload compile path is exercised
/// by a test when the Debian offload packages are installed"). scripts/test.sh installs
/// gcc-12-offload-nvptx; without an NVIDIA GPU the program runs on the host and the device
/// ends `enumerated` with `no-device`, with a GPU it is validated.
#[test]
fn the_installed_nvptx_offload_compiler_builds_the_program() {
    let layout = Layout::system();
    let installation = detect(&layout);
    let compiler = installation
        .compilers
        .iter()
        .find(|c| c.target.triple == "nvptx-none")
        .unwrap_or_else(|| {
            panic!(
                "no nvptx offload compiler under /usr/lib/gcc/{}/*/accel/nvptx-none: install \
                 gcc-12-offload-nvptx (scripts/test.sh does)",
                layout.multiarch
            )
        });
    let mut progress = Recorder::default();
    let report = probe_with(&layout, Level::Standard, &mut progress);
    assert_eq!(progress.stages.first(), Some(&Stage::Enumerate));
    assert!(progress.stages.contains(&Stage::Kernel));
    let device = report
        .devices
        .iter()
        .find(|d| d.arch.as_deref() == Some("nvptx"))
        .unwrap();
    assert_eq!(
        device.name,
        format!("GCC {} offloading to nvptx-none", compiler.version)
    );
    assert_eq!(
        device.properties.get("compiled").map(String::as_str),
        Some("yes"),
        "{:?}",
        device.reason
    );
    // A GPU on the PCI bus is what would make the region run there; a device node is no
    // evidence (NVIDIA's libcuda creates /dev/nvidiactl as root on machines without a GPU).
    if !crate::host::pci_display_devices("0x10de").is_empty() {
        assert_eq!(device.status, Status::Validated, "{:?}", device.reason);
        assert_eq!(device.kind, DeviceKind::Gpu);
    } else {
        assert_eq!(device.status, Status::Enumerated, "{:?}", device.reason);
        assert_eq!(device.kind, DeviceKind::Other);
        let reason = device.reason.as_ref().unwrap();
        assert_eq!(reason.code, ReasonCode::NoDevice, "{}", reason.message);
        assert_eq!(device.properties["ran_on_device"], "no");
    }
}

/// Runs [`child_probe_entry`] in a child process: the kernel cache is found through the
/// environment, which a test may only set for a process of its own.
const CHILD: crate::testing::ChildRunner = crate::testing::ChildRunner {
    module: module_path!(),
    entry: "child_probe_entry",
    switch: "HWSPEC_TEST_GCC_OFFLOAD_CHILD_PROBE",
    level_var: "HWSPEC_TEST_GCC_OFFLOAD_CHILD_LEVEL",
    marker: "hwspec-gcc-offload-child-report:",
    cleared: &[&[crate::driver_dirs::DRIVER_CACHE_ENV]],
};

/// Only does something in a child started through [`CHILD`]: probes and prints the report.
#[test]
fn child_probe_entry() {
    if CHILD.mode().is_none() {
        return;
    }
    CHILD.print_report(&GccOffloadBackend.probe(CHILD.level(), &mut NoProgress));
}

#[test]
fn the_compiled_program_is_cached_and_a_bad_entry_is_rebuilt() {
    let cache = TempDir::new("gcc-offload-cache");
    let env = [(crate::driver_dirs::DRIVER_CACHE_ENV, cache.path())];
    let compiled = |report: &BackendReport| {
        let device = report
            .devices
            .iter()
            .find(|d| d.arch.as_deref() == Some("nvptx"))
            .expect("an nvptx device: scripts/test.sh installs gcc-12-offload-nvptx");
        assert_ne!(device.status, Status::Failed, "{device:#?}");
        device.properties["compiled"].clone()
    };
    assert_eq!(compiled(&CHILD.probe(Level::Standard, &env)), "yes");
    assert_eq!(
        compiled(&CHILD.probe(Level::Standard, &env)),
        "yes (cached from an earlier probe)"
    );
    let entries: Vec<PathBuf> = std::fs::read_dir(cache.path().join("gcc-offload"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"#!/bin/sh\nexit 3\n").unwrap();
    assert_eq!(compiled(&CHILD.probe(Level::Standard, &env)), "yes");
}
