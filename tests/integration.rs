//! The integrations of docs/integration.md, each exercised the way it is documented: a buildd
//! deciding on a source package, an autopkgtest that skips, apt's pre-install hook fed real
//! .deb files built with dpkg-deb, and the hwspec check command itself.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{hwspec, scratch_dir};

/// A `debian/control` with a source stanza, one binary stanza needing CUDA or OpenCL (this
/// machine has OpenCL through PoCL) and one with no requirement.
const CONTROL: &str = "\
Source: demo
Maintainer: Demo <demo@example.org>
# hwspec reads this stanza and each binary stanza
Build-Depends: debhelper-compat (= 13)

Package: demo-gpu
Architecture: any
X-Requires-Hwspec: cuda (>= 11.0)
 | opencl
Description: demo needing an accelerator

Package: demo-doc
Architecture: all
Description: demo documentation
";

/// A real binary package (support::dpkg_deb) declaring `requirement` when given.
fn build_deb(dir: &Path, package: &str, requirement: Option<&str>) -> PathBuf {
    match requirement {
        Some(r) => support::dpkg_deb(dir, package, &[&format!("Requires-Hwspec: {r}")]),
        None => support::dpkg_deb(dir, package, &[]),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run_with_stdin(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hwspec"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_exit_codes_follow_satisfaction() {
    let ok = hwspec(&["check", "opencl (>= 1.2), vulkan"], &[]);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    assert!(ok.stdout.is_empty(), "quiet without --explain: {ok:?}");
    let no = hwspec(&["check", "opencl-gpu"], &[]);
    assert_eq!(no.code, Some(1), "{no:?}");
    let empty = hwspec(&["check", ""], &[]);
    assert_eq!(
        empty.code,
        Some(0),
        "an empty requirement means cpu: {empty:?}"
    );
}

#[test]
fn explain_names_the_device_or_the_reason() {
    let run = hwspec(&["check", "--explain", "opencl-gpu | opencl (>= 1.2)"], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("satisfied by pthread"),
        "{}",
        run.stdout
    );
    let gpu = hwspec(&["check", "--explain", "opencl-gpu"], &[]);
    assert_eq!(gpu.code, Some(1));
    assert!(
        gpu.stdout.contains("only software devices were found"),
        "{}",
        gpu.stdout
    );
}

#[test]
fn invalid_expressions_exit_2_naming_the_position() {
    let run = hwspec(&["check", "cuda (>= "], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("column 10"), "{}", run.stderr);
    assert!(run.stderr.contains('^'), "{}", run.stderr);
    let typo = hwspec(&["check", "cdua"], &[]);
    assert_eq!(typo.code, Some(2));
    assert!(
        typo.stderr.contains("did you mean `cuda`"),
        "{}",
        typo.stderr
    );
    let bad_code = hwspec(&["check", "--skip-code", "2", "cpu"], &[]);
    assert_eq!(bad_code.code, Some(2));
}

#[test]
fn json_gives_the_verdict_as_data() {
    let run = hwspec(&["check", "--json", "cuda (>= 12.0) | opencl, vulkan"], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["satisfied"], true);
    let clauses = v["requirements"][0]["verdict"]["clauses"]
        .as_array()
        .unwrap();
    assert_eq!(clauses.len(), 2);
    assert_eq!(clauses[0]["relations"][0]["satisfied"], false);
    assert_eq!(clauses[0]["relations"][1]["satisfied"], true);
}

#[test]
fn overrides_are_applied_and_shown() {
    let env = [
        ("HWSPEC_OVERRIDE_CUDA", "12.4"),
        ("HWSPEC_OVERRIDE_OPENCL", "absent"),
    ];
    let run = hwspec(&["check", "--json", "cuda (>= 12.0)"], &env);
    assert_eq!(run.code, Some(0), "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["overrides"]["HWSPEC_OVERRIDE_CUDA"], "12.4");
    assert_eq!(hwspec(&["check", "opencl"], &env).code, Some(1));
    let table = hwspec(&["probe"], &env);
    assert!(
        table
            .stdout
            .contains("overridden by HWSPEC_OVERRIDE_CUDA=12.4"),
        "{}",
        table.stdout
    );
    let bad = hwspec(&["check", "cpu"], &[("HWSPEC_OVERRIDE_CUDA", "twelve")]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(
        bad.stderr.contains("HWSPEC_OVERRIDE_CUDA"),
        "{}",
        bad.stderr
    );
}

/// docs/integration.md, buildd: `hwspec check --control debian/control` (or `--dsc`) decides
/// whether this machine takes a source package.
#[test]
fn buildd_decides_from_the_control_file_and_the_dsc() {
    let dir = scratch_dir("buildd");
    let control = write(&dir, "control", CONTROL);
    let run = hwspec(&["check", "--control", control.to_str().unwrap()], &[]);
    assert_eq!(
        run.code,
        Some(0),
        "cuda (>= 11.0) | opencl is met by PoCL: {run:?}"
    );

    let cuda_only = write(&dir, "control-cuda", &CONTROL.replace("\n | opencl", ""));
    let run = hwspec(
        &[
            "check",
            "--explain",
            "--control",
            cuda_only.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains("binary stanza demo-gpu"),
        "{}",
        run.stdout
    );
    let doc_only = hwspec(
        &[
            "check",
            "--control",
            cuda_only.to_str().unwrap(),
            "--package",
            "demo-doc",
        ],
        &[],
    );
    assert_eq!(
        doc_only.code,
        Some(0),
        "demo-doc asks for nothing: {doc_only:?}"
    );

    let dsc = write(
        &dir,
        "demo_1.0.dsc",
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nFormat: 3.0 (quilt)\nSource: demo\n\
         Binary: demo-gpu, demo-doc\nVersion: 1.0\nRequires-Hwspec: vulkan (>= 1.1)\n\
         -----BEGIN PGP SIGNATURE-----\n\nnot checked\n-----END PGP SIGNATURE-----\n",
    );
    assert_eq!(
        hwspec(&["check", "--dsc", dsc.to_str().unwrap()], &[]).code,
        Some(0)
    );

    let broken = write(&dir, "broken.dsc", "this is not a dsc\n");
    let run = hwspec(&["check", "--dsc", broken.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("broken.dsc"), "{}", run.stderr);
}

/// docs/integration.md, autopkgtest: a `Restrictions: skippable` test whose command starts
/// with `hwspec check --skip-code 77 ...` is skipped, not failed, on a machine without it.
#[test]
fn autopkgtest_skips_with_77_where_the_hardware_is_missing() {
    let hw = env!("CARGO_BIN_EXE_hwspec");
    let test_command = |requirement: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{hw} check --skip-code 77 '{requirement}' && echo tests-ran"
            ))
            .output()
            .unwrap()
    };
    let skipped = test_command("cuda (>= 12.0)");
    assert_eq!(skipped.status.code(), Some(77));
    assert!(!String::from_utf8_lossy(&skipped.stdout).contains("tests-ran"));
    let ran = test_command("opencl");
    assert_eq!(ran.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ran.stdout).contains("tests-ran"));
}

/// docs/integration.md, apt: the Pre-Install-Pkgs hook warns about (or refuses) packages
/// whose requirement is not met, given real .deb files as apt gives them.
#[test]
fn apt_hook_warns_or_refuses_real_debs() {
    let dir = scratch_dir("apt-hook");
    let cuda = build_deb(&dir, "demo-cuda", Some("cuda (>= 12.0)"));
    let opencl = build_deb(&dir, "demo-opencl", Some("opencl"));
    let plain = build_deb(&dir, "demo-plain", None);
    let v1 = format!(
        "{}\n{}\n{}\n",
        cuda.display(),
        opencl.display(),
        plain.display()
    );

    let (code, stdout, stderr) = run_with_stdin(&["apt-hook"], &v1);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("warning: demo-cuda"), "{stderr}");
    assert!(stderr.contains("cuda (>= 12.0)"), "{stderr}");
    assert!(!stderr.contains("demo-opencl"), "{stderr}");
    assert!(!stderr.contains("demo-plain"), "{stderr}");

    let (code, _, stderr) = run_with_stdin(&["apt-hook", "--refuse"], &v1);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing the installation of demo-cuda"),
        "{stderr}"
    );

    // The protocol version contrib/apt/50hwspec asks for.
    let v2 = format!(
        "VERSION 2\nAPT::Architecture=amd64\n\ndemo-opencl - < 1.0 {}\ndemo-cuda - < 1.0 {}\nold 1.0 > 0.9 **REMOVE**\n",
        opencl.display(),
        cuda.display()
    );
    let (code, _, stderr) = run_with_stdin(&["apt-hook", "--refuse"], &v2);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("demo-cuda"), "{stderr}");

    let only_fine = format!("{}\n{}\n", opencl.display(), plain.display());
    let (code, _, stderr) = run_with_stdin(&["apt-hook", "--refuse"], &only_fine);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    let corrupt = write(&dir, "corrupt_1.0_all.deb", "not an ar archive");
    let (code, _, stderr) = run_with_stdin(
        &["apt-hook", "--refuse"],
        &format!("{}\n", corrupt.display()),
    );
    assert_eq!(
        code,
        Some(0),
        "an unreadable package is warned about, not refused: {stderr}"
    );
    assert!(stderr.contains("corrupt_1.0_all.deb"), "{stderr}");
}

