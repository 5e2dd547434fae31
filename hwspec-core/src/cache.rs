//! Directories hwspec owns on disk: the driver cache that keeps repeated probes warm.
//!
//! PoCL compiles every kernel with LLVM (about a second cold, tens of milliseconds from its
//! cache) and Mesa caches compiled shaders the same way, so where their caches live decides
//! most of a probe's time. PoCL also reports zero devices, silently, when its cache directory is
//! not writable: workers must always be given one that is.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::sys;

/// Where driver caches go by default: `/var/cache/hwspec/driver-cache` for root,
/// `$XDG_CACHE_HOME/hwspec/driver-cache` (or `~/.cache/...`) otherwise.
pub fn default_driver_cache_dir() -> Option<PathBuf> {
    if sys::is_root() {
        return Some(PathBuf::from("/var/cache/hwspec/driver-cache"));
    }
    user_cache_home().map(|base| base.join("hwspec").join("driver-cache"))
}

fn user_cache_home() -> Option<PathBuf> {
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
/// created and written, otherwise a private directory under the system temp dir. `None` only
/// when neither works, in which case drivers fall back to their own defaults.
pub fn driver_cache_dir(preferred: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = preferred {
        if ensure_private_dir(dir).is_ok() {
            return Some(dir.to_owned());
        }
    }
    let fallback =
        std::env::temp_dir().join(format!("hwspec-{}-driver-cache", sys::effective_uid()));
    ensure_private_dir(&fallback).ok().map(|()| fallback)
}

/// Creates `dir` (and its parents) with mode 0700 if missing, then checks that it is a real
/// directory, not a symlink, owned by this user, and writable.
fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    if meta.uid() != sys::effective_uid() {
        return Err(io::Error::other("owned by another user"));
    }
    let probe = dir.join(format!(".hwspec-write-test-{}", std::process::id()));
    fs::write(&probe, b"")?;
    fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hwspec-cache-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_the_preferred_directory_privately() {
        let dir = scratch("create").join("a/b");
        assert_eq!(driver_cache_dir(Some(&dir)).as_deref(), Some(dir.as_path()));
        let mode = fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_symlinked_directory_is_refused() {
        let base = scratch("symlink");
        fs::create_dir_all(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        assert!(ensure_private_dir(&base.join("link")).is_err());
        let chosen = driver_cache_dir(Some(&base.join("link"))).unwrap();
        assert_ne!(chosen, base.join("link"));
    }

    #[test]
    fn a_file_in_the_way_falls_back_to_the_temp_dir() {
        let base = scratch("file");
        fs::create_dir_all(&base).unwrap();
        fs::write(base.join("f"), b"").unwrap();
        let chosen = driver_cache_dir(Some(&base.join("f"))).unwrap();
        assert!(chosen.starts_with(std::env::temp_dir()));
    }
}
