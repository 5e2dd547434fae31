//! `scripts/device-check.sh --dry-run` (issue 11): every step of the script meant for a machine
//! with an NVIDIA GPU, run here without one, against the built binary, so that the first GPU
//! machine at hand runs a script that works. The answers are this machine's; what is checked
//! is that each step ran and left what it promises, within what the device tool brings back.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/device-check.sh")
}

/// A .deb holding one library-directory file, built by dpkg-deb as any package is.
fn marker_deb(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    let lib = tree.join("usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::write(lib.join("hwspec-device-check-marker"), "carried\n").unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        "Package: hwspec-device-check-marker\nVersion: 1\nArchitecture: all\n\
         Maintainer: hwspec <hwspec@localhost>\nDescription: test\n",
    )
    .unwrap();
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    let deb = debs.join("marker_1_all.deb");
    let status = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group", "-Zxz"])
        .arg(&tree)
        .arg(&deb)
        .stdout(Stdio::null())
        .status()
        .expect("dpkg-deb");
    assert!(status.success());
    debs
}

#[test]
fn every_unpacking_path_reads_a_real_deb() {
    let dir = support::scratch_dir("device-check-unpack");
    let debs = marker_deb(&dir);
    for (name, env) in [
        ("dpkg-deb", vec![]),
        ("ar and tar", vec![("HWSPEC_DEVICE_CHECK_NO_DPKG", "1")]),
        (
            "python3",
            vec![
                ("HWSPEC_DEVICE_CHECK_NO_DPKG", "1"),
                ("HWSPEC_DEVICE_CHECK_NO_AR", "1"),
            ],
        ),
    ] {
        let out = Command::new(script())
            .args([
                "--unpack-only",
                "--hwspec",
                env!("CARGO_BIN_EXE_hwspec"),
                "--debs",
            ])
            .arg(&debs)
            .arg("--out")
            .arg(dir.join("out"))
            .envs(env)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert_eq!(
            stdout.trim(),
            "/usr/lib/x86_64-linux-gnu/hwspec-device-check-marker",
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains("unpacked 1 .deb file(s)"),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn the_dry_run_runs_every_step_and_writes_what_the_device_tool_brings_back() {
    let dir = support::scratch_dir("device-check-dry-run");
    let debs = marker_deb(&dir);
    let out_dir = dir.join("out");
    let out = Command::new(script())
        .args([
            "--dry-run",
            "--hwspec",
            env!("CARGO_BIN_EXE_hwspec"),
            "--debs",
        ])
        .arg(&debs)
        .env("OUT", &out_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "results go to files");

    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    // The device tool brings back at most 8 files, named in letters, digits, '.', '_', '-'.
    assert!(files.len() <= 8, "{files:?}");
    assert!(files.iter().all(|f| f
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))));
    let machine = files
        .iter()
        .find_map(|f| f.strip_suffix("-summary.txt"))
        .unwrap_or_else(|| panic!("no summary in {files:?}"))
        .to_owned();
    assert!(machine.starts_with("dry-run-"), "{machine}");

    for level in ["quick", "standard", "full"] {
        let text =
            std::fs::read_to_string(out_dir.join(format!("{machine}-{level}.json"))).unwrap();
        let report: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(report["level"], level);
        assert_eq!(report["backends"].as_array().unwrap().len(), 10, "{level}");
        let library_path = report["host"]["environment"]["LD_LIBRARY_PATH"]
            .as_str()
            .unwrap_or_else(|| panic!("{level}: the unpacked loaders are not in front"));
        let first = library_path.split(':').next().unwrap();
        assert!(
            first.ends_with("/root/usr/lib/x86_64-linux-gnu"),
            "{library_path}"
        );
    }

    let faults = std::fs::read_to_string(out_dir.join(format!("{machine}-faults.jsonl"))).unwrap();
    let cases: Vec<String> = faults
        .lines()
        .map(|line| {
            let fault: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(fault["exit"], 0, "{line}");
            let cuda = fault["report"]["backends"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["name"] == "cuda")
                .unwrap()
                .clone();
            assert!(cuda["status"].is_string(), "{line}");
            fault["case"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        cases,
        [
            "cuda-visible-devices-empty",
            "cuda-visible-devices-minus-one",
            "cuda-visible-devices-unknown-uuid",
            "cuda-visible-devices-first-only",
            "init-stage-deadline-shorter-than-cuinit"
        ]
    );

    let checks = std::fs::read_to_string(out_dir.join(format!("{machine}-checks.txt"))).unwrap();
    let verdicts: Vec<&str> = checks.lines().filter(|l| l.starts_with("exit ")).collect();
    assert_eq!(verdicts.len(), 13, "{checks}");
    assert!(
        verdicts
            .iter()
            .all(|v| v.starts_with("exit 0 ") || v.starts_with("exit 1 ")),
        "every requirement parsed and was judged: {verdicts:?}"
    );
    assert!(checks.contains("exit 1 for: cuda (>= 12.0)"), "no GPU here");
    let summary = std::fs::read_to_string(out_dir.join(format!("{machine}-summary.txt"))).unwrap();
    for step in [
        "probe-quick exit=0",
        "probe-standard exit=0",
        "probe-full exit=0",
    ] {
        assert!(summary.contains(step), "{step}: {summary}");
    }
}
