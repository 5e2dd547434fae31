//! Runs the validation problems on one device. This is the only code that knows the kernels'
//! argument layouts, so it is the only code that launches them.

use std::time::Instant;

use opencl3::error_codes::CL_INVALID_VALUE;
use opencl3::types::cl_uint;

use super::cl::{Arg, BuildFailure, ClError, Context, DeviceId, Program, Queue};
use crate::kernels::{Saxpy, Sgemm};
use crate::model::Validation;

const SAXPY_SOURCE: &str = include_str!("saxpy.cl");
const SAXPY_AND_SGEMM_SOURCE: &str = concat!(include_str!("saxpy.cl"), include_str!("sgemm.cl"));

/// The OpenCL C source of the program for a level with or without SGEMM.
pub(super) fn source(with_sgemm: bool) -> &'static str {
    if with_sgemm {
        SAXPY_AND_SGEMM_SOURCE
    } else {
        SAXPY_SOURCE
    }
}

/// Why a device could not be set up to run the kernels.
#[derive(Debug)]
pub(super) enum SetupError {
    /// Context, queue or program creation failed.
    Call(ClError),
    /// The kernels did not compile for the device.
    Build(BuildFailure),
}

/// A device with its context, queue and built program, ready to run the problems.
#[derive(Debug)]
pub(super) struct Session {
    context: Context,
    queue: Queue,
    program: Program,
}

impl Session {
    /// Builds the SAXPY kernel, and the SGEMM kernel too when `with_sgemm`, in one program so
    /// the device compiles once: from `binary` when given (a binary this driver made from the
    /// same source earlier), else from source. Each level has its own source set, so
    /// `standard` never pays for compiling SGEMM.
    pub(super) fn open(
        device: DeviceId,
        with_sgemm: bool,
        binary: Option<&[u8]>,
    ) -> Result<Session, SetupError> {
        let context = Context::for_device(device).map_err(SetupError::Call)?;
        let queue = context.queue().map_err(SetupError::Call)?;
        let program = match binary {
            Some(binary) => context.program_from_binary(binary),
            None => context.program(source(with_sgemm)),
        }
        .map_err(SetupError::Call)?;
        program.build().map_err(SetupError::Build)?;
        Ok(Session {
            context,
            queue,
            program,
        })
    }

    /// The device binary of the built program, to be cached.
    pub(super) fn binary(&self) -> Option<Vec<u8>> {
        self.program.binary()
    }

    /// Runs `problem` and compares with its CPU reference; the time covers the copies to the
    /// device, the kernel and the copy back.
    pub(super) fn saxpy(&self, problem: &Saxpy) -> Result<Validation, ClError> {
        let n = problem.len();
        let kernel = self.program.kernel(c"saxpy")?;
        let x = self.context.buffer(n)?;
        let y = self.context.buffer(n)?;
        kernel.set_args(&[
            Arg::F32(problem.a),
            Arg::Buffer(&x),
            Arg::Buffer(&y),
            Arg::U32(count(n)?),
        ])?;
        let mut got = vec![0.0f32; n];
        let start = Instant::now();
        self.queue.write(&x, &problem.x)?;
        self.queue.write(&y, &problem.y)?;
        // SAFETY: saxpy.cl reads x[i] and y[i] and writes y[i] only for i < n, the last
        // argument set above, and both buffers were created with n floats.
        unsafe { self.queue.launch(&kernel, &[n]) }?;
        self.queue.read(&y, &mut got)?;
        Ok(problem.check(&got, start.elapsed()))
    }

    /// Runs `problem` (`C = A × B`) and compares with its CPU reference; timed as
    /// [`Session::saxpy`].
    pub(super) fn sgemm(&self, problem: &Sgemm) -> Result<Validation, ClError> {
        let n = problem.n;
        let elements = n.saturating_mul(n);
        let kernel = self.program.kernel(c"sgemm")?;
        let a = self.context.buffer(elements)?;
        let b = self.context.buffer(elements)?;
        let c = self.context.buffer(elements)?;
        kernel.set_args(&[
            Arg::Buffer(&a),
            Arg::Buffer(&b),
            Arg::Buffer(&c),
            Arg::U32(count(n)?),
        ])?;
        let mut got = vec![0.0f32; elements];
        let start = Instant::now();
        self.queue.write(&a, &problem.a)?;
        self.queue.write(&b, &problem.b)?;
        // SAFETY: sgemm.cl accesses a, b and c only at row * n + col, row * n + k and
        // k * n + col with row, col, k < n, the last argument set above, so every index is
        // below n * n, the length of all three buffers.
        unsafe { self.queue.launch(&kernel, &[n, n]) }?;
        self.queue.read(&c, &mut got)?;
        Ok(problem.check(&got, start.elapsed()))
    }
}

/// `n` as the kernels' `uint` argument; a problem too large for it is refused, not truncated.
fn count(n: usize) -> Result<cl_uint, ClError> {
    cl_uint::try_from(n).map_err(|_| ClError {
        call: "clSetKernelArg",
        code: CL_INVALID_VALUE,
    })
}
