//! End-to-end tests of `hwspec probe`: the built binary, real worker processes, and the real
//! software runtimes that `scripts/test.sh` installs (PoCL for OpenCL, lavapipe for Vulkan).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{backend, capability_names, hwspec, probe_json, scratch_dir, TestRun};

#[test]
fn pocl_is_validated_as_software_opencl() {
    let report = probe_json(&["--backend", "opencl"], &[]);
    let opencl = backend(&report, "opencl");
    assert_eq!(opencl["status"], "validated", "{opencl:#}");
    assert!(opencl["library"].as_str().unwrap().contains("libOpenCL.so"));
    let pocl = opencl["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "validated")
        .expect("a validated OpenCL device");
    assert_eq!(pocl["kind"], "software");
    let saxpy = &pocl["validations"][0];
    assert_eq!(saxpy["kind"], "saxpy", "{pocl:#}");
    assert_eq!(saxpy["passed"], true);
    assert!(saxpy["elements"].as_u64().unwrap() >= 1 << 20);
    assert_eq!(saxpy["max_abs_error"], 0.0);
    assert_eq!(pocl["validations"].as_array().unwrap().len(), 1, "{pocl:#}");
    let caps = capability_names(&report);
    assert!(caps.iter().any(|c| c.starts_with("opencl (= ")), "{caps:?}");
    assert!(!caps.contains(&"opencl-gpu".to_owned()), "{caps:?}");
    assert!(!caps.contains(&"gpu".to_owned()), "{caps:?}");
}

#[test]
fn lavapipe_is_validated_as_software_vulkan() {
    let report = probe_json(&["--backend", "vulkan"], &[]);
    let vulkan = backend(&report, "vulkan");
    assert_eq!(vulkan["status"], "validated", "{vulkan:#}");
    assert!(vulkan["library"].as_str().unwrap().contains("libvulkan.so"));
    let lavapipe = vulkan["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"].as_str().unwrap().contains("llvmpipe"))
        .expect("lavapipe");
    assert_eq!(lavapipe["kind"], "software");
    assert_eq!(lavapipe["status"], "validated");
    assert_eq!(lavapipe["validations"][0]["kind"], "saxpy", "{lavapipe:#}");
    assert_eq!(lavapipe["validations"][0]["passed"], true);
    let caps = capability_names(&report);
    assert!(
        caps.iter().any(|c| c.starts_with("vulkan (= 1.")),
        "{caps:?}"
    );
    assert!(!caps.contains(&"vulkan-gpu".to_owned()), "{caps:?}");
    assert!(!caps.contains(&"gpu".to_owned()), "{caps:?}");
}

#[test]
fn the_default_probe_proves_cpu_opencl_and_vulkan() {
    let report = probe_json(&[], &[]);
    assert_eq!(report["schema"], 2);
    assert_eq!(report["level"], "standard");
    let names: Vec<&str> = report["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cpu",
            "opencl",
            "vulkan",
            "cuda",
            "hip",
            "level_zero",
            "egl",
            "vaapi",
            "nvcodec",
            "gcc_offload"
        ]
    );
    let caps = capability_names(&report);
    assert!(caps.contains(&"cpu".to_owned()));
    if std::env::consts::ARCH == "x86_64" {
        assert!(caps.iter().any(|c| c.starts_with("x86-64-v")), "{caps:?}");
    }
    assert!(caps.iter().any(|c| c.starts_with("opencl (= ")), "{caps:?}");
    assert!(caps.iter().any(|c| c.starts_with("vulkan (= ")), "{caps:?}");
}

