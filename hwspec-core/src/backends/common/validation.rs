//! The validation data path every kernel backend shares: the problems of a level with their
//! CPU references, made once per probe (on a helper thread while the runtime initialises) and
//! shared by every device, and the comparison of what a device read back with them.
//!
//! Making the SAXPY problem and its reference costs about 6 ms and 12 MiB of fresh pages; a
//! backend that rebuilt them per device paid that again for each, and one that compared with
//! `problem.reference()` recomputed the reference at every comparison. Backends that can write
//! into device memory (OpenCL and Vulkan map their buffers) fill the inputs there from their
//! formulas, so only the reference is made for them: [`Inputs`] says which kind a backend is.

use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::kernels::{compare, compare_repeating, Saxpy, Sgemm};
use crate::model::{Level, Validation, ValidationKind};

/// The validation problems of one level with their CPU references.
#[derive(Debug)]
pub(crate) struct Problems {
    /// The SAXPY problem, run at levels `standard` and `full`.
    pub(crate) saxpy: Saxpy,
    /// One period of the SAXPY reference, which repeats it.
    saxpy_reference: Vec<f32>,
    /// The SGEMM problem and its reference, at level `full` only.
    sgemm: Option<(Sgemm, Vec<f32>)>,
}

/// Where a backend's SAXPY inputs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inputs {
    /// Written into mapped device memory from their formulas: no host arrays are made.
    InPlace,
    /// Copied to the device from host arrays, made with the references.
    Copied,
}

impl Problems {
    /// The problems of `level`, references (and, for a backend that copies, the host inputs)
    /// computed now.
    pub(crate) fn new(level: Level, inputs: Inputs) -> Problems {
        let saxpy = Saxpy::standard();
        if inputs == Inputs::Copied {
            saxpy.inputs();
        }
        let saxpy_reference = saxpy.reference_period();
        let sgemm = (level >= Level::Full).then(|| {
            let sgemm = Sgemm::standard();
            let reference = sgemm.reference();
            (sgemm, reference)
        });
        Problems {
            saxpy,
            saxpy_reference,
            sgemm,
        }
    }

    /// The SGEMM problem, at level `full`.
    pub(crate) fn sgemm(&self) -> Option<&Sgemm> {
        self.sgemm.as_ref().map(|(sgemm, _)| sgemm)
    }

    /// Judges what a device's SAXPY gave, read back into `got`.
    pub(crate) fn check_saxpy(&self, got: &[f32], elapsed: Duration) -> Validation {
        compare_repeating(
            ValidationKind::Saxpy,
            &self.saxpy_reference,
            self.saxpy.len(),
            got,
            elapsed,
        )
    }

    /// Judges what a device's SGEMM gave. Without an SGEMM problem (below level `full`) there
    /// is no reference, and nothing can be right.
    pub(crate) fn check_sgemm(&self, got: &[f32], elapsed: Duration) -> Validation {
        let reference = self.sgemm.as_ref().map_or(&[][..], |(_, r)| r.as_slice());
        compare(ValidationKind::Sgemm, reference, got, elapsed)
    }
}

/// [`Problems`] being made on a helper thread, so that the references are ready when the first
/// device is: start it before initialising the runtime, [`wait`](Pending::wait) for it at the
/// kernel stage.
#[derive(Debug)]
pub(crate) struct Pending {
    level: Level,
    inputs: Inputs,
    helper: Option<JoinHandle<Problems>>,
}

impl Pending {
    /// Starts making the problems of `level`; at level `quick`, which runs no kernel, nothing.
    pub(crate) fn start(level: Level, inputs: Inputs) -> Pending {
        let helper = (level > Level::Quick)
            .then(|| {
                thread::Builder::new()
                    .name("hwspec-problems".into())
                    .spawn(move || Problems::new(level, inputs))
                    .ok()
            })
            .flatten();
        Pending {
            level,
            inputs,
            helper,
        }
    }

    /// The helper's problems; made here instead where no thread could start (a low process
    /// limit) or the helper did not finish normally.
    pub(crate) fn wait(self) -> Problems {
        self.helper
            .and_then(|helper| helper.join().ok())
            .unwrap_or_else(|| Problems::new(self.level, self.inputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_the_kernels_own_made_once() {
        let standard = Pending::start(Level::Standard, Inputs::InPlace).wait();
        assert_eq!(standard.saxpy.len(), crate::kernels::SAXPY_ELEMENTS);
        assert_eq!(standard.saxpy_reference, standard.saxpy.reference_period());
        assert!(standard.sgemm().is_none());
        let right = standard.check_saxpy(&standard.saxpy.reference(), Duration::ZERO);
        assert!(right.passed);
        let mut wrong = standard.saxpy.reference();
        wrong[7] += 1.0;
        assert!(!standard.check_saxpy(&wrong, Duration::ZERO).passed);
        // Without a reference, an SGEMM result cannot pass.
        assert!(!standard.check_sgemm(&[1.0], Duration::ZERO).passed);

        let full = Pending::start(Level::Full, Inputs::Copied).wait();
        let sgemm = full.sgemm().unwrap();
        assert!(full.check_sgemm(&sgemm.reference(), Duration::ZERO).passed);
    }

    #[test]
    fn host_inputs_are_made_only_for_backends_that_copy_them() {
        let in_place = Pending::start(Level::Standard, Inputs::InPlace).wait();
        assert!(!in_place.saxpy.has_host_inputs());
        let copied = Pending::start(Level::Standard, Inputs::Copied).wait();
        assert!(copied.saxpy.has_host_inputs());
    }

    #[test]
    fn quick_makes_nothing_until_asked() {
        let quick = Pending::start(Level::Quick, Inputs::Copied);
        assert!(quick.helper.is_none());
        assert!(quick.wait().sgemm().is_none());
    }
}
