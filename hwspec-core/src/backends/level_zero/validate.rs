//! Runs the validation problems on one device. saxpy.cl and sgemm.cl declare the signatures of
//! [`SAXPY`] and [`SGEMM`], which every launch is checked against; each result is judged in
//! place, in the shared memory the kernel wrote, against the probe's references.
//!
//! Level Zero takes kernels as SPIR-V only; the committed `saxpy.spv` and `sgemm.spv` are the
//! OpenCL C beside them compiled offline (see the test that rebuilds them). Memory is shared
//! (USM), so the host writes the inputs and reads the result in place, without copy commands.

use std::time::Instant;

use super::api::{ze_error, BuildFailure, Context, ZeError};
use super::sys::ZE_RESULT_ERROR_INVALID_SIZE;
use crate::backends::common::validation::Problems;
use crate::backends::common::{Arg, LaunchError, SAXPY, SGEMM};
use crate::kernels::Sgemm;
use crate::model::Validation;

const SAXPY_SPIRV: &[u8] = include_bytes!("saxpy.spv");
const SGEMM_SPIRV: &[u8] = include_bytes!("sgemm.spv");

/// Longest wait for one kernel. Either problem takes a GPU well under a millisecond; the bound
/// only keeps a hung device from using up the worker's whole deadline in one wait, so that the
/// report can still say which kernel hung.
pub(super) const SYNC_TIMEOUT_NS: u64 = 5_000_000_000;

/// Why a kernel gave no result.
#[derive(Debug)]
pub(super) enum KernelError {
    /// The SPIR-V module did not build for the device.
    Build(BuildFailure),
    /// The arguments did not fit the kernel's declaration; nothing was launched.
    Refused(String),
    /// Allocating, setting up, launching or waiting failed.
    Call(ZeError),
}

impl From<ZeError> for KernelError {
    fn from(error: ZeError) -> KernelError {
        KernelError::Call(error)
    }
}

impl From<LaunchError> for KernelError {
    fn from(error: LaunchError) -> KernelError {
        match error {
            LaunchError::Refused(why) => KernelError::Refused(why),
            LaunchError::Call(error) => KernelError::Call(error),
        }
    }
}

/// `n` as the kernels' `uint` argument; a problem too large for it is refused, not truncated.
fn count(n: usize) -> Result<u32, ZeError> {
    u32::try_from(n).map_err(|_| ze_error("zeKernelSetArgumentValue", ZE_RESULT_ERROR_INVALID_SIZE))
}

/// Runs the SAXPY problem on the context's device with queues of group `ordinal`, and judges
/// it against the reference; the time covers writing the inputs, the kernel and reading the
/// result.
pub(super) fn saxpy(
    context: &Context,
    ordinal: u32,
    problems: &Problems,
) -> Result<Validation, KernelError> {
    let problem = &problems.saxpy;
    let module = context.module(SAXPY_SPIRV).map_err(KernelError::Build)?;
    let kernel = module.kernel(&SAXPY)?;
    let n = count(problem.len())?;
    let mut x = context.shared_floats(problem.len())?;
    let mut y = context.shared_floats(problem.len())?;
    let groups = kernel.fit_groups([n, 1, 1])?;
    let queue = context.queue(ordinal)?;
    let list = context.command_list(ordinal)?;
    // Made before the clock starts: the first device of a probe makes the host arrays.
    let (x_input, y_input) = problem.inputs();
    let start = Instant::now();
    x.write(x_input)?;
    y.write(y_input)?;
    let args = [
        Arg::F32(problem.a),
        Arg::Buffer(&x),
        Arg::Buffer(&y),
        Arg::U32(n),
    ];
    queue.launch(&list, &kernel, groups, &args, SYNC_TIMEOUT_NS)?;
    Ok(problems.check_saxpy(y.read()?, start.elapsed()))
}

/// Runs the SGEMM problem (`C = A × B`) as [`saxpy`] does.
pub(super) fn sgemm(
    context: &Context,
    ordinal: u32,
    problem: &Sgemm,
    problems: &Problems,
) -> Result<Validation, KernelError> {
    let module = context.module(SGEMM_SPIRV).map_err(KernelError::Build)?;
    let kernel = module.kernel(&SGEMM)?;
    let n = count(problem.n)?;
    let elements = problem.n.saturating_mul(problem.n);
    let mut a = context.shared_floats(elements)?;
    let mut b = context.shared_floats(elements)?;
    let c = context.shared_floats(elements)?;
    let groups = kernel.fit_groups([n, n, 1])?;
    let queue = context.queue(ordinal)?;
    let list = context.command_list(ordinal)?;
    let start = Instant::now();
    a.write(&problem.a)?;
    b.write(&problem.b)?;
    let args = [
        Arg::Buffer(&a),
        Arg::Buffer(&b),
        Arg::Buffer(&c),
        Arg::U32(n),
    ];
    queue.launch(&list, &kernel, groups, &args, SYNC_TIMEOUT_NS)?;
    Ok(problems.check_sgemm(c.read()?, start.elapsed()))
}
