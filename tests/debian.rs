//! X-Requires-Hwspec through Debian's own tools: dpkg-source and dpkg-gencontrol decide which
//! spelling reaches the `.dsc` and which the `.deb`, dpkg-buildpackage builds the demo source
//! package of tests/fixtures/debian-demo, and `hwspec check` must agree with what they wrote,
//! or say why not with the file, the line and the spelling to use.
//!
//! Needs dpkg-dev and debhelper (scripts/test.sh installs them); where they are missing each
//! test says so and passes without checking anything.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{hwspec, scratch_dir};

/// The field as dpkg writes it into a `.dsc` or a `.deb`.
const FIELD: &str = "Requires-Hwspec";

/// Whether `tools` are all on PATH; if not, says which test is skipped and why.
fn have(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    eprintln!(
        "SKIP {test}: {} not installed (scripts/test.sh installs dpkg-dev and debhelper)",
        missing.join(", ")
    );
    false
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

/// The value of `field` in a deb822 file, continuation lines joined.
fn field_of(text: &str, field: &str) -> Option<String> {
    let mut lines = text.lines().skip_while(|l| {
        !l.split_once(':')
            .is_some_and(|(name, _)| name.eq_ignore_ascii_case(field))
    });
    let first = lines.next()?.split_once(':')?.1.trim().to_owned();
    let rest = lines.take_while(|l| l.starts_with([' ', '\t']));
    Some(
        std::iter::once(first)
            .chain(rest.map(|l| l.trim().to_owned()))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn write_tree(dir: &Path, control: &str) {
    std::fs::create_dir_all(dir.join("debian/source")).unwrap();
    std::fs::write(dir.join("debian/control"), control).unwrap();
    std::fs::write(
        dir.join("debian/changelog"),
        "spelling (1.0) unstable; urgency=medium\n\n  * Test.\n\n -- Demo <demo@example.org>  Sun, 29 Nov 2026 20:00:00 +0000\n",
    )
    .unwrap();
    std::fs::write(dir.join("debian/source/format"), "3.0 (native)\n").unwrap();
}

/// For every spelling in the source stanza and in a binary stanza: where dpkg-source (the
/// `.dsc`) and dpkg-gencontrol (each binary package's control file) copy it, and that
/// `hwspec check --control` warns exactly when it does not reach its place (the `.dsc` for the
/// source stanza, that package's `.deb` for a binary stanza) or leaks into the `.dsc` from a
/// binary stanza.
#[test]
fn dpkg_copies_each_spelling_where_hwspec_expects() {
    if !have(
        "dpkg_copies_each_spelling_where_hwspec_expects",
        &["dpkg-source", "dpkg-gencontrol"],
    ) {
        return;
    }
    let base = scratch_dir("spellings-dpkg");
    let spellings = ["X", "XS", "XB", "XSB", "XBS", "XC", "XBC"];
    let mut mismatches = Vec::new();
    for in_source in [true, false] {
        for prefix in spellings {
            let written = format!("{prefix}-{FIELD}");
            let (source_field, binary_field) = if in_source {
                (format!("{written}: opencl\n"), String::new())
            } else {
                (String::new(), format!("{written}: opencl\n"))
            };
            let control = format!(
                "Source: spelling\nMaintainer: Demo <demo@example.org>\n{source_field}\n\
                 Package: spelling-a\nArchitecture: all\n{binary_field}Description: a\n a\n\n\
                 Package: spelling-b\nArchitecture: all\nDescription: b\n b\n"
            );
            let case = format!("{}-{prefix}", if in_source { "source" } else { "binary" });
            let dir = base.join(&case);
            let tree = dir.join("spelling-1.0");
            write_tree(&tree, &control);
            run(&dir, "dpkg-source", &["-b", "spelling-1.0"]);
            let dsc = std::fs::read_to_string(dir.join("spelling_1.0.dsc")).unwrap();
            let mut debs = Vec::new();
            for package in ["spelling-a", "spelling-b"] {
                let out = dir.join(package);
                std::fs::create_dir_all(out.join("DEBIAN")).unwrap();
                run(
                    &tree,
                    "dpkg-gencontrol",
                    &[&format!("-p{package}"), &format!("-P{}", out.display())],
                );
                debs.push(std::fs::read_to_string(out.join("DEBIAN/control")).unwrap());
            }
            let to_dsc = field_of(&dsc, FIELD).is_some();
            let to_a = field_of(&debs[0], FIELD).is_some();
            // Where the requirement belongs, and whether dpkg puts it there and only there.
            let right = if in_source { to_dsc } else { to_a && !to_dsc };
            let check = hwspec(
                &[
                    "check",
                    "--control",
                    tree.join("debian/control").to_str().unwrap(),
                ],
                &[],
            );
            assert!(matches!(check.code, Some(0 | 1)), "{case}: {check:?}");
            let warned = check.stderr.contains("warning:");
            if warned == right {
                mismatches.push(format!(
                    "{case}: dpkg copies it to the .dsc: {to_dsc}, to spelling-a's .deb: {to_a}, \
                     to spelling-b's: {}; hwspec warned: {warned}\n{}",
                    field_of(&debs[1], FIELD).is_some(),
                    check.stderr
                ));
            }
            if warned {
                let line = if in_source { 3 } else { 6 };
                assert!(
                    check
                        .stderr
                        .contains(&format!("debian/control:{line}: {written} ")),
                    "{case}: the warning must name the file and line: {}",
                    check.stderr
                );
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The demo source package, copied to a scratch directory with `edit` applied to its
/// debian/control and built with dpkg-buildpackage (source and binaries, unsigned). Returns
/// the directory holding the `.dsc` and `.deb` files, and the tree.
fn build_demo(name: &str, edit: impl Fn(&str) -> String) -> (PathBuf, PathBuf) {
    let dir = scratch_dir(name);
    let tree = dir.join("hwspec-demo-1.0");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/debian-demo");
    run(
        &dir,
        "cp",
        &["-r", fixture.to_str().unwrap(), tree.to_str().unwrap()],
    );
    let control = tree.join("debian/control");
    let text = std::fs::read_to_string(&control).unwrap();
    std::fs::write(&control, edit(&text)).unwrap();
    run(&tree, "dpkg-buildpackage", &["--no-sign"]);
    (dir, tree)
}

fn deb_field(dir: &Path, package: &str) -> Option<String> {
    let deb = dir.join(format!("{package}_1.0_all.deb"));
    let control = run(dir, "dpkg-deb", &["-f", deb.to_str().unwrap()]);
    field_of(&control, FIELD)
}

/// `hwspec check`'s exit status for `args`.
fn verdict(args: &[&str]) -> Option<i32> {
    let run = hwspec(args, &[]);
    assert!(matches!(run.code, Some(0 | 1)), "{args:?}: {run:?}");
    run.code
}

/// Whether the tree's verdict for each binary package (its stanza and the source stanza's)
/// is the `.dsc`'s and that package's `.deb`'s together; returns the packages where not.
fn disagreements(dir: &Path, tree: &Path, packages: &[&str]) -> Vec<String> {
    let control = tree.join("debian/control");
    let dsc = dir.join("hwspec-demo_1.0.dsc");
    let dsc_ok = verdict(&["check", "--dsc", dsc.to_str().unwrap()]) == Some(0);
    let mut differ = Vec::new();
    for package in packages {
        let deb = dir.join(format!("{package}_1.0_all.deb"));
        let tree_ok = verdict(&[
            "check",
            "--control",
            control.to_str().unwrap(),
            "--package",
            package,
        ]) == Some(0);
        let deb_ok = verdict(&["check", "--deb", deb.to_str().unwrap()]) == Some(0);
        if tree_ok != (dsc_ok && deb_ok) {
            differ.push(format!(
                "{package}: tree {tree_ok}, .dsc {dsc_ok}, .deb {deb_ok}"
            ));
        }
    }
    differ
}

const DEMO: [&str; 3] = ["hwspec-demo-vulkan", "hwspec-demo-cuda", "hwspec-demo-doc"];

/// The demo as committed: XS- in the source stanza reaches the `.dsc`, XB- the vulkan
/// package's `.deb`; the cuda package's X- reaches nothing, so the tree and the files disagree
/// about it, and `hwspec check --control` says so with the line and the fix. With the fix, all
/// agree.
#[test]
fn demo_package_built_by_dpkg_buildpackage_agrees_with_its_tree() {
    if !have(
        "demo_package_built_by_dpkg_buildpackage_agrees_with_its_tree",
        &["dpkg-buildpackage", "dh"],
    ) {
        return;
    }
    let (dir, tree) = build_demo("demo-as-committed", str::to_owned);
    let dsc = std::fs::read_to_string(dir.join("hwspec-demo_1.0.dsc")).unwrap();
    assert_eq!(field_of(&dsc, FIELD).as_deref(), Some("opencl"), "{dsc}");
    assert_eq!(
        deb_field(&dir, "hwspec-demo-vulkan").as_deref(),
        Some("vulkan (>= 1.0)")
    );
    assert_eq!(deb_field(&dir, "hwspec-demo-cuda"), None);
    assert_eq!(deb_field(&dir, "hwspec-demo-doc"), None);

    assert_eq!(
        disagreements(&dir, &tree, &DEMO),
        ["hwspec-demo-cuda: tree false, .dsc true, .deb true"],
        "only the X- spelling makes the tree and the files disagree"
    );
    let control = tree.join("debian/control");
    let run = hwspec(&["check", "--control", control.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(1), "cuda (>= 12.0) is not met here: {run:?}");
    let line = std::fs::read_to_string(&control)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("X-Requires-Hwspec"))
        .unwrap()
        + 1;
    let warning = format!(
        "hwspec: warning: {}:{line}: X-Requires-Hwspec in binary stanza hwspec-demo-cuda is not copied into hwspec-demo-cuda's .deb",
        control.display()
    );
    assert!(run.stderr.contains(&warning), "{}", run.stderr);
    assert!(
        run.stderr.contains("write XB-Requires-Hwspec"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

    let (dir, tree) = build_demo("demo-fixed", |c| {
        c.replace("\nX-Requires-Hwspec:", "\nXB-Requires-Hwspec:")
    });
    assert_eq!(
        deb_field(&dir, "hwspec-demo-cuda").as_deref(),
        Some("cuda (>= 12.0)")
    );
    assert!(disagreements(&dir, &tree, &DEMO).is_empty());
    let control = tree.join("debian/control");
    let run = hwspec(&["check", "--control", control.to_str().unwrap()], &[]);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

/// XSB- in the source stanza reaches the `.dsc` and every `.deb`; a binary stanza's own XB-
/// field replaces it in that package's `.deb`.
#[test]
fn xsb_in_the_source_stanza_reaches_the_dsc_and_every_deb() {
    if !have(
        "xsb_in_the_source_stanza_reaches_the_dsc_and_every_deb",
        &["dpkg-buildpackage", "dh"],
    ) {
        return;
    }
    let (dir, tree) = build_demo("demo-xsb", |c| {
        c.replace("\nXS-Requires-Hwspec:", "\nXSB-Requires-Hwspec:")
            .replace("\nX-Requires-Hwspec:", "\nXB-Requires-Hwspec:")
    });
    let dsc = std::fs::read_to_string(dir.join("hwspec-demo_1.0.dsc")).unwrap();
    assert_eq!(field_of(&dsc, FIELD).as_deref(), Some("opencl"));
    assert_eq!(
        deb_field(&dir, "hwspec-demo-doc").as_deref(),
        Some("opencl")
    );
    assert_eq!(
        deb_field(&dir, "hwspec-demo-vulkan").as_deref(),
        Some("vulkan (>= 1.0)")
    );
    assert!(disagreements(&dir, &tree, &DEMO).is_empty());
}
