//! The report cache: answers `hwspec check` without probing while nothing a probe depends on
//! has changed.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::backends;
use crate::driver_dirs::user_cache_home;
use crate::files::{ensure_private_dir, lock_entry, read_entry, stable_hash, write_entry};
use crate::model::{BackendName, CacheInfo, Report, SCHEMA_VERSION};
use crate::options::{CachePolicy, ProbeOptions};
use crate::supervise::{self, process, Prepared};
use crate::sys;

/// Largest OpenCL ICD file or Vulkan manifest read for the fingerprint: both are a few lines.
const DRIVER_FILE_BYTES: u64 = 1 << 20;

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
///
/// Callers asking at once share one probe: whoever misses the cache takes the entry's lock
/// (see [`lock_entry`]) and probes; the others wait for the lock, then answer with the report
/// it wrote. A waiter asking for a fresh report (`policy.read` false) takes only one whose
/// probe began after it asked. A waiter gives up on the lock after a probe's whole deadline
/// and probes by itself; so does everyone after a probe whose report is not cached.
pub fn probe_cached(options: &ProbeOptions, policy: CachePolicy) -> Report {
    probe_cached_in(report_cache_dir(), options, policy)
}

fn probe_cached_in(dir: Option<PathBuf>, options: &ProbeOptions, policy: CachePolicy) -> Report {
    let asked = unix_now();
    let dir = dir.filter(|dir| ensure_private_dir(dir).is_ok());
    let name = format!("report-{:016x}.json", cache_key(options));
    let file = dir.as_ref().map(|d| d.join(&name).display().to_string());
    // The driver cache is proven to take a real write only when a probe will use it: a cached
    // answer (the common `hwspec check`) does not pay for the write.
    let fingerprint = fingerprint(options, &Prepared::new(options, false));
    let young = |probed_at: f64| {
        let age = unix_now() - probed_at;
        (0.0..=policy.max_age.as_secs_f64()).contains(&age)
    };
    let cached = |accept: &dyn Fn(f64) -> bool| {
        let dir = dir.as_deref()?;
        let entry = serde_json::from_slice::<CachedReport>(&read_entry(dir, &name)?).ok()?;
        let holds = entry.fingerprint == fingerprint && entry.report.schema == SCHEMA_VERSION;
        (holds && accept(entry.probed_at)).then(|| {
            let mut report = entry.report;
            report.cache = Some(CacheInfo {
                hit: true,
                age_seconds: unix_now() - entry.probed_at,
                file: file.clone(),
                not_stored: None,
            });
            report
        })
    };
    if policy.read {
        if let Some(report) = cached(&young) {
            return report;
        }
    }
    // A probe takes at most its total deadline, re-probes included, and a little to start.
    let wait = options.deadlines.total + Duration::from_secs(2);
    let _lock = dir
        .as_deref()
        .and_then(|dir| lock_entry(dir, &name, Instant::now() + wait));
    if let Some(report) =
        cached(&|probed_at| (policy.read && young(probed_at)) || probed_at >= asked)
    {
        return report;
    }
    let probed_at = unix_now();
    let probed = supervise::probe_prepared(options, &Prepared::new(options, true));
    let mut report = probed.report;
    let not_stored = if probed.transient.is_empty() {
        None
    } else {
        Some(probed.transient.join("; "))
    };
    if let (Some(dir), None) = (&dir, &not_stored) {
        let entry = CachedReport {
            fingerprint,
            probed_at,
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
/// the boot, kernel driver modules, device nodes, the driver files the workers' loaders would
/// read (OpenCL ICDs, Vulkan manifests: see [`Backend::drivers`](backends::Backend::drivers)), the dynamic linker's cache (rewritten by every library install), known
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
    for &backend in BackendName::ALL {
        if let Some(drivers) = supervise::drivers_of(backend, &env.vars) {
            let files: Vec<String> = drivers
                .files
                .iter()
                .map(|file| format!("{} {}", describe_file(file), hash_file_contents(file)))
                .collect();
            put(
                &format!("{backend}_drivers"),
                format!("{:016x}", hash_strings(&files)),
            );
        }
    }

    let libraries: Vec<String> = std::iter::once("/etc/ld.so.cache")
        .chain(backends::all().flat_map(|b| b.libraries_outside_linker_cache().iter().copied()))
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
    use crate::testing::TempDir;

    /// Options whose one worker is a shell script printing a fixed CPU report.
    fn scripted_options() -> ProbeOptions {
        counted_options(Path::new("/dev/null"))
    }

    /// [`scripted_options`] whose worker adds a line to `starts` each time it starts. The
    /// backend is one the parent never decides without a worker.
    fn counted_options(starts: &Path) -> ProbeOptions {
        use crate::model::{BackendName, BackendReport, ReasonCode};
        use crate::protocol::WorkerMessage;
        let line = serde_json::to_string(&WorkerMessage::Report(BackendReport::absent(
            BackendName::Opencl,
            ReasonCode::LibraryNotFound,
            "scripted",
        )))
        .unwrap();
        let mut options = ProbeOptions::new(crate::options::WorkerCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec![
                "-c".into(),
                format!("echo started >> '{}'; echo '{line}'", starts.display()).into(),
            ],
        });
        options.backends = vec![BackendName::Opencl];
        options.driver_cache = Some(std::env::temp_dir().join("hwspec-cache-test-driver"));
        options
    }

    #[test]
    fn callers_asking_at_once_share_one_probe() {
        let tmp = TempDir::new("report-cache-shared");
        let dir = tmp.path().join("reports");
        let starts = tmp.path().join("starts");
        let options = counted_options(&starts);
        let reports: Vec<Report> = std::thread::scope(|scope| {
            let callers: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        probe_cached_in(Some(dir.clone()), &options, CachePolicy::DEFAULT)
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert_eq!(
            fs::read_to_string(&starts).unwrap(),
            "started\n",
            "one worker start"
        );
        let misses = reports
            .iter()
            .filter(|r| !r.cache.as_ref().unwrap().hit)
            .count();
        assert_eq!(misses, 1);
        assert!(reports.iter().all(|r| r.backends == reports[0].backends));

        // A caller asking for a fresh report waits for the lock but probes again: the report
        // there was probed before it asked.
        let fresh = CachePolicy {
            read: false,
            ..CachePolicy::DEFAULT
        };
        let again = probe_cached_in(Some(dir.clone()), &options, fresh);
        assert!(!again.cache.unwrap().hit);
        assert_eq!(fs::read_to_string(&starts).unwrap(), "started\nstarted\n");
    }

    #[test]
    fn a_lock_held_elsewhere_delays_a_probe_only_until_the_deadline() {
        let tmp = TempDir::new("report-cache-held");
        let dir = tmp.path().join("reports");
        let starts = tmp.path().join("starts");
        let mut options = counted_options(&starts);
        options.deadlines = crate::options::Deadlines::with_total(Duration::from_millis(200));
        ensure_private_dir(&dir).unwrap();
        let name = format!("report-{:016x}.json", cache_key(&options));
        let held = lock_entry(&dir, &name, Instant::now()).expect("an unheld lock is taken");
        let report = probe_cached_in(Some(dir.clone()), &options, CachePolicy::DEFAULT);
        assert!(!report.cache.unwrap().hit);
        assert_eq!(fs::read_to_string(&starts).unwrap(), "started\n");
        drop(held);
        // Released, and a lock file left behind blocks no one.
        assert!(lock_entry(&dir, &name, Instant::now()).is_some());
    }

    #[test]
    fn a_lock_file_that_is_not_this_users_regular_file_is_not_used() {
        let tmp = TempDir::new("report-cache-planted");
        let dir = tmp.path().join("reports");
        ensure_private_dir(&dir).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("a.json.lock")).unwrap();
        assert!(lock_entry(&dir, "a.json", Instant::now()).is_none());
        assert!(std::process::Command::new("mkfifo")
            .arg(dir.join("b.json.lock"))
            .status()
            .unwrap()
            .success());
        assert!(lock_entry(&dir, "b.json", Instant::now()).is_none());
        // Only root can give a file away; another user's file in a private directory is
        // what a foreign lock file would be.
        if sys::is_root() {
            let foreign = dir.join("c.json.lock");
            fs::write(&foreign, b"").unwrap();
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
            assert!(lock_entry(&dir, "c.json", Instant::now()).is_none());
        }
    }

    #[test]
    fn a_cached_report_is_used_until_too_old_or_refused() {
        let tmp = TempDir::new("report-cache-reports");
        let dir = tmp.path().join("reports");
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
        let tmp = TempDir::new("report-cache-stale");
        let dir = tmp.path().join("stale");
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
            "opencl_drivers",
            "vulkan_drivers",
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
}
