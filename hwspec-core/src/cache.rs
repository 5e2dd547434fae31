//! What hwspec keeps on disk: the report cache, which answers `hwspec check` without probing
//! while nothing a probe depends on has changed, and the driver cache that keeps probes warm.
//!
//! PoCL compiles every kernel with LLVM (about a second cold, tens of milliseconds from its
//! cache) and Mesa caches compiled shaders the same way, so where their caches live decides
//! most of a probe's time. PoCL also reports zero devices, silently, when its cache directory is
//! not writable: workers must always be given one that is.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::isolate::{self, Prepared, ProbeOptions};
use crate::model::{BackendName, CacheInfo, Report, SCHEMA_VERSION};
use crate::process;
use crate::sys;

/// The variable through which a worker learns the driver-cache directory its parent chose,
/// for caches hwspec keeps itself (compiled OpenCL programs, Vulkan pipeline caches).
pub const DRIVER_CACHE_ENV: &str = "HWSPEC_DRIVER_CACHE";

/// Largest cache file read back; hwspec's own entries are a few hundred KiB at most.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// How much a driver-cache directory must take before it is used: a write this large must
/// succeed. A file of no size is created even on a full filesystem, and PoCL, Mesa and
/// CUDA then fail to store a compiled kernel (PoCL then lists no device at all).
const DRIVER_CACHE_PROOF_BYTES: usize = 1 << 20;

/// Largest OpenCL ICD file or Vulkan manifest read for the fingerprint: both are a few lines.
const DRIVER_FILE_BYTES: u64 = 1 << 20;

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
/// created, is private and takes a write of real size, otherwise a private fallback directory
/// in the system temp dir (see [`fallback_driver_cache`]). `None` only when neither works, in
/// which case drivers fall back to their own defaults.
pub fn driver_cache_dir(preferred: Option<&Path>) -> Option<PathBuf> {
    chosen_driver_cache(preferred, true)
}

/// [`driver_cache_dir`], with the write of real size only when `prove` (a probe is about to
/// use the directory), not when a cached report may answer.
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
        let made = process::make_private_dir(&temp, &prefix).ok()?;
        if prove_room(&made).is_ok() {
            Some(made)
        } else {
            let _ = fs::remove_dir(&made);
            None
        }
    })
}

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

/// Proves `dir` takes a write of [`DRIVER_CACHE_PROOF_BYTES`].
fn prove_room(dir: &Path) -> io::Result<()> {
    // On the heap: zeroed pages cost nothing until written, and an array literal would put a
    // megabyte of zeros into the executable.
    write_and_remove(dir, &vec![0u8; DRIVER_CACHE_PROOF_BYTES])
}