/// libcuda and NVDEC/NVENC's libraries are not installed here: the parent says so itself,
/// with the reason a worker gives, and starts no worker for them (`supervise::absence`). When
/// workers get an `LD_LIBRARY_PATH`, the parent cannot know what the loader would find there,
/// and a worker decides as before.
#[test]
fn runtimes_not_installed_are_absent_without_a_worker() {
    const NOT_STARTED: &str = "not started: the dynamic loader could find none of its libraries";
    // Without the search path cargo gives test processes, which a non-root caller passes on.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hwspec"))
        .args(["probe", "--json", "--fresh", "--backend", "cuda,nvcodec"])
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_AUDIT")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    for name in ["cuda", "nvcodec"] {
        let b = backend(&report, name);
        assert_eq!(b["status"], "absent", "{b:#}");
        assert_eq!(b["reason"]["code"], "library-not-found", "{b:#}");
        assert_eq!(b["properties"]["worker"], NOT_STARTED, "{b:#}");
    }
    let cuda = backend(&report, "cuda");
    let message = cuda["reason"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("libcuda is not installed: libcuda.so.1: in neither /etc/ld.so.cache"),
        "{message}"
    );
    // CUDA's evidence is gathered all the same.
    assert_eq!(cuda["properties"]["pci_gpus"], "none", "{cuda:#}");

    let report = probe_json(
        &["--backend", "cuda", "--trust-env"],
        &[("LD_LIBRARY_PATH", "/nonexistent")],
    );
    let cuda = backend(&report, "cuda");
    assert_eq!(cuda["reason"]["code"], "library-not-found", "{cuda:#}");
    assert!(cuda["properties"].get("worker").is_none(), "{cuda:#}");
    assert!(
        cuda["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot open shared object file"),
        "{cuda:#}"
    );
}

/// This machine has no NVIDIA, AMD or Intel GPU: each vendor backend says so in its own way.
#[test]
fn vendor_runtimes_without_hardware_are_absent_with_their_reasons() {
    let report = probe_json(&["--backend", "cuda,hip,level_zero"], &[]);
    let cuda = backend(&report, "cuda");
    assert_eq!(cuda["status"], "absent", "{cuda:#}");
    assert_eq!(cuda["reason"]["code"], "library-not-found", "{cuda:#}");
    assert!(cuda["reason"]["message"]
        .as_str()
        .unwrap()
        .contains("libcuda.so.1"));

    // Debian's libamdhip64-5 is installed by scripts/test.sh: present, with no device.
    let hip = backend(&report, "hip");
    assert_eq!(hip["status"], "absent", "{hip:#}");
    assert_eq!(hip["reason"]["code"], "no-device", "{hip:#}");
    assert!(
        hip["library"].as_str().unwrap().contains("libamdhip64.so"),
        "{hip:#}"
    );

    let level_zero = backend(&report, "level_zero");
    assert_eq!(level_zero["status"], "absent", "{level_zero:#}");

    let caps = capability_names(&report);
    for vendor in ["cuda", "rocm", "level-zero", "sycl", "gpu"] {
        assert!(
            !caps.iter().any(|c| c.split(' ').next() == Some(vendor)),
            "{vendor} in {caps:?}"
        );
    }
}

#[test]
fn quick_enumerates_without_kernels() {
    let report = probe_json(&["--level", "quick"], &[]);
    assert_eq!(report["level"], "quick");
    for b in report["backends"].as_array().unwrap() {
        for d in b["devices"].as_array().unwrap() {
            assert_eq!(d["status"], "enumerated", "{d:#}");
            assert_eq!(d["validations"], serde_json::json!([]), "{d:#}");
        }
    }
    let caps = capability_names(&report);
    assert!(caps.iter().any(|c| c.starts_with("opencl (= ")), "{caps:?}");
}

