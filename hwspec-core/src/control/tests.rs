use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::*;

const REALISTIC_CONTROL: &str = "\
# Generated from debian/control.in; edit that.
Source: hwspec-demo
Section: science
Priority: optional
Maintainer: Jane Doe <jane@example.org>
Build-Depends: debhelper-compat (= 13),
               nvidia-cuda-toolkit [amd64],
# the OpenCL headers are enough for the fallback
               opencl-headers
X-Requires-Hwspec: cpu
Standards-Version: 4.6.2

Package: hwspec-demo
Architecture: any
Depends: ${shlibs:Depends}, ${misc:Depends}
X-Requires-Hwspec: cuda (>= 11.0) | opencl
Description: demonstration package
 Long description
 .
 with a paragraph.

# A documentation package needs nothing.
Package: hwspec-demo-doc
Architecture: all
Description: documentation

Package: hwspec-demo-tests
Architecture: any
XB-Requires-Hwspec: cuda (>= 12.0),
  cuda-arch (>= 8.0)
   | rocm,
 gpu-memory (>= 16)
Description: tests
";

fn control_error(text: &str) -> ControlError {
    from_control(text, "debian/control", None).expect_err("should be refused")
}

fn single(text: &str) -> FieldValue {
    let mut values = from_control(text, "debian/control", None).expect("valid");
    assert_eq!(values.len(), 1);
    values.remove(0)
}

#[test]
fn realistic_control_reports_every_stanza() {
    let values = from_control(REALISTIC_CONTROL, "debian/control", None).unwrap();
    let summary: Vec<_> = values
        .iter()
        .map(|v| (v.package.as_deref(), v.field.as_str(), v.value.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (None, "X-Requires-Hwspec", Some("cpu")),
            (
                Some("hwspec-demo"),
                "X-Requires-Hwspec",
                Some("cuda (>= 11.0) | opencl")
            ),
            (Some("hwspec-demo-doc"), FIELD, None),
            (
                Some("hwspec-demo-tests"),
                "XB-Requires-Hwspec",
                Some("cuda (>= 12.0), cuda-arch (>= 8.0) | rocm, gpu-memory (>= 16)")
            ),
        ]
    );
    assert_eq!(values[0].origin, "debian/control, source stanza");
    assert_eq!(
        values[1].origin,
        "debian/control, binary stanza hwspec-demo"
    );
    // Lines count the comments dpkg drops, as an editor does.
    let lines: Vec<_> = values.iter().map(|v| v.line).collect();
    assert_eq!(lines, [Some(10), Some(16), None, Some(29)]);
}

#[test]
fn control_with_package_gives_source_and_that_binary() {
    let values = from_control(REALISTIC_CONTROL, "debian/control", Some("hwspec-demo")).unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0].package, None);
    assert_eq!(values[1].package.as_deref(), Some("hwspec-demo"));
    assert_eq!(values[1].value.as_deref(), Some("cuda (>= 11.0) | opencl"));
}

#[test]
fn control_unknown_package_lists_the_binaries() {
    let err = from_control(REALISTIC_CONTROL, "debian/control", Some("nope")).unwrap_err();
    assert_eq!(err.kind(), ControlErrorKind::UnknownPackage);
    let message = err.to_string();
    assert!(
        message.contains("hwspec-demo, hwspec-demo-doc, hwspec-demo-tests"),
        "{message}"
    );
}

#[test]
fn control_accepts_every_user_defined_spelling() {
    for name in [
        "X-Requires-Hwspec",
        "XS-Requires-Hwspec",
        "XB-Requires-Hwspec",
        "XSB-Requires-Hwspec",
        "XBS-Requires-Hwspec",
        "XC-Requires-Hwspec",
        "x-requires-hwspec",
        "xs-REQUIRES-HWSPEC",
    ] {
        let value = single(&format!("Source: foo\n{name}: opencl\n"));
        assert_eq!(value.field, name);
        assert_eq!(value.value.as_deref(), Some("opencl"), "{name}");
    }
}

#[test]
fn control_ignores_lookalike_fields() {
    for name in [
        "XZ-Requires-Hwspec",
        "Requires-Hwspecs",
        "X-Requires",
        "XRequires-Hwspec",
    ] {
        assert_eq!(
            single(&format!("Source: foo\n{name}: opencl\n")).value,
            None,
            "{name}"
        );
    }
}

#[test]
fn control_refuses_the_bare_name_dpkg_would_ignore() {
    let err = control_error("Source: foo\nRequires-Hwspec: opencl\n");
    assert_eq!(err.kind(), ControlErrorKind::InvalidFieldName);
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("X-Requires-Hwspec"), "{err}");
}

