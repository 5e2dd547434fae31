//! The caller's environment.

use super::*;

fn check_cuda_visible_devices_without_libcuda(name: &str, value: &str) {
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("CUDA_VISIBLE_DEVICES", value)
        .run();
    assert_backend(&report, "cuda", "absent", Some("library-not-found"));
    assert_eq!(
        report["host"]["environment"]["CUDA_VISIBLE_DEVICES"], value,
        "the report shows the variable: {:#}",
        report["host"]
    );
    assert_software_devices_validated(&report);
}

#[test]
fn cuda_visible_devices_empty_without_libcuda() {
    check_cuda_visible_devices_without_libcuda("cuda_visible_devices_empty_without_libcuda", "");
}

#[test]
fn cuda_visible_devices_minus_one_without_libcuda() {
    let name = "cuda_visible_devices_minus_one_without_libcuda";
    check_cuda_visible_devices_without_libcuda(name, "-1");
}

#[test]
fn cuda_visible_devices_duplicate_without_libcuda() {
    let name = "cuda_visible_devices_duplicate_without_libcuda";
    check_cuda_visible_devices_without_libcuda(name, "0,0");
}

/// With a libcuda that answers an empty or `-1` list with "no device", as the real one does,
/// on a machine without GPU nodes that is `no-device`, not `hidden-by-env`.
fn check_cuda_visible_devices_hiding_all(name: &str, value: &str) {
    let report = cuda_fault(name, "visible", TIMEOUT)
        .env("CUDA_VISIBLE_DEVICES", value)
        .run();
    assert_backend(&report, "cuda", "absent", Some("no-device"));
    assert_software_devices_validated(&report);
}

#[test]
fn cuda_visible_devices_empty_with_fake_libcuda() {
    check_cuda_visible_devices_hiding_all("cuda_visible_devices_empty_with_fake_libcuda", "");
}

#[test]
fn cuda_visible_devices_minus_one_with_fake_libcuda() {
    let name = "cuda_visible_devices_minus_one_with_fake_libcuda";
    check_cuda_visible_devices_hiding_all(name, "-1");
}

#[test]
fn home_pointing_nowhere() {
    let name = "home_pointing_nowhere";
    let report = Probe::new(name, "cpu,opencl,vulkan,cuda,hip", TIMEOUT)
        .env("HOME", "/nonexistent/hwspec-home")
        .run();
    assert_software_devices_validated(&report);
    assert_backend(&report, "cuda", "absent", Some("library-not-found"));
    assert_backend(&report, "hip", "absent", Some("no-device"));
}

/// PoCL lists no device, silently, when its cache directory is not writable (design §7);
/// hwspec gives it its own driver cache instead. A directory below a regular file is
/// unwritable even for root, which ignores permission bits.
#[test]
fn unwritable_pocl_cache_dir_is_overridden() {
    let name = "unwritable_pocl_cache_dir_is_overridden";
    let dir = scratch_dir(name);
    std::fs::write(dir.join("file"), b"").unwrap();
    let unwritable = dir.join("file/pocl-cache");
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("POCL_CACHE_DIR", &unwritable)
        .run();
    assert_software_devices_validated(&report);
    let used = report["host"]["environment"]["POCL_CACHE_DIR"].as_str();
    assert_ne!(used, unwritable.to_str(), "{:#}", report["host"]);
}

#[test]
fn closed_stdin_stdout_and_stderr() {
    let name = "closed_stdin_stdout_and_stderr";
    let output = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .through_shell(r#"exec "$@" <&- >&- 2>&-"#)
        .run_raw();
    // Nothing can be read back; the documented outcome is success, in bounded time, with
    // no process left behind (checked by run_raw).
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.is_empty());
}

#[test]
fn closed_stdin_and_stderr_still_report() {
    let name = "closed_stdin_and_stderr_still_report";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .through_shell(r#"exec "$@" <&- 2>&-"#)
        .run();
    assert_software_devices_validated(&report);
}

/// A caller that ignores SIGCHLD passes that on through exec; children are then reaped by the
/// kernel and waitpid fails, in hwspec and in the runtimes (PoCL waits for its linker).
#[test]
fn ignored_sigchld_in_the_caller() {
    let name = "ignored_sigchld_in_the_caller";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .through_shell(r#"trap '' CHLD; exec "$@""#)
        .run();
    assert_software_devices_validated(&report);
    // Nothing about workers (a reaped child, a missing exit status); drivers that found no
    // device on this machine (Mesa's Intel and AMD Vulkan drivers) are named as always.
    for b in report["backends"].as_array().unwrap() {
        for warning in b["warnings"].as_array().unwrap() {
            let warning = warning.as_str().unwrap();
            assert!(
                warning.starts_with("Vulkan driver manifest ")
                    && warning.ends_with("the driver loaded and reported no physical device"),
                "{b:#}"
            );
        }
    }
}

/// A program linking hwspec with 50 busy threads (each taking a shared lock and allocating,
/// so that some thread always holds the allocator's and the lock's state) starts its workers
/// with exec, never fork alone, and gets a correct report.
#[test]
fn fifty_busy_threads_in_the_caller() {
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let stop = Arc::clone(&stop);
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    {
                        let mut held = shared.lock().unwrap();
                        held.push(vec![i as u8; 4096 + i]);
                        if held.len() > 64 {
                            held.clear();
                        }
                    }
                    // Busy, but not so greedy that two cores cannot run the workers.
                    thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let mut options = hwspec_core::ProbeOptions::new(hwspec_core::WorkerCommand::hwspec(env!(
        "CARGO_BIN_EXE_hwspec"
    )));
    options.backends = vec![BackendName::Cpu, BackendName::Opencl, BackendName::Vulkan];
    options.deadlines.total = Duration::from_secs_f64(TIMEOUT);
    let started = Instant::now();
    let report = hwspec_core::probe(&options);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        elapsed <= Duration::from_secs_f64(TIMEOUT + 1.0),
        "took {elapsed:?}"
    );
    let report = serde_json::to_value(&report).unwrap();
    assert_backend(&report, "cpu", "validated", None);
    assert_opencl_validated_on_pocl(&report);
    assert_backend(&report, "vulkan", "validated", None);
}
