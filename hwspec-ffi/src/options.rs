//! `hwspec_options`: what to probe and how, as the CLI's probe flags.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hwspec_core::{BackendName, CachePolicy, Deadlines, Level, ProbeOptions, WorkerCommand};

use crate::error::{boundary, boundary_void, hwspec_result, Error};
use crate::ptr::{free_boxed, into_raw, try_mut, try_str, Out};

/// Where the worker is installed, fixed when the library is built.
const BUILT_IN_WORKER: &str = match option_env!("HWSPEC_WORKER_PATH") {
    Some(path) => path,
    None => "/usr/local/libexec/hwspec/hwspec-worker",
};

/// The environment variable that overrides [`BUILT_IN_WORKER`]. It names a program to run, so
/// as root it is honoured only with `hwspec_options_set_trust_env(options, true)`.
pub(crate) const WORKER_ENV: &str = "HWSPEC_WORKER";

/// Probe options (opaque). Made by `hwspec_options_new`, freed by `hwspec_options_free`.
#[derive(Debug, Clone)]
pub struct hwspec_options {
    /// The core's options, starting from its defaults: the CLI's. Their worker is decided at
    /// probe time (see `hwspec_options_set_worker`).
    core: ProbeOptions,
    /// The worker set by the caller, if any.
    worker: Option<PathBuf>,
}

impl Default for hwspec_options {
    fn default() -> hwspec_options {
        hwspec_options {
            core: ProbeOptions::new(WorkerCommand::hwspec(BUILT_IN_WORKER)),
            worker: None,
        }
    }
}

impl hwspec_options {
    /// The core's options, and whether `HWSPEC_WORKER` was withheld (as root without trust);
    /// fails only when a `HWSPEC_WORKER` that counts is not absolute.
    pub(crate) fn to_probe(&self) -> Result<(ProbeOptions, bool), Error> {
        let untrusted_root = hwspec_core::sys::is_root() && !self.core.trust_env;
        let withheld = self.worker.is_none()
            && untrusted_root
            && std::env::var_os(WORKER_ENV).is_some_and(|v| !v.is_empty());
        let program = match &self.worker {
            Some(path) => path.clone(),
            None if untrusted_root => PathBuf::from(BUILT_IN_WORKER),
            None => worker_from_env()?,
        };
        let mut options = self.core.clone();
        options.worker = WorkerCommand::hwspec(program);
        Ok((options, withheld))
    }

    /// The report cache's policy, which libhwspec's options always have.
    fn cache(&mut self) -> &mut CachePolicy {
        self.core.cache.get_or_insert(CachePolicy::DEFAULT)
    }
}

/// `HWSPEC_WORKER` when set and not empty, else the built-in path.
fn worker_from_env() -> Result<PathBuf, Error> {
    match std::env::var_os(WORKER_ENV).filter(|v| !v.is_empty()) {
        Some(path) if Path::new(&path).is_absolute() => Ok(PathBuf::from(path)),
        Some(path) => Err(Error::invalid(format!(
            "{WORKER_ENV} must be an absolute path, not {:?}",
            Path::new(&path)
        ))),
        None => Ok(PathBuf::from(BUILT_IN_WORKER)),
    }
}

/// The backends named in `list` (comma-separated, blanks around names ignored), in report
/// order; an empty list means all.
fn parse_backends(list: &str) -> Result<Vec<BackendName>, Error> {
    let mut wanted = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() && list.trim().is_empty() {
            continue;
        }
        let backend = BackendName::parse(name).ok_or_else(|| {
            let known: Vec<&str> = BackendName::ALL.iter().map(|b| b.as_str()).collect();
            Error::invalid(format!(
                "unknown backend {name:?}; backends are {}",
                known.join(", ")
            ))
        })?;
        wanted.push(backend);
    }
    if wanted.is_empty() {
        return Ok(BackendName::ALL.to_vec());
    }
    Ok(BackendName::ALL
        .iter()
        .copied()
        .filter(|b| wanted.contains(b))
        .collect())
}

/// Makes options with the defaults: all backends, level standard, 60 s in all, the report
/// cache used when at most 3600 s old, loader variables not trusted as root, the worker found
/// as `hwspec_options_set_worker` describes.
///
/// # Safety
///
/// `out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_new(out: *mut *mut hwspec_options) -> hwspec_result {
    boundary("hwspec_options_new", || {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out, "out") }?;
        out.write(into_raw(hwspec_options::default()));
        Ok(())
    })
}

/// Frees options made by `hwspec_options_new`. NULL is fine.
///
/// # Safety
///
/// `options` is NULL or came from `hwspec_options_new`, is not in use by another thread, and
/// is not used again.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_free(options: *mut hwspec_options) {
    boundary_void("hwspec_options_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { free_boxed(options) }
    })
}