/// Writes `bytes` to a new file in `dir` and removes it again.
fn write_and_remove(dir: &Path, bytes: &[u8]) -> io::Result<()> {
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
pub fn write_entry(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
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

/// How [`probe_cached`] may use the report cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Use a cached report when it is still true (`false` for `--fresh`).
    pub read: bool,
    /// The oldest cached report still used.
    pub max_age: Duration,
}

impl CachePolicy {
    /// The default: use cached reports up to an hour old. Hardware rarely changes without a
    /// reboot or a driver change, both of which the fingerprint sees; the age bounds the rest
    /// (a GPU that fell off the bus, a driver that started hanging).
    pub const DEFAULT: CachePolicy = CachePolicy {
        read: true,
        max_age: Duration::from_secs(3600),
    };
}

/// One cached report and what it was true for.
#[derive(Debug, Serialize, Deserialize)]
struct CachedReport {
    /// Everything the report depends on that can be checked without probing.
    fingerprint: BTreeMap<String, String>,
    /// When the probe ran, in seconds since the Unix epoch.
    probed_at: f64,
    report: Report,
}

/// Where reports are cached: `/var/cache/hwspec` for root, `$XDG_CACHE_HOME/hwspec` (or
/// `~/.cache/hwspec`) otherwise.
pub fn report_cache_dir() -> Option<PathBuf> {
    if sys::is_root() {
        return Some(PathBuf::from("/var/cache/hwspec"));
    }
    user_cache_home().map(|base| base.join("hwspec"))
}

/// A report for `options`: the cached one when `policy` allows it, it is young enough and
/// nothing it depends on has changed, else a new probe, which is then cached. The report's
/// `cache` field says which.
pub fn probe_cached(options: &ProbeOptions, policy: CachePolicy) -> Report {
    probe_cached_in(report_cache_dir(), options, policy)
}

fn probe_cached_in(dir: Option<PathBuf>, options: &ProbeOptions, policy: CachePolicy) -> Report {
    let dir = dir.filter(|dir| ensure_private_dir(dir).is_ok());
    let name = format!("report-{:016x}.json", cache_key(options));
    let file = dir.as_ref().map(|d| d.join(&name).display().to_string());
    // The driver cache is proven to take a real write only when a probe will use it: a cached
    // answer (the common `hwspec check`) does not pay for the write.
    let fingerprint = fingerprint(options, &Prepared::new(options, false));
    let now = unix_now();
    if policy.read {
        let cached = dir
            .as_deref()
            .and_then(|dir| read_entry(dir, &name))
            .and_then(|bytes| serde_json::from_slice::<CachedReport>(&bytes).ok());
        if let Some(cached) = cached {
            let age = now - cached.probed_at;
            let young = (0.0..=policy.max_age.as_secs_f64()).contains(&age);
            if young && cached.fingerprint == fingerprint && cached.report.schema == SCHEMA_VERSION
            {
                let mut report = cached.report;
                report.cache = Some(CacheInfo {
                    hit: true,
                    age_seconds: age,
                    file,
                    not_stored: None,
                });
                return report;
            }
        }
    }
    let probed = isolate::probe_prepared(options, &Prepared::new(options, true));
    let mut report = probed.report;
    let not_stored = if probed.transient.is_empty() {
        None
    } else {
        Some(probed.transient.join("; "))
    };
    if let (Some(dir), None) = (&dir, &not_stored) {
        let entry = CachedReport {
            fingerprint,
            probed_at: now,
            report: report.clone(),
        };
        if let Ok(bytes) = serde_json::to_vec(&entry) {
            let _ = write_entry(dir, &name, &bytes);
        }
    }
    report.cache = Some(CacheInfo {
        hit: false,
        age_seconds: 0.0,
        file,
        not_stored,
    });
    report
}

/// Names the cache entry after what was asked: level, backends, deadlines' effect aside, and
/// the hwspec that answers, worker included: libhwspec's callers choose their worker, and one
/// that is missing must not leave its failed report to the CLI or another caller. The resource
/// limits a worker inherits are part of the name too: a report made under a low descriptor,
/// process or memory limit answers only callers under the same limits.
fn cache_key(options: &ProbeOptions) -> u64 {
    let backends: Vec<&str> = options.backends.iter().map(|b| b.as_str()).collect();
    let limits: Vec<String> = process::inherited_limits()
        .iter()
        .map(|(name, limit)| format!("{name}={limit:?}"))
        .chain(std::iter::once(format!(
            "worker-memory={:?}",
            options.memory_limit
        )))
        .collect();
    stable_hash(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        options.worker.program.as_os_str().as_encoded_bytes(),
        options.level.as_str().as_bytes(),
        backends.join(",").as_bytes(),
        if options.trust_env {
            b"trust"
        } else {
            b"strip"
        },
        &sys::effective_uid().to_le_bytes(),
        limits.join(" ").as_bytes(),
    ])
}

