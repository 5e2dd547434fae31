//! Helpers shared by the end-to-end tests: running the built binary, compiling C fixtures.

// Each test crate that includes this module uses its own subset of the helpers.
#![allow(dead_code)]

mod cc;
pub mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// What one run of `hwspec` did.
#[derive(Debug)]
pub struct TestRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl TestRun {
    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "{self:?}");
    }

    /// Runs `hwspec probe` with its stdout a pipe whose reader has already gone.
    pub fn probe_into_closed_pipe() -> TestRun {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hwspec"))
            .args(["probe", "--backend", "cpu"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        TestRun {
            code: out.status.code(),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs the built `hwspec` with `args` and extra environment, with a private driver cache.
pub fn hwspec(args: &[&str], env: &[(&str, &str)]) -> TestRun {
    let out = Command::new(env!("CARGO_BIN_EXE_hwspec"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run hwspec");
    TestRun {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `hwspec probe --json` with `args` and returns the parsed report.
pub fn probe_json(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["probe", "--json", "--fresh"];
    all.extend_from_slice(args);
    let run = hwspec(&all, env);
    run.assert_success();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The report of backend `name`.
pub fn backend<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("no backend {name} in {report:#}"))
}

/// The capability set as `name` or `name (= version)` strings.
pub fn capability_names(report: &Value) -> Vec<String> {
    report["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match c["version"].as_str() {
            Some(v) => format!("{} (= {v})", c["name"].as_str().unwrap()),
            None => c["name"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// A fresh empty directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hwspec-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A binary package `PACKAGE_1.0_all.deb` in `dir`, built by the real dpkg-deb (xz members),
/// whose control file adds the lines `fields` (e.g. `Requires-Hwspec: cuda`) to the ones every
/// package has.
pub fn dpkg_deb(dir: &Path, package: &str, fields: &[&str]) -> PathBuf {
    let root = dir.join(format!("{package}-root"));
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    let mut control = format!(
        "Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: Demo <demo@example.org>\nDescription: test package\n"
    );
    for field in fields {
        control.push_str(&format!("{field}\n"));
    }
    std::fs::write(root.join("DEBIAN/control"), control).unwrap();
    let deb = dir.join(format!("{package}_1.0_all.deb"));
    let output = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&root)
        .arg(&deb)
        .output()
        .expect("dpkg-deb (scripts/test.sh installs dpkg-dev)");
    assert!(output.status.success(), "dpkg-deb: {output:?}");
    deb
}

/// Compiles the C files `sources` (relative to `tests/fixtures`) with the preprocessor
/// definitions `defines` into the shared object `out`, and returns `out`.
pub fn compile_shared_object(sources: &[&str], defines: &[&str], out: &Path) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let sources: Vec<PathBuf> = sources.iter().map(|s| fixtures.join(s)).collect();
    let sources: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
    cc::compile_shared(&sources, defines, out)
}

/// Fails unless every `#[test]` in `test_file` (relative to the workspace root; a folder means
/// every `.rs` file in it) is named, in
/// backquotes, in `doc`: each promise's test is listed where the promise is written. `at_least`
/// guards against a parse that silently finds nothing.
pub fn assert_every_test_is_documented(test_file: &str, doc: &str, at_least: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // A test suite is one file or a folder of them (tests/faults/).
    let path = root.join(test_file);
    let source = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|file| file.extension().is_some_and(|ext| ext == "rs"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|file| std::fs::read_to_string(file).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        std::fs::read_to_string(&path).unwrap()
    };
    let doc_text = std::fs::read_to_string(root.join(doc)).unwrap();
    let mut tests = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[test]" {
            let signature = lines.next().unwrap_or_default().trim();
            let name = signature
                .strip_prefix("fn ")
                .and_then(|rest| rest.split('(').next())
                .unwrap_or_else(|| panic!("#[test] not followed by a fn: {signature}"));
            tests.push(name.to_owned());
        }
    }
    assert!(
        tests.len() > at_least,
        "found only {tests:?} in {test_file}"
    );
    let missing: Vec<&String> = tests
        .iter()
        .filter(|t| !doc_text.contains(&format!("`{t}`")))
        .collect();
    assert!(missing.is_empty(), "not in {doc}: {missing:?}");
}
