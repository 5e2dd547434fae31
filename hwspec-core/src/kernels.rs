//! The validation problems every backend runs, and their CPU references.
//!
//! Inputs are small multiples of 1/4, so every product and sum in SAXPY and in the SGEMM below
//! is exactly representable in `f32`: a correct device gives the reference bit for bit, whatever
//! order it sums in and whether or not it fuses multiply-adds. The tolerance only absorbs
//! devices that flush or approximate differently, never a wrong element.

use std::sync::OnceLock;
use std::time::Duration;

use crate::model::{Compared, Validation, ValidationKind};
use crate::sys::HugeFloats;

/// Elements in the SAXPY problem (the issue asks for at least one million).
pub const SAXPY_ELEMENTS: usize = 1 << 20;

/// Rows, columns and inner dimension of the square SGEMM problem at level `full`.
pub const SGEMM_N: usize = 128;

/// Largest accepted absolute difference, relative to `max(1, |reference|)`.
pub const TOLERANCE: f64 = 1e-5;

/// Elements after which `x` repeats.
const X_PERIOD: usize = 251;
/// Elements after which `y` repeats; coprime with [`X_PERIOD`].
const Y_PERIOD: usize = 127;
/// Elements after which the SAXPY result repeats: 31 877, 124 KiB of floats.
const SAXPY_PERIOD: usize = X_PERIOD * Y_PERIOD;

/// `y = a * x + y` on `f32` vectors that repeat: `x` every 251 elements, `y` every 127, so the
/// result every 31 877. One period of each is all that is ever computed: a backend that can
/// write into device memory (a mapped OpenCL or Vulkan buffer) fills it with copies of the
/// period at memory speed, and the result is checked against copies of the reference's
/// period. Host arrays of the whole inputs exist only for backends that copy them to a
/// device (see [`Saxpy::inputs`]).
#[derive(Debug, Clone)]
pub struct Saxpy {
    /// The scalar.
    pub a: f32,
    len: usize,
    inputs: OnceLock<(HugeFloats, HugeFloats)>,
}

impl Saxpy {
    /// The standard problem of [`SAXPY_ELEMENTS`] elements.
    pub fn standard() -> Saxpy {
        Saxpy::with_len(SAXPY_ELEMENTS)
    }

