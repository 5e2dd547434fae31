//! Hostile inputs and outputs (issue 10, items 2, 5 and 7): every file, expression, environment
//! and protocol line hwspec reads may be written by an attacker, and hwspec runs as root in apt
//! hooks. Each test drives the built binary the way a user or apt does, and checks that the
//! input gets a clear error or a warning, within a deadline, and never a panic, a hang, a
//! damaged file or raw terminal control characters. docs/reliability.md ("Hostile inputs")
//! lists every test here; `every_hostile_input_test_is_documented` keeps it so.

mod support;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::scratch_dir;

/// Generous: each run is a parse plus at most a cached quick CPU probe. Only a hang gets near.
const DEADLINE: Duration = Duration::from_secs(120);

/// What one run of `hwspec` did, with its output as bytes (nothing here is assumed UTF-8).
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Neither stream carries a character a terminal would act on (C0 but newline and tab,
    /// DEL, C1, bidi overrides), nor a panic.
    fn assert_clean(&self) {
        for (name, bytes) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            let raw = text.chars().find(|&c| {
                (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c)
            });
            assert!(raw.is_none(), "raw {raw:?} on {name}: {self:?}");
            assert!(!text.contains("panicked"), "{self:?}");
        }
        assert_ne!(self.code, Some(101), "{self:?}");
    }
}

/// A real binary package (support::dpkg_deb) declaring `requirement` when given.
fn dpkg_deb(dir: &Path, package: &str, requirement: Option<&str>) -> PathBuf {
    match requirement {
        Some(r) => support::dpkg_deb(dir, package, &[&format!("Requires-Hwspec: {r}")]),
        None => support::dpkg_deb(dir, package, &[]),
    }
}