/// Sets the backends to probe: comma-separated names (`"opencl,vulkan"`) among cpu, opencl,
/// vulkan, cuda, hip, level_zero; `""` means all. An unknown name is `HWSPEC_ERR_INVALID`.
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` not in use by another thread; `backends` is
/// NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_set_backends(
    options: *mut hwspec_options,
    backends: *const c_char,
) -> hwspec_result {
    boundary("hwspec_options_set_backends", || {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { try_mut(options, "options") }?;
        // SAFETY: forwarded from this function's contract.
        let list = unsafe { try_str(backends, "backends") }?;
        o.core.backends = parse_backends(list)?;
        Ok(())
    })
}

/// Sets how much to prove: `"quick"` (enumerate devices), `"standard"` (validate each device:
/// a small kernel, a render or a codec query, by backend) or `"full"` (every validation).
/// Anything else is `HWSPEC_ERR_INVALID`.
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` not in use by another thread; `level` is NULL
/// or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_set_level(
    options: *mut hwspec_options,
    level: *const c_char,
) -> hwspec_result {
    boundary("hwspec_options_set_level", || {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { try_mut(options, "options") }?;
        // SAFETY: forwarded from this function's contract.
        let name = unsafe { try_str(level, "level") }?;
        o.core.level = Level::parse(name).ok_or_else(|| {
            Error::invalid(format!(
                "unknown level {name:?}; levels are quick, standard, full"
            ))
        })?;
        Ok(())
    })
}

/// Sets the time each worker may take in all, in milliseconds (more than 0); each stage's
/// limit is capped at half of it, as the CLI's `--timeout` does.
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_set_timeout_ms(
    options: *mut hwspec_options,
    total_ms: u32,
) -> hwspec_result {
    boundary("hwspec_options_set_timeout_ms", || {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { try_mut(options, "options") }?;
        if total_ms == 0 {
            return Err(Error::invalid("the timeout must be more than 0 ms"));
        }
        o.core.deadlines = Deadlines::with_total(Duration::from_millis(u64::from(total_ms)));
        Ok(())
    })
}

/// Whether a cached report may answer. `false` probes now, as the CLI's `--fresh`; the new
/// report is still written to the cache.
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_set_use_cache(
    options: *mut hwspec_options,
    use_cache: bool,
) -> hwspec_result {
    boundary("hwspec_options_set_use_cache", || {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { try_mut(options, "options") }?;
        o.cache().read = use_cache;
        Ok(())
    })
}

/// Sets the age, in seconds, of the oldest cached report still used.
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_set_max_age_s(
    options: *mut hwspec_options,
    seconds: u32,
) -> hwspec_result {
    boundary("hwspec_options_set_max_age_s", || {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { try_mut(options, "options") }?;
        o.cache().max_age = Duration::from_secs(u64::from(seconds));
        Ok(())
    })
}

/// Whether to pass loader variables (`LD_*`, `VK_*`, `OCL_ICD_*`, ...) and the caller's
/// directories (`HOME`, `TMPDIR`, `XDG_*`, `PATH`) to workers when running as root, and to
/// honour `HWSPEC_WORKER`, as the CLI's `--trust-env`. Without root they are always passed.
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_set_trust_env(
    options: *mut hwspec_options,
    trust: bool,
) -> hwspec_result {
    boundary("hwspec_options_set_trust_env", || {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { try_mut(options, "options") }?;
        o.core.trust_env = trust;
        Ok(())
    })
}

/// Sets the worker executable (an absolute path; a relative one is `HWSPEC_ERR_INVALID`).
/// Without it the worker is `$HWSPEC_WORKER` (which must be absolute; as root only with
/// `hwspec_options_set_trust_env`, otherwise it is ignored and listed in the report's
/// `host.dropped_environment`), else the path built in. A worker that does not exist is no
/// error here: each backend's report then says why.
///
/// # Safety
///
/// `options` is NULL or a live `hwspec_options` not in use by another thread; `absolute_path`
/// is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hwspec_options_set_worker(
    options: *mut hwspec_options,
    absolute_path: *const c_char,
) -> hwspec_result {
    boundary("hwspec_options_set_worker", || {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { try_mut(options, "options") }?;
        // SAFETY: forwarded from this function's contract.
        let path = Path::new(unsafe { try_str(absolute_path, "absolute_path") }?);
        if !path.is_absolute() {
            return Err(Error::invalid(format!(
                "the worker must be an absolute path, not {path:?}"
            )));
        }
        o.worker = Some(path.to_owned());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_come_in_report_order_and_empty_means_all() {
        assert_eq!(
            parse_backends(" vulkan ,cpu").unwrap(),
            [BackendName::Cpu, BackendName::Vulkan]
        );
        assert_eq!(parse_backends("").unwrap(), BackendName::ALL);
        assert_eq!(parse_backends("  ").unwrap(), BackendName::ALL);
        assert!(parse_backends("cpu,").is_err());
        assert!(parse_backends("metal")
            .unwrap_err()
            .message
            .contains("level_zero"));
    }

    #[test]
    fn the_built_in_worker_is_absolute() {
        assert!(Path::new(BUILT_IN_WORKER).is_absolute());
    }
}
