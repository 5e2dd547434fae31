//! A hostile host (issue 10, design §6, §7): the caller's environment, process state, resources
//! and file system are the attacker's or simply broken, and hwspec runs as root in apt hooks.
//! Each case checks, besides its own promise, what every fault case checks (`tests/faults/`):
//! bounded time, exit 0, one JSON document on stdout, no fixture output leaked, nothing left
//! running.
//!
//! Families: what root lets through from a user's environment; processes that must not outlive
//! hwspec (a killed parent, escaping grandchildren, inherited descriptors, a host ignoring
//! SIGCHLD, a process limit); bounded memory, workers and time; a report cache and driver cache
//! that cannot lie. docs/reliability.md has one row per test, kept complete by the last test.
//!
//! Cases that need root (the root policy, a process limit, which root ignores) or a private
//! mount namespace (`unshare -m`: a full or read-only cache directory, a private /tmp) say so on
//! stderr and skip where the machine does not allow them; CI runs as root, where they all run.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hwspec_core::model::BackendName;
use hwspec_core::protocol::{PARENT_ENV, WORKER_ARG};
use serde_json::Value;
use support::harness::*;
use support::{backend, compile_shared_object, scratch_dir};

/// Says why a case cannot run here. Returns `true` when it must be skipped.
fn skipped(name: &str, reason: Option<String>) -> bool {
    match reason {
        Some(reason) => {
            eprintln!("{name}: SKIPPED: {reason}");
            true
        }
        None => false,
    }
}

fn needs_root() -> Option<String> {
    (!hwspec_core::sys::is_root()).then(|| {
        "needs root: the policy under test applies to root only (CI runs as root)".to_owned()
    })
}

/// Whether this machine lets root make a private mount namespace (a container may not).
fn needs_mount_namespace() -> Option<String> {
    needs_root().or_else(|| {
        let works = Command::new("unshare")
            .args(["-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (!works).then(|| {
            "needs `unshare -m` with tmpfs mounts (util-linux), which this machine refuses"
                .to_owned()
        })
    })
}

/// [`needs_mount_namespace`], for a test that mounts a fresh `/tmp`: the hwspec under test must
/// not live under `/tmp` itself (a checkout there), or the mount would hide it.
fn needs_a_fresh_tmp() -> Option<String> {
    needs_mount_namespace().or_else(|| {
        Path::new(env!("CARGO_BIN_EXE_hwspec"))
            .starts_with("/tmp")
            .then(|| {
                "mounts a fresh /tmp, which would hide the hwspec under test (built under /tmp)"
                    .to_owned()
            })
    })
}

/// A directory any user may write to: what another user's home or `PATH` entry looks like to
/// root.
fn open_to_all(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir.to_owned()
}

/// `marker.c` built to create `marker` when loaded.
fn marker_library(dir: &Path, marker: &Path) -> PathBuf {
    let define = format!("MARKER_PATH=\"{}\"", marker.display());
    compile_shared_object(
        &["faults/marker.c"],
        &[&define],
        &dir.join("libhwspec_marker.so"),
    )
}

/// A Vulkan driver manifest naming `library`.
fn vulkan_manifest(library: &Path) -> String {
    serde_json::json!({
        "file_format_version": "1.0.0",
        "ICD": {"library_path": library, "api_version": "1.3.0"}
    })
    .to_string()
}

