//! Directories hwspec owns on disk: the driver cache that keeps repeated probes warm.
//!
//! PoCL compiles every kernel with LLVM (about a second cold, tens of milliseconds from its
//! cache) and Mesa caches compiled shaders the same way, so where their caches live decides
//! most of a probe's time. PoCL also reports zero devices, silently, when its cache directory is
//! not writable: workers must always be given one that is.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::sys;

/// The variable through which a worker learns the driver-cache directory its parent chose,
/// for caches hwspec keeps itself (compiled OpenCL programs, Vulkan pipeline caches).
pub const DRIVER_CACHE_ENV: &str = "HWSPEC_DRIVER_CACHE";

/// Largest cache file read back; hwspec's own entries are a few hundred KiB at most.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

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

/// The driver-cache directory named by [`DRIVER_CACHE_ENV`], inside a worker.
pub fn driver_cache_from_env() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os(DRIVER_CACHE_ENV)?);
    dir.is_absolute().then_some(dir)
}

/// A 64-bit FNV-1a hash of `parts`, each followed by a separator byte, for naming cache
/// entries after what they depend on. Stable across builds and platforms, unlike std's hasher.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Reads the cache entry `name` in `dir`: a regular file (never a symlink) owned by this user.
/// `None` when it is missing, unreadable, foreign or implausibly large; a cache miss is normal.
pub fn read_entry(dir: &Path, name: &str) -> Option<Vec<u8>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(name))
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != sys::effective_uid() || meta.len() > MAX_ENTRY_BYTES {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).ok()?);
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Writes the cache entry `name` in `dir` atomically: a new private (0600) temp file in the
/// same directory, then a rename over the old entry, so a reader sees the old or the new
/// entry whole, and a symlink planted at the name is replaced rather than followed.
pub fn write_entry(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, dir.join(name)));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Removes the cache entry `name` in `dir`, e.g. one the driver no longer accepts.
pub fn remove_entry(dir: &Path, name: &str) {
    let _ = fs::remove_file(dir.join(name));
}

/// A compiled kernel kept in the driver cache a worker was given: `<dir>/<kind>/<stem>-<key>`,
/// the key a [`stable_hash`] of everything the compiled code depends on (source, device,
/// driver). A miss, an unreadable entry or an entry that cannot be written only cost time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCache {
    dir: PathBuf,
    name: String,
}

impl KernelCache {
    /// The entry for `key_parts`, under `kind` (e.g. `opencl`), with a file name made of
    /// `stem`, the key and `extension`; `None` when the worker was given no driver cache.
    pub fn entry(kind: &str, stem: &str, extension: &str, key_parts: &[&[u8]]) -> Option<Self> {
        let dir = driver_cache_from_env()?.join(kind);
        let key = stable_hash(key_parts);
        Some(KernelCache {
            dir,
            name: format!("{stem}-{key:016x}.{extension}"),
        })
    }

    /// The cached code, if there is any.
    pub fn load(&self) -> Option<Vec<u8>> {
        read_entry(&self.dir, &self.name)
    }

    /// Keeps `code` for the next probe.
    pub fn store(&self, code: &[u8]) {
        if fs::create_dir_all(&self.dir).is_ok() {
            let _ = write_entry(&self.dir, &self.name, code);
        }
    }

    /// Forgets the entry, e.g. one the driver refused or that did not validate.
    pub fn discard(&self) {
        remove_entry(&self.dir, &self.name);
    }
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
    fn entries_round_trip_privately() {
        let dir = scratch("entries");
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(read_entry(&dir, "a.bin"), None);
        write_entry(&dir, "a.bin", b"first").unwrap();
        write_entry(&dir, "a.bin", b"second").unwrap();
        assert_eq!(read_entry(&dir, "a.bin").as_deref(), Some(&b"second"[..]));
        assert_eq!(
            fs::metadata(dir.join("a.bin")).unwrap().mode() & 0o777,
            0o600
        );
        remove_entry(&dir, "a.bin");
        assert_eq!(read_entry(&dir, "a.bin"), None);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "no temp file left behind"
        );
    }

    #[test]
    fn a_symlinked_entry_is_neither_read_nor_followed() {
        let dir = scratch("entry-symlink");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("target"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.join("target"), dir.join("e.bin")).unwrap();
        assert_eq!(read_entry(&dir, "e.bin"), None);
        write_entry(&dir, "e.bin", b"new").unwrap();
        assert_eq!(fs::read(dir.join("target")).unwrap(), b"secret");
        assert_eq!(read_entry(&dir, "e.bin").as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn stable_hash_separates_parts_and_does_not_change() {
        assert_eq!(stable_hash(&[b"abc"]), stable_hash(&[b"abc"]));
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_eq!(stable_hash(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(&[b"a"]), 0x89bc907b544c769);
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
