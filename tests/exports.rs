//! The exports through the built binary, judged by their consumers' rules: conda's virtual
//! package detector protocol (run as a conda client runs a detector), Node Feature Discovery's
//! features.d format, Debian's ROCm CI tags and target-list fields, and the Kubernetes
//! DaemonSet manifest. GPU cases replay `tests/fixtures/reports/synthetic-cuda-2xT4-hip-W6800.json`
//! (two validated Tesla T4s, a validated Radeon PRO W6800). Slurm's are in tests/slurm.rs.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use support::{hwspec, scratch_dir};

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/reports/synthetic-cuda-2xT4-hip-W6800.json")
        .display()
        .to_string()
}

/// What a conda client got from one detector run under the protocol's bounds: no arguments
/// beyond `args`, nothing on stdin, stdout and stderr read together up to 1 MiB, killed after
/// 30 seconds (the protocol's default timeout).
struct DetectorRun {
    code: Option<i32>,
    stdout: Vec<u8>,
}

const OUTPUT_LIMIT: usize = 1_048_576;

fn run_detector(program: &Path, args: &[&str], path: &str) -> DetectorRun {
    let mut child = Command::new(program)
        .args(args)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the detector");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let _ = (&mut stdout)
            .take(OUTPUT_LIMIT as u64 + 1)
            .read_to_end(&mut out);
        let _ = (&mut stderr)
            .take(OUTPUT_LIMIT as u64 + 1)
            .read_to_end(&mut err);
        (out, err)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the detector ran past the protocol's 30-second timeout");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = reader.join().unwrap();
    assert!(
        stdout.len() + stderr.len() <= OUTPUT_LIMIT,
        "more than the protocol's 1 MiB of output"
    );
    DetectorRun {
        code: status.code(),
        stdout,
    }
}

/// Checks a report against the detector protocol's rules for a registration of `declared`,
/// as rattler's parse_report does: one JSON object and only whitespace around it, version 1,
/// a verdict for exactly the declared names, each null or a version (and build string), the
/// cache hints' types and limits. Returns the verdicts.
fn protocol_report(stdout: &[u8], declared: &[&str]) -> serde_json::Map<String, Value> {
    let text = std::str::from_utf8(stdout).expect("UTF-8");
    let report: Value = serde_json::from_str(text.trim()).expect("one JSON value");
    let object = report.as_object().expect("a JSON object");
    assert_eq!(object["version"], 1);
    let packages = object["virtual_packages"].as_object().unwrap().clone();
    let mut names: Vec<&str> = packages.keys().map(String::as_str).collect();
    let mut expected = declared.to_vec();
    names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(names, expected, "a verdict for exactly the declared names");
    for (name, verdict) in &packages {
        if verdict.is_null() {
            continue;
        }
        let version = verdict["version"].as_str().expect(name);
        assert!(
            !version.is_empty()
                && version
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
            "{name}: {version}"
        );
        assert_eq!(verdict["build_string"], "0", "{name}");
    }
    let cache = &object["cache"];
    assert!(
        cache["ttl_seconds"] == "REBOOT" || cache["ttl_seconds"].is_u64(),
        "{cache}"
    );
    for list in ["watch_paths", "watch_env"] {
        let entries = cache[list].as_array().unwrap();
        assert!(entries.len() <= 32, "{list}");
        for entry in entries {
            let entry = entry.as_str().unwrap();
            assert!(entry.len() <= 4096, "{list}");
            if list == "watch_paths" {
                assert!(entry.starts_with('/'), "{entry} is not absolute");
            }
        }
    }
    packages
}

/// contrib/conda/hwspec-detect, the executable a detector package ships, run as a client runs
/// it on this machine (no GPU): every declared name gets its verdict, here absence.
#[test]
fn the_conda_detector_follows_the_protocol() {
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/conda/hwspec-detect");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_hwspec")).parent().unwrap();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let run = run_detector(&wrapper, &[], &path);
    assert_eq!(run.code, Some(0));
    let verdicts = protocol_report(
        &run.stdout,
        &["__cuda", "__cuda_arch", "__amdgpu", "__amdgpu_arch"],
    );
    assert!(verdicts.values().all(Value::is_null), "{verdicts:?}");
}

