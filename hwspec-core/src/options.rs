//! What to probe and how: the options both front ends fill in, with one set of defaults.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::{BackendName, Level};
use crate::protocol::{self, Stage};

/// How long a worker may take, stage by stage and in all. Generous by default: `cuInit` alone
/// can take seconds on a large machine with persistence mode off, and a first PoCL kernel build
/// takes a second or more; the stage limits leave room, inside the total, for the OpenCL ICDs to
/// be probed one at a time after a loader-wide failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From the worker's start to its final report; also bounds any re-probe it leads to.
    pub total: Duration,
    /// Loading the runtime library (counted from the worker's start).
    pub load: Duration,
    /// Initialising the runtime.
    pub init: Duration,
    /// Listing devices.
    pub enumerate: Duration,
    /// Building and running validation kernels.
    pub kernel: Duration,
}

impl Deadlines {
    /// The defaults: 60 s in all; load 10 s, init 20 s, enumerate 10 s, kernel 20 s.
    pub const DEFAULT: Deadlines = Deadlines {
        total: Duration::from_secs(60),
        load: Duration::from_secs(10),
        init: Duration::from_secs(20),
        enumerate: Duration::from_secs(10),
        kernel: Duration::from_secs(20),
    };

    /// The defaults with `total` as the total, each stage's default capped at half of it, so
    /// that a stage that fails still leaves time to re-probe in smaller pieces.
    pub fn with_total(total: Duration) -> Deadlines {
        let cap = |d: Duration| d.min(total / 2);
        let d = Deadlines::DEFAULT;
        Deadlines {
            total,
            load: cap(d.load),
            init: cap(d.init),
            enumerate: cap(d.enumerate),
            kernel: cap(d.kernel),
        }
    }

    /// The limit of `stage`.
    pub fn stage(&self, stage: Stage) -> Duration {
        match stage {
            Stage::Load => self.load,
            Stage::Init => self.init,
            Stage::Enumerate => self.enumerate,
            Stage::Kernel => self.kernel,
        }
    }

    /// Sets the limit of `stage`.
    pub fn set_stage(&mut self, stage: Stage, limit: Duration) {
        match stage {
            Stage::Load => self.load = limit,
            Stage::Init => self.init = limit,
            Stage::Enumerate => self.enumerate = limit,
            Stage::Kernel => self.kernel = limit,
        }
    }
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines::DEFAULT
    }
}

/// The default memory limit of a worker: anonymous resident memory (what a leaking driver
/// grows). Far above what any runtime needs to list its devices and run a small kernel, yet it
/// stops a runaway driver long before it takes the machine. Virtual size is not limited: CUDA
/// reserves address space far beyond physical memory and fails under `RLIMIT_AS`.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;

/// The program (and leading arguments) that runs a worker; the backend name and level are
/// appended. The CLI passes its own executable and its hidden worker subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// Absolute path of the executable.
    pub program: PathBuf,
    /// Arguments before the backend name.
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// `program` started as a worker ([`protocol::WORKER_ARG`] before the backend and level):
    /// the `hwspec` executable, `hwspec-worker`, or any program that calls
    /// [`worker::run_if_asked`](crate::worker::run_if_asked) first thing.
    pub fn hwspec(program: impl Into<PathBuf>) -> WorkerCommand {
        WorkerCommand {
            program: program.into(),
            args: vec![protocol::WORKER_ARG.into()],
        }
    }
}

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Backends to probe, in report order.
    pub backends: Vec<BackendName>,
    /// How much to prove about each device.
    pub level: Level,
    /// How long each worker may take.
    pub deadlines: Deadlines,
    /// How to start a worker.
    pub worker: WorkerCommand,
    /// Driver cache directory to use instead of the default one.
    pub driver_cache: Option<PathBuf>,
    /// Pass loader variables (`LD_*`, `VK_*`, `OCL_ICD_*`, ...) to workers even as root.
    pub trust_env: bool,
    /// Each worker's limit on anonymous resident memory, in bytes; `None` for no limit.
    pub memory_limit: Option<u64>,
    /// How the report cache may answer; `None` probes without it, reading and writing nothing
    /// (and then callers asking at once each probe).
    pub cache: Option<CachePolicy>,
    /// Apply the `HWSPEC_OVERRIDE_*` variables of this process's environment to the report
    /// (see [`spec::apply_overrides`](crate::spec::apply_overrides)).
    pub overrides: bool,
}

impl ProbeOptions {
    /// The defaults every front end starts from: every backend at level `standard`, the
    /// default deadlines and memory limit, hwspec's own driver cache, loader variables not
    /// trusted as root, the report cache used up to an hour old, overrides applied.
    pub fn new(worker: WorkerCommand) -> ProbeOptions {
        ProbeOptions {
            backends: BackendName::ALL.to_vec(),
            level: Level::Standard,
            deadlines: Deadlines::DEFAULT,
            worker,
            driver_cache: None,
            trust_env: false,
            memory_limit: Some(DEFAULT_MEMORY_LIMIT),
            cache: Some(CachePolicy::DEFAULT),
            overrides: true,
        }
    }
}

/// How the report cache may answer.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_total_caps_the_default_stage_limits_at_half() {
        let d = Deadlines::with_total(Duration::from_secs(5));
        assert_eq!(d.total, Duration::from_secs(5));
        assert_eq!(d.init, Duration::from_millis(2500));
        assert_eq!(d.load, Duration::from_millis(2500));
        let long = Deadlines::with_total(Duration::from_secs(600));
        assert_eq!(long.init, Deadlines::DEFAULT.init);
    }
}
