//! The validation data path every kernel backend shares: the problems of a level with their
//! CPU references, made once per probe (on a helper thread while the runtime initialises) and
//! shared by every device, and the comparison of what a device read back with them.
//!
//! Making the SAXPY problem and its reference costs about 6 ms and 12 MiB of fresh pages; a
//! backend that rebuilt them per device paid that again for each, and one that compared with
//! `problem.reference()` recomputed the reference at every comparison.

use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::kernels::{compare, Saxpy, Sgemm};
use crate::model::{Level, Validation, ValidationKind};
use crate::sys::HugeFloats;

/// The validation problems of one level with their CPU references.
#[derive(Debug)]
pub(crate) struct Problems {
    /// The SAXPY problem, run at levels `standard` and `full`.
    pub(crate) saxpy: Saxpy,
    saxpy_reference: HugeFloats,
    /// The SGEMM problem and its reference, at level `full` only.
    sgemm: Option<(Sgemm, Vec<f32>)>,
}

impl Problems {
    /// The problems of `level`, references computed now.
    pub(crate) fn new(level: Level) -> Problems {
        let saxpy = Saxpy::standard();
        let saxpy_reference = saxpy.reference();
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
        compare(ValidationKind::Saxpy, &self.saxpy_reference, got, elapsed)
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
    helper: Option<JoinHandle<Problems>>,
}

impl Pending {
    /// Starts making the problems of `level`; at level `quick`, which runs no kernel, nothing.
    pub(crate) fn start(level: Level) -> Pending {
        let helper = (level > Level::Quick)
            .then(|| {
                thread::Builder::new()
                    .name("hwspec-problems".into())
                    .spawn(move || Problems::new(level))
                    .ok()
            })
            .flatten();
        Pending { level, helper }
    }

    /// The helper's problems; made here instead where no thread could start (a low process
    /// limit) or the helper did not finish normally.
    pub(crate) fn wait(self) -> Problems {
        self.helper
            .and_then(|helper| helper.join().ok())
            .unwrap_or_else(|| Problems::new(self.level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_the_kernels_own_made_once() {
        let standard = Pending::start(Level::Standard).wait();
        assert_eq!(standard.saxpy.len(), crate::kernels::SAXPY_ELEMENTS);
        assert_eq!(standard.saxpy_reference, standard.saxpy.reference());
        assert!(standard.sgemm().is_none());
        let right = standard.check_saxpy(&standard.saxpy.reference(), Duration::ZERO);
        assert!(right.passed);
        let mut wrong = standard.saxpy.reference();
        wrong[7] += 1.0;
        assert!(!standard.check_saxpy(&wrong, Duration::ZERO).passed);
        // Without a reference, an SGEMM result cannot pass.
        assert!(!standard.check_sgemm(&[1.0], Duration::ZERO).passed);

        let full = Pending::start(Level::Full).wait();
        let sgemm = full.sgemm().unwrap();
        assert!(full.check_sgemm(&sgemm.reference(), Duration::ZERO).passed);
    }

    #[test]
    fn quick_makes_nothing_until_asked() {
        let quick = Pending::start(Level::Quick);
        assert!(quick.helper.is_none());
        assert!(quick.wait().sgemm().is_none());
    }
}
