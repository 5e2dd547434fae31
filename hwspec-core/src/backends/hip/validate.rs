//! Runs the validation problems on the current device from a compiled code object. This is the
//! only code that knows the kernels' argument layouts, so it is the only code that launches
//! them.

use std::ffi::c_void;
use std::time::Instant;

use super::api::{Hip, HipError, Module};
use crate::kernels::{Saxpy, Sgemm};
use crate::model::Validation;

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

/// Runs SAXPY and, when given, SGEMM from `module`; the times cover the copies to the device,
/// the kernel and the copy back.
pub(super) fn run(
    hip: &Hip,
    module: &Module<'_>,
    saxpy: &Saxpy,
    sgemm: Option<&Sgemm>,
) -> Result<(Validation, Option<Validation>), HipError> {
    let saxpy = run_saxpy(hip, module, saxpy)?;
    let sgemm = sgemm.map(|p| run_sgemm(hip, module, p)).transpose()?;
    Ok((saxpy, sgemm))
}

fn run_saxpy(hip: &Hip, module: &Module<'_>, problem: &Saxpy) -> Result<Validation, HipError> {
    let n = problem.len();
    let count = count(n, "hipModuleLaunchKernel")?;
    let function = module.function(c"saxpy")?;
    let x = hip.buffer(n)?;
    let y = hip.buffer(n)?;
    let mut got = vec![0.0f32; n];
    let start = Instant::now();
    hip.write(&x, &problem.x)?;
    hip.write(&y, &problem.y)?;
    let (mut a, mut x_ptr, mut y_ptr, mut n_arg) =
        (problem.a, x.device_pointer(), y.device_pointer(), count);
    let mut params: [*mut c_void; 4] = [
        (&raw mut a).cast(),
        (&raw mut x_ptr).cast(),
        (&raw mut y_ptr).cast(),
        (&raw mut n_arg).cast(),
    ];
    let grid = count.div_ceil(SAXPY_BLOCK);
    // SAFETY: the four pointers match saxpy(float, const float *, float *, unsigned int) in
    // order and type; saxpy.hip touches x[i] and y[i] only for i < n, and both buffers hold
    // n floats.
    unsafe { hip.launch(function, [grid, 1, 1], [SAXPY_BLOCK, 1, 1], &mut params) }?;
    hip.synchronize()?;
    hip.read(&y, &mut got)?;
    Ok(problem.check(&got, start.elapsed()))
}

fn run_sgemm(hip: &Hip, module: &Module<'_>, problem: &Sgemm) -> Result<Validation, HipError> {
    let n = problem.n;
    let elements = n.saturating_mul(n);
    let side = count(n, "hipModuleLaunchKernel")?;
    let function = module.function(c"sgemm")?;
    let a = hip.buffer(elements)?;
    let b = hip.buffer(elements)?;
    let c = hip.buffer(elements)?;
    let mut got = vec![0.0f32; elements];
    let start = Instant::now();
    hip.write(&a, &problem.a)?;
    hip.write(&b, &problem.b)?;
    let (mut a_ptr, mut b_ptr, mut c_ptr, mut n_arg) = (
        a.device_pointer(),
        b.device_pointer(),
        c.device_pointer(),
        side,
    );
    let mut params: [*mut c_void; 4] = [
        (&raw mut a_ptr).cast(),
        (&raw mut b_ptr).cast(),
        (&raw mut c_ptr).cast(),
        (&raw mut n_arg).cast(),
    ];
    let blocks = side.div_ceil(SGEMM_BLOCK);
    // SAFETY: the four pointers match sgemm(const float *, const float *, float *,
    // unsigned int); sgemm.hip indexes with row, col, k < n only, so every access is below
    // n * n, the length of all three buffers.
    unsafe {
        hip.launch(
            function,
            [blocks, blocks, 1],
            [SGEMM_BLOCK, SGEMM_BLOCK, 1],
            &mut params,
        )
    }?;
    hip.synchronize()?;
    hip.read(&c, &mut got)?;
    Ok(problem.check(&got, start.elapsed()))
}

/// `n` as the kernels' `unsigned int`; a problem too large for it is refused, not truncated.
fn count(n: usize, call: &'static str) -> Result<u32, HipError> {
    u32::try_from(n).map_err(|_| HipError {
        call,
        code: 1,
        name: Some("problem size does not fit the kernel's unsigned int".into()),
    })
}