    /// A problem of `n` elements.
    pub fn with_len(n: usize) -> Saxpy {
        Saxpy {
            a: 2.5,
            len: n,
            inputs: OnceLock::new(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// One period of the input vector `x`, which repeats it.
    pub fn x_period() -> Vec<f32> {
        (0..X_PERIOD).map(quarter).collect()
    }

    /// One period of the vector `y` that the kernel adds to and overwrites.
    pub fn y_period() -> Vec<f32> {
        (0..Y_PERIOD)
            .map(|i| quarter((i * 7) % Y_PERIOD) - 8.0)
            .collect()
    }

    /// `x` and `y` in full as host arrays, made on first use, for backends that copy them to
    /// a device.
    pub fn inputs(&self) -> (&[f32], &[f32]) {
        let (x, y) = self.inputs.get_or_init(|| {
            (
                HugeFloats::repeating(self.len, &Saxpy::x_period()),
                HugeFloats::repeating(self.len, &Saxpy::y_period()),
            )
        });
        (x, y)
    }

    /// Whether the host arrays of [`Saxpy::inputs`] have been made.
    #[cfg(test)]
    pub(crate) fn has_host_inputs(&self) -> bool {
        self.inputs.get().is_some()
    }

    /// One period of the CPU reference result, which repeats it (see [`compare_repeating`]).
    pub fn reference_period(&self) -> Vec<f32> {
        let (x, y) = (Saxpy::x_period(), Saxpy::y_period());
        (0..SAXPY_PERIOD.min(self.len))
            .map(|i| self.a * x[i % X_PERIOD] + y[i % Y_PERIOD])
            .collect()
    }

    /// The CPU reference result in full.
    pub fn reference(&self) -> HugeFloats {
        HugeFloats::repeating(self.len, &self.reference_period())
    }
}

/// `C = A × B` for square row-major `f32` matrices of side `n`.
#[derive(Debug, Clone)]
pub struct Sgemm {
    /// Side of the matrices.
    pub n: usize,
    /// Left operand, row-major.
    pub a: Vec<f32>,
    /// Right operand, row-major.
    pub b: Vec<f32>,
}

impl Sgemm {
    /// The standard problem of side [`SGEMM_N`].
    pub fn standard() -> Sgemm {
        Sgemm::with_side(SGEMM_N)
    }

    /// A problem of side `n`.
    pub fn with_side(n: usize) -> Sgemm {
        let a = (0..n * n).map(|i| quarter(i % 13) - 1.5).collect();
        let b = (0..n * n).map(|i| quarter((i * 5) % 11) - 1.25).collect();
        Sgemm { n, a, b }
    }

    /// The CPU reference result, row-major.
    pub fn reference(&self) -> Vec<f32> {
        let n = self.n;
        let mut c = vec![0.0f32; n * n];
        for i in 0..n {
            for k in 0..n {
                let aik = self.a[i * n + k];
                for j in 0..n {
                    c[i * n + j] += aik * self.b[k * n + j];
                }
            }
        }
        c
    }
}

fn quarter(i: usize) -> f32 {
    i as f32 * 0.25
}

/// Compares `got` with `want` element by element, as a validation of `kind` (`Saxpy`,
/// `Sgemm`, `OffloadRegion`). A length mismatch or a non-finite element fails the check (its
/// error is reported as infinite).
pub fn compare(
    kind: fn(Compared) -> ValidationKind,
    want: &[f32],
    got: &[f32],
    elapsed: Duration,
) -> Validation {
    compare_repeating(kind, want, want.len(), got, elapsed)
}

/// [`compare`] against `len` elements that repeat `period` (a reference that is periodic,
/// like SAXPY's, is never made in full).
pub fn compare_repeating(
    kind: fn(Compared) -> ValidationKind,
    period: &[f32],
    len: usize,
    got: &[f32],
    elapsed: Duration,
) -> Validation {
    let judged = |passed, max_abs_error| Validation {
        kind: kind(Compared {
            elements: len as u64,
            max_abs_error,
        }),
        passed,
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
    };
    // The inputs make a correct device match exactly, so the common case is one slice
    // comparison per period instead of a million tolerance checks.
    let exact = got.len() == len
        && if period.is_empty() {
            len == 0
        } else {
            got.chunks(period.len())
                .all(|chunk| chunk == &period[..chunk.len()])
        };
    if exact {
        return judged(true, 0.0);
    }
    let mut max_abs_error = 0.0f64;
    let mut passed = got.len() == len && !period.is_empty();
    let wanted = period
        .iter()
        .cycle()
        .take(if period.is_empty() { 0 } else { len });
    for (w, g) in wanted.zip(got) {
        let err = (f64::from(*w) - f64::from(*g)).abs();
        if !err.is_finite() {
            max_abs_error = f64::INFINITY;
            passed = false;
            continue;
        }
        max_abs_error = max_abs_error.max(err);
        if err > TOLERANCE * f64::from(w.abs()).max(1.0) {
            passed = false;
        }
    }
    if got.len() != len || (period.is_empty() && len > 0) {
        max_abs_error = f64::INFINITY;
    }
    judged(passed, max_abs_error)
}

/// Build-log lines kept in a `build-failed` reason: the first error is nearly always in them,
/// and a whole log can run to megabytes.
pub(crate) const BUILD_LOG_LINES: usize = 8;

/// The first [`BUILD_LOG_LINES`] non-empty lines of a kernel's build (or compile) log, trimmed
/// and joined on one line for a reason message; `if_empty` when the log has none.
pub(crate) fn build_log_excerpt(log: &str, if_empty: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(BUILD_LOG_LINES)
        .collect();
    if lines.is_empty() {
        if_empty.to_owned()
    } else {
        lines.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compared(v: &Validation) -> &Compared {
        v.kind.compared().unwrap()
    }

    #[test]
    fn saxpy_reference_is_exact_and_self_consistent() {
        let p = Saxpy::with_len(1000);
        let r = p.reference();
        assert_eq!(r[3], 2.5 * 0.75 + (21.0 * 0.25 - 8.0));
        let v = compare(
            ValidationKind::Saxpy,
            &p.reference(),
            &r,
            Duration::from_millis(1),
        );
        assert!(v.passed);
        assert_eq!(v.kind.name(), "saxpy");
        assert_eq!(compared(&v).max_abs_error, 0.0);
        assert_eq!(compared(&v).elements, 1000);
    }

    #[test]
    fn host_inputs_are_the_formulas_and_give_the_reference() {
        let p = Saxpy::with_len(1000);
        assert!(!p.has_host_inputs());
        let (x, y) = p.inputs();
        assert!(p.has_host_inputs());
        assert_eq!((x.len(), y.len()), (1000, 1000));
        let (xp, yp) = (Saxpy::x_period(), Saxpy::y_period());
        assert!(x.iter().enumerate().all(|(i, v)| *v == xp[i % 251]));
        assert!(y.iter().enumerate().all(|(i, v)| *v == yp[i % 127]));
        let computed: Vec<f32> = x.iter().zip(y).map(|(x, y)| p.a * x + y).collect();
        assert_eq!(&p.reference()[..], &computed[..]);
    }

    #[test]
    fn one_wrong_element_fails_saxpy() {
        let p = Saxpy::with_len(1000);
        let mut r = p.reference();
        r[999] += 0.5;
        let v = compare(ValidationKind::Saxpy, &p.reference(), &r, Duration::ZERO);
        assert!(!v.passed);
        assert_eq!(compared(&v).max_abs_error, 0.5);
    }

    #[test]
    fn a_repeating_reference_is_checked_in_every_copy() {
        let p = Saxpy::with_len(100_000);
        let period = p.reference_period();
        assert_eq!(period.len(), 31_877);
        let mut got = p.reference();
        let right = compare_repeating(
            ValidationKind::Saxpy,
            &period,
            100_000,
            &got,
            Duration::ZERO,
        );
        assert!(right.passed);
        assert_eq!(compared(&right).elements, 100_000);
        // One element wrong in the fourth copy of the period.
        got[3 * 31_877 + 5] += 0.5;
        let wrong = compare_repeating(
            ValidationKind::Saxpy,
            &period,
            100_000,
            &got,
            Duration::ZERO,
        );
        assert!(!wrong.passed);
        assert_eq!(compared(&wrong).max_abs_error, 0.5);
        // Too short, and a reference with no period at all.
        let short = compare_repeating(
            ValidationKind::Saxpy,
            &period,
            100_000,
            &got[..10],
            Duration::ZERO,
        );
        assert!(!short.passed);
        assert!(compared(&short).max_abs_error.is_infinite());
        assert!(
            !compare_repeating(ValidationKind::Saxpy, &[], 3, &[0.0; 3], Duration::ZERO).passed
        );
        assert!(compare_repeating(ValidationKind::Saxpy, &[], 0, &[], Duration::ZERO).passed);
    }

    #[test]
    fn nan_and_short_outputs_fail() {
        let p = Saxpy::with_len(10);
        let mut r = p.reference();
        r[0] = f32::NAN;
        assert!(!compare(ValidationKind::Saxpy, &p.reference(), &r, Duration::ZERO).passed);
        let short = p.reference()[..9].to_vec();
        let v = compare(
            ValidationKind::Saxpy,
            &p.reference(),
            &short,
            Duration::ZERO,
        );
        assert!(!v.passed);
        assert!(compared(&v).max_abs_error.is_infinite());
    }

    #[test]
    fn build_log_excerpts_keep_the_first_non_empty_lines() {
        let log = "\n<source>:3:5: error: use of undeclared identifier 'z'\n   z = 1;\n\n   ^\n";
        assert_eq!(
            build_log_excerpt(log, "(empty)"),
            "<source>:3:5: error: use of undeclared identifier 'z' | z = 1; | ^"
        );
        assert_eq!(
            build_log_excerpt("\nerror: bad\n  \n at line 3\n", "(empty)"),
            "error: bad | at line 3"
        );
        let long: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(
            build_log_excerpt(&long, "(empty)").matches(" | ").count(),
            BUILD_LOG_LINES - 1
        );
        assert_eq!(build_log_excerpt("  \n", "(empty)"), "(empty)");
        assert_eq!(build_log_excerpt("", "(empty)"), "(empty)");
        assert_eq!(build_log_excerpt("", "(empty log)"), "(empty log)");
    }

    #[test]
    fn sgemm_reference_matches_a_naive_dot_product() {
        let p = Sgemm::with_side(16);
        let c = p.reference();
        let (i, j) = (5, 11);
        let dot: f32 = (0..16).map(|k| p.a[i * 16 + k] * p.b[k * 16 + j]).sum();
        assert_eq!(c[i * 16 + j], dot);
        let v = compare(ValidationKind::Sgemm, &p.reference(), &c, Duration::ZERO);
        assert!(v.passed);
        assert_eq!(v.kind.name(), "sgemm");
    }
}
