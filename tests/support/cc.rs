//! The one C compiler call of the test suites: the Rust unit tests of hwspec-core (through
//! `#[path]` from `hwspec-core/src/testing.rs`) and the end-to-end tests build their C fixtures
//! (fake runtimes, faulty drivers) with it, with the same flags.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the C files `sources` as the shared library `out`, with `-D` for each of `defines`
/// (`NAME` or `NAME=VALUE`), and returns `out`. Warnings are errors, so that a fixture drifting
/// from the ABI it fakes fails here rather than in the probe. Panics (failing the test) when
/// the compiler is missing or refuses a source.
pub fn compile_shared(sources: &[&Path], defines: &[&str], out: &Path) -> PathBuf {
    compile_shared_linked(sources, defines, &[], out)
}

/// [`compile_shared`], with `link_args` for the linker (`-Wl,-rpath,DIR`).
#[allow(dead_code)] // Not every suite that includes this file links with extra arguments.
pub fn compile_shared_linked(
    sources: &[&Path],
    defines: &[&str],
    link_args: &[&str],
    out: &Path,
) -> PathBuf {
    let output = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o"])
        .arg(out)
        .args(defines.iter().map(|d| format!("-D{d}")))
        .args(link_args)
        .args(sources)
        .output()
        .unwrap_or_else(|e| {
            panic!("cc could not run ({e}); a C compiler is needed (scripts/test.sh installs gcc)")
        });
    assert!(
        output.status.success(),
        "cc failed on {sources:?} with {defines:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out.to_owned()
}
