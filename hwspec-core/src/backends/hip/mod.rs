//! AMD ROCm through the HIP runtime: every device the runtime offers, with SAXPY (and SGEMM at
//! level `full`) compiled at run time by hiprtc for the device's own gfx target and launched
//! with `hipModuleLaunchKernel`.
//!
//! The layers (design §8): [`sys`] declares the C ABI of libamdhip64, hiprtc and the code
//! object manager and opens them; [`api`] wraps each call in a `Result` and owns device objects;
//! [`facts`] reads versions, gfx targets, `hipDeviceProp_t` bytes and device-node evidence;
//! [`validate`] launches the kernels. This module turns them into a report.
//!
//! gcnArchName has no `hipDeviceGetAttribute` equivalent, so it is read from
//! `hipDeviceProp_t`, whose layout changed in ROCm 6 (`hipGetDevicePropertiesR0600`). The
//! layout is picked by which entry point the library exports and then checked against
//! hipDeviceGetName and hipDeviceTotalMem before anything else in it is believed.

mod api;
mod facts;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::Mutex;

use self::api::{CompileFailure, Hip, HipError, Hiprtc};
use self::facts::Evidence;
use crate::backends::common::validation::{Inputs, Pending, Problems};
use crate::backends::common::{capabilities, skeleton, KernelCache, LaunchError, LoadError};
use crate::backends::{Backend, Variables};
use crate::kernels::build_log_excerpt;
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

/// Probes AMD GPUs through the HIP runtime.
#[derive(Debug)]
pub struct HipBackend;

impl Backend for HipBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(sys::HIP_SONAMES, sys::HIPRTC_SONAMES, level, progress)
    }

    /// The HIP runtime's version as `rocm`, and each proven device's gfx target.
    fn capabilities(&self, report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        let archs = proven.iter().filter_map(|d| d.arch.as_deref());
        std::iter::once(capabilities::runtime("rocm", report))
            .chain(archs.map(|arch| Capability::flag(format!("rocm-{arch}"))))
            .collect()
    }

    fn variables(&self) -> Variables {
        Variables {
            loaders: &["ROCM_"],
            runtime: &["HIP_", "ROCR_", "HSA_"],
            selectors: &["HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"],
        }
    }
}