/// A replayed report with validated GPUs: the CEPs' versions, and a narrower registration.
#[test]
fn conda_detect_reports_validated_gpus_in_the_ceps_spelling() {
    let program = PathBuf::from(env!("CARGO_BIN_EXE_hwspec"));
    let report = fixture();
    let run = run_detector(
        &program,
        &["conda-detect", "--report", &report],
        "/usr/bin:/bin",
    );
    assert_eq!(run.code, Some(0));
    let verdicts = protocol_report(
        &run.stdout,
        &["__cuda", "__cuda_arch", "__amdgpu", "__amdgpu_arch"],
    );
    assert_eq!(verdicts["__cuda"]["version"], "12.2");
    assert_eq!(verdicts["__cuda_arch"]["version"], "7.5");
    assert_eq!(verdicts["__amdgpu"]["version"], "0");
    assert_eq!(verdicts["__amdgpu_arch"]["version"], "10.3.0");

    let narrow = run_detector(
        &program,
        &[
            "conda-detect",
            "--report",
            &report,
            "--virtual-packages",
            "__amdgpu_arch",
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(narrow.code, Some(0));
    protocol_report(&narrow.stdout, &["__amdgpu_arch"]);
}

/// A detector that cannot answer fails as the protocol expects a failure: non-zero, with
/// nothing on stdout that a client could mistake for a report.
#[test]
fn conda_detect_fails_without_a_partial_report() {
    for args in [
        &["conda-detect", "--virtual-packages", "__rocm"][..],
        &["conda-detect", "--virtual-packages", "__cuda,__cuda"],
        &["conda-detect", "--report", "/nonexistent/report.json"],
    ] {
        let run = hwspec(args, &[]);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
    }
}

/// The features.d file: every label prefixed, and the expiry counted from the moment of
/// writing even when the report comes from the cache.
#[test]
fn nfd_labels_are_prefixed_and_expire_from_when_they_were_written() {
    let first = hwspec(
        &["probe", "--format", "nfd", "--backend", "cpu", "--fresh"],
        &[],
    );
    first.assert_success();
    std::thread::sleep(Duration::from_secs(2));
    let before = SystemTime::now();
    let cached = hwspec(
        &[
            "probe",
            "--format",
            "nfd",
            "--backend",
            "cpu",
            "--valid-for",
            "600",
        ],
        &[],
    );
    cached.assert_success();
    let expiry = cached
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("# +expiry-time="))
        .unwrap_or_else(|| panic!("no expiry: {}", cached.stdout));
    let expiry = humantime::parse_rfc3339(expiry).unwrap();
    // At least the full validity from when this run started, whatever the cache's age.
    assert!(
        expiry + Duration::from_secs(1) >= before + Duration::from_secs(600),
        "{}",
        cached.stdout
    );
    for line in cached.stdout.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            line.starts_with("feature.node.kubernetes.io/hwspec-"),
            "{line}"
        );
    }
    assert!(
        hwspec(&["probe", "--format", "nfd", "--valid-for", "30"], &[]).code == Some(2),
        "a validity under a minute is refused"
    );
}

#[test]
fn nfd_gfd_labels_come_from_validated_cuda_gpus() {
    let run = hwspec(
        &[
            "probe",
            "--format",
            "nfd",
            "--gfd-labels",
            "--report",
            &fixture(),
        ],
        &[],
    );
    run.assert_success();
    for label in [
        "nvidia.com/gpu.product=Tesla-T4",
        "nvidia.com/gpu.count=2",
        "nvidia.com/gpu.compute.major=7",
        "nvidia.com/cuda.runtime-version.full=12.2",
        "feature.node.kubernetes.io/hwspec-rocm-gfx1030=true",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == label),
            "{label}: {}",
            run.stdout
        );
    }
    let misuse = hwspec(&["probe", "--format", "slurm", "--gfd-labels"], &[]);
    assert_eq!(misuse.code, Some(2), "{misuse:?}");
}

/// Debian ROCm CI: this worker's tags, and a declared tag judged with check's exit status.
#[test]
fn debci_tags_and_worker_tag_checks() {
    let report = fixture();
    let tags = hwspec(&["probe", "--format", "debci", "--report", &report], &[]);
    tags.assert_success();
    assert_eq!(tags.stdout, "amd64+gfx1030\n");
    let none = hwspec(&["probe", "--format", "debci", "--backend", "cpu"], &[]);
    none.assert_success();
    assert_eq!(none.stdout, "");

    let check = |tag: &str| {
        hwspec(
            &[
                "check",
                "--worker-tag",
                tag,
                "--report",
                &report,
                "--explain",
            ],
            &[],
        )
    };
    let good = check("amd64+gfx1030");
    assert_eq!(good.code, Some(0), "{good:?}");
    assert!(
        good.stdout.contains("every AMD GPU is a validated gfx1030"),
        "{good:?}"
    );
    let wrong = check("amd64+gfx90a");
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(
        wrong
            .stdout
            .contains("AMD Radeon PRO W6800 (gfx1030, validated)"),
        "{wrong:?}"
    );
    for bad in ["amd64+gfx11-generic", "amd64", "amd64+sm_80"] {
        assert_eq!(check(bad).code, Some(2), "{bad}");
    }
    let skip = hwspec(
        &[
            "check",
            "--worker-tag",
            "amd64+gfx90a",
            "--report",
            &report,
            "--skip-code",
            "77",
        ],
        &[],
    );
    assert_eq!(skip.code, Some(77));
}

