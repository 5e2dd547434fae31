//! The driver-cache directory: where PoCL, Mesa and CUDA keep compiled kernels for workers,
//! and hwspec its own program and pipeline caches (see [`crate::backends::common`]).
//!
//! PoCL compiles every kernel with LLVM (about a second cold, tens of milliseconds from its
//! cache) and Mesa caches compiled shaders the same way, so where their caches live decides
//! most of a probe's time. PoCL also reports zero devices, silently, when its cache directory is
//! not writable: workers must always be given one that is.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::files::{ensure_private_dir, write_and_remove};
use crate::sys;

/// The variable through which a worker learns the driver-cache directory its parent chose,
/// for caches hwspec keeps itself (compiled OpenCL programs, Vulkan pipeline caches).
pub const DRIVER_CACHE_ENV: &str = "HWSPEC_DRIVER_CACHE";

/// How much a driver-cache directory must take before it is used: a write this large must
/// succeed. A file of no size is created even on a full filesystem, and PoCL, Mesa and
/// CUDA then fail to store a compiled kernel (PoCL then lists no device at all).
const DRIVER_CACHE_PROOF_BYTES: usize = 1 << 20;

/// Most entries of the temp directory looked at for an earlier fallback driver cache: a
/// directory flooded by another user must not make the search long.
const FALLBACK_SEARCH_ENTRIES: usize = 4096;

/// Where driver caches go by default: `/var/cache/hwspec/driver-cache` for root,
/// `$XDG_CACHE_HOME/hwspec/driver-cache` (or `~/.cache/...`) otherwise.
pub fn default_driver_cache_dir() -> Option<PathBuf> {
    if sys::is_root() {
        return Some(PathBuf::from("/var/cache/hwspec/driver-cache"));
    }
    user_cache_home().map(|base| base.join("hwspec").join("driver-cache"))
}

/// `$XDG_CACHE_HOME`, else `~/.cache`, where hwspec keeps its caches for a user other than
/// root; `None` when neither is an absolute path.
pub(crate) fn user_cache_home() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| {
        let p = PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
}

/// Returns a directory the workers can use for driver caches: `preferred` when it can be
/// created, is private and (only when `prove`: a probe is about to use it, not when a cached
/// report may answer) takes a write of real size, otherwise a private fallback directory in the
/// system temp dir (see [`fallback_driver_cache`]). `None` only when neither works, in which
/// case drivers fall back to their own defaults.
pub(crate) fn chosen_driver_cache(preferred: Option<&Path>, prove: bool) -> Option<PathBuf> {
    let proven = |dir: &Path| !prove || prove_room(dir).is_ok();
    if let Some(dir) = preferred {
        if ensure_private_dir(dir).is_ok() && proven(dir) {
            return Some(dir.to_owned());
        }
    }
    fallback_driver_cache()
}

/// The fallback driver cache: `hwspec-UID-driver-cache.XXXXXX` in the temp dir (always `/tmp`
/// for root, whose caller's `TMPDIR` may belong to someone else), with a random suffix, mode
/// 0700. An earlier one is reused, to keep kernel caches warm, only when it is a real
/// directory owned by this user with mode 0700 and room to write: nobody else can make one
/// like that, so a name planted in advance is never used, and it cannot stop hwspec either.
fn fallback_driver_cache() -> Option<PathBuf> {
    let temp = if sys::is_root() {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let prefix = format!("hwspec-{}-driver-cache.", sys::effective_uid());
    let earlier = fs::read_dir(&temp)
        .into_iter()
        .flatten()
        .take(FALLBACK_SEARCH_ENTRIES)
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .map(|entry| entry.path())
        .find(|dir| {
            fs::symlink_metadata(dir).is_ok_and(|m| {
                m.file_type().is_dir()
                    && m.uid() == sys::effective_uid()
                    && m.mode() & 0o777 == 0o700
            }) && prove_room(dir).is_ok()
        });
    earlier.or_else(|| {
        let made = sys::make_private_dir(&temp, &prefix).ok()?;
        if prove_room(&made).is_ok() {
            Some(made)
        } else {
            let _ = fs::remove_dir(&made);
            None
        }
    })
}

/// Proves `dir` takes a write of [`DRIVER_CACHE_PROOF_BYTES`].
fn prove_room(dir: &Path) -> io::Result<()> {
    // On the heap: zeroed pages cost nothing until written, and an array literal would put a
    // megabyte of zeros into the executable.
    write_and_remove(dir, &vec![0u8; DRIVER_CACHE_PROOF_BYTES])
}

/// The driver-cache directory named by [`DRIVER_CACHE_ENV`], inside a worker.
pub fn driver_cache_from_env() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os(DRIVER_CACHE_ENV)?);
    dir.is_absolute().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    #[test]
    fn creates_the_preferred_directory_privately() {
        let tmp = TempDir::new("driver-dirs-create");
        let dir = tmp.path().join("a/b");
        assert_eq!(
            chosen_driver_cache(Some(&dir), true).as_deref(),
            Some(dir.as_path())
        );
        let mode = fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_symlinked_directory_is_refused() {
        let tmp = TempDir::new("driver-dirs-symlink");
        let base = tmp.path().to_owned();
        fs::create_dir_all(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        assert!(ensure_private_dir(&base.join("link")).is_err());
        let chosen = chosen_driver_cache(Some(&base.join("link")), true).unwrap();
        assert_ne!(chosen, base.join("link"));
    }

    #[test]
    fn a_file_in_the_way_falls_back_to_the_temp_dir() {
        let tmp = TempDir::new("driver-dirs-file");
        let base = tmp.path().to_owned();
        fs::create_dir_all(&base).unwrap();
        fs::write(base.join("f"), b"").unwrap();
        let chosen = chosen_driver_cache(Some(&base.join("f")), true).unwrap();
        assert!(chosen.starts_with(std::env::temp_dir()));
    }
}