fn dropped(report: &Value) -> Vec<String> {
    report["host"]["dropped_environment"]
        .as_array()
        .unwrap_or_else(|| panic!("host.dropped_environment: {:#}", report["host"]))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn cache_hit(report: &Value) -> bool {
    report["cache"]["hit"] == true
}

/// Checks the report was not cached, for a reason that mentions `why`.
fn assert_not_stored(report: &Value, why: &str) {
    let reason = report["cache"]["not_stored"].as_str().unwrap_or_default();
    assert!(reason.contains(why), "{:#}", report["cache"]);
}

/// Checks each of `files` is named in a warning of `backend`.
fn assert_each_named(report: &Value, name: &str, files: &[PathBuf]) {
    let said = warnings(report, name);
    for file in files {
        let file = file.to_str().unwrap();
        assert!(
            said.iter().any(|w| w.contains(file)),
            "{file} not named: {:#}",
            backend(report, name)
        );
    }
}

fn cuda_fault(name: &str, fault: &str, timeout: f64) -> Probe {
    Probe::new(name, "cpu,cuda", timeout)
        .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
        .env("CUDA_HWSPEC_FAULT", fault)
}

/// Runs hwspec in a private mount namespace after the shell commands `setup`, with `$S` the
/// test's scratch directory.
fn in_namespace(probe: Probe, scratch: &Path, setup: &'static str) -> Probe {
    probe
        .env("HWSPEC_TEST_SETUP", setup)
        .env("S", scratch)
        .through_shell(r#"exec unshare -m /bin/sh -ec "$HWSPEC_TEST_SETUP"' exec "$@"' sh "$@""#)
}

// ---------------------------------------------------------------------------------------------
// Root: nothing a non-root user controls is read, loaded or run.

/// `sudo -E hwspec probe`: the Vulkan loader reads driver manifests under `$HOME/.local/share`
/// and `$HOME/.config`, so a user's home would make root load the user's library.
#[test]
fn root_ignores_driver_manifests_in_a_user_home() {
    let name = "root_ignores_driver_manifests_in_a_user_home";
    if skipped(name, needs_root()) {
        return;
    }
    let dir = scratch_dir(name);
    let home = open_to_all(&dir.join("home"));
    let marker = dir.join("loaded");
    let library = marker_library(&dir, &marker);
    for manifests in [".local/share/vulkan/icd.d", ".config/vulkan/icd.d"] {
        let dir = open_to_all(&home.join(manifests));
        std::fs::write(dir.join("user.json"), vulkan_manifest(&library)).unwrap();
    }
    let report = Probe::new(name, "cpu,vulkan", 15.0)
        .untrusted_env()
        .env("HOME", &home)
        .run();
    assert!(
        !marker.exists(),
        "root loaded a library from the user's home"
    );
    assert!(
        dropped(&report).contains(&"HOME".to_owned()),
        "{:#}",
        report["host"]
    );
    assert_backend(&report, "vulkan", "validated", None);

    // The control: trusting the environment, the same home is used and the library loaded.
    Probe::new(&format!("{name}-trusted"), "cpu,vulkan", 15.0)
        .env("HOME", &home)
        .run();
    assert!(
        marker.exists(),
        "with --trust-env the user's manifest is read"
    );
}

/// The report cache's fingerprint reads only what workers read: as root without trust, a
/// manifest in a user's home changing does not invalidate the cached report (and, being
/// unread, cannot block or flood it); trusted, it does.
#[test]
fn root_does_not_fingerprint_a_user_home() {
    let name = "root_does_not_fingerprint_a_user_home";
    if skipped(name, needs_root()) {
        return;
    }
    let dir = scratch_dir(name);
    let home = open_to_all(&dir.join("home"));
    let manifests = open_to_all(&home.join(".local/share/vulkan/icd.d"));
    let manifest = manifests.join("user.json");
    let mut version = 0;
    let mut touch = || {
        version += 1;
        let text = format!(r#"{{"file_format_version": "1.0.{version}", "ICD": {{}}}}"#);
        std::fs::write(&manifest, text).unwrap();
    };
    touch();
    let probe = |trusted: bool| {
        let probe = Probe::new(name, "cpu", 15.0).cached().env("HOME", &home);
        if trusted {
            probe
        } else {
            probe.untrusted_env()
        }
    };
    probe(false).run();
    touch();
    let again = probe(false).run();
    assert!(cache_hit(&again), "untrusted: {:#}", again["cache"]);

    probe(true).run();
    assert!(cache_hit(&probe(true).run()), "trusted, unchanged: a hit");
    touch();
    let changed = probe(true).run();
    assert!(!cache_hit(&changed), "trusted: {:#}", changed["cache"]);
}

/// Variables that make a loader, runtime or driver load code, passed by a user's environment to
/// root: none reaches a worker, each is named in the report. Two of them are proven by effect
/// (a Vulkan driver and an OpenCL ICD that would leave a marker), the rest by the report.
#[test]
fn root_withholds_code_loading_variables() {
    let name = "root_withholds_code_loading_variables";
    if skipped(name, needs_root()) {
        return;
    }
    let dir = scratch_dir(name);
    let marker = dir.join("loaded");
    let library = marker_library(&dir, &marker);
    let manifest = dir.join("user_icd.json");
    std::fs::write(&manifest, vulkan_manifest(&library)).unwrap();
    let vendors = dir.join("vendors");
    std::fs::create_dir_all(&vendors).unwrap();
    std::fs::write(vendors.join("user.icd"), format!("{}\n", library.display())).unwrap();
    std::fs::copy(POCL_ICD, vendors.join("pocl.icd")).unwrap();
    let variables = [
        ("VK_ADD_DRIVER_FILES", manifest.to_str().unwrap()),
        ("OCL_ICD_VENDORS", vendors.to_str().unwrap()),
        ("CUDA_INJECTION64_PATH", library.to_str().unwrap()),
        ("HSA_TOOLS_LIB", library.to_str().unwrap()),
        ("VK_ADD_LAYER_PATH", dir.to_str().unwrap()),
        // The dynamic linker applies LD_AUDIT (like LD_PRELOAD) to hwspec itself, whatever
        // hwspec does; only the workers' copy is hwspec's to withhold.
        ("LD_AUDIT", "/nonexistent/libhwspec_audit.so"),
        ("LIBVA_DRIVERS_PATH", dir.to_str().unwrap()),
        ("GBM_BACKENDS_PATH", dir.to_str().unwrap()),
        ("__EGL_VENDOR_LIBRARY_DIRS", dir.to_str().unwrap()),
        ("ZE_ENABLE_ALT_DRIVERS", library.to_str().unwrap()),
        ("ROCM_PATH", dir.to_str().unwrap()),
        ("HIP_PATH", dir.to_str().unwrap()),
        ("MESA_LOADER_DRIVER_OVERRIDE", "hwspec_user"),
    ];
    let with_all = |probe: Probe| {
        variables
            .iter()
            .fold(probe, |probe, (key, value)| probe.env(key, value))
    };
    let report = with_all(Probe::new(name, "cpu,opencl,vulkan", 15.0).untrusted_env()).run();
    assert!(!marker.exists(), "a worker loaded the user's library");
    let withheld = dropped(&report);
    for (key, _) in variables {
        assert!(withheld.contains(&key.to_owned()), "{key}: {withheld:?}");
        assert!(report["host"]["environment"].get(key).is_none(), "{key}");
    }
    assert_opencl_validated_on_pocl(&report);
    assert_backend(&report, "vulkan", "validated", None);

    let trusted = with_all(Probe::new(
        &format!("{name}-trusted"),
        "cpu,opencl,vulkan",
        15.0,
    ))
    .run();
    assert!(
        marker.exists(),
        "the control: trusted, the user's driver is loaded"
    );
    assert!(dropped(&trusted).is_empty(), "{:#}", trusted["host"]);
}

/// PoCL links every kernel it compiles with `ld`, found through `PATH`: a `PATH` entry another
/// user can write to would have root run that user's `ld`. Such entries are removed (the cold
/// driver cache in a private namespace makes PoCL link now).
#[test]
fn root_runs_no_program_from_a_path_entry_another_user_controls() {
    let name = "root_runs_no_program_from_a_path_entry_another_user_controls";
    if skipped(name, needs_mount_namespace()) {
        return;
    }
    let dir = scratch_dir(name);
    let bin = open_to_all(&dir.join("bin"));
    let marker = dir.join("ran");
    let fake_ld = bin.join("ld");
    std::fs::write(
        &fake_ld,
        format!(
            "#!/bin/sh\ntouch '{}'\nexec /usr/bin/ld \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake_ld, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    const COLD_CACHE: &str = "mount -t tmpfs -o mode=0755 tmpfs /var/cache/hwspec;";
    let probe = |name: &str, trusted: bool| {
        let probe = Probe::new(name, "cpu,opencl", 30.0).env("PATH", &path);
        let probe = if trusted {
            probe
        } else {
            probe.untrusted_env()
        };
        in_namespace(probe, &dir, COLD_CACHE)
    };
    let report = probe(name, false).run();
    assert!(!marker.exists(), "root ran the user's ld");
    assert!(
        dropped(&report).contains(&"PATH".to_owned()),
        "{:#}",
        report["host"]
    );
    assert_opencl_validated_on_pocl(&report);

    probe(&format!("{name}-trusted"), true).run();
    assert!(
        marker.exists(),
        "the control: trusted, PoCL runs the first ld in PATH"
    );
}

// ---------------------------------------------------------------------------------------------
// Processes: nothing outlives hwspec.

/// Waits until `count` processes carry `marker`, for at most `limit`.
fn wait_for_processes(marker: &str, count: usize, limit: Duration) -> bool {
    let needle = marker_needle(marker);
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if processes_with(&needle).len() >= count {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// hwspec killed by `signal` while its CUDA worker hangs in `cuInit` after starting a grandchild
/// that left its session: the worker sees its lifeline close (and its parent-death signal) and
/// kills everything it started.
fn parent_killed_leaves_nothing_behind(name: &str, signal: &str) {
    let probe = cuda_fault(name, "escape-hang", 60.0);
    let marker = probe.marker();
    let mut child = probe.command(&marker).spawn().unwrap();
    // hwspec itself, the hanging worker and the escaped grandchild.
    let started = wait_for_processes(&marker, 3, Duration::from_secs(20));
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(started, "{name}: the worker and its grandchild never ran");
    assert_no_survivors(name, &marker);
}

#[test]
fn parent_killed_by_sigkill_leaves_nothing_behind() {
    parent_killed_leaves_nothing_behind("parent_killed_by_sigkill_leaves_nothing_behind", "KILL");
}

#[test]
fn parent_killed_by_sigterm_leaves_nothing_behind() {
    parent_killed_leaves_nothing_behind("parent_killed_by_sigterm_leaves_nothing_behind", "TERM");
}

#[test]
fn parent_killed_by_sigint_leaves_nothing_behind() {
    parent_killed_leaves_nothing_behind("parent_killed_by_sigint_leaves_nothing_behind", "INT");
}

#[test]
fn parent_killed_by_sighup_leaves_nothing_behind() {
    parent_killed_leaves_nothing_behind("parent_killed_by_sighup_leaves_nothing_behind", "HUP");
}

/// The worker checks after exec that its parent is still the process that started it: had the
/// parent died before the parent-death signal was armed, the worker would run on forever.
/// Started with a parent that is not the one it was told about, it runs no driver.
#[test]
fn a_worker_whose_parent_is_already_gone_runs_nothing() {
    let name = "a_worker_whose_parent_is_already_gone_runs_nothing";
    let marker = format!("{name}-{}", std::process::id());
    let output = Command::new(env!("CARGO_BIN_EXE_hwspec"))
        .args([WORKER_ARG, "cuda", "standard"])
        .env(PARENT_ENV, "1")
        .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
        .env("CUDA_HWSPEC_FAULT", "escape-hang")
        .env(RUN_MARKER, &marker)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    assert_no_survivors(name, &marker);
}

/// A worker whose lifeline (its stdin, whose other end only the parent holds) closes ends, and
/// with it the grandchild that left its session.
#[test]
fn a_worker_whose_lifeline_is_cut_ends_with_its_descendants() {
    let name = "a_worker_whose_lifeline_is_cut_ends_with_its_descendants";
    let marker = format!("{name}-{}", std::process::id());
    let mut worker = Command::new(env!("CARGO_BIN_EXE_hwspec"))
        .args([WORKER_ARG, "cuda", "standard"])
        .env(PARENT_ENV, std::process::id().to_string())
        .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
        .env("CUDA_HWSPEC_FAULT", "escape-hang")
        .env(RUN_MARKER, &marker)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = wait_for_processes(&marker, 2, Duration::from_secs(20));
    drop(worker.stdin.take());
    let _ = worker.wait();
    assert!(started, "the worker's grandchild never ran");
    assert_no_survivors(name, &marker);
}

/// A driver's child that left the worker's session and process group (`setsid`, double fork)
/// is out of reach of the group kill; the worker, a subreaper, kills it when it finishes.
#[test]
fn escaped_grandchild_is_killed_when_the_worker_finishes() {
    let name = "escaped_grandchild_is_killed_when_the_worker_finishes";
    let report = cuda_fault(name, "escape", TIMEOUT).run();
    assert_backend(&report, "cuda", "absent", Some("no-device"));
    assert!(
        backend(&report, "cuda")["warnings"] == serde_json::json!([]),
        "{:#}",
        backend(&report, "cuda")
    );
}

/// The same grandchild, its worker then hanging: the deadline's SIGTERM reaches the worker's
/// watchdog, which kills it.
#[test]
fn escaped_grandchild_of_a_hanging_worker_is_killed_at_the_deadline() {
    let name = "escaped_grandchild_of_a_hanging_worker_is_killed_at_the_deadline";
    let report = cuda_fault(name, "escape-hang", HANG_TIMEOUT).run();
    assert_backend(&report, "cuda", "unusable", Some("timeout"));
}

/// The same grandchild, its worker then crashing: re-parented to hwspec, itself a subreaper,
/// which kills what is left once the probe is over.
#[test]
fn escaped_grandchild_of_a_crashed_worker_is_killed_by_the_cli() {
    let name = "escaped_grandchild_of_a_crashed_worker_is_killed_by_the_cli";
    let report = cuda_fault(name, "escape-segv", TIMEOUT).run();
    assert_backend(&report, "cuda", "unusable", Some("crashed"));
}

/// A descriptor the caller left open without close-on-exec (fd 7 here) is closed in the worker
/// before any driver runs: the fixture's cuInit answers "no device" only when it is closed.
#[test]
fn callers_descriptors_do_not_reach_workers() {
    let name = "callers_descriptors_do_not_reach_workers";
    let report = cuda_fault(name, "fd:7", TIMEOUT)
        .through_shell(r#"exec "$@" 7</dev/null"#)
        .run();
    assert_backend(&report, "cuda", "absent", Some("no-device"));
}

/// `hwspec probe | reader` with a descriptor of the pipe inherited without close-on-exec: an
/// escaped grandchild holding it would keep the reader waiting forever (the harness would
/// report hwspec as still running).
#[test]
fn a_pipeline_is_not_held_open_by_an_escaped_grandchild() {
    let name = "a_pipeline_is_not_held_open_by_an_escaped_grandchild";
    let report = cuda_fault(name, "escape", TIMEOUT)
        .through_shell(r#"exec "$@" 7>&1"#)
        .run();
    assert_backend(&report, "cuda", "absent", Some("no-device"));
}

/// Set for the child process of the next test, which then plays a libhwspec host.
const SIGCHLD_HOST: &str = "HWSPEC_TEST_SIGCHLD_HOST";

/// A program linking hwspec that ignores SIGCHLD: the kernel reaps its workers itself, so
/// hwspec cannot safely signal a worker's process group after it ended. A driver's leftover
/// child, in the worker's group (`fork`) or out of it (`escape`), is killed by the worker.
/// The host is this test binary run again with [`SIGCHLD_HOST`] set.
#[test]
fn a_host_ignoring_sigchld_is_left_no_children() {
    let name = "a_host_ignoring_sigchld_is_left_no_children";
    if std::env::var_os(SIGCHLD_HOST).is_some() {
        sigchld_host();
        return;
    }
    for fault in ["fork", "escape"] {
        let marker = format!("{name}-{fault}-{}", std::process::id());
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(SIGCHLD_HOST, "1")
            .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
            .env("CUDA_HWSPEC_FAULT", fault)
            .env(RUN_MARKER, &marker)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{fault}: {output:?}");
        assert!(
            stdout.contains("host: cuda absent no-device"),
            "{fault}: {stdout}"
        );
        assert_no_survivors(&format!("{name} ({fault})"), &marker);
    }
}

fn sigchld_host() {
    // SAFETY: installing SIG_IGN runs no code and involves no memory; this process is the
    // test's child and runs only this test.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
    }
    let mut options = hwspec_core::ProbeOptions::new(hwspec_core::WorkerCommand::hwspec(env!(
        "CARGO_BIN_EXE_hwspec"
    )));
    options.backends = vec![BackendName::Cuda];
    options.trust_env = true;
    options.deadlines.total = Duration::from_secs_f64(TIMEOUT);
    let report = hwspec_core::probe(&options);
    let cuda = &report.backends[0];
    let code = cuda.reason.as_ref().map_or("-", |r| r.code.as_str());
    println!("host: cuda {} {code}", cuda.status.as_str());
}

/// RLIMIT_NPROC (which root ignores) leaves room for two more threads of the user nobody: the
/// threads and workers hwspec cannot start are reasons in the report, never a panic, and the
/// workers it did start are not orphaned.
#[test]
fn a_low_process_limit_is_a_report_not_a_panic() {
    let name = "a_low_process_limit_is_a_report_not_a_panic";
    if skipped(name, needs_a_fresh_tmp()) {
        return;
    }
    let hwspec = Path::new(env!("CARGO_BIN_EXE_hwspec"));
    let runnable = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(hwspec)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if skipped(
        name,
        (!runnable).then(|| {
            format!(
                "the user nobody cannot run {} (a private directory above it?)",
                hwspec.display()
            )
        }),
    ) {
        return;
    }
    // Tasks (processes and threads) the user nobody has now, which count against the limit.
    let tasks: usize = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .filter(|status| status.lines().any(|l| l.starts_with("Uid:\t65534\t")))
        .map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:\t")?.trim().parse().ok())
                .unwrap_or(1)
        })
        .sum();
    let limit = tasks + 3;
    let report = Probe::new(name, "cpu,opencl,vulkan,cuda", TIMEOUT)
        .env("HWSPEC_TEST_NPROC", limit.to_string())
        .env("HOME", "/nonexistent")
        .through_shell(
            r#"exec unshare -m /bin/sh -ec 'mount -t tmpfs tmpfs /tmp; exec prlimit --nproc=$HWSPEC_TEST_NPROC setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' sh "$@""#,
        )
        .run();
    assert_eq!(report["host"]["root"], false, "{:#}", report["host"]);
    let failed: Vec<&Value> = report["backends"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["reason"]["code"] == "worker-failed")
        .collect();
    assert!(!failed.is_empty(), "no backend hit the limit: {report:#}");
    for b in failed {
        let message = b["reason"]["message"].as_str().unwrap();
        assert!(
            message.contains("Resource temporarily unavailable"),
            "{message}"
        );
    }
    assert_not_stored(&report, "could not start");
}

// ---------------------------------------------------------------------------------------------
// Resources: memory, number of workers, time.

/// A driver that leaks 16 MiB at a time in cuInit is stopped at the worker's memory limit
/// (anonymous resident memory, measured by the worker's watchdog) and reported as such.
#[test]
fn a_leaking_driver_is_stopped_at_its_memory_limit() {
    let name = "a_leaking_driver_is_stopped_at_its_memory_limit";
    let report = cuda_fault(name, "leak", TIMEOUT)
        .arg("--memory-limit")
        .arg("256")
        .run();
    assert_backend(&report, "cuda", "unusable", Some("memory-limit"));
    let message = backend(&report, "cuda")["reason"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("256 MiB limit"), "{message}");
    assert!(message.contains("stage init"), "{message}");
    assert_backend(&report, "cpu", "validated", None);
    assert_not_stored(&report, "memory");
}

/// 300 Vulkan manifests, one of them not JSON (loader 1.3.239 then fails for all) so that
/// each is probed alone: at most 16 workers run at once (191 did), and `--timeout 5` ends the
/// whole probe within 6 s (9.9 s before).
#[test]
fn three_hundred_vulkan_manifests_keep_the_deadline_and_the_worker_bound() {
    let name = "three_hundred_vulkan_manifests_keep_the_deadline_and_the_worker_bound";
    let dir = scratch_dir(name);
    std::fs::write(dir.join("000-broken.json"), "{ not json").unwrap();
    for i in 1..299 {
        let missing = format!("/nonexistent/libhwspec_vk_{i}.so");
        std::fs::write(
            dir.join(format!("{i:03}.json")),
            vulkan_manifest(Path::new(&missing)),
        )
        .unwrap();
    }
    std::fs::copy(LAVAPIPE_MANIFEST, dir.join("zzz-lavapipe.json")).unwrap();
    let probe = Probe::new(name, "vulkan", 5.0).env("VK_DRIVER_FILES", &dir);
    let marker = probe.marker();
    let done = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, most) = (Arc::clone(&done), Arc::clone(&most));
        let needle = marker_needle(&marker);
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let workers = processes_with(&needle)
                    .iter()
                    .filter(|pid| {
                        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                            c.windows(WORKER_ARG.len())
                                .any(|w| w == WORKER_ARG.as_bytes())
                        })
                    })
                    .count();
                most.fetch_max(workers, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let report = probe.run();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let most = most.load(Ordering::Relaxed);
    assert!((1..=16).contains(&most), "{most} workers at once");
    let vulkan = backend(&report, "vulkan");
    assert!(vulkan["properties"]["isolation"].is_string(), "{vulkan:#}");
}

/// Manifests that are a FIFO (opening it blocks), a symlink to /dev/zero (never ends) and a
/// 200 MB file: the parent's fingerprint and hwspec's own manifest check read nothing that
/// blocks or never ends; the loader in the worker that does is stopped, each is named, and
/// lavapipe still counts.
#[test]
fn vulkan_manifests_that_block_or_never_end_are_named() {
    let name = "vulkan_manifests_that_block_or_never_end_are_named";
    let dir = scratch_dir(name);
    let files = hostile_files(&dir, "json");
    std::fs::copy(LAVAPIPE_MANIFEST, dir.join("lavapipe.json")).unwrap();
    let report = Probe::new(name, "cpu,vulkan", 10.0)
        .env("VK_DRIVER_FILES", &dir)
        .arg("--memory-limit")
        .arg("512")
        .run();
    assert_backend(&report, "vulkan", "validated", None);
    assert_each_named(&report, "vulkan", &files);
}

/// The same three files as OpenCL ICDs next to PoCL's.
#[test]
fn opencl_icds_that_block_or_never_end_are_named() {
    let name = "opencl_icds_that_block_or_never_end_are_named";
    let dir = scratch_dir(name);
    let files = hostile_files(&dir, "icd");
    std::fs::copy(POCL_ICD, dir.join("pocl.icd")).unwrap();
    let report = Probe::new(name, "cpu,opencl", 10.0)
        .env("OCL_ICD_VENDORS", &dir)
        .arg("--memory-limit")
        .arg("512")
        .run();
    assert_opencl_validated_on_pocl(&report);
    assert_each_named(&report, "opencl", &files);
}

/// A FIFO, a symlink to /dev/zero and a sparse 200 MB file, with `extension`, in `dir`.
fn hostile_files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let fifo = dir.join(format!("fifo.{extension}"));
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo");
    let zero = dir.join(format!("zero.{extension}"));
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let big = dir.join(format!("big.{extension}"));
    std::fs::File::create(&big)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    vec![fifo, zero, big]
}

// ---------------------------------------------------------------------------------------------
// The caches: nothing transient is kept, no full or foreign directory is used.

/// A worker that times out (here one that blocks in OpenCL's init stage, made to by the test
/// build's `HWSPEC_TEST_FAULT`, so the timeout does not depend on how fast PoCL starts) says
/// nothing about the machine, so the report is not cached, and the next `hwspec probe` (or
/// `check`) probes again instead of serving it for an hour.
#[test]
fn a_timed_out_probe_is_not_cached() {
    let name = "a_timed_out_probe_is_not_cached";
    let probe = |timeout: f64| {
        Probe::new(name, "cpu,opencl", timeout)
            .cached()
            .arg("--level")
            .arg("quick")
    };
    // The loader-wide worker times out, then each ICD's re-probe does: two rounds.
    let short = probe(1.0)
        .rounds(2)
        .env("HWSPEC_TEST_FAULT", "opencl:init:hang")
        .run();
    assert_eq!(status_and_code(&short, "opencl").1, "timeout", "{short:#}");
    assert_not_stored(&short, "timed out");
    let next = probe(TIMEOUT).run();
    assert!(
        !cache_hit(&next),
        "the timeout was cached: {:#}",
        next["cache"]
    );
    assert_backend(&next, "opencl", "enumerated", None);
    assert!(cache_hit(&probe(TIMEOUT).run()), "a true report is cached");
}

/// Under a descriptor limit of 16, hwspec cannot create every worker's pipes (EMFILE): those
/// backends are `worker-failed`, the report is not cached, and the next probe under the normal
/// limit probes again.
#[test]
fn a_probe_under_a_low_descriptor_limit_is_not_cached() {
    let name = "a_probe_under_a_low_descriptor_limit_is_not_cached";
    let probe = || Probe::new(name, "cpu,opencl,vulkan,cuda", TIMEOUT).cached();
    let starved = probe().through_shell(r#"ulimit -n 16; exec "$@""#).run();
    let failed = report_codes(&starved)
        .iter()
        .filter(|code| *code == "worker-failed")
        .count();
    assert!(failed > 0, "{starved:#}");
    assert_not_stored(&starved, "could not start");
    let next = probe().run();
    assert!(!cache_hit(&next), "{:#}", next["cache"]);
    assert_software_devices_validated(&next);
}

fn report_codes(report: &Value) -> Vec<String> {
    report["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reason"]["code"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Root's cache directory on a full filesystem (a 1 MiB tmpfs, filled): creating an empty file
/// there still works, storing a compiled kernel does not, and PoCL would then list no device.
/// The driver cache must take a 1 MiB write, so hwspec falls back to a private directory in
/// /tmp and OpenCL, Vulkan and EGL validate.
#[test]
fn a_full_driver_cache_filesystem_falls_back_to_a_private_directory() {
    let name = "a_full_driver_cache_filesystem_falls_back_to_a_private_directory";
    if skipped(name, needs_a_fresh_tmp()) {
        return;
    }
    let dir = scratch_dir(name);
    const FULL: &str = "mount -t tmpfs -o size=1m,mode=0755 tmpfs /var/cache/hwspec; \
        mkdir -m 0700 /var/cache/hwspec/driver-cache; \
        cat /dev/zero > /var/cache/hwspec/fill 2>/dev/null || true; \
        mount -t tmpfs tmpfs /tmp;";
    // PoCL and lavapipe build their kernels cold here (fresh tmpfs), which takes seconds on
    // two busy cores: the deadline is generous, as the fallback is what is under test.
    let report = in_namespace(
        Probe::new(name, "cpu,opencl,vulkan,egl", 2.0 * TIMEOUT),
        &dir,
        FULL,
    )
    .run();
    let cache = report["host"]["driver_cache"].as_str().unwrap_or_default();
    assert!(
        cache.starts_with("/tmp/hwspec-0-driver-cache."),
        "{:#}",
        report["host"]
    );
    assert_software_devices_validated(&report);
    assert_backend(&report, "egl", "validated", None);
}

/// Another user made directories named like hwspec's fallback driver cache in /tmp beforehand
/// (the old fixed name, and names of the new form): none is used, since only a directory this
/// user owns with mode 0700 is, and OpenCL still validates in a fresh one.
#[test]
fn squatted_fallback_directories_are_never_used() {
    let name = "squatted_fallback_directories_are_never_used";
    if skipped(name, needs_a_fresh_tmp()) {
        return;
    }
    let dir = scratch_dir(name);
    const SQUATTED: &str = "mount -t tmpfs -o mode=0755 tmpfs /var/cache/hwspec; \
        mount -o remount,ro /var/cache/hwspec; \
        mount -t tmpfs tmpfs /tmp; \
        mkdir -m 0777 /tmp/hwspec-0-driver-cache; \
        mkdir -m 0700 /tmp/hwspec-0-driver-cache.AAAAAA; \
        chown 65534:65534 /tmp/hwspec-0-driver-cache /tmp/hwspec-0-driver-cache.AAAAAA; \
        mkdir -m 0777 /tmp/hwspec-0-driver-cache.BBBBBB;";
    let report = in_namespace(Probe::new(name, "cpu,opencl", TIMEOUT), &dir, SQUATTED).run();
    let cache = report["host"]["driver_cache"].as_str().unwrap_or_default();
    assert!(
        cache.starts_with("/tmp/hwspec-0-driver-cache."),
        "{:#}",
        report["host"]
    );
    for squatted in ["AAAAAA", "BBBBBB"] {
        assert!(!cache.ends_with(squatted), "{cache}");
    }
    assert_opencl_validated_on_pocl(&report);
}

/// `env -i hwspec probe` (no PATH at all) with a cold PoCL cache: PoCL must find `ld` to link
/// the kernel it compiles, and aborted without PATH; workers get a default one.
#[test]
fn env_i_with_a_cold_pocl_cache_still_links_kernels() {
    let name = "env_i_with_a_cold_pocl_cache_still_links_kernels";
    if skipped(name, needs_mount_namespace()) {
        return;
    }
    let dir = scratch_dir(name);
    const COLD: &str = "mount -t tmpfs -o mode=0755 tmpfs /var/cache/hwspec; \
        exec env -i CUDA_HWSPEC_TEST_RUN=\"$CUDA_HWSPEC_TEST_RUN\" \"$@\";";
    let report = in_namespace(Probe::new(name, "cpu,opencl", 30.0), &dir, COLD).run();
    assert_opencl_validated_on_pocl(&report);
}

/// PoCL makes an empty `tempfile_XXXXXX` in its cache directory at every start and leaves its
/// removal to LLVM at exit, which a worker never reaches: none may pile up in hwspec's cache.
#[test]
fn pocl_leaves_no_temp_file_in_the_driver_cache() {
    let dir = scratch_dir("pocl_leaves_no_temp_file_in_the_driver_cache");
    let mut options = hwspec_core::ProbeOptions::new(hwspec_core::WorkerCommand::hwspec(env!(
        "CARGO_BIN_EXE_hwspec"
    )));
    options.backends = vec![BackendName::Opencl];
    options.driver_cache = Some(dir.join("cache"));
    options.trust_env = true;
    for _ in 0..2 {
        let report = serde_json::to_value(hwspec_core::probe(&options)).unwrap();
        assert_opencl_validated_on_pocl(&report);
    }
    let left: Vec<String> = std::fs::read_dir(dir.join("cache/pocl"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("tempfile"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

// ---------------------------------------------------------------------------------------------
// The matrix stays true.

/// Every test in this file has its row in docs/reliability.md.
#[test]
fn every_hostile_test_is_in_the_reliability_matrix() {
    support::assert_every_test_is_documented("tests/hostile.rs", "docs/reliability.md", 20);
}
