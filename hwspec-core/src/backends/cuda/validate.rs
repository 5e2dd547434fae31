//! Runs the committed PTX kernels on one device and compares them with the CPU reference.

use std::ffi::CStr;
use std::time::Instant;

use cudarc::driver::sys::CUdevice;

use super::driver::{Arg, Context, CuError, Driver, JitFailure};
use crate::kernels::{Saxpy, Sgemm};
use crate::model::{ReasonCode, Validation};

/// `saxpy.cu` compiled for `sm_50`; the driver JIT-compiles it for the GPU at hand.
pub(super) const SAXPY_PTX: &CStr = with_nul(concat!(include_str!("saxpy.ptx"), "\0"));
/// `sgemm.cu` compiled for `sm_50`.
pub(super) const SGEMM_PTX: &CStr = with_nul(concat!(include_str!("sgemm.ptx"), "\0"));

/// The kernel names the PTX files declare as `.entry`.
pub(super) const SAXPY_ENTRY: &CStr = c"saxpy";
pub(super) const SGEMM_ENTRY: &CStr = c"sgemm";

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

fn launch_failed(kernel: &str) -> impl Fn(CuError) -> Failure + '_ {
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

/// Runs SAXPY, and SGEMM when given, on `device` in a context of its own.
pub(super) fn run(
    driver: &Driver,
    device: CUdevice,
    saxpy: &Saxpy,
    sgemm: Option<&Sgemm>,
) -> Result<(Validation, Option<Validation>), Failure> {
    let context = driver.context(device).map_err(launch_failed("context"))?;
    let saxpy = run_saxpy(&context, saxpy)?;
    let sgemm = sgemm.map(|p| run_sgemm(&context, p)).transpose()?;
    Ok((saxpy, sgemm))
}

fn run_saxpy(context: &Context<'_>, problem: &Saxpy) -> Result<Validation, Failure> {
    let module = context.load_ptx(SAXPY_PTX).map_err(build_failed("saxpy"))?;
    let launch = launch_failed("saxpy");
    let function = module.function(SAXPY_ENTRY).map_err(&launch)?;
    let n = u32::try_from(problem.len()).map_err(|_| {
        (
            ReasonCode::LaunchFailed,
            "saxpy: problem too large".to_owned(),
        )
    })?;
    let start = Instant::now();
    let x = context.alloc(problem.len()).map_err(&launch)?;
    let y = context.alloc(problem.len()).map_err(&launch)?;
    x.write(&problem.x).map_err(&launch)?;
    y.write(&problem.y).map_err(&launch)?;
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
        .map_err(&launch)?;
    context.synchronize().map_err(&launch)?;
    let mut out = vec![0.0f32; problem.len()];
    y.read(&mut out).map_err(&launch)?;
    Ok(problem.check(&out, start.elapsed()))
}

fn run_sgemm(context: &Context<'_>, problem: &Sgemm) -> Result<Validation, Failure> {
    let module = context.load_ptx(SGEMM_PTX).map_err(build_failed("sgemm"))?;
    let launch = launch_failed("sgemm");
    let function = module.function(SGEMM_ENTRY).map_err(&launch)?;
    let n = u32::try_from(problem.n).map_err(|_| {
        (
            ReasonCode::LaunchFailed,
            "sgemm: problem too large".to_owned(),
        )
    })?;
    let elements = problem.n * problem.n;
    let start = Instant::now();
    let a = context.alloc(elements).map_err(&launch)?;
    let b = context.alloc(elements).map_err(&launch)?;
    let c = context.alloc(elements).map_err(&launch)?;
    a.write(&problem.a).map_err(&launch)?;
    b.write(&problem.b).map_err(&launch)?;
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
        .map_err(&launch)?;
    context.synchronize().map_err(&launch)?;
    let mut out = vec![0.0f32; elements];
    c.read(&mut out).map_err(&launch)?;
    Ok(problem.check(&out, start.elapsed()))
}
