//! The floor programs of `benches/floor/` (what each backend must do at the least, against
//! which `benches/compare.sh` judges hwspec's time) build warning-free and reach hwspec's
//! answer on this machine, so that the measuring instrument cannot rot while the code it
//! measures changes.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use hwspec_core::model::BackendName;
use serde_json::Value;

/// Backends whose floor stops at "no device": on a machine with one of their devices the floor
/// says `uncovered` and hwspec's answer cannot be compared.
const NO_DEVICE_FLOORS: [&str; 4] = ["hip", "level_zero", "vaapi", "nvcodec"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The floor programs, built once for the whole test binary by `benches/floor/build.sh`,
/// whose compiler flags make every warning an error.
fn floors() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("floor");
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(repo().join("benches/floor/build.sh"))
            .arg(&dir)
            .output()
            .expect("run benches/floor/build.sh");
        assert!(
            out.status.success(),
            "benches/floor/build.sh failed (the headers come from opencl-c-headers, \
             libvulkan-dev, libegl-dev and libgles-dev, which scripts/test.sh installs):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// Runs a floor program of `floors()` with only `PATH` and `HOME` from this environment, as
/// hwspec run as root passes no loader variables to its workers.
fn floor(program: &str, args: &[&str]) -> Output {
    Command::new(floors().join(program))
        .args(args)
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| k == "PATH" || k == "HOME"))
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn path(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 temporary directory")
}

/// The answers of a run, `backend -> (state, detail)`, from lines `<backend> <state>: <detail>`.
fn answers(out: &Output) -> BTreeMap<String, (String, String)> {
    let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8 answers");
    stdout
        .lines()
        .map(|line| {
            let (head, detail) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("not an answer line: {line:?}"));
            let (backend, state) = head
                .split_once(' ')
                .unwrap_or_else(|| panic!("not an answer line: {line:?}"));
            (backend.to_owned(), (state.to_owned(), detail.to_owned()))
        })
        .collect()
}