#[test]
fn control_refuses_two_spellings_naming_both() {
    let err = control_error(
        "Source: foo\n\nPackage: bar\nX-Requires-Hwspec: opencl\nXB-Requires-Hwspec: cuda\n",
    );
    assert_eq!(err.kind(), ControlErrorKind::DuplicateField);
    assert_eq!(err.line(), Some(5));
    assert_eq!(err.stanza(), Some("binary stanza bar"));
    let message = err.to_string();
    assert!(
        message.starts_with("debian/control:5 (binary stanza bar): "),
        "{message}"
    );
    assert!(
        message.contains("X-Requires-Hwspec (line 4)") && message.contains("XB-Requires-Hwspec"),
        "{message}"
    );
}

#[test]
fn control_empty_field_is_present_but_empty() {
    let value = single("Source: foo\nX-Requires-Hwspec:\n");
    assert_eq!(value.value.as_deref(), Some(""));
}

#[test]
fn control_binary_stanza_does_not_inherit() {
    let values = from_control(
        "Source: foo\nX-Requires-Hwspec: gpu\n\nPackage: bar\n",
        "c",
        None,
    )
    .unwrap();
    assert_eq!(values[1].value, None);
}

#[test]
fn control_whitespace_only_line_separates_stanzas_as_in_dpkg() {
    let values = from_control(
        "Source: foo\n \t\nPackage: bar\nX-Requires-Hwspec: gpu\n",
        "c",
        None,
    )
    .unwrap();
    assert_eq!(values[1].value.as_deref(), Some("gpu"));
}

#[test]
fn control_crlf_line_endings() {
    let values = from_control(
        "Source: foo\r\n\r\nPackage: bar\r\nX-Requires-Hwspec: cuda\r\n  | opencl\r\n",
        "c",
        None,
    )
    .unwrap();
    assert_eq!(values[1].value.as_deref(), Some("cuda | opencl"));
}

#[test]
fn control_empty_files_are_refused() {
    for text in ["", "\n\n  \n", "# only a comment\n"] {
        assert_eq!(
            control_error(text).kind(),
            ControlErrorKind::Empty,
            "{text:?}"
        );
    }
}

#[test]
fn control_without_source_stanza_is_refused() {
    let err = control_error("\n# comment\nPackage: bar\nX-Requires-Hwspec: gpu\n");
    assert_eq!(err.kind(), ControlErrorKind::NoSourceStanza);
    assert_eq!(err.line(), Some(3));
}

#[test]
fn control_binary_stanza_without_package_is_refused() {
    let err =
        control_error("Source: foo\n\nPackage: a\n\nArchitecture: all\nX-Requires-Hwspec: gpu\n");
    assert_eq!(err.kind(), ControlErrorKind::MissingPackage);
    assert_eq!(err.line(), Some(5));
    assert_eq!(
        err.to_string(),
        "debian/control:5 (stanza 3): this binary stanza has no Package: field"
    );
}

#[test]
fn control_syntax_error_names_the_line() {
    let err = control_error("# header\nSource: foo\nthis line has no colon\n");
    assert_eq!(err.kind(), ControlErrorKind::Syntax);
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(
        err.to_string()
            .starts_with("debian/control:3: syntax error"),
        "{err}"
    );
}

#[test]
fn control_syntax_errors_name_the_character_not_a_token_kind() {
    let err = control_error("\u{feff}Source: foo\nX-Requires-Hwspec: cpu\n");
    assert_eq!(err.kind(), ControlErrorKind::Syntax);
    assert_eq!(err.line(), Some(1));
    let message = err.to_string();
    assert!(message.contains("byte order mark (U+FEFF)"), "{message}");
    assert!(
        !message.contains("Some(") && !message.contains("ERROR"),
        "{message}"
    );

    let err = control_error("Source: foo\n-Weird: x\n");
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().ends_with("found \"-Weird: x\""), "{err}");
    let err = control_error("Source: foo\n\u{1b}[2J: x\n");
    assert!(err.to_string().contains("\\x1b[2J"), "{err}");
}

#[test]
fn control_with_thousands_of_stanzas_reads_every_one_with_its_line() {
    let mut text = String::from("Source: big\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "\nPackage: bin{i}\nArchitecture: any\nX-Requires-Hwspec: opencl\n"
        ));
    }
    text.push_str("\nPackage: last\nX-Requires-Hwspec: cpu\nx-requires-hwspec: gpu\n");
    let err = control_error(&text);
    assert_eq!(err.kind(), ControlErrorKind::DuplicateField);
    let lines = text.lines().count();
    assert_eq!(err.line(), Some(lines), "{err}");
    assert!(
        err.to_string().contains(&format!("(line {})", lines - 1)),
        "{err}"
    );
    let text = text.replace("x-requires-hwspec: gpu\n", "");
    let values = from_control(&text, "c", None).unwrap();
    assert_eq!(values.len(), 3002);
    assert_eq!(values[3001].value.as_deref(), Some("cpu"));
}