#[test]
fn full_adds_sgemm_on_every_validated_device() {
    let report = probe_json(&["--level", "full", "--backend", "opencl,vulkan"], &[]);
    for name in ["opencl", "vulkan"] {
        let b = backend(&report, name);
        assert_eq!(b["status"], "validated", "{b:#}");
        for d in b["devices"].as_array().unwrap() {
            if d["status"] == "validated" {
                let kinds: Vec<&str> = d["validations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["kind"].as_str().unwrap())
                    .collect();
                assert_eq!(kinds, ["saxpy", "sgemm"], "{d:#}");
                assert_eq!(d["validations"][1]["elements"], 128 * 128);
                assert_eq!(d["validations"][1]["passed"], true);
            }
        }
    }
}

#[test]
fn hidden_runtimes_are_absent_not_errors() {
    let empty = scratch_dir("empty-vendors");
    let report = probe_json(
        &["--backend", "opencl,vulkan", "--trust-env"],
        &[
            ("OCL_ICD_VENDORS", empty.to_str().unwrap()),
            ("VK_DRIVER_FILES", "/nonexistent/hwspec-no-such-icd.json"),
            ("VK_ICD_FILENAMES", "/nonexistent/hwspec-no-such-icd.json"),
        ],
    );
    for name in ["opencl", "vulkan"] {
        let b = backend(&report, name);
        assert_eq!(b["status"], "absent", "{b:#}");
        assert_eq!(b["reason"]["code"], "no-device", "{b:#}");
    }
    let caps = capability_names(&report);
    assert!(
        caps.iter()
            .all(|c| c == "cpu" || c.starts_with("x86-64") || c.starts_with("arm64")),
        "only CPU capabilities without OpenCL and Vulkan: {caps:?}"
    );
}

#[test]
fn a_hanging_driver_times_out_while_the_others_report() {
    let dir = scratch_dir("hang-icd");
    let library = support::compile_shared_object(
        &["faults/opencl_icd.c"],
        &["FAULT_HANG"],
        &dir.join("libhwspec_hang_icd.so"),
    );
    std::fs::write(dir.join("hang.icd"), format!("{}\n", library.display())).unwrap();
    let timeout = 3.0;
    let started = Instant::now();
    let report = probe_json(
        &["--timeout", &timeout.to_string(), "--trust-env"],
        &[("OCL_ICD_VENDORS", dir.to_str().unwrap())],
    );
    // Bounded time is the property under test (no hang), so the bound is generous.
    assert!(started.elapsed() < Duration::from_secs_f64(timeout + 5.0));
    let opencl = backend(&report, "opencl");
    assert_eq!(opencl["status"], "unusable", "{opencl:#}");
    assert_eq!(opencl["reason"]["code"], "timeout", "{opencl:#}");
    assert_eq!(backend(&report, "vulkan")["status"], "validated");
    assert_eq!(backend(&report, "cpu")["status"], "validated");
}

#[test]
fn the_table_names_every_backend_and_the_capabilities() {
    let run = hwspec(&["probe", "--fresh"], &[]);
    run.assert_success();
    for word in [
        "BACKEND",
        "cpu",
        "opencl",
        "vulkan",
        "CAPABILITIES",
        "llvmpipe",
        "software",
    ] {
        assert!(run.stdout.contains(word), "missing {word}:\n{}", run.stdout);
    }
    assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);
}

#[test]
fn json_output_is_one_document_and_stderr_stays_quiet() {
    let run = hwspec(&["probe", "--json", "--backend", "cpu,opencl"], &[]);
    run.assert_success();
    let _: Value = serde_json::from_str(&run.stdout).expect("stdout is exactly one JSON document");
    assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);
}

#[test]
fn usage_errors_exit_2_with_a_message_on_stderr() {
    for args in [
        &["probe", "--level", "extreme"][..],
        &["probe", "--backend", "cuda9"],
        &["probe", "--timeout", "-1"],
        &["frobnicate"],
    ] {
        let run = hwspec(args, &[]);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}");
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    let status = TestRun::probe_into_closed_pipe();
    assert_eq!(status.code, Some(0), "{status:?}");
    assert!(status.stderr.is_empty(), "stderr: {}", status.stderr);
}

#[test]
fn help_and_completions_work() {
    let help = hwspec(&["probe", "--help"], &[]);
    help.assert_success();
    assert!(help.stdout.contains("--level"));
    let bash = hwspec(&["completions", "bash"], &[]);
    bash.assert_success();
    assert!(bash.stdout.contains("hwspec"));
}

