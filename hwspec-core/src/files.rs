//! hwspec's own files, written so that nobody else can plant or read them: private
//! directories, entries read without blocking and with a bound only when this user owns them,
//! atomic private writes, and a stable hash to name entries after what they depend on. The
//! report cache, the driver-cache directory and the kernel cache are built on these.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::sys;

/// Largest cache file read back; hwspec's own entries are a few hundred KiB at most.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// Creates `dir` (and its parents) with mode 0700 if missing, then checks that it is a real
/// directory, not a symlink, owned by this user, not writable by anyone else, and writable.
pub(crate) fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    if meta.uid() != sys::effective_uid() {
        return Err(io::Error::other("owned by another user"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(io::Error::other("writable by other users"));
    }
    write_and_remove(dir, &[])
}

/// Writes `bytes` to a new file in `dir` and removes it again.
pub(crate) fn write_and_remove(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    // Unique per call, not just per process: threads probing at once must not remove each
    // other's test file (which made some of them skip the cache).
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = dir.join(format!(".hwspec-write-test-{}-{call}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&probe)
        .and_then(|mut file| file.write_all(bytes));
    let removed = fs::remove_file(&probe);
    written.and(removed)
}

/// A 64-bit FNV-1a hash of `parts`, each followed by a separator byte, for naming cache
/// entries after what they depend on. Stable across builds and platforms, unlike std's hasher.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
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
pub(crate) fn read_entry(dir: &Path, name: &str) -> Option<Vec<u8>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(dir.join(name))
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != sys::effective_uid() || meta.len() > MAX_ENTRY_BYTES {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).ok()?);
    (&mut file)
        .take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_ENTRY_BYTES).then_some(bytes)
}

/// Writes the cache entry `name` in `dir` atomically and privately (0600); see
/// [`write_atomically`].
pub(crate) fn write_entry(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write_atomically(&dir.join(name), bytes, 0o600)
}

/// Writes `path` atomically: a new temp file with `mode` in the same directory, then a rename
/// over the old file, so a reader sees the old or the new content whole, and a symlink planted
/// at the name is replaced rather than followed. There is no fsync: after a power loss a file
/// may be empty, which every reader of these files treats as a miss, and syncing would cost
/// each probe milliseconds on a busy disk.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path",
        ));
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    // Unique per write, not just per process: two threads of one process writing the same
    // entry at once must not collide on the temp file (the second `create_new` failed, and
    // its entry was lost) nor rename each other's half-written file into place.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = dir.join(format!(
        ".{}.{}.{write}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// An exclusive lock on a cache entry, held until dropped. See [`lock_entry`].
#[derive(Debug)]
pub(crate) struct EntryLock {
    // Held only for the lock that goes with it; closing it releases the lock.
    _file: fs::File,
}

/// Longest pause between two tries for a busy lock: small beside a probe (about 100 ms), so
/// a waiter learns of the result soon after it is written.
const LOCK_POLL_MAX: Duration = Duration::from_millis(16);

/// Locks the cache entry `name` in `dir` through the file `name.lock` beside it, waiting for
/// another holder until `deadline`. `None` when the lock cannot be had in time or the lock file
/// is not a regular file of this user's: the caller then goes on without it, so a lock file
/// that is stale, planted or held forever costs at most the wait, never a hang. `dir` is one
/// of [`ensure_private_dir`]'s, so no other user can have made the file; it is opened without
/// following a symlink and without blocking on a FIFO all the same. The wait polls: a blocking
/// `flock` has no timeout, and the signal that would interrupt it is process-wide, not a
/// library's to take.
pub(crate) fn lock_entry(dir: &Path, name: &str, deadline: Instant) -> Option<EntryLock> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(dir.join(format!("{name}.lock")))
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != sys::effective_uid() {
        return None;
    }
    let mut pause = Duration::from_millis(1);
    loop {
        if sys::try_lock_exclusive(&file).ok()? {
            return Some(EntryLock { _file: file });
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(LOCK_POLL_MAX);
    }
}

/// Removes the cache entry `name` in `dir`, e.g. one the driver no longer accepts.
pub(crate) fn remove_entry(dir: &Path, name: &str) {
    let _ = fs::remove_file(dir.join(name));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    #[test]
    fn atomic_writes_leave_the_mode_asked_for() {
        let tmp = TempDir::new("files-atomic");
        let dir = tmp.path().to_owned();
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("features.txt");
        write_atomically(&path, b"a=1\n", 0o644).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        assert_eq!(fs::read(&path).unwrap(), b"a=1\n");
    }

    #[test]
    fn entries_round_trip_privately() {
        let tmp = TempDir::new("files-entries");
        let dir = tmp.path().to_owned();
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
    fn threads_writing_one_entry_at_once_all_succeed() {
        let tmp = TempDir::new("files-concurrent-writes");
        let dir = tmp.path().to_owned();
        fs::create_dir_all(&dir).unwrap();
        let failures: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16u8)
                .map(|t| {
                    let dir = &dir;
                    scope.spawn(move || {
                        (0..50)
                            .filter(|_| write_entry(dir, "shared.json", &[t; 4096]).is_err())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(failures, 0, "every write lands");
        let kept = read_entry(&dir, "shared.json").unwrap();
        assert!(
            kept.len() == 4096 && kept.iter().all(|b| *b == kept[0]),
            "one writer's whole entry"
        );
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["shared.json"], "no temp file left behind");
    }

    #[test]
    fn a_symlinked_entry_is_neither_read_nor_followed() {
        let tmp = TempDir::new("files-entry-symlink");
        let dir = tmp.path().to_owned();
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
    fn threads_checking_one_directory_at_once_all_succeed() {
        let tmp = TempDir::new("files-concurrent");
        let dir = tmp.path().to_owned();
        fs::create_dir_all(&dir).unwrap();
        let failures: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    let dir = dir.clone();
                    scope.spawn(move || {
                        (0..50)
                            .filter(|_| ensure_private_dir(&dir).is_err())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(failures, 0);
    }
}
