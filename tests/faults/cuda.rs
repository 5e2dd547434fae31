//! CUDA: a fake libcuda.so.1 whose cuInit misbehaves.

use super::*;

pub(crate) const CUDA_BACKENDS: &str = "cpu,opencl,vulkan,cuda";

pub(crate) fn cuda_fault(name: &str, fault: &str, timeout: f64) -> Probe {
    Probe::new(name, CUDA_BACKENDS, timeout)
        .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
        .env("CUDA_HWSPEC_FAULT", fault)
}

/// Runs cuInit with `fault` and checks the CUDA backend's state, reason and loaded library,
/// and that the other backends are unaffected. Returns the report.
fn check_cuda_fault(name: &str, fault: &str, timeout: f64, status: &str, code: &str) -> Value {
    let report = cuda_fault(name, fault, timeout).run();
    assert_backend(&report, "cuda", status, Some(code));
    if worker_reported(code) {
        let cuda = backend(&report, "cuda");
        let fake = fixtures().cuda_dir.join("libcuda.so.1");
        assert_eq!(
            cuda["library"].as_str(),
            Some(fake.to_str().unwrap()),
            "the report names the library loaded: {cuda:#}"
        );
    }
    assert_software_devices_validated(&report);
    report
}

#[test]
fn cuda_init_that_hangs_times_out_in_stage_init() {
    let name = "cuda_init_that_hangs_times_out_in_stage_init";
    let report = check_cuda_fault(name, "hang", HANG_TIMEOUT, "unusable", "timeout");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("stage init"), "{message}");
}

#[test]
fn cuda_init_no_device_is_absent() {
    let name = "cuda_init_no_device_is_absent";
    check_cuda_fault(name, "code:100", TIMEOUT, "absent", "no-device");
}

#[test]
fn cuda_init_stub_library_is_named() {
    let name = "cuda_init_stub_library_is_named";
    let report = check_cuda_fault(name, "code:34", TIMEOUT, "unusable", "stub-library");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("libcuda.so.1"), "{message}");
}

#[test]
fn cuda_init_803_is_compat_refused() {
    let name = "cuda_init_803_is_compat_refused";
    check_cuda_fault(name, "code:803", TIMEOUT, "unusable", "compat-refused");
}

#[test]
fn cuda_init_804_is_compat_refused() {
    let name = "cuda_init_804_is_compat_refused";
    check_cuda_fault(name, "code:804", TIMEOUT, "unusable", "compat-refused");
}

#[test]
fn cuda_init_999_without_device_nodes_is_missing_device_node() {
    assert!(
        !Path::new("/dev/nvidiactl").exists(),
        "this case models a machine without NVIDIA device nodes"
    );
    let name = "cuda_init_999_without_device_nodes_is_missing_device_node";
    let report = check_cuda_fault(name, "code:999", TIMEOUT, "unusable", "missing-device-node");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("/dev/nvidia"), "{message}");
}

#[test]
fn cuda_init_that_segfaults_is_crashed() {
    let name = "cuda_init_that_segfaults_is_crashed";
    let report = check_cuda_fault(name, "segv", TIMEOUT, "unusable", "crashed");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("SIGSEGV"), "{message}");
    assert!(message.contains("stage init"), "{message}");
}

#[test]
fn cuda_init_that_aborts_is_crashed() {
    let name = "cuda_init_that_aborts_is_crashed";
    let report = check_cuda_fault(name, "abort", TIMEOUT, "unusable", "crashed");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("SIGABRT"), "{message}");
}

#[test]
fn cuda_init_that_exits_0_is_partial_output() {
    let name = "cuda_init_that_exits_0_is_partial_output";
    let report = check_cuda_fault(name, "exit0", TIMEOUT, "unusable", "partial-output");
    let message = reason_message(&report, "cuda");
    assert!(message.contains("stage init"), "{message}");
}

#[test]
fn cuda_init_spewing_10_mb_to_stdout_is_contained() {
    let name = "cuda_init_spewing_10_mb_to_stdout_is_contained";
    // Run::run checks that none of the 10 MB reached the caller.
    check_cuda_fault(name, "spew", TIMEOUT, "absent", "no-device");
}

#[test]
fn cuda_grandchild_holding_the_pipe_is_killed() {
    let name = "cuda_grandchild_holding_the_pipe_is_killed";
    // The report arrives although the grandchild keeps the pipe open (a wait for end of file
    // would have ended in a timeout), and Run::run checks the grandchild is gone.
    let report = check_cuda_fault(name, "fork", TIMEOUT, "absent", "no-device");
    assert!(warnings(&report, "cuda").is_empty(), "{report:#}");
}

/// The worker leaves with `_exit` after its report (design §3), so exit-time code in a vendor
/// library never runs: no crash, no hang, no warning.
fn check_exit_time_code_never_runs(name: &str, fault: &str) {
    let report = check_cuda_fault(name, fault, TIMEOUT, "absent", "no-device");
    assert!(warnings(&report, "cuda").is_empty(), "{report:#}");
}

#[test]
fn cuda_atexit_handler_that_crashes_never_runs() {
    let name = "cuda_atexit_handler_that_crashes_never_runs";
    check_exit_time_code_never_runs(name, "atexit-crash");
}

#[test]
fn cuda_atexit_handler_that_hangs_never_runs() {
    let name = "cuda_atexit_handler_that_hangs_never_runs";
    check_exit_time_code_never_runs(name, "atexit-hang");
}

#[test]
fn cuda_destructor_that_crashes_never_runs() {
    let name = "cuda_destructor_that_crashes_never_runs";
    check_exit_time_code_never_runs(name, "dtor-crash");
}

#[test]
fn cuda_destructor_that_hangs_never_runs() {
    let name = "cuda_destructor_that_hangs_never_runs";
    check_exit_time_code_never_runs(name, "dtor-hang");
}

/// A stage deadline ends a hang long before the overall one (issue 4 item 3).
#[test]
fn cuda_stage_timeout_ends_a_hang_in_its_stage() {
    let name = "cuda_stage_timeout_ends_a_hang_in_its_stage";
    let stage_timeout = 2.0;
    let mut probe = Probe::new(name, "cpu,cuda", 60.0)
        .env("LD_LIBRARY_PATH", &fixtures().cuda_dir)
        .env("CUDA_HWSPEC_FAULT", "hang")
        .arg("--stage-timeout")
        .arg(&format!("init={stage_timeout}"));
    // Loading the fake library before stage init takes milliseconds; the bound is the stage
    // deadline plus one second, not the overall 60 s.
    probe.deadline = stage_timeout;
    let report = probe.run();
    assert_backend(&report, "cuda", "unusable", Some("timeout"));
    let message = reason_message(&report, "cuda");
    assert!(message.contains("stage init"), "{message}");
    assert_backend(&report, "cpu", "validated", None);
}

#[test]
fn stage_timeout_usage_errors_exit_2() {
    let accepted = support::hwspec(
        &[
            "probe",
            "--json",
            "--backend",
            "cpu",
            "--stage-timeout",
            "load=5",
            "--stage-timeout",
            "kernel=2.5",
        ],
        &[],
    );
    assert_eq!(accepted.code, Some(0), "{accepted:?}");
    for bad in ["warp=1", "init=0", "init=-1", "init", "init=soon", "=3"] {
        let run = support::hwspec(&["probe", "--stage-timeout", bad], &[]);
        assert_eq!(run.code, Some(2), "--stage-timeout {bad}: {run:?}");
        assert!(run.stdout.is_empty(), "--stage-timeout {bad}");
        assert!(!run.stderr.is_empty(), "--stage-timeout {bad}");
    }
}