#[test]
fn a_second_probe_is_answered_from_the_cache_until_fresh_is_asked() {
    // Level full with only the CPU is a key no other test uses, so no test races this one.
    let args = ["probe", "--json", "--backend", "cpu", "--level", "full"];
    let fresh = hwspec(&[&args[..], &["--fresh"]].concat(), &[]);
    fresh.assert_success();
    let first: Value = serde_json::from_str(&fresh.stdout).unwrap();
    assert_eq!(first["cache"]["hit"], false, "{:#}", first["cache"]);

    let cached = hwspec(&args, &[]);
    cached.assert_success();
    let second: Value = serde_json::from_str(&cached.stdout).unwrap();
    assert_eq!(second["cache"]["hit"], true, "{:#}", second["cache"]);
    assert!(second["cache"]["age_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(second["capabilities"], first["capabilities"]);

    let table = hwspec(&["probe", "--backend", "cpu", "--level", "full"], &[]);
    assert!(
        table.stdout.contains("from the report cache"),
        "{}",
        table.stdout
    );

    let expired = hwspec(&[&args[..], &["--max-age", "0"]].concat(), &[]);
    let third: Value = serde_json::from_str(&expired.stdout).unwrap();
    assert_eq!(third["cache"]["hit"], false, "{:#}", third["cache"]);
}

#[test]
fn callers_asking_at_once_with_no_cached_report_share_one_probe() {
    // A memory limit no other test asks for is a cache key of this test's own.
    let args = [
        "probe",
        "--json",
        "--backend",
        "cpu",
        "--memory-limit",
        "3001",
    ];
    let first = hwspec(&[&args[..], &["--fresh"]].concat(), &[]);
    first.assert_success();
    let first: Value = serde_json::from_str(&first.stdout).unwrap();
    let entry = first["cache"]["file"]
        .as_str()
        .expect("a report cache")
        .to_owned();
    std::fs::remove_file(&entry).unwrap();

    let runs: Vec<_> = (0..6)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_hwspec"))
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reports: Vec<Value> = runs
        .into_iter()
        .map(|run| {
            let out = run.wait_with_output().unwrap();
            assert!(out.status.success(), "{out:?}");
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let probed = reports
        .iter()
        .filter(|r| r["cache"]["hit"] == false)
        .count();
    assert_eq!(probed, 1, "one probe, the others answered with its report");
    for report in &reports {
        assert_eq!(report["capabilities"], reports[0]["capabilities"]);
    }
}

#[test]
fn nfd_output_is_written_atomically_as_labels() {
    let dir = scratch_dir("nfd");
    let file = dir.join("hwspec.features");
    let run = hwspec(
        &[
            "probe",
            "--format",
            "nfd",
            "--fresh",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    run.assert_success();
    assert!(
        run.stdout.is_empty(),
        "nothing on stdout with --output: {}",
        run.stdout
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("# +expiry-time=")),
        "{text}"
    );
    let labels: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            l.strip_prefix("feature.node.kubernetes.io/")
                .unwrap_or_else(|| panic!("label without NFD's prefix: {l}"))
        })
        .collect();
    assert!(labels.contains(&"hwspec-cpu=true"), "{text}");
    assert!(
        labels.iter().any(|l| l.starts_with("hwspec-opencl=")),
        "{text}"
    );
    assert!(
        labels.iter().any(|l| l.starts_with("hwspec-vulkan=")),
        "{text}"
    );
    assert!(
        !labels.iter().any(|l| l.starts_with("hwspec-gpu")),
        "{text}"
    );
    for label in labels {
        let (name, value) = label.split_once('=').expect(label);
        let ok = |s: &str| {
            s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        };
        assert!(ok(name) && ok(value), "{label}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");

    let unwritable = hwspec(
        &["probe", "--format", "nfd", "--output", "/nonexistent/dir/f"],
        &[],
    );
    assert_eq!(unwritable.code, Some(1), "{unwritable:?}");
    assert!(
        unwritable.stderr.contains("/nonexistent/dir/f"),
        "{}",
        unwritable.stderr
    );
}

/// `hwspec probe --format slurm` on this machine: a slurm.conf include whose one
/// `NodeName=DEFAULT` line carries the capability set as features, in Slurm's `Key=Value`
/// syntax, and no GPU resources (PoCL and lavapipe are software). tests/slurm.rs feeds this
/// output to real daemons.
#[test]
fn slurm_output_lists_features_and_no_gres_without_gpus() {
    let run = hwspec(&["probe", "--format", "slurm", "--fresh"], &[]);
    run.assert_success();
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    let pairs: Vec<(&str, &str)> = lines[0]
        .split_whitespace()
        .map(|p| {
            p.split_once('=')
                .unwrap_or_else(|| panic!("not Key=Value: {p}"))
        })
        .collect();
    assert_eq!(pairs[0], ("NodeName", "DEFAULT"));
    assert_eq!(pairs[1].0, "Features");
    let features: Vec<&str> = pairs[1].1.split(',').collect();
    for expected in ["cpu", "opencl", "vulkan"] {
        assert!(features.contains(&expected), "{expected} in {features:?}");
    }
    assert!(
        features.iter().any(|f| f.starts_with("opencl-")),
        "{features:?}"
    );
    for feature in &features {
        assert!(
            feature
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
            "{feature}"
        );
    }
    assert_eq!(pairs[2], ("Gres", "\"\""), "{}", run.stdout);
    let gres = hwspec(&["probe", "--format", "slurm-gres"], &[]);
    gres.assert_success();
    assert!(
        gres.stdout.lines().all(|l| l.starts_with('#')),
        "{}",
        gres.stdout
    );
}

/// Issue 7 on this machine: EGL on llvmpipe is validated as software (egl and gles in the set,
/// no gpu); VA-API and NVDEC/NVENC are absent with clear reasons; the GCC nvptx offload program
/// compiles, and with no GPU its device stays enumerated with no-device.
#[test]
fn rendering_video_and_offload_report_what_this_machine_has() {
    let report = probe_json(&["--backend", "egl,vaapi,nvcodec,gcc_offload"], &[]);
    let egl = backend(&report, "egl");
    assert_eq!(egl["status"], "validated", "{egl:#}");
    let llvmpipe = &egl["devices"][0];
    assert_eq!(llvmpipe["kind"], "software", "{llvmpipe:#}");
    let [render] = llvmpipe["validations"].as_array().unwrap().as_slice() else {
        panic!("one OpenGL ES render at level standard: {llvmpipe:#}")
    };
    assert_eq!(render["kind"], "render", "{render:#}");
    assert_eq!(render["api"], "gles", "{render:#}");
    assert_eq!(render["pixels"], 64 * 64, "{render:#}");
    assert_eq!(render["mismatched_pixels"], 0, "{render:#}");
    assert!(
        render["max_channel_error"].as_u64().unwrap() <= 1,
        "{render:#}"
    );
    assert_eq!(render["passed"], true, "{render:#}");

    let vaapi = backend(&report, "vaapi");
    assert_eq!(vaapi["status"], "absent", "{vaapi:#}");
    assert_eq!(vaapi["reason"]["code"], "no-device", "{vaapi:#}");
    assert!(vaapi["reason"]["message"]
        .as_str()
        .unwrap()
        .contains("/dev/dri/renderD"));
    let nvcodec = backend(&report, "nvcodec");
    assert_eq!(nvcodec["status"], "absent", "{nvcodec:#}");
    assert_eq!(
        nvcodec["reason"]["code"], "library-not-found",
        "{nvcodec:#}"
    );

    let offload = backend(&report, "gcc_offload");
    let nvptx = offload["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["arch"] == "nvptx")
        .unwrap_or_else(|| panic!("scripts/test.sh installs gcc-12-offload-nvptx: {offload:#}"));
    assert!(
        nvptx["properties"]["compiled"]
            .as_str()
            .unwrap()
            .starts_with("yes"),
        "{nvptx:#}"
    );
    assert_eq!(nvptx["status"], "enumerated", "{nvptx:#}");
    assert_eq!(nvptx["reason"]["code"], "no-device", "{nvptx:#}");

    let caps = capability_names(&report);
    assert!(caps.iter().any(|c| c.starts_with("egl (= ")), "{caps:?}");
    assert!(caps.iter().any(|c| c.starts_with("gles (= ")), "{caps:?}");
    for absent in ["gpu", "gcc-offload-nvptx"] {
        assert!(!caps.contains(&absent.to_owned()), "{absent} in {caps:?}");
    }
    assert!(
        !caps
            .iter()
            .any(|c| c.starts_with("vaapi-") || c.starts_with("nvdec-")),
        "{caps:?}"
    );
}