/// docs/integration.md, apt: an upgrade, downgrade or reinstall of an installed package is
/// warned about and never refused, with `--refuse` or apt's `Hwspec::Refuse`.
#[test]
fn apt_hook_refuses_new_packages_only() {
    let dir = scratch_dir("apt-hook-upgrade");
    let cuda = build_deb(&dir, "demo-cuda", Some("cuda (>= 12.0)"));
    let upgrade = format!(
        "VERSION 2\nAPT::Architecture=amd64\n\ndemo-cuda 0.9 < 1.0 {}\n",
        cuda.display()
    );
    let (code, _, stderr) = run_with_stdin(&["apt-hook", "--refuse"], &upgrade);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("warning: demo-cuda"), "{stderr}");
    assert!(
        stderr.contains("already installed, so not refused"),
        "{stderr}"
    );

    let fresh = |config: &str| {
        format!(
            "VERSION 3\nAPT::Architecture=amd64\n{config}\ndemo-cuda - - none < 1.0 all none {}\n",
            cuda.display()
        )
    };
    let (code, _, stderr) = run_with_stdin(&["apt-hook"], &fresh("Hwspec::Refuse=true\n"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error: demo-cuda"), "{stderr}");
    let (code, _, stderr) = run_with_stdin(&["apt-hook"], &fresh("Hwspec::Refuse=false\n"));
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run_with_stdin(&["apt-hook"], &fresh("Hwspec::Refuse=perhaps\n"));
    assert_eq!(code, Some(0), "a garbled option never refuses: {stderr}");
    assert!(stderr.contains("not a boolean"), "{stderr}");
}

/// A requirement in debian/control that dpkg will not copy where it is read is warned about
/// with the file, the line and the spelling to write; an invalid one is an error naming them.
#[test]
fn check_warns_about_spellings_dpkg_does_not_copy() {
    let dir = scratch_dir("spellings");
    let control = write(&dir, "control", CONTROL);
    let run = hwspec(&["check", "--control", control.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    let expected = format!(
        "hwspec: warning: {}:8: X-Requires-Hwspec in binary stanza demo-gpu is not copied into demo-gpu's .deb",
        control.display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(
        run.stderr.contains("write XB-Requires-Hwspec"),
        "{}",
        run.stderr
    );

    let fixed = write(
        &dir,
        "control-fixed",
        &CONTROL.replace("X-Requires", "XB-Requires"),
    );
    let run = hwspec(&["check", "--control", fixed.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    let broken = write(
        &dir,
        "control-broken",
        &CONTROL.replace("(>= 11.0)", "(>= )"),
    );
    let run = hwspec(&["check", "--control", broken.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    let expected = format!(
        "{}:8 (binary stanza demo-gpu): invalid requirement",
        broken.display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
}

#[test]
fn the_shipped_apt_configuration_names_the_hook() {
    let conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/apt/50hwspec"),
    )
    .unwrap();
    // `test $? -ne 1`: only a refusal stops apt, never a missing or crashing hwspec.
    assert!(
        conf.contains(r#"DPkg::Pre-Install-Pkgs { "/usr/bin/hwspec apt-hook; test $? -ne 1"; };"#)
    );
    assert!(conf.contains(r#"DPkg::Tools::Options::/usr/bin/hwspec::Version "2";"#));
}

#[test]
fn check_reads_a_deb_built_by_dpkg_deb() {
    let dir = scratch_dir("check-deb");
    let deb = build_deb(&dir, "demo-vulkan", Some("vulkan (>= 1.0)"));
    assert_eq!(
        hwspec(&["check", "--deb", deb.to_str().unwrap()], &[]).code,
        Some(0)
    );
    let gpu = build_deb(&dir, "demo-gpu", Some("gpu"));
    assert_eq!(
        hwspec(&["check", "--deb", gpu.to_str().unwrap()], &[]).code,
        Some(1)
    );
}
