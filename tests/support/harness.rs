//! The fault-injection harness shared by `tests/faults/` and `tests/hostile.rs`: the C
//! fixtures, one run of `hwspec probe --json` under a fault with the checks every case makes
//! (bounded time, exit 0, one JSON document on stdout, no fixture output leaked, nothing left
//! running), and the assertions on backends.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{backend, compile_shared_object, scratch_dir};

/// What every fixture writes to its stdout before misbehaving (`fault.h`).
pub const LEAK_MARKER: &str = "HWSPEC-FIXTURE-OUTPUT-d41c9";

/// Per-worker deadline in cases where something hangs: short, yet long enough for PoCL and
/// lavapipe to validate on two busy cores.
pub const HANG_TIMEOUT: f64 = 5.0;
/// Per-worker deadline in cases where nothing should hang.
pub const TIMEOUT: f64 = 15.0;

/// Set in the environment of every probe; the CUDA_ prefix is one hwspec passes to all its
/// workers (at any trust level), so every worker and anything it forks carries the value, and
/// a survivor can be found in `/proc/*/environ`.
pub const RUN_MARKER: &str = "CUDA_HWSPEC_TEST_RUN";

pub const LAVAPIPE_MANIFEST: &str = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
pub const POCL_ICD: &str = "/etc/OpenCL/vendors/pocl.icd";
/// The platform the zero-device fixture ICD reports (`opencl_icd.c`).
pub const ZERO_DEVICE_PLATFORM: &str = "hwspec zero-device platform";

/// The fixtures, compiled once per test process.
pub struct Fixtures {
    /// Holds `libcuda.so.1` from `cuda_faults.c`.
    pub cuda_dir: PathBuf,
    /// Holds `libamdhip64.so.5` from `hip_faults.c`.
    pub hip_dir: PathBuf,
    /// Holds `libEGL_mesa.so.0` from `egl_vendor.c`.
    pub egl_dir: PathBuf,
    /// ICD libraries from `opencl_icd.c`, one per fault.
    pub icd_segv: PathBuf,
    pub icd_hang: PathBuf,
    pub icd_zero_devices: PathBuf,
    pub icd_unload_crash: PathBuf,
    /// A Vulkan layer library that segfaults when the loader negotiates with it.
    pub crashing_layer: PathBuf,
}

pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = scratch_dir("fault-fixtures");
        let cuda_dir = dir.join("cuda");
        let hip_dir = dir.join("hip");
        std::fs::create_dir_all(&cuda_dir).unwrap();
        std::fs::create_dir_all(&hip_dir).unwrap();
        let egl_dir = dir.join("egl");
        std::fs::create_dir_all(&egl_dir).unwrap();
        compile_shared_object(
            &["faults/egl_vendor.c"],
            &[],
            &egl_dir.join("libEGL_mesa.so.0"),
        );
        compile_shared_object(
            &["faults/cuda_faults.c"],
            &[],
            &cuda_dir.join("libcuda.so.1"),
        );
        compile_shared_object(
            &["faults/hip_faults.c"],
            &[],
            &hip_dir.join("libamdhip64.so.5"),
        );
        let icd = |define: &[&str], name: &str| {
            compile_shared_object(&["faults/opencl_icd.c"], define, &dir.join(name))
        };
        Fixtures {
            icd_segv: icd(&["FAULT_SEGV"], "libhwspec_segv_icd.so"),
            icd_hang: icd(&["FAULT_HANG"], "libhwspec_hang_icd.so"),
            icd_zero_devices: icd(&[], "libhwspec_zero_icd.so"),
            icd_unload_crash: icd(&["FAULT_UNLOAD_CRASH"], "libhwspec_unload_icd.so"),
            crashing_layer: compile_shared_object(
                &["faults/vulkan_layer.c"],
                &[],
                &dir.join("libhwspec_crash_layer.so"),
            ),
            cuda_dir,
            hip_dir,
            egl_dir,
        }
    })
}

/// One run of `hwspec probe --json` under a fault.
pub struct Probe {
    pub name: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The deadline the run was configured with: the per-worker timeout times the number of
    /// worker rounds the faulty backend may need (OpenCL re-probes each ICD after a failure).
    pub deadline: f64,
    /// Start hwspec through `sh -c SCRIPT sh HWSPEC ARGS...` (the script ends in `exec "$@"`).
    pub shell: Option<&'static str>,
    pub trust_env: bool,
    /// Probe now (`--fresh`) rather than let the report cache answer.
    pub fresh: bool,
}