#[test]
fn files_larger_than_the_cap_are_refused_before_parsing() {
    let dir = TempDir::new();
    let path = dir.0.join("control");
    let mut text = String::from("Source: big\nX-Requires-Hwspec: cpu\nDescription: x\n");
    while text.len() <= MAX_CONTROL_SIZE {
        text.push_str(" padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&path, &text).unwrap();
    for kind in [Kind::Control, Kind::Dsc] {
        let err = from_path(&path, kind, None).unwrap_err();
        assert_eq!(err.kind(), ControlErrorKind::TooLarge, "{err}");
        assert!(err.to_string().contains("limit"), "{err}");
    }
}

#[test]
fn special_files_are_refused_without_blocking() {
    let dir = TempDir::new();
    let fifo = dir.0.join("control");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for kind in [Kind::Control, Kind::Dsc, Kind::Deb] {
        let err = from_path(&fifo, kind, None).unwrap_err();
        assert_eq!(err.kind(), ControlErrorKind::Io, "{err}");
        assert!(
            err.to_string().contains("not a regular file but a FIFO"),
            "{err}"
        );
    }
    let err = from_path(Path::new("/dev/zero"), Kind::Deb, None).unwrap_err();
    assert!(err.to_string().contains("character device"), "{err}");
    let err = from_path(&dir.0, Kind::Control, None).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}

const DSC_BODY: &str = "\
Format: 3.0 (quilt)
Source: hwspec-demo
Binary: hwspec-demo, hwspec-demo-doc
Version: 1.0-1
Requires-Hwspec: cuda (>= 11.0)
 | opencl
Checksums-Sha256:
 0123 100 hwspec-demo_1.0.orig.tar.xz
";

fn signed(body: &str) -> String {
    let escaped: String = body
        .lines()
        .map(|line| {
            if line.starts_with('-') {
                format!("- {line}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{escaped}\n-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCgAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n"
    )
}

#[test]
fn dsc_unsigned() {
    let value = from_dsc(DSC_BODY, "foo_1.0.dsc").unwrap();
    assert_eq!(
        value,
        FieldValue {
            package: None,
            origin: "foo_1.0.dsc".to_string(),
            field: "Requires-Hwspec".to_string(),
            value: Some("cuda (>= 11.0) | opencl".to_string()),
            line: Some(5),
        }
    );
}

#[test]
fn dsc_clear_signed() {
    let value = from_dsc(&signed(DSC_BODY), "foo_1.0.dsc").unwrap();
    assert_eq!(value.value.as_deref(), Some("cuda (>= 11.0) | opencl"));

    // Errors inside the signed text name the file's line, not the body's.
    let body = DSC_BODY.replace("Version: 1.0-1\n", "Version: 1.0-1\nno colon here\n");
    let err = from_dsc(&signed(&body), "foo_1.0.dsc").unwrap_err();
    assert_eq!(err.kind(), ControlErrorKind::Syntax);
    assert_eq!(err.line(), Some(8), "{err}");
}

#[test]
fn dsc_dash_escaped_field_is_read() {
    let text = signed(DSC_BODY).replace("Requires-Hwspec:", "- Requires-Hwspec:");
    let value = from_dsc(&text, "foo_1.0.dsc").unwrap();
    assert_eq!(value.value.as_deref(), Some("cuda (>= 11.0) | opencl"));
}

#[test]
fn dsc_accepts_prefixed_spellings() {
    for name in [
        "Requires-Hwspec",
        "X-Requires-Hwspec",
        "XS-Requires-Hwspec",
        "requires-hwspec",
    ] {
        let text = format!("Source: foo\n{name}: vulkan\n");
        let value = from_dsc(&text, "foo.dsc").unwrap();
        assert_eq!(
            (value.field.as_str(), value.value.as_deref()),
            (name, Some("vulkan"))
        );
    }
    assert_eq!(from_dsc("Source: foo\n", "foo.dsc").unwrap().value, None);
}

#[test]
fn dsc_two_spellings_are_refused() {
    let err = from_dsc(
        "Source: foo\nRequires-Hwspec: a\nXS-Requires-Hwspec: b\n",
        "f.dsc",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ControlErrorKind::DuplicateField);
    assert!(
        err.to_string()
            .contains("Requires-Hwspec (line 2) and XS-Requires-Hwspec"),
        "{err}"
    );
}

#[test]
fn dsc_armour_errors() {
    let good = signed(DSC_BODY);
    let cases = [
        (
            good.replace("Hash: SHA512\n\n", "Hash: SHA512\nnot a header\n\n"),
            3,
        ),
        (
            good[..good.find("-----BEGIN PGP SIGNATURE").unwrap()].to_string(),
            12,
        ),
        (good.replace("-----END PGP SIGNATURE-----\n", ""), 13),
        (format!("{good}Source: smuggled\n"), 18),
        (
            format!(
                "Source: foo\n{}",
                &good[good.find("-----BEGIN PGP SIGNATURE").unwrap()..]
            ),
            2,
        ),
        (
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n".to_string(),
            2,
        ),
    ];
    for (text, line) in cases {
        let err = from_dsc(&text, "foo.dsc").unwrap_err();
        assert_eq!(err.kind(), ControlErrorKind::Armour, "{err}");
        assert_eq!(err.line(), Some(line), "{err}");
    }
}

#[test]
fn dsc_structure_errors() {
    let cases = [
        ("", ControlErrorKind::Empty),
        (&signed("") as &str, ControlErrorKind::Empty),
        ("Format: 3.0\n", ControlErrorKind::NoSourceStanza),
        ("Source: a\n\nSource: b\n", ControlErrorKind::StanzaCount),
    ];
    for (text, kind) in cases {
        assert_eq!(
            from_dsc(text, "f.dsc").unwrap_err().kind(),
            kind,
            "{text:?}"
        );
    }
}

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "hwspec-control-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds a real package with dpkg-deb, compressed as `-Z` says.
fn build_deb(dir: &TempDir, compression: &str, control: &str) -> PathBuf {
    let root = dir.0.join(format!("root-{compression}"));
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/doc/hwspec-demo")).unwrap();
    std::fs::write(root.join("DEBIAN/control"), control).unwrap();
    std::fs::write(root.join("usr/share/doc/hwspec-demo/README"), "hello\n").unwrap();
    let deb = dir.0.join(format!("hwspec-demo_{compression}.deb"));
    let output = Command::new("dpkg-deb")
        .args(["--root-owner-group", &format!("-Z{compression}"), "--build"])
        .arg(&root)
        .arg(&deb)
        .output()
        .expect("dpkg-deb is installed (package dpkg)");
    assert!(output.status.success(), "dpkg-deb: {output:?}");
    deb
}

/// The members of an ar archive, as binutils' `ar t` lists them.
fn member_names(deb: &Path) -> Vec<String> {
    let output = Command::new("ar")
        .arg("t")
        .arg(deb)
        .output()
        .expect("ar is installed (package binutils)");
    assert!(output.status.success(), "ar t: {output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

const DEB_CONTROL: &str = "\
Package: hwspec-demo
Version: 1.0-1
Architecture: all
Maintainer: Jane Doe <jane@example.org>
Requires-Hwspec: cuda (>= 11.0)
  | opencl
Description: demonstration package
";

#[test]
fn deb_built_by_dpkg_deb_with_each_compression() {
    let dir = TempDir::new();
    for (compression, member) in [
        ("xz", "control.tar.xz"),
        ("gzip", "control.tar.gz"),
        ("zstd", "control.tar.zst"),
        ("none", "control.tar"),
    ] {
        let path = build_deb(&dir, compression, DEB_CONTROL);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(member_names(&path)[1], member, "dpkg-deb -Z{compression}");
        let value = from_deb(&bytes, "hwspec-demo_1.0-1_all.deb").unwrap();
        assert_eq!(
            value,
            FieldValue {
                package: Some("hwspec-demo".to_string()),
                origin: "hwspec-demo_1.0-1_all.deb".to_string(),
                field: "Requires-Hwspec".to_string(),
                value: Some("cuda (>= 11.0) | opencl".to_string()),
                line: Some(5),
            },
            "{compression}"
        );
        let from_file = from_path(&path, Kind::Deb, Some("hwspec-demo")).unwrap();
        assert_eq!(from_file[0].value, value.value);
        assert_eq!(from_file[0].origin, path.display().to_string());
    }
}

#[test]
fn deb_without_field_and_with_x_spelling() {
    let dir = TempDir::new();
    let without = DEB_CONTROL.replace("Requires-Hwspec: cuda (>= 11.0)\n  | opencl\n", "");
    let deb = std::fs::read(build_deb(&dir, "xz", &without)).unwrap();
    assert_eq!(from_deb(&deb, "a.deb").unwrap().value, None);

    let prefixed = DEB_CONTROL.replace("Requires-Hwspec:", "X-Requires-Hwspec:");
    let deb = std::fs::read(build_deb(&dir, "gzip", &prefixed)).unwrap();
    let value = from_deb(&deb, "a.deb").unwrap();
    assert_eq!(value.field, "X-Requires-Hwspec");
    assert_eq!(value.value.as_deref(), Some("cuda (>= 11.0) | opencl"));
}

#[test]
fn from_path_errors_name_the_path() {
    let dir = TempDir::new();
    let missing = dir.0.join("nothing-here.deb");
    let err = from_path(&missing, Kind::Deb, None).unwrap_err();
    assert_eq!(err.kind(), ControlErrorKind::Io);
    assert!(
        err.to_string().starts_with(&missing.display().to_string()),
        "{err}"
    );

    let deb = build_deb(&dir, "xz", DEB_CONTROL);
    let err = from_path(&deb, Kind::Deb, Some("other")).unwrap_err();
    assert_eq!(err.kind(), ControlErrorKind::UnknownPackage);

    let control = dir.0.join("control");
    std::fs::write(&control, REALISTIC_CONTROL).unwrap();
    assert_eq!(from_path(&control, Kind::Control, None).unwrap().len(), 4);
    let err = from_path(&control, Kind::Dsc, Some("hwspec-demo")).unwrap_err();
    assert_eq!(err.kind(), ControlErrorKind::UnknownPackage);
}

/// An ar archive as dpkg-deb writes one: each member's header holds its name padded to 16
/// bytes, then date, owner, group, mode and the decimal size; odd members are padded.
fn ar_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let raw: Vec<(String, &[u8])> = members
        .iter()
        .map(|(name, data)| (format!("{name:<16}"), *data))
        .collect();
    let raw: Vec<(&str, &[u8])> = raw.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    ar_with_raw_names(&raw)
}

/// An ar archive whose 16-byte name fields are given as they are written.
fn ar_with_raw_names(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            "100644",
            data.len()
        );
        assert_eq!(header.len(), 60, "{name:?}");
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn compress_with(tool: &str, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .args(["-1", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{tool} is installed: {err}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success());
    output.stdout
}

fn deb_error(bytes: &[u8]) -> ControlError {
    from_deb(bytes, "bad.deb").expect_err("should be refused")
}

#[test]
fn deb_structure_errors() {
    let tar = tar_with(&[("./control", DEB_CONTROL.as_bytes())]);
    let good = ar_archive(&[("debian-binary", b"2.0\n"), ("control.tar", &tar)]);
    assert!(from_deb(&good, "good.deb").is_ok());

    let cases: Vec<(Vec<u8>, ControlErrorKind)> = vec![
        (b"not an archive at all".to_vec(), ControlErrorKind::NotADeb),
        (Vec::new(), ControlErrorKind::NotADeb),
        (b"!<arch>\n".to_vec(), ControlErrorKind::NotADeb),
        (
            ar_archive(&[("control.tar", &tar)]),
            ControlErrorKind::NotADeb,
        ),
        (
            ar_archive(&[("debian-binary", b"2.0\n")]),
            ControlErrorKind::MissingMember,
        ),
        (
            ar_archive(&[("debian-binary", b"2.0\n"), ("data.tar.xz", b"")]),
            ControlErrorKind::MissingMember,
        ),
        (
            ar_archive(&[("debian-binary", b"3.0\n"), ("control.tar", &tar)]),
            ControlErrorKind::UnsupportedFormat,
        ),
        (
            ar_archive(&[("debian-binary", b"0.939000\n"), ("control.tar", &tar)]),
            ControlErrorKind::UnsupportedFormat,
        ),
        (
            ar_archive(&[("debian-binary", b"2.0\n"), ("control.tar.bz2", b"BZh9")]),
            ControlErrorKind::UnsupportedCompression,
        ),
        (
            ar_archive(&[
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", b"\x1f\x8bjunk"),
            ]),
            ControlErrorKind::Corrupt,
        ),
        (
            ar_archive(&[
                ("debian-binary", b"2.0\n"),
                ("control.tar", &tar_with(&[("./md5sums", b"")])),
            ]),
            ControlErrorKind::MissingControlFile,
        ),
        (
            ar_archive(&[
                ("debian-binary", b"2.0\n"),
                ("control.tar", &tar_with(&[("./control", b"Version: 1\n")])),
            ]),
            ControlErrorKind::MissingPackage,
        ),
        (good[..good.len() - 700].to_vec(), ControlErrorKind::Corrupt),
    ];
    for (bytes, kind) in cases {
        let err = deb_error(&bytes);
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().starts_with("bad.deb:"), "{err}");
    }
}

#[test]
fn deb_skips_underscore_members_and_accepts_bare_control_path() {
    let tar = tar_with(&[("control", DEB_CONTROL.as_bytes())]);
    let deb = ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("_gpgorigin", b"signature"),
        ("control.tar", &tar),
    ]);
    assert_eq!(
        from_deb(&deb, "a.deb").unwrap().package.as_deref(),
        Some("hwspec-demo")
    );
}

#[test]
fn deb_truncated_compressed_members_are_corrupt() {
    let tar = tar_with(&[("./control", DEB_CONTROL.as_bytes())]);
    for (tool, member) in [
        ("gzip", "control.tar.gz"),
        ("xz", "control.tar.xz"),
        ("zstd", "control.tar.zst"),
    ] {
        let compressed = compress_with(tool, &tar);
        let cut = &compressed[..compressed.len() / 2];
        let deb = ar_archive(&[("debian-binary", b"2.0\n"), (member, cut)]);
        let err = deb_error(&deb);
        assert_eq!(err.kind(), ControlErrorKind::Corrupt, "{tool}: {err}");
        let whole = ar_archive(&[("debian-binary", b"2.0\n"), (member, &compressed)]);
        assert!(from_deb(&whole, "a.deb").is_ok(), "{tool}");
    }
}

#[test]
fn deb_decompression_bombs_are_refused() {
    // A tar archive that goes on past the cap: one regular file of zeros, whose data the walk
    // skips while decompressing.
    let mut header = tar::Header::new_gnu();
    header.set_path("./md5sums").unwrap();
    header.set_size(MAX_CONTROL_ARCHIVE + 4096);
    header.set_mode(0o644);
    header.set_cksum();
    let mut tar = header.as_bytes().to_vec();
    tar.resize(tar.len() + MAX_CONTROL_ARCHIVE as usize + 4096, 0);
    for (tool, member) in [
        ("gzip", "control.tar.gz"),
        ("xz", "control.tar.xz"),
        ("zstd", "control.tar.zst"),
    ] {
        let bomb = compress_with(tool, &tar);
        assert!(bomb.len() < 1024 * 1024, "{tool} compresses zeros well");
        let deb = ar_archive(&[("debian-binary", b"2.0\n"), (member, &bomb)]);
        let err = deb_error(&deb);
        assert_eq!(err.kind(), ControlErrorKind::TooLarge, "{tool}: {err}");
    }
}

/// Runs a command that must succeed and returns its stdout.
fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().expect("the tool is installed");
    assert!(output.status.success(), "{command:?}: {output:?}");
    output.stdout
}

/// A .deb rebuilt from `deb`'s members with binutils' `ar`, the control member replaced by
/// `control_tar_xz`, as `dpkg-deb` would read any package.
fn with_control_member(dir: &TempDir, deb: &Path, name: &str, control_tar_xz: &[u8]) -> PathBuf {
    let work = dir.0.join(format!("members-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    run(Command::new("ar").arg("x").arg(deb).current_dir(&work));
    std::fs::write(work.join("control.tar.xz"), control_tar_xz).unwrap();
    let out = dir.0.join(format!("{name}.deb"));
    run(Command::new("ar")
        .arg("rc")
        .arg(&out)
        .args(["debian-binary", "control.tar.xz", "data.tar.xz"])
        .current_dir(&work));
    out
}

/// What dpkg-deb itself reads as the package's requirement.
fn dpkg_deb_field(deb: &Path) -> String {
    let out = run(Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg("Requires-Hwspec"));
    String::from_utf8(out).unwrap().trim().to_string()
}

#[test]
fn xz_check_types_and_filters_dpkg_accepts_are_accepted() {
    let dir = TempDir::new();
    let deb = build_deb(&dir, "xz", DEB_CONTROL);
    let work = dir.0.join("base");
    std::fs::create_dir_all(&work).unwrap();
    run(Command::new("ar").arg("x").arg(&deb).current_dir(&work));
    let tar = run(Command::new("xz")
        .arg("-dc")
        .arg(work.join("control.tar.xz")));
    for (name, options) in [
        ("sha256", &["--check=sha256"][..]),
        ("crc32", &["--check=crc32"]),
        ("nocheck", &["--check=none"]),
        ("x86", &["--x86", "--lzma2"]),
        ("delta", &["--delta", "--lzma2"]),
        ("arm64", &["--arm64", "--lzma2"]),
    ] {
        let mut xz = Command::new("xz");
        xz.args(options).arg("-c").arg(work.join("control.tar"));
        std::fs::write(work.join("control.tar"), &tar).unwrap();
        let compressed = run(&mut xz);
        let repacked = with_control_member(&dir, &deb, name, &compressed);
        assert_eq!(
            dpkg_deb_field(&repacked),
            "cuda (>= 11.0)\n  | opencl",
            "{name}"
        );
        let value = from_path(&repacked, Kind::Deb, None).unwrap();
        assert_eq!(
            value[0].value.as_deref(),
            Some("cuda (>= 11.0) | opencl"),
            "xz {options:?}"
        );
    }
}

#[test]
fn the_last_of_two_control_files_counts_as_for_dpkg() {
    let dir = TempDir::new();
    let deb = build_deb(&dir, "xz", DEB_CONTROL);
    for (sub, requirement) in [("first", "cuda"), ("second", "vulkan")] {
        let path = dir.0.join(sub);
        std::fs::create_dir_all(&path).unwrap();
        let control = DEB_CONTROL.replace("cuda (>= 11.0)\n  | opencl", requirement);
        std::fs::write(path.join("control"), control).unwrap();
    }
    let tar_path = dir.0.join("control.tar");
    run(Command::new("tar")
        .args(["--owner=0", "--group=0", "-cf"])
        .arg(&tar_path)
        .args(["-C", "first", "./control", "-C", "../second", "./control"])
        .current_dir(&dir.0));
    let compressed = run(Command::new("xz").arg("-c").arg(&tar_path));
    let repacked = with_control_member(&dir, &deb, "twice", &compressed);
    assert_eq!(dpkg_deb_field(&repacked), "vulkan");
    let value = from_path(&repacked, Kind::Deb, None).unwrap();
    assert_eq!(value[0].value.as_deref(), Some("vulkan"));
}

#[test]
fn ar_headers_are_read_as_dpkg_reads_them() {
    let tar = tar_with(&[("./control", DEB_CONTROL.as_bytes())]);
    // GNU ar's terminating slash and dpkg-deb's spaces are the same name.
    let gnu = ar_with_raw_names(&[("debian-binary/", b"2.0\n"), ("control.tar/", &tar)]);
    assert!(from_deb(&gnu, "a.deb").is_ok());
    // A GNU long-name reference is a literal name to dpkg; one past the end of any name table
    // used to panic in the ar crate.
    for name in ["/999999", "/0", "//"] {
        let deb = ar_with_raw_names(&[("debian-binary", b"2.0\n"), (name, &tar)]);
        let err = deb_error(&deb);
        assert_eq!(err.kind(), ControlErrorKind::MissingMember, "{name}: {err}");
    }
    // A name table that claims gigabytes is a member like any other: skipped by no one,
    // allocated by no one.
    let mut huge = ar_with_raw_names(&[("debian-binary", b"2.0\n")]);
    huge.extend_from_slice(
        format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            "//", 0, 0, 0, 0, 9_999_999_999u64
        )
        .as_bytes(),
    );
    assert_eq!(deb_error(&huge).kind(), ControlErrorKind::MissingMember);
    let mut underscore = ar_with_raw_names(&[("debian-binary", b"2.0\n")]);
    underscore.extend_from_slice(
        format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            "_huge", 0, 0, 0, 0, 9_999_999_999u64
        )
        .as_bytes(),
    );
    let err = deb_error(&underscore);
    assert_eq!(err.kind(), ControlErrorKind::NotADeb);
    assert!(err.to_string().contains("truncated"), "{err}");

    let mut bad_size = ar_with_raw_names(&[("debian-binary", b"2.0\n"), ("control.tar", &tar)]);
    let at = 8 + 60 + 4 + 48;
    bad_size[at..at + 2].copy_from_slice(b"-1");
    let err = deb_error(&bad_size);
    assert_eq!(err.kind(), ControlErrorKind::NotADeb);
    assert!(err.to_string().contains("invalid size field"), "{err}");
    let mut bad_terminator = gnu.clone();
    bad_terminator[8 + 58] = b'!';
    assert_eq!(deb_error(&bad_terminator).kind(), ControlErrorKind::NotADeb);
}

#[test]
fn a_control_file_cut_short_inside_its_tar_is_corrupt_not_missing_a_field() {
    let tar = tar_with(&[("./control", DEB_CONTROL.as_bytes())]);
    // The header, then only the first 40 bytes of the file: a field cut off is not absent.
    let cut = &tar[..512 + 40];
    let err = deb_error(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar", cut),
    ]));
    assert_eq!(err.kind(), ControlErrorKind::Corrupt, "{err}");
    assert!(err.to_string().contains("ends after 40 of"), "{err}");
}

#[test]
fn a_corrupt_xz_check_is_corrupt_even_past_the_control_file() {
    let tar = tar_with(&[("./control", DEB_CONTROL.as_bytes())]);
    let mut compressed = compress_with("xz", &tar);
    // A byte of the stream's end (its block check, index or footer), after all the tar data:
    // only decompressing to the end, as dpkg-deb does, notices it.
    let at = compressed.len() - 20;
    compressed[at] ^= 0xff;
    let err = deb_error(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", &compressed),
    ]));
    assert_eq!(err.kind(), ControlErrorKind::Corrupt, "{err}");
}

