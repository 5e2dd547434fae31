//! Scaffolding the backends' tests share: temporary directories, C fixtures built with `cc`,
//! and probes run in a fresh process of the test binary.
//!
//! Vendor runtimes and loaders read their environment once per process (and stay mapped for its
//! life), so a test that needs a different environment re-runs one entry test of this binary in
//! a child process: the parent sets a switch variable, the entry test sees it, probes, and
//! prints its result after a marker on one line, which the parent reads back.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{BackendReport, Level};

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory whose name holds `tag` (start it with the backend's name), this
    /// process's id and a counter, so that no two tests of the binary ever share one.
    pub(crate) fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("hwspec-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Where the directory is.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[path = "../../tests/support/cc.rs"]
mod cc;

/// Builds the C file `source` as the shared library `out_dir/soname` with the test suites' one
/// compiler call ([`cc::compile_shared`]), with `-D` for each of `defines`, and returns the
/// library's path.
pub(crate) fn compile_fixture(
    source: &Path,
    out_dir: &Path,
    soname: &str,
    defines: &[&str],
) -> PathBuf {
    cc::compile_shared(&[source], defines, &out_dir.join(soname))
}

/// [`compile_fixture`] with `link_args` for the linker (`-Wl,-rpath,DIR`).
pub(crate) fn compile_fixture_linked(
    source: &Path,
    out_dir: &Path,
    soname: &str,
    link_args: &[&str],
) -> PathBuf {
    cc::compile_shared_linked(&[source], &[], link_args, &out_dir.join(soname))
}

/// The mode [`ChildRunner::probe`] starts an entry test in.
pub(crate) const PROBE_MODE: &str = "probe";

/// An empty environment to add, for [`ChildRunner::run`] and [`ChildRunner::probe`].
pub(crate) const NO_ENV: &[(&str, &OsStr)] = &[];

/// How one backend's tests run its entry test in a child process of the test binary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildRunner {
    /// `module_path!()` of the test module that holds the entry test.
    pub(crate) module: &'static str,
    /// The entry test's name in that module; it must return at once unless [`Self::mode`] is
    /// `Some`.
    pub(crate) entry: &'static str,
    /// Set in the child only, to the mode the entry test should run in.
    pub(crate) switch: &'static str,
    /// Holds the level to probe at, when the parent names one.
    pub(crate) level_var: &'static str,
    /// Printed just before the entry test's result.
    pub(crate) marker: &'static str,
    /// Lists of variables removed from the child's environment (before the test's own are
    /// added), so that the caller's settings do not steer the backend under test.
    pub(crate) cleared: &'static [&'static [&'static str]],
}

impl ChildRunner {
    /// In the entry test: the mode this process was started in, or `None` in an ordinary run
    /// of the tests, where the entry test must do nothing.
    pub(crate) fn mode(&self) -> Option<String> {
        std::env::var(self.switch).ok()
    }

    /// In the entry test: the level the parent asked for, quick when it named none.
    pub(crate) fn level(&self) -> Level {
        std::env::var(self.level_var)
            .ok()
            .and_then(|l| Level::parse(&l))
            .unwrap_or(Level::Quick)
    }

    /// In the entry test: prints the report after [`Self::marker`].
    pub(crate) fn print_report(&self, report: &BackendReport) {
        print_marked(self.marker, report);
    }

    /// Runs the entry test in a new process of this test binary, with the switch set to
    /// `mode`, the level variable to `level` when given, [`Self::cleared`] removed and `env`
    /// added, and returns what it printed.
    pub(crate) fn run<V: AsRef<OsStr>>(
        &self,
        mode: &str,
        level: Option<Level>,
        env: &[(&str, V)],
    ) -> ChildOutput {
        let (_, module) = self.module.split_once("::").unwrap();
        let test = format!("{module}::{}", self.entry);
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", &test, "--nocapture", "--test-threads=1"])
            .env(self.switch, mode);
        if let Some(level) = level {
            command.env(self.level_var, level.as_str());
        }
        for name in self.cleared.iter().copied().flatten() {
            command.env_remove(name);
        }
        command.envs(env.iter().map(|(k, v)| (k, v.as_ref())));
        let output = command.output().unwrap();
        ChildOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs the entry test in mode [`PROBE_MODE`] at `level` with `env` and returns the report
    /// it printed after [`Self::marker`].
    pub(crate) fn probe<V: AsRef<OsStr>>(&self, level: Level, env: &[(&str, V)]) -> BackendReport {
        self.run(PROBE_MODE, Some(level), env).json(self.marker)
    }
}

/// In an entry test: prints `value` as JSON after `marker` on one line, flushed (so that a
/// child leaving with `_exit` still delivers it).
pub(crate) fn print_marked(marker: &str, value: &impl Serialize) {
    let json = serde_json::to_string(value).unwrap();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{marker}{json}");
    let _ = stdout.flush();
}

/// What a child test process printed.
#[derive(Debug)]
pub(crate) struct ChildOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl ChildOutput {
    /// The rest of the first line that holds `marker`, after it; panics, showing everything the
    /// child printed, when there is none.
    pub(crate) fn after(&self, marker: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|line| line.split_once(marker).map(|(_, rest)| rest))
            .unwrap_or_else(|| {
                panic!(
                    "child printed no {marker} ({:?}); stdout:\n{}\nstderr:\n{}",
                    self.status, self.stdout, self.stderr
                )
            })
    }

    /// What the child printed after `marker`, read as JSON.
    pub(crate) fn json<T: DeserializeOwned>(&self, marker: &str) -> T {
        serde_json::from_str(self.after(marker)).unwrap()
    }
}