/// Everything a probe's outcome depends on that can be read cheaply without loading a runtime:
/// the boot, kernel driver modules, device nodes, the OpenCL ICDs and Vulkan manifests the
/// workers would read, the dynamic linker's cache (rewritten by every library install), known
/// libraries outside it, and the environment the workers would get. Each part is hashed so the
/// entry stays small. Every file is read without blocking and with a bound (a FIFO, a symlink to
/// `/dev/zero` or a huge manifest costs nothing), and only what the workers would read: as root
/// without `--trust-env`, no per-user manifest directory.
fn fingerprint(options: &ProbeOptions, prepared: &Prepared) -> BTreeMap<String, String> {
    let mut parts = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        parts.insert(key.to_owned(), value);
    };
    let text = |path: &str| {
        sys::read_regular_text(Path::new(path), sys::SMALL_FILE_BYTES)
            .map(|t| t.trim().to_owned())
            .ok()
    };
    // A worker installed, replaced or removed since the probe changes its answer.
    put("worker", describe_file(&options.worker.program));
    put(
        "boot_id",
        text("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
    );
    let modules: Vec<String> = ["nvidia", "nvidia_uvm", "amdgpu", "i915", "xe", "nouveau"]
        .iter()
        .map(|m| {
            let version = text(&format!("/sys/module/{m}/version"))
                .or_else(|| text(&format!("/sys/module/{m}/srcversion")));
            format!("{m}={}", version.unwrap_or_default())
        })
        .collect();
    put("modules", modules.join(" "));
    put(
        "nvidia_proc",
        hash_file_contents(Path::new("/proc/driver/nvidia/version")),
    );

    let mut nodes = Vec::new();
    for dir in ["/dev", "/dev/dri"] {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let relevant =
                dir == "/dev/dri" || name.starts_with("nvidia") || name == "kfd" || name == "dxg";
            if relevant {
                nodes.push(describe_file(&entry.path()));
            }
        }
    }
    nodes.sort();
    put("device_nodes", format!("{:016x}", hash_strings(&nodes)));

    let env = &prepared.environment;
    for (key, backend) in [
        ("opencl_icds", BackendName::Opencl),
        ("vulkan_manifests", BackendName::Vulkan),
    ] {
        let files: Vec<String> = isolate::drivers_of(backend, &env.vars)
            .map(|drivers| drivers.files)
            .unwrap_or_default()
            .iter()
            .map(|file| format!("{} {}", describe_file(file), hash_file_contents(file)))
            .collect();
        put(key, format!("{:016x}", hash_strings(&files)));
    }

    let libraries: Vec<String> = ["/etc/ld.so.cache", "/usr/lib/wsl/lib/libcuda.so.1"]
        .iter()
        .map(|p| describe_file(Path::new(p)))
        .collect();
    put("libraries", format!("{:016x}", hash_strings(&libraries)));

    let mut vars: Vec<String> = env
        .reported
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(env.dropped.iter().map(|k| format!("dropped {k}")))
        .collect();
    vars.sort();
    put("environment", format!("{:016x}", hash_strings(&vars)));
    parts
}

