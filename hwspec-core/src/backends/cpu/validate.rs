//! The validation: the SAXPY every kernel backend runs, computed by the host processor and
//! judged against the shared reference.

use std::time::Instant;

use crate::backends::common::validation::{Inputs, Problems};
use crate::kernels::Saxpy;
use crate::model::{Device, Level};
use crate::sys::HugeFloats;

/// Runs the SAXPY on the host and records its validation in `device`. The CPU runs no SGEMM,
/// so the problems are those of level `standard` at every level that validates: the SGEMM
/// reference of level `full` would be computed for nothing.
pub(super) fn saxpy(device: &mut Device) {
    let problems = Problems::new(Level::Standard, Inputs::InPlace);
    let problem = &problems.saxpy;
    let (x, y) = (Saxpy::x_period(), Saxpy::y_period());
    let start = Instant::now();
    let got = HugeFloats::from_fn(problem.len(), |i| {
        problem.a.mul_add(x[i % x.len()], y[i % y.len()])
    });
    device
        .validations
        .push(problems.check_saxpy(&got, start.elapsed()));
    device.judge_validations();
}