/// Held for the whole of a probe ([`skeleton::exclusive`]): the HIP runtime keeps a current
/// device per thread and global state per process.
static ONE_PROBE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Probes with `sonames` for the runtime and `hiprtc_sonames` for ROCm 6+'s hiprtc; tests name
/// missing ones.
fn probe_with(
    sonames: &[&'static str],
    hiprtc_sonames: &[&'static str],
    level: Level,
    progress: &mut dyn Progress,
) -> BackendReport {
    let _one_at_a_time = skeleton::exclusive(&ONE_PROBE_AT_A_TIME);
    progress.stage(Stage::Load);
    let hip = match Hip::load(sonames) {
        Ok(hip) => hip,
        Err(error) => return load_error_report(&error),
    };
    let mut report = BackendReport::new(BackendName::Hip, Status::Enumerated, None);
    report.library = crate::sys::loaded_library("libamdhip64.so");
    report
        .properties
        .insert("soname".into(), hip.soname().to_owned());
    let runtime = hip.runtime_version().ok();
    report.runtime_version = runtime.and_then(facts::format_hip_version);
    let driver_version = hip
        .driver_version()
        .ok()
        .and_then(facts::format_hip_version);

    progress.stage(Stage::Init);
    let evidence = Evidence::gather();
    report.properties.extend(evidence.properties());
    let init = hip.init();
    let counted = hip.device_count();
    // Debian's ROCm 5.2 answers hipInit with hipErrorInvalidDevice when there is no GPU, so
    // hipInit's error alone does not decide: the device count does.
    let no_device = match &counted {
        Ok(count) => *count <= 0,
        Err(error) => error.code == i64::from(sys::HIP_ERROR_NO_DEVICE),
    };
    if no_device {
        let count_said = match &counted {
            Ok(count) => format!("hipGetDeviceCount reports {count} devices"),
            Err(error) => error.to_string(),
        };
        let said = match &init {
            Ok(()) => count_said,
            Err(error) => format!("{error}; {count_said}"),
        };
        let (status, code, message) = facts::no_device_verdict(&evidence, &said);
        return with_reason(report, status, code, message);
    }
    let count = match (init, counted) {
        (Ok(()), Ok(count)) => count,
        (Err(error), _) | (_, Err(error)) => {
            let message = error.to_string();
            return with_reason(report, Status::Unusable, ReasonCode::DriverError, message);
        }
    };

    progress.stage(Stage::Enumerate);
    let mut targets = Vec::new();
    for index in 0..count {
        let (device, target) = describe(
            &hip,
            index,
            report.runtime_version.as_deref(),
            driver_version.as_deref(),
        );
        report.devices.push(device);
        targets.push(target);
    }
    if !skeleton::enter_kernel_stage(&mut report, level, progress) {
        return report;
    }
    // The references are made while hiprtc and the code object manager are opened.
    let pending = Pending::start(level, Inputs::Copied);
    let rtc = Hiprtc::load(&hip, runtime.map_or(0, facts::hip_major), hiprtc_sonames);
    if let Ok(rtc) = &rtc {
        report
            .properties
            .insert("hiprtc".into(), rtc.library_name().to_owned());
    }
    let known_isas = rtc.as_ref().ok().and_then(|_| api::compiler_isa_names());
    let problems = pending.wait();
    let runtime_text = report.runtime_version.clone().unwrap_or_default();
    skeleton::validate_each(
        &mut report,
        (0..).zip(targets),
        |(index, target), device| {
            let Some(target) = target else { return };
            let rtc = match &rtc {
                Ok(rtc) => rtc,
                Err(error) => {
                    fail(
                        device,
                        Status::Unusable,
                        ReasonCode::LoadFailed,
                        format!("hiprtc: {error}"),
                    );
                    return;
                }
            };
            let job = Job {
                hip: &hip,
                rtc,
                index,
                target: &target,
                runtime: &runtime_text,
                problems: &problems,
            };
            job.validate(device, known_isas.as_deref());
        },
    );
    report
}

/// The report for a runtime library that could not be used.
fn load_error_report(error: &LoadError) -> BackendReport {
    error.report(BackendName::Hip, "no HIP runtime", "libamdhip64.so")
}

fn with_reason(
    mut report: BackendReport,
    status: Status,
    code: ReasonCode,
    message: String,
) -> BackendReport {
    report.status = status;
    report.reason = Some(Reason::new(code, message));
    report
}

/// Everything the report says about device `index`, and the gfx target id to compile for
/// (`None` when the device cannot be validated; its reason then says why).
fn describe(
    hip: &Hip,
    index: i32,
    runtime_version: Option<&str>,
    driver_version: Option<&str>,
) -> (Device, Option<String>) {
    let identity = || -> Result<(String, u64), HipError> {
        Ok((hip.device_name(index)?, hip.device_total_mem(index)?))
    };
    let (name, memory) = match identity() {
        Ok(identity) => identity,
        Err(error) => {
            let mut device = Device::new(format!("HIP device {index}"), "AMD", DeviceKind::Gpu);
            fail(
                &mut device,
                Status::Unusable,
                ReasonCode::DriverError,
                error.to_string(),
            );
            return (device, None);
        }
    };
    let mut device = Device::new(name, "AMD", DeviceKind::Gpu);
    device.memory_bytes = Some(memory);
    device.api_version = runtime_version.map(str::to_owned);
    device.driver_version = driver_version.map(str::to_owned);
    device
        .properties
        .insert("device_index".into(), index.to_string());
    if let Some(Ok(bus_id)) = hip.pci_bus_id(index) {
        // The render node Slurm's gres.conf binds this GPU through.
        let roots = crate::host::HostRoots::system();
        if let Some(node) = crate::host::render_node(&bus_id, &roots) {
            device
                .properties
                .insert("device_node".into(), node.display().to_string());
        }
        device.properties.insert("pci_bus_id".into(), bus_id);
    }
    let layout = hip.prop_layout();
    let facts = hip
        .device_properties(index)
        .map_err(|error| error.to_string())
        .and_then(|bytes| {
            facts::read_properties(&bytes, layout, &device.name, memory).map_err(|why| {
                format!("hipDeviceProp_t ({layout:?} layout) does not read as expected: {why}")
            })
        });
    match facts {
        Ok(facts) => {
            device.arch = facts::base_gfx_target(&facts.gcn_arch_name).map(str::to_owned);
            if let Some(features) = facts::target_features(&facts.gcn_arch_name) {
                device
                    .properties
                    .insert("target_features".into(), features.to_owned());
            }
            device
                .properties
                .insert("gcn_arch_name".into(), facts.gcn_arch_name.clone());
            device
                .properties
                .insert("compute_units".into(), facts.compute_units.to_string());
            (device, Some(facts.gcn_arch_name))
        }
        Err(message) => {
            fail(
                &mut device,
                Status::Unusable,
                ReasonCode::DriverError,
                message,
            );
            (device, None)
        }
    }
}

/// One device's validation: what to compile, for which target, and what to run.
struct Job<'a> {
    hip: &'a Hip,
    rtc: &'a Hiprtc,
    index: i32,
    /// The device's full gfx target id, so the code object matches its xnack/sramecc mode.
    target: &'a str,
    runtime: &'a str,
    problems: &'a Problems,
}

impl Job<'_> {
    /// Compiles (or takes from the driver cache), runs and judges. hiprtc compiles take
    /// seconds on ROCm 6, so a validated code object is kept, keyed by source, target and
    /// runtime version; a cached one that fails in any way is discarded and the device is
    /// judged from a fresh compile.
    fn validate(&self, device: &mut Device, known_isas: Option<&[String]>) {
        if let Err(error) = self.hip.set_device(self.index) {
            fail(
                device,
                Status::Failed,
                ReasonCode::LaunchFailed,
                error.to_string(),
            );
            return;
        }
        let base = facts::base_gfx_target(self.target).unwrap_or(self.target);
        if let Some(isas) = known_isas {
            if !facts::compiler_knows(isas, base) {
                let message = format!(
                    "the code object manager cannot compile for {base} (it knows {} targets); \
                     hiprtc would abort on it",
                    isas.len()
                );
                fail(device, Status::Failed, ReasonCode::BuildFailed, message);
                return;
            }
        }
        let cache = code_cache(self);
        if let Some(code) = cache.as_ref().and_then(KernelCache::load) {
            let mut attempt = device.clone();
            if self.run(&code, &mut attempt) {
                attempt.properties.insert(
                    "code_object".into(),
                    "cached from an earlier compile".into(),
                );
                *device = attempt;
                return;
            }
            if let Some(cache) = &cache {
                cache.discard();
            }
        }
        let source = validate::source(self.problems.sgemm().is_some());
        let code = match self.rtc.compile(source, self.target) {
            Ok(code) => code,
            Err(failure) => {
                fail(
                    device,
                    Status::Failed,
                    ReasonCode::BuildFailed,
                    compile_message(&failure, self.target),
                );
                return;
            }
        };
        device
            .properties
            .insert("code_object".into(), "compiled by hiprtc".into());
        if self.run(&code, device) {
            if let Some(cache) = &cache {
                cache.store(&code);
            }
        }
    }

    /// Loads `code` and runs the problems, recording the outcome in `device`. True when the
    /// device was validated.
    fn run(&self, code: &[u8], device: &mut Device) -> bool {
        let outcome = self
            .hip
            .load_module(code)
            .map_err(LaunchError::from)
            .and_then(|module| validate::run(self.hip, &module, self.problems));
        match outcome {
            Ok((saxpy, sgemm)) => {
                device.validations.push(saxpy);
                device.validations.extend(sgemm);
                device.judge_validations();
            }
            Err(error) => fail(
                device,
                Status::Failed,
                ReasonCode::LaunchFailed,
                error.to_string(),
            ),
        }
        device.status == Status::Validated
    }
}

fn compile_message(failure: &CompileFailure, target: &str) -> String {
    format!(
        "{} returned {} compiling for {target}: {}",
        failure.call,
        failure.code,
        build_log_excerpt(&failure.log, "(empty log)")
    )
}

/// The cache entry for the code object of one source set, target and runtime.
fn code_cache(job: &Job<'_>) -> Option<KernelCache> {
    KernelCache::entry(
        "hip",
        "code-object",
        "hsaco",
        &[
            validate::source(job.problems.sgemm().is_some()).as_bytes(),
            job.target.as_bytes(),
            job.runtime.as_bytes(),
        ],
    )
}

fn fail(device: &mut Device, status: Status, code: ReasonCode, message: String) {
    device.status = status;
    device.reason = Some(Reason::new(code, message));
}