/// Path, size, modification time, mode, owner and device numbers of a file, or that it is
/// missing: what changes when a file is replaced, upgraded or given other permissions.
fn describe_file(path: &Path) -> String {
    match fs::metadata(path) {
        Ok(m) => format!(
            "{} {} {}.{} {:o} {}:{} {}",
            path.display(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.mode(),
            m.uid(),
            m.gid(),
            m.rdev()
        ),
        Err(_) => format!("{} missing", path.display()),
    }
}

/// A hash of what `path` holds, read as [`sys::read_regular_file`] reads: a file that cannot
/// be read that way is described by why.
fn hash_file_contents(path: &Path) -> String {
    match sys::read_regular_file(path, DRIVER_FILE_BYTES) {
        Ok(bytes) => format!("{:016x}", stable_hash(&[&bytes])),
        Err(err) => format!("unread ({err})"),
    }
}

fn hash_strings(items: &[String]) -> u64 {
    let parts: Vec<&[u8]> = items.iter().map(|s| s.as_bytes()).collect();
    stable_hash(&parts)
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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

    /// Options whose one worker is a shell script printing a fixed CPU report.
    fn scripted_options() -> ProbeOptions {
        use crate::model::{BackendName, BackendReport, ReasonCode};
        use crate::protocol::WorkerMessage;
        let line = serde_json::to_string(&WorkerMessage::Report(BackendReport::absent(
            BackendName::Cuda,
            ReasonCode::LibraryNotFound,
            "scripted",
        )))
        .unwrap();
        let mut options = ProbeOptions::new(crate::isolate::WorkerCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), format!("echo '{line}'").into()],
        });
        options.backends = vec![BackendName::Cuda];
        options.driver_cache = Some(std::env::temp_dir().join("hwspec-cache-test-driver"));
        options
    }

    #[test]
    fn a_cached_report_is_used_until_too_old_or_refused() {
        let dir = scratch("reports");
        let options = scripted_options();
        let first = probe_cached_in(Some(dir.clone()), &options, CachePolicy::DEFAULT);
        let info = first.cache.clone().unwrap();
        assert!(!info.hit);
        assert!(info
            .file
            .as_deref()
            .unwrap()
            .starts_with(dir.to_str().unwrap()));

        let second = probe_cached_in(Some(dir.clone()), &options, CachePolicy::DEFAULT);
        let info = second.cache.clone().unwrap();
        assert!(info.hit, "{info:?}");
        assert!(info.age_seconds >= 0.0 && info.age_seconds < 60.0);
        assert_eq!(second.backends, first.backends);

        let fresh = CachePolicy {
            read: false,
            ..CachePolicy::DEFAULT
        };
        assert!(
            !probe_cached_in(Some(dir.clone()), &options, fresh)
                .cache
                .unwrap()
                .hit
        );
        let no_age = CachePolicy {
            max_age: Duration::ZERO,
            ..CachePolicy::DEFAULT
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !probe_cached_in(Some(dir.clone()), &options, no_age)
                .cache
                .unwrap()
                .hit
        );
    }

    #[test]
    fn a_changed_fingerprint_or_a_broken_entry_means_a_new_probe() {
        let dir = scratch("stale");
        let options = scripted_options();
        let first = probe_cached_in(Some(dir.clone()), &options, CachePolicy::DEFAULT);
        let file = PathBuf::from(first.cache.unwrap().file.unwrap());

        let text = fs::read_to_string(&file).unwrap();
        let mut entry: CachedReport = serde_json::from_str(&text).unwrap();
        entry
            .fingerprint
            .insert("boot_id".into(), "another boot".into());
        fs::write(&file, serde_json::to_vec(&entry).unwrap()).unwrap();
        assert!(
            !probe_cached_in(Some(dir.clone()), &options, CachePolicy::DEFAULT)
                .cache
                .unwrap()
                .hit
        );

        fs::write(&file, b"{ not json").unwrap();
        let again = probe_cached_in(Some(dir.clone()), &options, CachePolicy::DEFAULT);
        assert!(!again.cache.unwrap().hit);
        assert!(
            probe_cached_in(Some(dir), &options, CachePolicy::DEFAULT)
                .cache
                .unwrap()
                .hit
        );
    }

    #[test]
    fn another_worker_has_its_own_entry_and_a_replaced_one_is_seen() {
        let options = scripted_options();
        let mut other = options.clone();
        other.worker.program = PathBuf::from("/nonexistent/hwspec-worker");
        assert_ne!(cache_key(&options), cache_key(&other));
        assert_ne!(
            fingerprint(&options, &Prepared::new(&options, false))["worker"],
            fingerprint(&other, &Prepared::new(&other, false))["worker"]
        );
    }

    #[test]
    fn the_fingerprint_sees_this_boot_and_the_linker_cache() {
        let options = scripted_options();
        let parts = fingerprint(&options, &Prepared::new(&options, false));
        assert!(!parts["boot_id"].is_empty());
        for key in [
            "modules",
            "device_nodes",
            "opencl_icds",
            "vulkan_manifests",
            "libraries",
            "environment",
        ] {
            assert!(parts.contains_key(key), "{key}");
        }
        assert_eq!(
            parts,
            fingerprint(&options, &Prepared::new(&options, false)),
            "stable between calls"
        );
    }

    #[test]
    fn atomic_writes_leave_the_mode_asked_for() {
        let dir = scratch("atomic");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("features.txt");
        write_atomically(&path, b"a=1\n", 0o644).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        assert_eq!(fs::read(&path).unwrap(), b"a=1\n");
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
    fn threads_writing_one_entry_at_once_all_succeed() {
        let dir = scratch("concurrent-writes");
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
    fn threads_checking_one_directory_at_once_all_succeed() {
        let dir = scratch("concurrent");
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
