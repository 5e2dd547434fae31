//! Runs the committed PTX kernels on one device, reads each result back into the probe's one
//! read-back buffer and compares it in place with the probe's references.

use std::ffi::CStr;
use std::time::Instant;

use cudarc::driver::sys::CUdevice;

use super::api::{Context, Driver, JitFailure};
use crate::backends::common::validation::Problems;
use crate::backends::common::{Arg, CallError, LaunchError, SAXPY, SGEMM};
use crate::kernels::Sgemm;
use crate::model::{ReasonCode, Validation};

/// `saxpy.cu` compiled for `sm_50`; the driver JIT-compiles it for the GPU at hand.
pub(super) const SAXPY_PTX: &CStr = with_nul(concat!(include_str!("saxpy.ptx"), "\0"));
/// `sgemm.cu` compiled for `sm_50`.
pub(super) const SGEMM_PTX: &CStr = with_nul(concat!(include_str!("sgemm.ptx"), "\0"));

/// Threads per block of the SAXPY launch.
const SAXPY_BLOCK: u32 = 256;
/// The side of the SGEMM kernel's square thread blocks and tiles (`TILE` in sgemm.cu).
const SGEMM_TILE: u32 = 16;

/// Bytes of a JIT log kept in a reason message.
const JIT_LOG_EXCERPT: usize = 600;

const fn with_nul(text: &str) -> &CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(text) => text,
        Err(_) => panic!("a PTX file contains a NUL byte"),
    }
}

/// Why a validation did not produce a result: the reason code and its message.
pub(super) type Failure = (ReasonCode, String);

fn launch_failed<E: std::fmt::Display>(kernel: &str) -> impl Fn(E) -> Failure + '_ {
    move |error| (ReasonCode::LaunchFailed, format!("{kernel}: {error}"))
}

fn build_failed(kernel: &str) -> impl Fn(JitFailure) -> Failure + '_ {
    move |failure| {
        let log = failure.log.split_whitespace().collect::<Vec<_>>().join(" ");
        let log: String = log.chars().take(JIT_LOG_EXCERPT).collect();
        let log = if log.is_empty() {
            "(empty)".to_owned()
        } else {
            log
        };
        (
            ReasonCode::BuildFailed,
            format!("{kernel}: {}; JIT log: {log}", failure.error),
        )
    }
}

/// Runs SAXPY, and SGEMM at level `full`, on `device` in a context of its own, reading each
/// result back into `readback`.
pub(super) fn run(
    driver: &Driver,
    device: CUdevice,
    problems: &Problems,
    readback: &mut Vec<f32>,
) -> Result<(Validation, Option<Validation>), Failure> {
    let context = driver
        .context(device)
        .map_err(launch_failed::<CallError>("context"))?;
    let saxpy = run_saxpy(&context, problems, readback)?;
    let sgemm = problems
        .sgemm()
        .map(|problem| run_sgemm(&context, problem, problems, readback))
        .transpose()?;
    Ok((saxpy, sgemm))
}

fn run_saxpy(
    context: &Context<'_>,
    problems: &Problems,
    readback: &mut Vec<f32>,
) -> Result<Validation, Failure> {
    let problem = &problems.saxpy;
    let module = context.load_ptx(SAXPY_PTX).map_err(build_failed("saxpy"))?;
    let call = launch_failed::<CallError>("saxpy");
    let function = module.function(&SAXPY).map_err(&call)?;
    let n = u32::try_from(problem.len()).map_err(|_| {
        (
            ReasonCode::LaunchFailed,
            "saxpy: problem too large".to_owned(),
        )
    })?;
    // Made before the clock starts: the first device of a probe makes the host arrays.
    let (x_input, y_input) = problem.inputs();
    let start = Instant::now();
    let x = context.alloc(problem.len()).map_err(&call)?;
    let y = context.alloc(problem.len()).map_err(&call)?;
    x.write(x_input).map_err(&call)?;
    y.write(y_input).map_err(&call)?;
    function
        .launch(
            (n.div_ceil(SAXPY_BLOCK), 1),
            (SAXPY_BLOCK, 1),
            &[
                Arg::F32(problem.a),
                Arg::Buffer(&x),
                Arg::Buffer(&y),
                Arg::U32(n),
            ],
        )
        .map_err(launch_failed::<LaunchError>("saxpy"))?;
    context.synchronize().map_err(&call)?;
    readback.resize(problem.len(), 0.0);
    y.read(readback).map_err(&call)?;
    Ok(problems.check_saxpy(readback, start.elapsed()))
}

fn run_sgemm(
    context: &Context<'_>,
    problem: &Sgemm,
    problems: &Problems,
    readback: &mut Vec<f32>,
) -> Result<Validation, Failure> {
    let module = context.load_ptx(SGEMM_PTX).map_err(build_failed("sgemm"))?;
    let call = launch_failed::<CallError>("sgemm");
    let function = module.function(&SGEMM).map_err(&call)?;
    let n = u32::try_from(problem.n).map_err(|_| {
        (
            ReasonCode::LaunchFailed,
            "sgemm: problem too large".to_owned(),
        )
    })?;
    let elements = problem.n * problem.n;
    let start = Instant::now();
    let a = context.alloc(elements).map_err(&call)?;
    let b = context.alloc(elements).map_err(&call)?;
    let c = context.alloc(elements).map_err(&call)?;
    a.write(&problem.a).map_err(&call)?;
    b.write(&problem.b).map_err(&call)?;
    let blocks = n.div_ceil(SGEMM_TILE);
    function
        .launch(
            (blocks, blocks),
            (SGEMM_TILE, SGEMM_TILE),
            &[
                Arg::Buffer(&a),
                Arg::Buffer(&b),
                Arg::Buffer(&c),
                Arg::U32(n),
            ],
        )
        .map_err(launch_failed::<LaunchError>("sgemm"))?;
    context.synchronize().map_err(&call)?;
    readback.resize(elements, 0.0);
    c.read(readback).map_err(&call)?;
    Ok(problems.check_sgemm(readback, start.elapsed()))
}