fn field_value() -> impl Strategy<Value = String> {
    let clause = "[a-z][a-z0-9-]{0,12}( \\((>=|<=|=|<<|>>) [0-9][0-9.]{0,6}\\))?";
    prop::collection::vec(
        (
            prop::sample::select(vec![", ", " | ", ",\n ", "\n  | ", " ,\n\t"]),
            clause,
        ),
        1..6,
    )
    .prop_map(|parts| {
        let mut text = String::new();
        for (index, (sep, clause)) in parts.into_iter().enumerate() {
            if index > 0 {
                text.push_str(sep);
            }
            text.push_str(&clause);
        }
        text
    })
}

/// Real packages built once by dpkg-deb with each compression, for the mutation targets.
fn real_debs() -> &'static [Vec<u8>] {
    static DEBS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    DEBS.get_or_init(|| {
        let dir = TempDir::new();
        ["xz", "gzip", "zstd", "none"]
            .iter()
            .map(|compression| std::fs::read(build_deb(&dir, compression, DEB_CONTROL)).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Truncations and byte changes anywhere in a real package (ar headers, compressed
    /// streams, tar headers, the control text): a clear error or the right answer, no panic.
    #[test]
    fn real_debs_cut_or_corrupted_anywhere_give_an_answer_or_an_error(
        which in 0usize..4,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
    ) {
        let mut deb = real_debs()[which].clone();
        for (at, xor) in flips {
            let at = at.index(deb.len());
            deb[at] ^= xor;
        }
        let keep = cut.index(deb.len() + 1);
        deb.truncate(keep);
        if let Ok(value) = from_deb(&deb, "a.deb") {
            prop_assert_eq!(value.package.as_deref().map(str::len).unwrap_or(0) > 0, true);
        }
    }

    /// Clear-signed armour around random bodies, cut anywhere.
    #[test]
    fn dsc_armour_cut_anywhere_never_panics(
        value in field_value(),
        cut in any::<prop::sample::Index>(),
    ) {
        let text = signed(&format!("Format: 3.0 (native)\nSource: foo\nRequires-Hwspec: {value}\n"));
        let boundaries: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
        let _ = from_dsc(&text[..boundaries[cut.index(boundaries.len())]], "d");
    }

    #[test]
    fn control_readers_never_panic(text in "(?s).{0,400}") {
        let _ = from_control(&text, "c", None);
        let _ = from_control(&text, "c", Some("x"));
        let _ = from_dsc(&text, "d");
    }

    #[test]
    fn control_readers_never_panic_on_deb822_like_text(
        lines in prop::collection::vec(
            "(Source|Package|X-Requires-Hwspec|Requires-Hwspec|-----BEGIN PGP SIGNED MESSAGE-----|-----BEGIN PGP SIGNATURE-----|-----END PGP SIGNATURE-----|Hash|#|- | |\t|)[: ]{0,2}[a-z ()>=|,.:-]{0,12}",
            0..20,
        )
    ) {
        let text = lines.join("\n");
        let _ = from_control(&text, "c", None);
        let _ = from_dsc(&text, "d");
    }

    #[test]
    fn deb_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = from_deb(&bytes, "a.deb");
        let mut ar_like = b"!<arch>\n".to_vec();
        ar_like.extend_from_slice(&bytes);
        let _ = from_deb(&ar_like, "a.deb");
    }

    #[test]
    fn deb_reader_never_panics_on_bad_members(
        member in prop::sample::select(vec!["control.tar", "control.tar.gz", "control.tar.xz", "control.tar.zst"]),
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        magic in prop::sample::select(vec![&b""[..], b"\x1f\x8b\x08\x00", b"\xfd7zXZ\x00\x00\x04", b"\x28\xb5\x2f\xfd"]),
    ) {
        let mut data = magic.to_vec();
        data.extend_from_slice(&bytes);
        let deb = ar_archive(&[("debian-binary", b"2.0\n"), (member, &data)]);
        let _ = from_deb(&deb, "a.deb");
    }

    #[test]
    fn control_round_trip(value in field_value(), name in prop::sample::select(vec![
        "X-Requires-Hwspec", "XS-Requires-Hwspec", "XB-Requires-Hwspec", "xsb-requires-hwspec",
    ])) {
        let text = format!("Source: foo\nSection: misc\n{name}: {value}\nHomepage: https://example.org\n");
        let read = single(&text);
        prop_assert_eq!(read.value, Some(normalise(&value)));
        prop_assert_eq!(read.field, name);
    }

    #[test]
    fn dsc_round_trip(value in field_value()) {
        let text = signed(&format!("Format: 3.0 (native)\nSource: foo\nRequires-Hwspec: {value}\n"));
        prop_assert_eq!(from_dsc(&text, "d").unwrap().value, Some(normalise(&value)));
    }

    #[test]
    fn deb_round_trip(value in field_value()) {
        let control = format!("Package: foo\nVersion: 1\nRequires-Hwspec: {value}\n");
        let tar = tar_with(&[("./control", control.as_bytes())]);
        let deb = ar_archive(&[("debian-binary", b"2.0\n"), ("control.tar", &tar)]);
        prop_assert_eq!(from_deb(&deb, "a.deb").unwrap().value, Some(normalise(&value)));
    }
}
