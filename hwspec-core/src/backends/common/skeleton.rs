//! The probe skeleton every kernel backend shares once its devices are enumerated: settle the
//! backend's state, hand the supervisor a partial report (so a crash or hang while a kernel
//! runs still names the devices found), stop there at level `quick`, otherwise enter the kernel
//! stage and validate each device that was enumerated, then settle again.
//!
//! A backend's probe reads:
//!
//! ```ignore
//! let _one_at_a_time = skeleton::exclusive(&ONE_PROBE_AT_A_TIME);
//! // load, init, enumerate into `report`, keeping one target per device
//! if !skeleton::enter_kernel_stage(&mut report, level, progress) {
//!     return report;
//! }
//! let problems = pending.wait();
//! skeleton::validate_each(&mut report, targets, |target, device| {
//!     validate::device(target, device, &problems)
//! });
//! report
//! ```

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::model::{BackendReport, Device, Level, Status};
use crate::protocol::{Progress, Stage};

/// Takes a backend's one-probe-at-a-time lock, held for the whole of a probe. Runtimes keep
/// per-process state that two threads must not initialise at once (PoCL under ocl-icd reports
/// no device to one thread or crashes while another enumerates; HIP keeps a current device per
/// thread); a worker probes once, but in-process callers (tests, benches) may probe from
/// several threads. A probe that panicked poisons the lock but leaves no runtime state
/// half-made that the next probe could trip on, so the poison is ignored.
pub(crate) fn exclusive(lock: &'static Mutex<()>) -> MutexGuard<'static, ()> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// After enumeration: settles the report's state and, when there are devices, sends it as the
/// partial report. Returns whether the probe goes on to validation (a level above `quick`),
/// having entered [`Stage::Kernel`]; otherwise the report is final as it stands.
pub(crate) fn enter_kernel_stage(
    report: &mut BackendReport,
    level: Level,
    progress: &mut dyn Progress,
) -> bool {
    if report.devices.is_empty() {
        return false;
    }
    report.settle_status();
    progress.partial(report);
    if level == Level::Quick {
        return false;
    }
    progress.stage(Stage::Kernel);
    true
}

/// Validates, with `validate`, each device still `enumerated`, paired in order with its entry
/// of `targets` (what the backend needs to run a kernel on it), then settles the report.
pub(crate) fn validate_each<T>(
    report: &mut BackendReport,
    targets: impl IntoIterator<Item = T>,
    mut validate: impl FnMut(T, &mut Device),
) {
    for (device, target) in report.devices.iter_mut().zip(targets) {
        if device.status == Status::Enumerated {
            validate(target, device);
        }
    }
    report.settle_status();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BackendName, DeviceKind, ReasonCode};
    use crate::protocol::Recorder;

    fn report(devices: &[Status]) -> BackendReport {
        let mut report = BackendReport::new(BackendName::Opencl, Status::Absent, None);
        for (i, &status) in devices.iter().enumerate() {
            let mut device = Device::new(format!("d{i}"), "v", DeviceKind::Gpu);
            device.status = status;
            report.devices.push(device);
        }
        report
    }

    #[test]
    fn quick_stops_after_the_partial_report_and_no_device_sends_none() {
        let mut recorder = Recorder::default();
        let mut quick = report(&[Status::Enumerated]);
        assert!(!enter_kernel_stage(&mut quick, Level::Quick, &mut recorder));
        assert_eq!(quick.status, Status::Enumerated);
        assert_eq!(recorder.partials.len(), 1);
        assert!(recorder.stages.is_empty());

        let mut none = report(&[]);
        assert!(!enter_kernel_stage(&mut none, Level::Full, &mut recorder));
        assert_eq!(recorder.partials.len(), 1);
    }

    #[test]
    fn only_enumerated_devices_are_validated_and_the_state_settles() {
        let mut recorder = Recorder::default();
        let mut standard = report(&[Status::Unusable, Status::Enumerated, Status::Enumerated]);
        assert!(enter_kernel_stage(
            &mut standard,
            Level::Standard,
            &mut recorder
        ));
        assert_eq!(recorder.stages, [Stage::Kernel]);
        let mut seen = Vec::new();
        validate_each(&mut standard, 0.., |target, device| {
            seen.push(target);
            if target == 1 {
                device.status = Status::Validated;
            } else {
                device.fail(ReasonCode::WrongResult, "saxpy differs");
            }
        });
        assert_eq!(seen, [1, 2]);
        assert_eq!(standard.status, Status::Validated);
    }
}
