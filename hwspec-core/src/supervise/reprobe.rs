//! Re-probing a backend one driver at a time: when the worker of a runtime that loads several
//! drivers (OpenCL ICDs, Vulkan manifests) failed as a whole, each driver is probed alone so
//! the culprit is named and the healthy drivers still count (design §7).

use std::ffi::OsString;
use std::time::Instant;

use super::workers::{run_all, Job, Run, Spawn};
use crate::backends::{self, Drivers};
use crate::model::{BackendName, BackendReport, Reason, ReasonCode, Status};

/// The drivers of `backend` as a worker with environment `env` would load them.
pub(crate) fn drivers_of(backend: BackendName, env: &[(OsString, OsString)]) -> Option<Drivers> {
    let var = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string_lossy().into_owned())
    };
    backends::get(backend).drivers(&var)
}

/// Re-probes a backend one driver at a time after the whole-runtime worker failed, so the
/// culprit is named and the healthy drivers' devices are still reported (design §7). Each
/// driver gets its own worker, all in parallel and all within the probe's hard deadline.
pub(super) fn one_driver_at_a_time(
    failed: Run,
    spawn: &Spawn<'_>,
    drivers: Drivers,
    transient: &mut Vec<String>,
) -> BackendReport {
    let name = failed.name;
    let started = failed.started;
    transient.extend(failed.transient());
    let mut original = failed.into_report();
    let failure = original.reason.clone();
    let describe = |reason: &Option<Reason>| {
        reason
            .as_ref()
            .map_or_else(String::new, |r| format!("{}: {}", r.code, r.message))
    };
    if drivers.files.len() < 2 {
        if let Some(file) = drivers.files.first() {
            let blame = format!(
                "{} {}: {}",
                drivers.label,
                file.display(),
                describe(&failure)
            );
            original.warnings.push(blame);
        }
        return original;
    }
    if Instant::now() >= spawn.hard_deadline {
        original.warnings.push(format!(
            "no time was left to probe the {} {}s one at a time",
            drivers.files.len(),
            drivers.label
        ));
        return original;
    }

    let jobs: Vec<Job> = drivers
        .files
        .iter()
        .map(|file| {
            let only = (drivers.only.into(), Some(file.as_os_str().to_owned()));
            let cleared = drivers.cleared.iter().map(|k| (OsString::from(k), None));
            (name, std::iter::once(only).chain(cleared).collect())
        })
        .collect();
    let alone: Vec<BackendReport> = run_all(spawn, &jobs)
        .into_iter()
        .map(|run| {
            transient.extend(run.transient());
            run.into_report()
        })
        .collect();

    let mut merged = BackendReport::new(name, Status::Unusable, failure.clone());
    merged.properties.insert(
        "isolation".into(),
        format!(
            "the probe of all drivers together failed ({}); each of the {} {}s was probed alone",
            describe(&failure),
            drivers.files.len(),
            drivers.label
        ),
    );
    for (file, mut report) in drivers.files.iter().zip(alone) {
        // A worker that failed is the driver's fault whatever it listed first; any other
        // failure is only when the driver gave no device (its devices carry their reasons).
        let worker_failed = report.reason.as_ref().is_some_and(|r| {
            matches!(
                r.code,
                ReasonCode::Timeout
                    | ReasonCode::Crashed
                    | ReasonCode::BadOutput
                    | ReasonCode::PartialOutput
                    | ReasonCode::WorkerFailed
                    | ReasonCode::MemoryLimit
            )
        });
        let culprit = worker_failed
            || report.devices.is_empty()
                && report
                    .reason
                    .as_ref()
                    .is_some_and(|r| r.code == ReasonCode::DriverError);
        if culprit {
            let blame = format!(
                "{} {}: {}",
                drivers.label,
                file.display(),
                describe(&report.reason)
            );
            merged.warnings.push(blame);
        }
        if worker_failed {
            // Devices the driver listed before its worker failed were never validated: each
            // says why, since the merged backend's state comes from its best device.
            for device in &mut report.devices {
                if device.status == Status::Enumerated && device.reason.is_none() {
                    device.reason.clone_from(&report.reason);
                }
            }
        }
        merged.library = merged.library.or(report.library);
        merged.runtime_version = merged.runtime_version.or(report.runtime_version);
        merged.devices.extend(report.devices);
        for warning in report.warnings {
            if !merged.warnings.contains(&warning) {
                merged.warnings.push(warning);
            }
        }
    }
    merged.settle_status();
    merged.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    merged
}