fn described(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// hwspec's state for every backend at `level`, probed fresh with the same environment.
fn hwspec_states(level: &str) -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_hwspec"))
        .args(["probe", "--json", "--fresh", "--level", level])
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| k == "PATH" || k == "HOME"))
        .output()
        .expect("run hwspec");
    assert!(out.status.success(), "{}", described(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    report["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                b["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_floor_program_builds_warning_free_and_links_no_runtime() {
    for backend in BackendName::ALL.iter().map(|b| b.as_str()) {
        let program = floors().join(format!("floor-{backend}"));
        assert!(program.is_file(), "{} was not built", program.display());
    }
    assert!(floors().join("run-floor").is_file());
    // Like hwspec, a floor opens its runtime at run time: linking one would load it before
    // main and time something else.
    for program in std::fs::read_dir(floors())
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        let name = program.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("floor-") || name == "run-floor") {
            continue;
        }
        let dynamic = Command::new("readelf")
            .arg("-d")
            .arg(&program)
            .output()
            .expect("readelf (binutils; scripts/test.sh installs it)");
        let dynamic = String::from_utf8_lossy(&dynamic.stdout);
        let needed: Vec<&str> = dynamic
            .lines()
            .filter(|line| line.contains("(NEEDED)"))
            .filter_map(|line| line.split('[').nth(1)?.split(']').next())
            .collect();
        assert!(
            needed
                .iter()
                .all(|l| ["libc.so.6", "libm.so.6"].contains(l)),
            "{name} links {needed:?}"
        );
    }
    let offload_compiler = std::fs::read_dir("/usr/lib/gcc")
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|arch| {
            std::fs::read_dir(arch.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .any(|version| version.path().join("accel/nvptx-none/mkoffload").is_file());
    assert_eq!(
        floors().join("gcc-offload-nvptx-none").is_file(),
        offload_compiler,
        "the offload program is built exactly where an nvptx offload compiler is installed"
    );
}

#[test]
fn every_floor_reaches_hwspecs_answer_at_both_levels() {
    let cache = support::scratch_dir("floor-answers");
    for level in ["quick", "standard"] {
        let run = floor("run-floor", &["--level", level, "--cache", path(&cache)]);
        let floors_said = answers(&run);
        let hwspec_said = hwspec_states(level);
        let mut uncovered = false;
        for backend in BackendName::ALL.iter().map(|b| b.as_str()) {
            let (state, detail) = floors_said
                .get(backend)
                .unwrap_or_else(|| panic!("no answer from floor-{backend}: {}", described(&run)));
            if state == "uncovered" && NO_DEVICE_FLOORS.contains(&backend) {
                eprintln!("floor-{backend} does not cover this machine's device: {detail}");
                uncovered = true;
                continue;
            }
            assert_eq!(
                Some(state),
                hwspec_said.get(backend),
                "floor-{backend} at {level} said {state}: {detail}; hwspec said {hwspec_said:?}"
            );
        }
        let expected = if uncovered { 3 } else { 0 };
        assert_eq!(run.status.code(), Some(expected), "{}", described(&run));
    }
    std::fs::remove_dir_all(&cache).unwrap();
}

/// Runs the OpenCL floor alone through run-floor with `cache`, and returns its answer.
fn opencl_floor(cache: &Path) -> (String, String) {
    let run = floor("run-floor", &["--cache", path(cache), "opencl"]);
    assert!(run.status.success(), "{}", described(&run));
    answers(&run).remove("opencl").expect("an OpenCL answer")
}

#[test]
fn the_opencl_floor_builds_from_the_binary_it_cached_and_survives_a_bad_one() {
    let cache = support::scratch_dir("floor-opencl-cache");
    let (state, first) = opencl_floor(&cache);
    if state == "absent" {
        // No OpenCL device here: nothing is built, so nothing is cached.
        assert!(first.starts_with("no-device") || first.starts_with("library-not-found"));
        std::fs::remove_dir_all(&cache).unwrap();
        return;
    }
    assert_eq!(state, "validated", "{first}");
    assert!(first.ends_with(", 0 from the cached binary"), "{first}");
    let devices: usize = first.split(' ').next().unwrap().parse().unwrap();
    let (state, second) = opencl_floor(&cache);
    assert_eq!(state, "validated", "{second}");
    assert!(
        second.ends_with(&format!(", {devices} from the cached binary")),
        "{second}"
    );

    // A binary the driver refuses is dropped and the program built from source again.
    let binaries: Vec<PathBuf> = std::fs::read_dir(cache.join("opencl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!binaries.is_empty());
    for binary in &binaries {
        std::fs::write(binary, b"not a program binary").unwrap();
    }
    let (state, rebuilt) = opencl_floor(&cache);
    assert_eq!(state, "validated", "{rebuilt}");
    assert!(rebuilt.ends_with(", 0 from the cached binary"), "{rebuilt}");
    let (_, again) = opencl_floor(&cache);
    assert!(
        again.ends_with(&format!(", {devices} from the cached binary")),
        "{again}"
    );
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn the_cuda_floor_runs_its_kernel_and_catches_a_wrong_result() {
    // No GPU here, so the device path runs against hwspec's own fake libcuda, whose "device"
    // runs kernels on the host: it proves the floor launches, reads back and checks.
    let dir = support::scratch_dir("floor-cuda");
    support::compile_shared_object(
        &["../../hwspec-core/src/backends/cuda/fake_libcuda.c"],
        &[],
        &dir.join("libcuda.so.1"),
    );
    let with = |extra: &[(&str, &str)]| {
        let mut command = Command::new(floors().join("floor-cuda"));
        command
            .env_clear()
            .env("LD_LIBRARY_PATH", &dir)
            .envs(extra.iter().copied());
        let out = command.output().unwrap();
        (out.status.code(), answers(&out).remove("cuda").unwrap())
    };
    let (code, (state, detail)) = with(&[]);
    assert_eq!((code, state.as_str()), (Some(0), "validated"), "{detail}");
    assert!(detail.ends_with("saxpy exact"), "{detail}");
    let (code, (state, detail)) = with(&[("HWSPEC_FAKE_WRONG", "1")]);
    assert_eq!((code, state.as_str()), (Some(1), "failed"), "{detail}");
    assert!(detail.starts_with("wrong-result: 1 of 1048576"), "{detail}");
    let (code, (state, detail)) = with(&[("HWSPEC_FAKE_CUINIT", "100")]);
    assert_eq!((code, state.as_str()), (Some(0), "absent"), "{detail}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_floor_refuses_what_it_does_not_know() {
    for args in [
        &["tpu"][..],
        &["--level", "full"],
        &["--cache", "relative"],
        &["--cache"],
    ] {
        let out = floor("run-floor", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", described(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: run-floor"));
    }
    let out = floor("floor-cpu", &["full"]);
    assert_eq!(out.status.code(), Some(2), "{}", described(&out));
}