impl Probe {
    /// `hwspec probe --json --backend BACKENDS --timeout TIMEOUT --trust-env`.
    pub fn new(name: &str, backends: &str, timeout: f64) -> Probe {
        Probe {
            name: name.to_owned(),
            args: vec![
                "--backend".into(),
                backends.into(),
                "--timeout".into(),
                timeout.to_string(),
            ],
            env: Vec::new(),
            deadline: timeout,
            shell: None,
            trust_env: true,
            fresh: true,
        }
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Probe {
        let value = value.as_ref().to_string_lossy().into_owned();
        self.env.push((key.to_owned(), value));
        self
    }

    pub fn arg(mut self, arg: &str) -> Probe {
        self.args.push(arg.to_owned());
        self
    }

    /// The faulty backend may need `rounds` worker deadlines (a loader-wide attempt, then the
    /// per-ICD re-probes).
    pub fn rounds(mut self, rounds: u32) -> Probe {
        self.deadline *= f64::from(rounds);
        self
    }

    /// Let the report cache answer when it can.
    pub fn cached(mut self) -> Probe {
        self.fresh = false;
        self
    }

    /// The marker that this probe's processes carry in their environment: unique to this run
    /// of the test binary (pid and start time), so that a pid used again by a later run cannot
    /// find a report an earlier one cached (the marker is part of every probe's fingerprint).
    pub fn marker(&self) -> String {
        static RUN: OnceLock<String> = OnceLock::new();
        let run = RUN.get_or_init(|| {
            let started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("{}-{started}", std::process::id())
        });
        format!("{}-{run}", self.name)
    }

    pub fn untrusted_env(mut self) -> Probe {
        self.trust_env = false;
        self
    }

    pub fn through_shell(mut self, script: &'static str) -> Probe {
        self.shell = Some(script);
        self
    }

    pub fn command(&self, marker: &str) -> Command {
        let hwspec = env!("CARGO_BIN_EXE_hwspec");
        let mut command = match self.shell {
            Some(script) => {
                let mut c = Command::new("/bin/sh");
                c.args(["-c", script, "sh", hwspec]);
                c
            }
            None => Command::new(hwspec),
        };
        command.args(["probe", "--json"]);
        if self.fresh {
            command.arg("--fresh");
        }
        if self.trust_env {
            command.arg("--trust-env");
        }
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(RUN_MARKER, marker)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs the probe and checks what every case promises; returns the parsed report.
    pub fn run(&self) -> Value {
        let output = self.run_raw();
        let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: exit status; stderr: {stderr}",
            self.name
        );
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not exactly one JSON document ({e}):\n{stdout}",
                self.name
            )
        });
        assert!(
            !stdout.contains(LEAK_MARKER),
            "{}: fixture output reached the caller's stdout:\n{stdout}",
            self.name
        );
        assert!(
            !stderr.contains(LEAK_MARKER),
            "{}: fixture output reached the caller's stderr:\n{stderr}",
            self.name
        );
        report
    }

    /// Runs the probe, checks the bounded time and that nothing it started lives on, and
    /// returns its output unjudged.
    pub fn run_raw(&self) -> Output {
        let marker = self.marker();
        let bound = Duration::from_secs_f64(self.deadline + 1.0);
        let started = Instant::now();
        let child = self
            .command(&marker)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: spawn: {e}", self.name));
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        // Past the bound the test has failed; waiting a while longer says by how much, and
        // ending the wait keeps one hang from stalling the whole suite.
        let output = match rx.recv_timeout(bound * 3) {
            Ok(output) => output.expect("wait for hwspec"),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                panic!("{}: hwspec still running after {:?}", self.name, bound * 3);
            }
        };
        let elapsed = started.elapsed();
        assert_no_survivors(&self.name, &marker);
        // Bounded time is the property under test (never hang), not speed.
        assert!(
            elapsed <= bound,
            "{}: took {elapsed:?}, more than the deadline plus one second ({bound:?})",
            self.name
        );
        output
    }
}

/// Fails when a process carrying `marker` in its environment is still alive after a short
/// grace (reaping is asynchronous), and kills the survivors so they do not outlive the suite.
pub fn assert_no_survivors(name: &str, marker: &str) {
    let needle = marker_needle(marker);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let survivors = processes_with(&needle);
        if survivors.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            let described: Vec<String> =
                survivors.iter().map(|pid| describe_process(pid)).collect();
            for pid in &survivors {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
            panic!("{name}: processes left behind: {described:#?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A survivor's command line and state, parent and signal masks, to say what went wrong.
fn describe_process(pid: &str) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let facts: Vec<&str> = status
        .lines()
        .filter(|l| {
            ["State:", "PPid:", "Threads:", "SigBlk:", "SigIgn:"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .collect();
    format!("{pid}: {cmdline}| {}", facts.join(" "))
}

/// What `/proc/PID/environ` holds for a process carrying `marker`.
pub fn marker_needle(marker: &str) -> String {
    format!("{RUN_MARKER}={marker}\0")
}

/// Pids of the live processes whose environment contains `needle` (zombies have none).
pub fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

pub fn status_and_code(report: &Value, name: &str) -> (String, String) {
    let b = backend(report, name);
    (
        b["status"].as_str().unwrap_or_default().to_owned(),
        b["reason"]["code"].as_str().unwrap_or_default().to_owned(),
    )
}

pub fn assert_backend(report: &Value, name: &str, status: &str, code: Option<&str>) {
    let b = backend(report, name);
    assert_eq!(b["status"], status, "{name}: {b:#}");
    match code {
        Some(code) => assert_eq!(b["reason"]["code"], code, "{name}: {b:#}"),
        None => assert!(b["reason"].is_null(), "{name}: {b:#}"),
    }
}

pub fn reason_message(report: &Value, name: &str) -> String {
    backend(report, name)["reason"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn warnings(report: &Value, name: &str) -> Vec<String> {
    backend(report, name)["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// PoCL and lavapipe validated, as on this machine without any fault.
pub fn assert_software_devices_validated(report: &Value) {
    assert_backend(report, "cpu", "validated", None);
    assert_opencl_validated_on_pocl(report);
    let vulkan = backend(report, "vulkan");
    assert_eq!(vulkan["status"], "validated", "{vulkan:#}");
    assert!(
        vulkan["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"].as_str().unwrap().contains("llvmpipe") && d["status"] == "validated"),
        "lavapipe: {vulkan:#}"
    );
}

pub fn assert_opencl_validated_on_pocl(report: &Value) {
    let opencl = backend(report, "opencl");
    assert_eq!(opencl["status"], "validated", "{opencl:#}");
    assert!(
        opencl["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["status"] == "validated" && d["kind"] == "software"),
        "PoCL's device: {opencl:#}"
    );
}

/// Whether a backend with reason `code` was reported by its worker, which names the library it
/// loaded, rather than by the parent after the worker died or hung.
pub fn worker_reported(code: &str) -> bool {
    !["timeout", "crashed", "partial-output", "bad-output"].contains(&code)
}
