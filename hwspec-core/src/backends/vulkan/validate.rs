//! The validation runs: `saxpy.comp` and `sgemm.comp` on one device's compute queue, each read
//! in place from the mapped result buffer and compared with the probe's references.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::api;
use crate::backends::common::validation::Problems;
use crate::kernels::{Saxpy, Sgemm};
use crate::model::{Device, Reason, ReasonCode, Status, Validation};

/// How long one dispatch may take before the device is given up on. Far beyond what a software
/// device needs for these problems, well inside the worker's kernel-stage deadline.
const FENCE_TIMEOUT: Duration = Duration::from_secs(20);

/// A kernel that could not give a validation, and how to report it.
struct KernelFailure {
    code: ReasonCode,
    message: String,
}

impl KernelFailure {
    fn build(kernel: &str, e: api::VkError) -> KernelFailure {
        KernelFailure {
            code: ReasonCode::BuildFailed,
            message: format!("the {kernel} pipeline could not be built: {e}"),
        }
    }

    fn launch(kernel: &str, e: api::VkError) -> KernelFailure {
        KernelFailure {
            code: ReasonCode::LaunchFailed,
            message: format!("{kernel} could not run: {e}"),
        }
    }
}

/// Opens the device on `queue` and runs the kernels of `problems`, recording the outcome.
/// Returns the driver library that runs the device, when it opened.
pub(super) fn device(
    physical: &api::PhysicalDevice<'_>,
    queue: u32,
    problems: &Problems,
    device: &mut Device,
) -> Option<PathBuf> {
    let open = match physical.open(queue) {
        Ok(open) => open,
        Err(e) => {
            device.status = Status::Unusable;
            let code = match e {
                api::VkError::MissingCommand(_) => ReasonCode::LoadFailed,
                _ => ReasonCode::DriverError,
            };
            device.reason = Some(Reason::new(code, format!("no logical device: {e}")));
            return None;
        }
    };
    let driver = open.driver_library();
    let saxpy = run_saxpy(&open, problems);
    let saxpy_passed = settle_kernel(device, saxpy);
    if let (true, Some(sgemm)) = (saxpy_passed, problems.sgemm()) {
        let sgemm = run_sgemm(&open, sgemm, problems);
        settle_kernel(device, sgemm);
    }
    driver
}

/// Records one kernel's outcome on `device` and says whether it passed. A device is validated
/// only while every kernel run on it passed.
fn settle_kernel(device: &mut Device, outcome: Result<Validation, KernelFailure>) -> bool {
    match outcome {
        Ok(v) => {
            let passed = v.passed;
            device.validations.push(v);
            device.judge_validations();
            passed
        }
        Err(failure) => {
            device.status = Status::Failed;
            device.reason = Some(Reason::new(failure.code, failure.message));
            false
        }
    }
}

/// Runs the SAXPY of `problems` on `device` and compares the result with its reference.
fn run_saxpy(device: &api::Device<'_>, problems: &Problems) -> Result<Validation, KernelFailure> {
    let problem = &problems.saxpy;
    let pipeline = device
        .pipeline(api::Shader::Saxpy)
        .map_err(|e| KernelFailure::build("saxpy", e))?;
    let launch = |e| KernelFailure::launch("saxpy", e);
    let start = Instant::now();
    let x = device
        .buffer_repeating(problem.len(), &Saxpy::x_period())
        .map_err(launch)?;
    let mut y = device
        .buffer_repeating(problem.len(), &Saxpy::y_period())
        .map_err(launch)?;
    device
        .run_saxpy(&pipeline, problem.a, &x, &mut y, FENCE_TIMEOUT)
        .map_err(launch)?;
    let elapsed = start.elapsed();
    let got = y.contents().map_err(launch)?;
    Ok(problems.check_saxpy(got, elapsed))
}

/// As [`run_saxpy`], for `sgemm.comp`.
fn run_sgemm(
    device: &api::Device<'_>,
    problem: &Sgemm,
    problems: &Problems,
) -> Result<Validation, KernelFailure> {
    let pipeline = device
        .pipeline(api::Shader::Sgemm)
        .map_err(|e| KernelFailure::build("sgemm", e))?;
    let launch = |e| KernelFailure::launch("sgemm", e);
    let n = u32::try_from(problem.n).map_err(|_| {
        launch(api::VkError::Invalid(
            "the matrix side does not fit in 32 bits",
        ))
    })?;
    let start = Instant::now();
    let a = device.buffer(&problem.a).map_err(launch)?;
    let b = device.buffer(&problem.b).map_err(launch)?;
    let mut c = device
        .buffer(&vec![0.0; problem.n * problem.n])
        .map_err(launch)?;
    device
        .run_sgemm(&pipeline, n, [&a, &b], &mut c, FENCE_TIMEOUT)
        .map_err(launch)?;
    let elapsed = start.elapsed();
    let got = c.contents().map_err(launch)?;
    Ok(problems.check_sgemm(got, elapsed))
}
