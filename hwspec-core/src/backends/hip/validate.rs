//! Runs the validation problems on the current device from a compiled code object. saxpy.hip
//! and sgemm.hip declare the signatures of [`SAXPY`] and [`SGEMM`], which every launch is
//! checked against; each result is read back into one buffer and judged against the probe's
//! references.

use std::time::Instant;

use super::api::{Hip, HipError, Module};
use super::sys::HIP_ERROR_INVALID_VALUE;
use crate::backends::common::validation::Problems;
use crate::backends::common::{Arg, CallError, LaunchError, SAXPY, SGEMM};
use crate::kernels::Sgemm;
use crate::model::Validation;
use crate::sys::HugeFloats;

const SAXPY_SOURCE: &str = include_str!("saxpy.hip");
const SAXPY_AND_SGEMM_SOURCE: &str = concat!(include_str!("saxpy.hip"), include_str!("sgemm.hip"));

/// Threads per block of the SAXPY launch; every AMD GPU allows 256.
const SAXPY_BLOCK: u32 = 256;
/// Side of the SGEMM thread blocks.
const SGEMM_BLOCK: u32 = 16;

/// The HIP source for a level with or without SGEMM, so `standard` never compiles SGEMM.
pub(super) fn source(with_sgemm: bool) -> &'static str {
    if with_sgemm {
        SAXPY_AND_SGEMM_SOURCE
    } else {
        SAXPY_SOURCE
    }
}

/// Runs SAXPY and, at level `full`, SGEMM from `module`; the times cover the copies to the
/// device, the kernel and the copy back.
pub(super) fn run(
    hip: &Hip,
    module: &Module<'_>,
    problems: &Problems,
) -> Result<(Validation, Option<Validation>), LaunchError> {
    let saxpy = run_saxpy(hip, module, problems)?;
    let sgemm = problems
        .sgemm()
        .map(|sgemm| run_sgemm(hip, module, sgemm, problems))
        .transpose()?;
    Ok((saxpy, sgemm))
}

fn run_saxpy(
    hip: &Hip,
    module: &Module<'_>,
    problems: &Problems,
) -> Result<Validation, LaunchError> {
    let problem = &problems.saxpy;
    let n = problem.len();
    let count = count(n)?;
    let function = module.function(&SAXPY)?;
    let x = hip.buffer(n)?;
    let y = hip.buffer(n)?;
    let mut got = HugeFloats::zeroed(n);
    // Made before the clock starts: the first device of a probe makes the host arrays.
    let (x_input, y_input) = problem.inputs();
    let start = Instant::now();
    hip.write(&x, x_input)?;
    hip.write(&y, y_input)?;
    let grid = count.div_ceil(SAXPY_BLOCK);
    let args = [
        Arg::F32(problem.a),
        Arg::Buffer(&x),
        Arg::Buffer(&y),
        Arg::U32(count),
    ];
    hip.launch(&function, [grid, 1, 1], [SAXPY_BLOCK, 1, 1], &args)?;
    hip.synchronize()?;
    hip.read(&y, &mut got)?;
    Ok(problems.check_saxpy(&got, start.elapsed()))
}

fn run_sgemm(
    hip: &Hip,
    module: &Module<'_>,
    problem: &Sgemm,
    problems: &Problems,
) -> Result<Validation, LaunchError> {
    let n = problem.n;
    let elements = n.saturating_mul(n);
    let side = count(n)?;
    let function = module.function(&SGEMM)?;
    let (a, b, c) = (
        hip.buffer(elements)?,
        hip.buffer(elements)?,
        hip.buffer(elements)?,
    );
    let mut got = HugeFloats::zeroed(elements);
    let start = Instant::now();
    hip.write(&a, &problem.a)?;
    hip.write(&b, &problem.b)?;
    let blocks = side.div_ceil(SGEMM_BLOCK);
    let args = [
        Arg::Buffer(&a),
        Arg::Buffer(&b),
        Arg::Buffer(&c),
        Arg::U32(side),
    ];
    hip.launch(
        &function,
        [blocks, blocks, 1],
        [SGEMM_BLOCK, SGEMM_BLOCK, 1],
        &args,
    )?;
    hip.synchronize()?;
    hip.read(&c, &mut got)?;
    Ok(problems.check_sgemm(&got, start.elapsed()))
}

/// `n` as the kernels' `unsigned int`; a problem too large for it is refused, not truncated.
fn count(n: usize) -> Result<u32, HipError> {
    u32::try_from(n).map_err(|_| {
        CallError::new("hipModuleLaunchKernel", HIP_ERROR_INVALID_VALUE)
            .named("problem size does not fit the kernel's unsigned int")
    })
}
