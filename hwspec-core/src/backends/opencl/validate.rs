//! Runs the validation problems on one device. The kernels' signatures are the ones every
//! backend's SAXPY and SGEMM declare (`common::launch`), and every launch is held to them
//! (see [`Queue::launch`]).

use std::time::Instant;

use opencl3::error_codes::CL_INVALID_VALUE;
use opencl3::types::cl_uint;

use super::api::{cl_error, BuildFailure, Context, DeviceId, Program, Queue};
use crate::backends::common::validation::Problems;
use crate::backends::common::{Arg, CallError, LaunchError, SAXPY, SGEMM};
use crate::kernels::Saxpy;
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
    Call(CallError),
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

    /// Runs the SAXPY of `problems` on buffers filled and read in place (mapped), and compares
    /// the result with the reference; the time covers the filling, the kernel and the reading.
    pub(super) fn saxpy(&self, problems: &Problems) -> Result<Validation, LaunchError> {
        let problem = &problems.saxpy;
        let n = problem.len();
        let kernel = self.program.kernel(&SAXPY)?;
        let mut x = self.context.buffer(n)?;
        let mut y = self.context.buffer(n)?;
        let start = Instant::now();
        self.queue.fill(&mut x, &Saxpy::x_period())?;
        self.queue.fill(&mut y, &Saxpy::y_period())?;
        let args = [
            Arg::F32(problem.a),
            Arg::Buffer(&x),
            Arg::Buffer(&y),
            Arg::U32(count(n)?),
        ];
        self.queue.launch(&kernel, &args, &[n])?;
        Ok(self
            .queue
            .inspect(&mut y, |got| problems.check_saxpy(got, start.elapsed()))?)
    }

    /// Runs the SGEMM of `problems` (`C = A × B`), when it has one, as [`Session::saxpy`].
    pub(super) fn sgemm(&self, problems: &Problems) -> Option<Result<Validation, LaunchError>> {
        let problem = problems.sgemm()?;
        let run = || {
            let n = problem.n;
            let elements = n.saturating_mul(n);
            let kernel = self.program.kernel(&SGEMM)?;
            let mut a = self.context.buffer(elements)?;
            let mut b = self.context.buffer(elements)?;
            let mut c = self.context.buffer(elements)?;
            let start = Instant::now();
            self.queue.fill(&mut a, &problem.a)?;
            self.queue.fill(&mut b, &problem.b)?;
            let args = [
                Arg::Buffer(&a),
                Arg::Buffer(&b),
                Arg::Buffer(&c),
                Arg::U32(count(n)?),
            ];
            self.queue.launch(&kernel, &args, &[n, n])?;
            Ok(self
                .queue
                .inspect(&mut c, |got| problems.check_sgemm(got, start.elapsed()))?)
        };
        Some(run())
    }
}

/// `n` as the kernels' `uint` argument; a problem too large for it is refused, not truncated.
fn count(n: usize) -> Result<cl_uint, CallError> {
    cl_uint::try_from(n).map_err(|_| cl_error("clSetKernelArg", CL_INVALID_VALUE))
}
