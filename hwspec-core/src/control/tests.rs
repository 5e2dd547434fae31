use std::io::Write;
use std::path::PathBuf;
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

fn member_names(deb: &[u8]) -> Vec<String> {
    let mut archive = ar::Archive::new(deb);
    let mut names = Vec::new();
    while let Some(entry) = archive.next_entry() {
        names.push(String::from_utf8_lossy(entry.unwrap().header().identifier()).into_owned());
    }
    names
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
        assert_eq!(member_names(&bytes)[1], member, "dpkg-deb -Z{compression}");
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

fn ar_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = ar::Builder::new(Vec::new());
    for (name, data) in members {
        let header = ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
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
        .arg("-c")
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
    let zeros = vec![0u8; MAX_CONTROL_SIZE + 4096];
    for (tool, member) in [
        ("gzip", "control.tar.gz"),
        ("xz", "control.tar.xz"),
        ("zstd", "control.tar.zst"),
    ] {
        let bomb = compress_with(tool, &zeros);
        assert!(bomb.len() < 1024 * 1024, "{tool} compresses zeros well");
        let deb = ar_archive(&[("debian-binary", b"2.0\n"), (member, &bomb)]);
        let err = deb_error(&deb);
        assert_eq!(err.kind(), ControlErrorKind::TooLarge, "{tool}: {err}");
    }
}

#[test]
fn xz_size_scan_matches_what_xz_wrote() {
    for len in [0, 1, 1000, 3 * 1024 * 1024 + 17] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let compressed = compress_with("xz", &data);
        assert_eq!(deb::xz_unpacked_size(&compressed), Ok(len as u64), "{len}");
    }
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

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