/// X-ROCm-Built-For and X-ROCm-GPU-Architecture in real .debs: a generic target covers the
/// real GPU it names, a list without this machine's GPU is not satisfied, a malformed list is
/// invalid input.
#[test]
fn rocm_target_lists_in_debs_are_judged_with_generic_targets() {
    let dir = scratch_dir("rocm-lists");
    let report = fixture();
    let check = |deb: &Path| {
        hwspec(
            &[
                "check",
                "--deb",
                deb.to_str().unwrap(),
                "--report",
                &report,
                "--explain",
            ],
            &[],
        )
    };
    let generic = support::dpkg_deb(
        &dir,
        "librocrand1",
        &["X-ROCm-Built-For: gfx900 gfx10-3-generic gfx11-generic"],
    );
    let run = check(&generic);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("X-ROCm-Built-For"), "{run:?}");
    assert!(run.stdout.contains("AMD Radeon PRO W6800"), "{run:?}");

    let other = support::dpkg_deb(
        &dir,
        "librocblas0",
        &["X-ROCm-GPU-Architecture: gfx908 gfx90a gfx942"],
    );
    assert_eq!(check(&other).code, Some(1));

    let unknown = support::dpkg_deb(
        &dir,
        "libnext0",
        &["X-ROCm-Built-For: gfx1030 gfx13-generic"],
    );
    let run = check(&unknown);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("gfx13-generic"), "{run:?}");
    let only_unknown = support::dpkg_deb(&dir, "libnext1", &["X-ROCm-Built-For: gfx13-generic"]);
    assert_eq!(check(&only_unknown).code, Some(2));

    let bad = support::dpkg_deb(&dir, "libbad0", &["X-ROCm-Built-For: gfx1030 sm_80"]);
    let run = check(&bad);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("sm_80"), "{run:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// --report refuses what is not an hwspec report, with exit status 2.
#[test]
fn a_report_that_is_not_one_is_refused() {
    let dir = scratch_dir("not-a-report");
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{\"schema\": 1}").unwrap();
    let future = dir.join("future.json");
    let text = std::fs::read_to_string(fixture()).unwrap();
    let later = text.replacen("\"schema\": 2", "\"schema\": 99", 1);
    assert_ne!(later, text);
    std::fs::write(&future, later).unwrap();
    for (file, message) in [
        (garbage.to_str().unwrap(), "not a hwspec report"),
        (
            future.to_str().unwrap(),
            "report schema 99 is not one this hwspec reads (1 to 2)",
        ),
        ("/dev/zero", "not a regular file"),
    ] {
        let run = hwspec(&["probe", "--report", file], &[]);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains(message), "{message}: {run:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// contrib/kubernetes/hwspec-nfd.yaml parses (PyYAML) as a DaemonSet whose pods run hwspec
/// into NFD's features.d through the node's root, following devices that appear later.
#[test]
fn the_daemonset_manifest_is_a_complete_daemonset() {
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/kubernetes/hwspec-nfd.yaml");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(&manifest)
        .output()
        .expect("python3 with PyYAML (scripts/test.sh installs python3-yaml)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(docs.len(), 1);
    let ds = &docs[0];
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(ds["kind"], "DaemonSet");
    assert!(ds["metadata"]["name"].is_string());
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    for (key, value) in ds["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&labels[key], value, "the selector matches the pods");
    }
    let pod = &ds["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert!(container["image"].is_string() && container["name"].is_string());
    let script = container["command"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        script.contains("hwspec probe --format nfd")
            && script.contains("/etc/kubernetes/node-feature-discovery/features.d/hwspec"),
        "{script}"
    );
    assert!(script.contains("while"), "re-probes: {script}");
    assert_eq!(container["securityContext"]["privileged"], true);
    let mount = &container["volumeMounts"][0];
    assert_eq!(mount["mountPropagation"], "HostToContainer");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume is defined");
    assert_eq!(volume["hostPath"]["path"], "/");
    assert!(script.contains(&format!("chroot {}", mount["mountPath"].as_str().unwrap())));
}
