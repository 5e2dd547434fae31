//! The parent side of a probe: one worker process per backend, in parallel, under deadlines.
//!
//! Design §3. The calling process never loads a vendor library. Each worker is started by exec
//! (`std::process::Command`, no `pre_exec`) in its own process group with a cleaned environment,
//! and speaks the line protocol of [`crate::protocol`] on its stdout. Whatever a worker does —
//! hang, crash, print garbage, stop halfway, leave a grandchild holding the pipe — becomes a
//! status and a reason in its backend's report, and the probe returns in bounded time.
//!
//! `workers` starts and supervises workers; [`environment`] decides what environment they
//! get; `reprobe` probes a backend one driver at a time when a whole runtime failed;
//! `absence` tells, without a worker, that a backend's runtime is not installed; `process`
//! holds the system calls that keep workers from outliving the caller.

mod absence;
pub mod environment;
pub(crate) mod process;
mod reprobe;
mod workers;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

use self::absence::{LoaderFiles, WorkerLoader};
use self::environment::{Places, Trust, WorkerEnvironment};
use self::workers::{Job, Spawn};
use crate::backends;
use crate::caps;
use crate::driver_dirs;
use crate::model::{BackendName, BackendReport, HostInfo, Report, SCHEMA_VERSION};
use crate::options::ProbeOptions;
use crate::protocol;
use crate::sys;

pub use self::process::{become_child_subreaper, kill_descendants};
pub(crate) use self::reprobe::drivers_of;

/// What a probe decided before starting any worker: where driver caches go, and the
/// environment every worker gets. The report cache fingerprints the same environment.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) driver_cache: Option<PathBuf>,
    pub(crate) environment: WorkerEnvironment,
}

impl Prepared {
    /// The driver cache and worker environment for `options` in this process; the driver
    /// cache is proven to take a write of real size only when `for_probe`.
    pub(crate) fn new(options: &ProbeOptions, for_probe: bool) -> Prepared {
        let preferred = options
            .driver_cache
            .clone()
            .or_else(driver_dirs::default_driver_cache_dir);
        let driver_cache = driver_dirs::chosen_driver_cache(preferred.as_deref(), for_probe);
        let trust = Trust::for_this_process(options.trust_env);
        // As root without trust, workers whose caller's home another user controls get a home
        // of hwspec's own instead: no per-user manifest, layer or configuration directory.
        let root_home = driver_cache.as_ref().map(|dir| dir.join("home"));
        let environment = WorkerEnvironment::from_vars(
            std::env::vars_os(),
            Places {
                driver_cache: driver_cache.as_deref(),
                root_home: root_home.as_deref(),
            },
            trust,
        );
        Prepared {
            driver_cache,
            environment,
        }
    }
}

/// A probe's report, and what in it may not hold next time (see [`Probed::transient`]).
#[derive(Debug)]
pub(crate) struct Probed {
    pub(crate) report: Report,
    /// Why the report must not be cached: each failure that says more about this moment than
    /// about the machine (a timeout, a worker that could not be started, a memory limit, a
    /// worker killed from outside). Empty when every backend's answer is its own.
    pub(crate) transient: Vec<String>,
}

/// Probes every backend of `options` in its own worker process and reduces the results to a
/// capability set. Never fails: a backend that could not be probed says why in its report.
pub fn probe(options: &ProbeOptions) -> Report {
    probe_prepared(options, &Prepared::new(options, true)).report
}

/// [`probe`] with the driver cache and environment already decided.
pub(crate) fn probe_prepared(options: &ProbeOptions, prepared: &Prepared) -> Probed {
    let started = Instant::now();
    let parent = std::process::id().to_string();
    let memory_limit = options.memory_limit.map(|l| l.to_string());
    let mut guard_env = vec![(OsString::from(protocol::PARENT_ENV), OsString::from(parent))];
    if let Some(limit) = memory_limit {
        guard_env.push((protocol::MEMORY_LIMIT_ENV.into(), limit.into()));
    }
    let spawn = Spawn {
        worker: &options.worker,
        level: options.level,
        deadlines: options.deadlines,
        hard_deadline: started + options.deadlines.total,
        env: &prepared.environment.vars,
        guard_env: &guard_env,
    };
    // Read once, and only when a backend asked for can be decided without a worker.
    let mut loader: Option<Option<WorkerLoader>> = None;
    let mut decided: Vec<Option<BackendReport>> = options
        .backends
        .iter()
        .map(|&name| absent_without_worker(name, &spawn, &mut loader))
        .collect();
    let jobs: Vec<Job> = options
        .backends
        .iter()
        .zip(&decided)
        .filter(|(_, decided)| decided.is_none())
        .map(|(&name, _)| (name, Vec::new()))
        .collect();
    let runs = workers::run_all(&spawn, &jobs);

    let mut transient = Vec::new();
    let mut probed = runs
        .into_iter()
        .map(|run| match reprobe::drivers_of(run.name, spawn.env) {
            Some(drivers) if run.failed_as_a_whole() => {
                reprobe::one_driver_at_a_time(run, &spawn, drivers, &mut transient)
            }
            _ => {
                transient.extend(run.transient());
                run.into_report()
            }
        });
    // In the order asked, each report from the worker or from the parent.
    let backends: Vec<BackendReport> = decided
        .iter_mut()
        .filter_map(|decided| decided.take().or_else(|| probed.next()))
        .collect();
    let report = Report {
        schema: SCHEMA_VERSION,
        hwspec_version: env!("CARGO_PKG_VERSION").to_owned(),
        level: options.level,
        capabilities: caps::reduce(options.level, &backends),
        backends,
        host: HostInfo {
            kernel: sys::kernel(),
            architecture: std::env::consts::ARCH.to_owned(),
            root: sys::is_root(),
            driver_cache: prepared
                .driver_cache
                .as_ref()
                .map(|p| p.display().to_string()),
            environment: prepared.environment.reported.clone(),
            dropped_environment: prepared.environment.dropped.clone(),
        },
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
        cache: None,
        overrides: BTreeMap::new(),
    };
    Probed { report, transient }
}

/// `name`'s absent report when the dynamic loader of its worker provably could find none of
/// the libraries it opens first ([`absence`]), so that no worker need start; `None` when a
/// worker must find out.
fn absent_without_worker(
    name: BackendName,
    spawn: &Spawn<'_>,
    loader: &mut Option<Option<WorkerLoader>>,
) -> Option<BackendReport> {
    #[cfg(feature = "fault-injection")]
    if protocol::fault_asked_of(name).is_some() {
        // The conformance suite's fault is injected into the worker: it must start.
        return None;
    }
    let started = Instant::now();
    let runtime = backends::get(name).runtime()?;
    let loader = loader.get_or_insert_with(|| {
        let files = LoaderFiles::of_this_system()?;
        WorkerLoader::of(spawn.env, &spawn.worker.program, &files)
    });
    let why = loader.as_ref()?.none_findable(&runtime.libraries)?;
    let mut report = (runtime.absent)(&why);
    report.properties.insert(
        "worker".into(),
        "not started: the dynamic loader could find none of its libraries".into(),
    );
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Some(report)
}