/// Runs the built `hwspec` with `args`, `stdin` as its input, extra (possibly non-UTF-8)
/// environment, killing it and failing the test if it outlives [`DEADLINE`].
fn launch(args: &[&OsStr], stdin: Stdin, env: &[(&OsStr, &OsStr)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hwspec"));
    command
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(match &stdin {
        Stdin::Null => Stdio::null(),
        Stdin::Bytes(_) => Stdio::piped(),
        Stdin::File(path) => Stdio::from(std::fs::File::open(path).unwrap()),
    });
    let mut child = command.spawn().expect("run hwspec");
    let writer = match stdin {
        Stdin::Bytes(bytes) => {
            let mut pipe = child.stdin.take().unwrap();
            // hwspec may stop reading early (over its cap): a broken pipe is its right.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hwspec {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(writer) = writer {
        writer.join().unwrap();
    }
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

enum Stdin {
    Null,
    Bytes(Vec<u8>),
    File(PathBuf),
}

fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}

/// `hwspec ARGS` with UTF-8 arguments, no input, no extra environment.
fn hwspec(args: &[&str]) -> Run {
    let args: Vec<&OsStr> = args.iter().map(|a| os(a)).collect();
    launch(&args, Stdin::Null, &[])
}

/// `hwspec check` on a file, with a quick CPU probe where one is needed at all.
fn check_file(option: &str, path: &Path) -> Run {
    launch(
        &[
            os("check"),
            os(option),
            path.as_os_str(),
            os("--backend"),
            os("cpu"),
            os("--level"),
            os("quick"),
        ],
        Stdin::Null,
        &[],
    )
}

/// `hwspec apt-hook` fed `input` on stdin as apt feeds it.
fn apt_hook(args: &[&str], input: &[u8], env: &[(&OsStr, &OsStr)]) -> Run {
    let mut all = vec![os("apt-hook")];
    all.extend(args.iter().map(|a| os(a)));
    all.extend([os("--backend"), os("cpu"), os("--level"), os("quick")]);
    launch(&all, Stdin::Bytes(input.to_vec()), env)
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn tool(command: &mut Command) -> Vec<u8> {
    let output = command.output().expect("the tool is installed");
    assert!(output.status.success(), "{command:?}: {output:?}");
    output.stdout
}

/// A package made with GNU tar and binutils' ar around `control`, for control files that
/// dpkg-deb would refuse to build (names with escapes, broken fields).
fn handmade_deb(dir: &Path, name: &str, control: &[u8]) -> PathBuf {
    let work = dir.join(format!("{name}-members"));
    std::fs::create_dir_all(work.join("c")).unwrap();
    std::fs::write(work.join("c/control"), control).unwrap();
    std::fs::write(work.join("debian-binary"), "2.0\n").unwrap();
    tool(
        Command::new("tar")
            .args([
                "--owner=0",
                "--group=0",
                "-czf",
                "control.tar.gz",
                "-C",
                "c",
                "./control",
            ])
            .current_dir(&work),
    );
    std::fs::create_dir_all(work.join("d")).unwrap();
    tool(
        Command::new("tar")
            .args(["-czf", "data.tar.gz", "-C", "d", "."])
            .current_dir(&work),
    );
    let deb = dir.join(format!("{name}.deb"));
    tool(
        Command::new("ar")
            .arg("rc")
            .arg(&deb)
            .args(["debian-binary", "control.tar.gz", "data.tar.gz"])
            .current_dir(&work),
    );
    deb
}

// ---- -o writes only regular files -----------------------------------------------------------

#[test]
fn output_refuses_devices_fifos_sockets_and_directories() {
    let dir = scratch_dir("hostile-output");
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let socket = dir.join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let link_to_fifo = dir.join("link-to-fifo");
    std::os::unix::fs::symlink(&fifo, &link_to_fifo).unwrap();
    let mut targets = vec![
        (fifo.clone(), "a FIFO"),
        (socket.clone(), "a socket"),
        (dir.clone(), "a directory"),
        (link_to_fifo.clone(), "a FIFO"),
    ];
    // A real character device node, made here rather than touching /dev: the same major and
    // minor as /dev/null.
    let node = dir.join("null");
    let made = Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    if made {
        targets.push((node.clone(), "a character device"));
    } else {
        eprintln!("mknod is not allowed here: the device-node case is covered by unit tests only");
    }
    for (target, what) in &targets {
        let run = launch(
            &[
                os("probe"),
                os("--backend"),
                os("cpu"),
                os("--level"),
                os("quick"),
                os("-o"),
                target.as_os_str(),
            ],
            Stdin::Null,
            &[],
        );
        assert_eq!(run.code, Some(1), "{target:?}: {run:?}");
        let stderr = run.stderr();
        assert!(stderr.contains(what), "{stderr}");
        assert!(stderr.contains("writes only regular files"), "{stderr}");
        assert!(run.stdout.is_empty());
        run.assert_clean();
    }
    let kind = |p: &Path| std::fs::symlink_metadata(p).unwrap().file_type();
    assert!(kind(&fifo).is_fifo() && kind(&socket).is_socket() && kind(&dir).is_dir());
    assert!(kind(&link_to_fifo).is_symlink());
    if made {
        assert!(kind(&node).is_char_device(), "the device node was replaced");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_replaces_regular_files_directly_or_through_a_symlink() {
    let dir = scratch_dir("hostile-output-regular");
    let real = dir.join("labels.txt");
    std::fs::write(&real, "stale\n").unwrap();
    let link = dir.join("link.txt");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for target in [&real, &link, &dir.join("new.txt")] {
        let run = launch(
            &[
                os("probe"),
                os("--backend"),
                os("cpu"),
                os("--level"),
                os("quick"),
                os("--format"),
                os("nfd"),
                os("-o"),
                target.as_os_str(),
            ],
            Stdin::Null,
            &[],
        );
        assert_eq!(run.code, Some(0), "{run:?}");
        let written = std::fs::read_to_string(target).unwrap();
        assert!(written.contains("cpu"), "{written}");
    }
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- every input file is regular, opened without blocking, bounded ---------------------------

#[test]
fn input_files_that_could_block_or_never_end_are_refused() {
    let dir = scratch_dir("hostile-input-files");
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let zero = dir.join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for option in ["--control", "--dsc", "--deb"] {
        for (path, what) in [
            (&fifo, "not a regular file but a FIFO"),
            (&zero, "not a regular file but a character device"),
            (&dir, "not a regular file but a directory"),
        ] {
            let run = check_file(option, path);
            assert_eq!(run.code, Some(2), "{option} {path:?}: {run:?}");
            assert!(run.stderr().contains(what), "{option}: {}", run.stderr());
            run.assert_clean();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn input_files_over_the_size_cap_are_refused_unread() {
    let dir = scratch_dir("hostile-input-size");
    let big = dir.join("control");
    let mut file = std::fs::File::create(&big).unwrap();
    file.write_all(b"Source: big\nX-Requires-Hwspec: cpu\nDescription: x\n")
        .unwrap();
    let line = [b' '; 4096];
    for _ in 0..(4 * 1024 / 4 + 1) {
        file.write_all(&line).unwrap();
    }
    drop(file);
    for option in ["--control", "--dsc"] {
        let run = check_file(option, &big);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(
            run.stderr().contains("larger than the 4194304-byte limit"),
            "{}",
            run.stderr()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_control_file_with_4000_binary_stanzas_is_read_whole() {
    let dir = scratch_dir("hostile-stanzas");
    let mut text = String::from("Source: big\nX-Requires-Hwspec: cpu\n");
    for i in 0..4000 {
        text.push_str(&format!(
            "\nPackage: bin{i}\nArchitecture: any\nX-Requires-Hwspec: cpu, x86-64-v2 | cpu\nDescription: d\n long\n"
        ));
    }
    let path = dir.join("control");
    std::fs::write(&path, &text).unwrap();
    let run = launch(
        &[
            os("check"),
            os("--json"),
            os("--control"),
            path.as_os_str(),
            os("--backend"),
            os("cpu"),
            os("--level"),
            os("quick"),
        ],
        Stdin::Null,
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr());
    let verdict: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let requirements = verdict["requirements"].as_array().unwrap();
    assert_eq!(requirements.len(), 4001);
    assert_eq!(
        requirements[4000]["origin"],
        format!("{}, binary stanza bin3999", path.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- requirement expressions and names --------------------------------------------------------

#[test]
fn expressions_over_the_caps_get_a_short_error() {
    let too_long = "cpu, ".repeat(64 * 1024 / 5 + 1);
    let too_many = vec!["cpu"; 1025].join(" | ");
    let long_name = "x".repeat(60_000);
    for (expression, message) in [
        (&too_long, "expected a requirement of at most 65536 bytes"),
        (&too_many, "after 1024 relations"),
        (&long_name, "unknown name \"xxxx"),
    ] {
        let run = hwspec(&["check", expression]);
        assert_eq!(run.code, Some(2), "{run:?}");
        let stderr = run.stderr();
        assert!(stderr.contains(message), "{stderr}");
        // Long tokens are quoted cut, the offending line shown around the column: never a
        // huge input repeated back whole.
        assert!(
            run.stderr.len() < 1024,
            "{} bytes: {stderr}",
            run.stderr.len()
        );
        run.assert_clean();
    }
    let run = hwspec(&["check", &long_name]);
    assert!(
        run.stderr().contains("(60000 characters)"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("did you mean"));
}

// ---- non-UTF-8 anywhere -----------------------------------------------------------------------

#[test]
fn an_environment_that_is_not_utf8_is_no_panic() {
    let dir = scratch_dir("hostile-env");
    let deb = dpkg_deb(&dir, "needs-cuda", Some("cuda (>= 12.0)"));
    let bad = OsStr::from_bytes(b"\xff\x1b[2J");
    fn with<'a>(args: &[&'a OsStr]) -> Vec<&'a OsStr> {
        let quick = [os("--backend"), os("cpu"), os("--level"), os("quick")];
        [args, &quick[..]].concat()
    }
    for args in [
        with(&[os("check"), os("cpu")]),
        with(&[os("probe")]),
        with(&[os("check"), os("--deb"), deb.as_os_str()]),
    ] {
        let run = launch(&args, Stdin::Null, &[(os("FOO"), bad), (bad, os("1"))]);
        assert!(matches!(run.code, Some(0 | 1)), "{args:?}: {run:?}");
        run.assert_clean();
    }
    let run = launch(
        &with(&[os("check"), os("cpu")]),
        Stdin::Null,
        &[(os("HWSPEC_OVERRIDE_CUDA"), bad)],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr()
            .contains("HWSPEC_OVERRIDE_CUDA=\\xff\\x1b[2J: the value is not UTF-8"),
        "{}",
        run.stderr()
    );
    run.assert_clean();
    let input = format!("{}\n", deb.display());
    let hook = apt_hook(
        &["--refuse"],
        input.as_bytes(),
        &[(os("HWSPEC_OVERRIDE_CUDA"), bad), (os("FOO"), bad)],
    );
    assert_eq!(hook.code, Some(0), "{hook:?}");
    assert!(
        hook.stderr().contains("warning: HWSPEC_OVERRIDE_CUDA"),
        "{}",
        hook.stderr()
    );
    hook.assert_clean();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn apt_hook_reads_package_paths_that_are_not_utf8() {
    let dir = scratch_dir("hostile-hook-paths");
    let built = dpkg_deb(&dir, "needs-cuda", Some("cuda (>= 12.0)"));
    let mut odd = dir.as_os_str().as_bytes().to_vec();
    odd.extend_from_slice(b"/needs cuda \xff\x1b]0;x\x07.deb");
    let odd = PathBuf::from(OsStr::from_bytes(&odd));
    std::fs::rename(&built, &odd).unwrap();
    let v1 = [odd.as_os_str().as_bytes(), b"\n"].concat();
    let v3 = [
        &b"VERSION 3\nDir=/\n\nneeds-cuda - - none < 1.0 all none "[..],
        odd.as_os_str().as_bytes(),
        b"\n",
    ]
    .concat();
    for input in [&v1, &v3] {
        let run = apt_hook(&[], input, &[]);
        assert_eq!(run.code, Some(0), "{run:?}");
        let stderr = run.stderr();
        assert!(stderr.contains("warning: needs-cuda"), "{stderr}");
        assert!(
            stderr.contains("needs cuda \\xff\\x1b]0;x\\x07.deb"),
            "{stderr}"
        );
        run.assert_clean();
        // The requirement is real, well-formed and unsatisfied: --refuse refuses it.
        let run = apt_hook(&["--refuse"], input, &[]);
        assert_eq!(run.code, Some(1), "{run:?}");
        run.assert_clean();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- apt never breaks because of hwspec -------------------------------------------------------

#[test]
fn apt_hook_warns_and_lets_apt_go_on_after_every_internal_error() {
    let dir = scratch_dir("hostile-hook-errors");
    let needs_cuda = dpkg_deb(&dir, "needs-cuda", Some("cuda (>= 12.0)"));
    let malformed = dpkg_deb(&dir, "malformed", Some("cuda (>= twelve)"));
    let no_package = handmade_deb(&dir, "no-package", b"Version: 1\nRequires-Hwspec: cuda\n");
    let fifo = dir.join("fifo.deb");
    mkfifo(&fifo);
    let long_name_index = dir.join("long-name-index.deb");
    std::fs::write(&long_name_index, long_name_index_deb()).unwrap();
    let line = |path: &Path| format!("{}\n", path.display()).into_bytes();
    type Env<'a> = Vec<(&'a OsStr, &'a OsStr)>;
    let cases: Vec<(&str, Vec<u8>, Env)> = vec![
        ("VERSION 9", b"VERSION 9\n\n".to_vec(), vec![]),
        ("truncated", b"VERSION 2\nDir=/\n".to_vec(), vec![]),
        ("not a path", b"\x1b[31mnot a path\n".to_vec(), vec![]),
        ("over 16 MiB", vec![b'/'; 16 * 1024 * 1024 + 1], vec![]),
        ("a FIFO", line(&fifo), vec![]),
        ("missing", line(&dir.join("gone.deb")), vec![]),
        ("malformed requirement", line(&malformed), vec![]),
        ("no Package field", line(&no_package), vec![]),
        ("long-name index", line(&long_name_index), vec![]),
        (
            "bad override",
            line(&needs_cuda),
            vec![(os("HWSPEC_OVERRIDE_CUDA"), os("twelve"))],
        ),
    ];
    for (case, input, env) in cases {
        let run = apt_hook(&["--refuse"], &input, &env);
        assert_eq!(run.code, Some(0), "{case}: {run:?}");
        assert!(
            run.stderr().contains("hwspec: warning: "),
            "{case}: {}",
            run.stderr()
        );
        assert!(run.stdout.is_empty(), "{case}");
        run.assert_clean();
    }
    // A flood of junk is a handful of lines, not one warning per junk line.
    let junk = "junk\n".repeat(1000);
    let run = apt_hook(&["--refuse"], junk.as_bytes(), &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 11, "{stderr}");
    assert!(stderr.contains("990 more problems"), "{stderr}");
    // Input that cannot be read at all: stdin is a directory.
    let run = launch(
        &[os("apt-hook"), os("--refuse")],
        Stdin::File(dir.clone()),
        &[],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr().contains("warning"), "{}", run.stderr());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A package whose control member is named by a GNU long-name reference past the end of any
/// name table, as the ar crate once panicked on.
fn long_name_index_deb() -> Vec<u8> {
    let member = |name: &str, data: &[u8]| {
        let mut bytes = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            100644,
            data.len()
        )
        .into_bytes();
        bytes.extend_from_slice(data);
        if data.len() % 2 == 1 {
            bytes.push(b'\n');
        }
        bytes
    };
    [
        b"!<arch>\n".to_vec(),
        member("debian-binary", b"2.0\n"),
        member("/99999", b"anything"),
    ]
    .concat()
}

#[test]
fn a_deb_indexing_past_the_ar_name_table_is_refused_not_a_panic() {
    let dir = scratch_dir("hostile-ar");
    let deb = dir.join("index.deb");
    std::fs::write(&deb, long_name_index_deb()).unwrap();
    let run = check_file("--deb", &deb);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr()
            .contains("expected the control.tar member after debian-binary, found \"/99999\""),
        "{}",
        run.stderr()
    );
    run.assert_clean();
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- every .deb dpkg accepts ------------------------------------------------------------------

#[test]
fn debs_with_every_xz_check_and_filter_are_read_as_dpkg_reads_them() {
    let dir = scratch_dir("hostile-xz");
    let deb = dpkg_deb(&dir, "needs-cuda", Some("cuda (>= 12.0)"));
    let members = dir.join("members");
    std::fs::create_dir_all(&members).unwrap();
    tool(Command::new("ar").arg("x").arg(&deb).current_dir(&members));
    tool(
        Command::new("xz")
            .args(["-d", "control.tar.xz"])
            .current_dir(&members),
    );
    for (name, options) in [
        ("sha256", &["--check=sha256"][..]),
        ("x86", &["--x86", "--lzma2"]),
        ("delta", &["--delta", "--lzma2"]),
    ] {
        let compressed = tool(
            Command::new("xz")
                .args(options)
                .args(["-c", "control.tar"])
                .current_dir(&members),
        );
        std::fs::write(members.join("control.tar.xz"), compressed).unwrap();
        let repacked = dir.join(format!("{name}.deb"));
        tool(
            Command::new("ar")
                .arg("rc")
                .arg(&repacked)
                .args(["debian-binary", "control.tar.xz", "data.tar.xz"])
                .current_dir(&members),
        );
        let dpkg = tool(
            Command::new("dpkg-deb")
                .arg("-f")
                .arg(&repacked)
                .arg("Requires-Hwspec"),
        );
        assert_eq!(String::from_utf8(dpkg).unwrap().trim(), "cuda (>= 12.0)");
        let run = launch(
            &[
                os("check"),
                os("--explain"),
                os("--deb"),
                repacked.as_os_str(),
                os("--backend"),
                os("cpu"),
                os("--level"),
                os("quick"),
            ],
            Stdin::Null,
            &[(os("HWSPEC_OVERRIDE_CUDA"), os("12.4"))],
        );
        assert_eq!(run.code, Some(0), "{name}: {run:?}");
        assert!(
            run.stdout()
                .contains("cuda (>= 12.0): set by HWSPEC_OVERRIDE_CUDA=12.4"),
            "{name}: {}",
            run.stdout()
        );
        let hook = apt_hook(
            &["--refuse"],
            format!("{}\n", repacked.display()).as_bytes(),
            &[],
        );
        assert_eq!(
            hook.code,
            Some(1),
            "{name}: the requirement was read: {hook:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- untrusted text reaches no terminal raw -----------------------------------------------------

#[test]
fn terminal_escapes_from_packages_are_shown_not_sent() {
    let dir = scratch_dir("hostile-escapes");
    let control = dir.join("control");
    std::fs::write(
        &control,
        "Source: evil\n\nPackage: evil\x1b]0;owned\x07\nX-Requires-Hwspec: cpu\n\n\
         Package: worse\nX-Requires-Hwspec: cpu, \u{9b}2J\u{202e}gpu\n",
    )
    .unwrap();
    let run = check_file("--control", &control);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr().contains("\\u{9b}2J\\u{202e}gpu"),
        "{}",
        run.stderr()
    );
    run.assert_clean();
    std::fs::write(
        &control,
        "Source: evil\n\nPackage: evil\x1b]0;owned\x07\nX-Requires-Hwspec: cpu\n",
    )
    .unwrap();
    for format in ["--explain", "--json"] {
        let run = launch(
            &[
                os("check"),
                os(format),
                os("--control"),
                control.as_os_str(),
                os("--backend"),
                os("cpu"),
                os("--level"),
                os("quick"),
            ],
            Stdin::Null,
            &[],
        );
        assert_eq!(run.code, Some(0), "{format}: {run:?}");
        assert!(
            run.stdout().contains("\\x1b]0;owned\\x07")
                || run.stdout().contains("\\u001b]0;owned\\u0007"),
            "{format}: {}",
            run.stdout()
        );
        run.assert_clean();
    }
    let deb = handmade_deb(
        &dir,
        "escapes",
        "Package: evil\x1b[2J\nVersion: 1\nRequires-Hwspec: cuda (>= 12.0) \x1b[8m\n".as_bytes(),
    );
    let run = apt_hook(&[], format!("{}\n", deb.display()).as_bytes(), &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr().contains("evil\\x1b[2J"), "{}", run.stderr());
    run.assert_clean();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A saved report (`--report`) may come from anywhere: a validation kind this version does not
/// know is kept and its name shown escaped, wherever the text goes; a schema-1 validation that
/// cannot be read, a kind with the wrong keys, or nesting past what the parser allows is a
/// clear error naming the file, never a panic.
#[test]
fn saved_reports_with_hostile_validations_get_an_error_or_escapes() {
    let dir = scratch_dir("hostile-reports");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/reports/debian12-x86_64-pocl-lavapipe-llvmpipe-full.json");
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let egl = report["backends"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|b| b["name"] == "egl")
        .unwrap();
    egl["devices"][0]["validations"]
        .as_array_mut()
        .unwrap()
        .push(
            serde_json::json!({"kind": "blit\u{1b}]0;owned\u{7}\u{202e}", "passed": true,
                                 "elapsed_ms": 1.0, "surface": {"deep": [1, 2]}}),
        );
    let unknown = dir.join("unknown-kind.json");
    std::fs::write(&unknown, report.to_string()).unwrap();
    let path = unknown.to_str().unwrap();
    let table = hwspec(&["probe", "--report", path]);
    assert_eq!(table.code, Some(0), "{table:?}");
    assert!(
        table
            .stdout()
            .contains("blit\\x1b]0;owned\\x07\\u{202e} ok (1.0 ms)"),
        "{table:?}"
    );
    table.assert_clean();
    let explain = hwspec(&["check", "--explain", "--report", path, "egl"]);
    assert_eq!(explain.code, Some(0), "{explain:?}");
    assert!(
        explain.stdout().contains("render opengl, blit\\x1b"),
        "{explain:?}"
    );
    explain.assert_clean();
    let json = hwspec(&["probe", "--json", "--report", path]);
    let again: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        again["backends"], report["backends"],
        "kept as it was written"
    );

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let schema_1 = |validation: &str| {
        format!(
            r#"{{"schema": 1, "hwspec_version": "0", "level": "standard", "capabilities": [],
               "elapsed_ms": 1, "host": {{"kernel": "Linux", "architecture": "x86_64",
               "root": true, "driver_cache": null}},
               "backends": [{{"name": "vaapi", "status": "validated", "reason": null,
               "library": null, "devices": [{{"name": "d", "vendor": "v", "kind": "gpu",
               "status": "validated", "reason": null, "api_version": null,
               "driver_version": null, "memory_bytes": null, "validation": {validation}}}]}}]}}"#
        )
    };
    for (name, text, why) in [
        (
            "no-profile",
            schema_1(
                r#"{"kernel": "va-context", "passed": true, "max_abs_error": 0, "elapsed_ms": 1, "elements": 0}"#,
            ),
            "vaapi device 0: schema-1 validation: a va-context without",
        ),
        (
            "kernel-not-a-name",
            schema_1(
                r#"{"kernel": ["saxpy"], "passed": true, "max_abs_error": 0, "elapsed_ms": 1, "elements": 0}"#,
            ),
            "vaapi device 0: schema-1 validation: invalid type",
        ),
        (
            "nested",
            schema_1(&format!(r#"{{"kernel": "saxpy", "passed": {deep}}}"#)),
            "recursion limit exceeded",
        ),
        (
            "known-kind-wrong-keys",
            report
                .to_string()
                .replacen("\"api\":\"gles\"", "\"api\":\"metal\"", 1),
            "unknown variant `metal`",
        ),
    ] {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, text).unwrap();
        let run = hwspec(&["probe", "--report", file.to_str().unwrap()]);
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        assert!(run.stdout.is_empty(), "{name}: {run:?}");
        let stderr = run.stderr();
        assert!(stderr.contains(file.to_str().unwrap()), "{name}: {stderr}");
        assert!(stderr.contains(why), "{name}: {stderr}");
        run.assert_clean();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_hostile_input_test_is_documented() {
    support::assert_every_test_is_documented("tests/hostile_inputs.rs", "docs/reliability.md", 8);
}
