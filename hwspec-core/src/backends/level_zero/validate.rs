//! Runs the validation problems on one device. This is the only code that knows the kernels'
//! argument layouts, so it is the only code that launches them.
//!
//! Level Zero takes kernels as SPIR-V only; the committed `saxpy.spv` and `sgemm.spv` are the
//! OpenCL C beside them compiled offline (see the test that rebuilds them). Memory is shared
//! (USM), so the host writes the inputs and reads the result in place, without copy commands.

use std::time::Instant;

use super::ze::{ze_error, Arg, BuildFailure, Context, ZeError, ZE_RESULT_ERROR_INVALID_SIZE};
use crate::kernels::{Saxpy, Sgemm};
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
    /// Allocating, setting up, launching or waiting failed.
    Call(ZeError),
}

impl From<ZeError> for KernelError {
    fn from(error: ZeError) -> KernelError {
        KernelError::Call(error)
    }
}

/// `n` as the kernels' `uint` argument; a problem too large for it is refused, not truncated.
fn count(n: usize) -> Result<u32, ZeError> {
    u32::try_from(n).map_err(|_| ze_error("zeKernelSetArgumentValue", ZE_RESULT_ERROR_INVALID_SIZE))
}

/// Runs `problem` on the context's device with queues of group `ordinal`, and compares with
/// its CPU reference; the time covers writing the inputs, the kernel and reading the result.
pub(super) fn saxpy(
    context: &Context,
    ordinal: u32,
    problem: &Saxpy,
) -> Result<Validation, KernelError> {
    let module = context.module(SAXPY_SPIRV).map_err(KernelError::Build)?;
    let kernel = module.kernel(c"saxpy")?;
    let n = count(problem.len())?;
    let mut x = context.shared_floats(problem.len())?;
    let mut y = context.shared_floats(problem.len())?;
    let groups = kernel.fit_groups([n, 1, 1])?;
    let queue = context.queue(ordinal)?;
    let list = context.command_list(ordinal)?;
    let start = Instant::now();
    x.write(&problem.x)?;
    y.write(&problem.y)?;
    kernel.set_args(&[
        Arg::F32(problem.a),
        Arg::Floats(&x),
        Arg::Floats(&y),
        Arg::U32(n),
    ])?;
    list.launch_and_close(&kernel, groups)?;
    // SAFETY: saxpy.cl reads x[i] and y[i] and writes y[i] only for i < n, the last argument
    // set above, and both allocations hold n floats and outlive the call.
    unsafe { queue.run(&list, SYNC_TIMEOUT_NS) }?;
    Ok(problem.check(&y.to_vec(), start.elapsed()))
}

/// Runs `problem` (`C = A × B`) as [`saxpy`] does.
pub(super) fn sgemm(
    context: &Context,
    ordinal: u32,
    problem: &Sgemm,
) -> Result<Validation, KernelError> {
    let module = context.module(SGEMM_SPIRV).map_err(KernelError::Build)?;
    let kernel = module.kernel(c"sgemm")?;
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
    kernel.set_args(&[
        Arg::Floats(&a),
        Arg::Floats(&b),
        Arg::Floats(&c),
        Arg::U32(n),
    ])?;
    list.launch_and_close(&kernel, groups)?;
    // SAFETY: sgemm.cl accesses a, b and c only at row * n + col, row * n + k and k * n + col
    // with row, col, k < n, the last argument set above, so every index is below n * n, the
    // length of all three allocations, which outlive the call.
    unsafe { queue.run(&list, SYNC_TIMEOUT_NS) }?;
    Ok(problem.check(&c.to_vec(), start.elapsed()))
}
