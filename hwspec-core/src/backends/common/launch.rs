//! Kernel launches that are safe to call: a kernel's parameters are declared next to its
//! source, a launch passes a typed argument list, and the list is checked against the
//! declaration before any argument becomes a raw pointer.
//!
//! A launch hands the device pointers and values it reads through as the kernel's C signature
//! says; a wrong count, a float where a pointer belongs, or a buffer shorter than the kernel
//! reaches would have the device read or write memory it was never given. The check below
//! leaves one thing to trust: that the declaration matches the kernel's source, which is
//! written next to it.

use std::ffi::CStr;
use std::fmt;

use super::CallError;

/// The type of one kernel parameter, as the kernel's source declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// A pointer to `float`s in device memory (`.param .u64` in 64-bit PTX).
    Buffer,
    /// `float` (`.param .f32`).
    F32,
    /// `unsigned int` (`.param .u32`).
    U32,
}

impl fmt::Display for ArgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArgKind::Buffer => "buffer",
            ArgKind::F32 => "f32",
            ArgKind::U32 => "u32",
        })
    }
}

/// How far a kernel reaches into every buffer argument, in elements, as a function of one of
/// its `U32` parameters (given by its index): what each buffer must hold for the launch to
/// stay inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Elements `0..n` (SAXPY: `x[i]`, `y[i]` for `i < n`).
    Count(usize),
    /// Elements `0..n * n` (SGEMM over `n × n` matrices).
    Square(usize),
}

/// A kernel as its source declares it: entry point, parameters in order, and how far it
/// reaches into its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signature {
    /// The entry point's name.
    pub(crate) entry: &'static CStr,
    /// Its parameters, in order.
    pub(crate) params: &'static [ArgKind],
    /// Which buffer elements it may touch.
    pub(crate) reach: Reach,
}

/// `saxpy(float a, const float *x, float *y, unsigned int n)`, as every backend's SAXPY
/// kernel declares it (`saxpy.hip`, `saxpy.cl`, `saxpy.cu`): it touches `x[i]` and `y[i]`
/// for `i < n` only.
pub(crate) const SAXPY: Signature = Signature {
    entry: c"saxpy",
    params: &[ArgKind::F32, ArgKind::Buffer, ArgKind::Buffer, ArgKind::U32],
    reach: Reach::Count(3),
};

/// `sgemm(const float *a, const float *b, float *c, unsigned int n)`, as every backend's SGEMM
/// kernel declares it: it indexes with row, col, k < n only, so below `n * n` in every matrix.
pub(crate) const SGEMM: Signature = Signature {
    entry: c"sgemm",
    params: &[
        ArgKind::Buffer,
        ArgKind::Buffer,
        ArgKind::Buffer,
        ArgKind::U32,
    ],
    reach: Reach::Square(3),
};

/// A device allocation of `float`s that a kernel may be given.
pub(crate) trait Floats {
    /// How many `float`s it holds.
    fn floats(&self) -> usize;
    /// Its address as the kernel's pointer parameter takes it.
    fn address(&self) -> u64;
}

/// One kernel argument. A buffer is borrowed, so it outlives the launch that is given it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a, B> {
    /// A device buffer of `float`s.
    Buffer(&'a B),
    /// A `float` value.
    F32(f32),
    /// An `unsigned int` value.
    U32(u32),
}

impl<B: Floats> Arg<'_, B> {
    fn kind(&self) -> ArgKind {
        match self {
            Arg::Buffer(_) => ArgKind::Buffer,
            Arg::F32(_) => ArgKind::F32,
            Arg::U32(_) => ArgKind::U32,
        }
    }

    /// The argument's bytes in an 8-byte slot, from its start, and how many of them the
    /// parameter has: what a runtime that reads parameters through pointers is given.
    pub(crate) fn slot(&self) -> (u64, usize) {
        let mut bytes = [0u8; 8];
        let size = match self {
            Arg::Buffer(buffer) => {
                bytes.copy_from_slice(&buffer.address().to_ne_bytes());
                8
            }
            Arg::F32(value) => {
                bytes[..4].copy_from_slice(&value.to_ne_bytes());
                4
            }
            Arg::U32(value) => {
                bytes[..4].copy_from_slice(&value.to_ne_bytes());
                4
            }
        };
        (u64::from_ne_bytes(bytes), size)
    }
}

/// Why a kernel did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LaunchError {
    /// The arguments do not fit the kernel's declaration: the runtime was not called.
    Refused(String),
    /// The runtime refused the launch, or it failed.
    Call(CallError),
}

impl From<CallError> for LaunchError {
    fn from(error: CallError) -> LaunchError {
        LaunchError::Call(error)
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::Refused(why) => write!(f, "not launched: {why}"),
            LaunchError::Call(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for LaunchError {}

impl Signature {
    /// Whether `args` fit the declaration: the same kinds in the same order, and every buffer
    /// holding as many elements as the kernel reaches. `owned` says whether a buffer belongs
    /// to the context the kernel runs in.
    pub(crate) fn check<B: Floats>(
        &self,
        args: &[Arg<'_, B>],
        owned: impl Fn(&B) -> bool,
    ) -> Result<(), LaunchError> {
        let entry = self.entry.to_string_lossy();
        let given: Vec<ArgKind> = args.iter().map(Arg::kind).collect();
        if given != self.params {
            return Err(LaunchError::Refused(format!(
                "{entry} declares ({}) but was given ({})",
                list(self.params),
                list(&given)
            )));
        }
        let (index, square) = match self.reach {
            Reach::Count(index) => (index, false),
            Reach::Square(index) => (index, true),
        };
        let Some(&Arg::U32(n)) = args.get(index) else {
            return Err(LaunchError::Refused(format!(
                "{entry}'s declaration bounds its buffers by parameter {index}, which is not a u32"
            )));
        };
        let n = u64::from(n);
        let needed = if square { n * n } else { n };
        for (position, arg) in args.iter().enumerate() {
            let Arg::Buffer(buffer) = arg else { continue };
            if !owned(buffer) {
                return Err(LaunchError::Refused(format!(
                    "{entry} was given a buffer of another context as parameter {position}"
                )));
            }
            let holds = u64::try_from(buffer.floats()).unwrap_or(u64::MAX);
            if holds < needed {
                return Err(LaunchError::Refused(format!(
                    "{entry} reaches {needed} elements but parameter {position} holds {holds}"
                )));
            }
        }
        Ok(())
    }
}

fn list(kinds: &[ArgKind]) -> String {
    kinds
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Buffer(usize, u8);

    impl Floats for Buffer {
        fn floats(&self) -> usize {
            self.0
        }
        fn address(&self) -> u64 {
            0x1000 * u64::from(self.1)
        }
    }

    fn ours(buffer: &Buffer) -> bool {
        buffer.1 == 0
    }

    fn axpy<'a>(x: &'a Buffer, y: &'a Buffer, n: u32) -> [Arg<'a, Buffer>; 4] {
        [Arg::F32(2.0), Arg::Buffer(x), Arg::Buffer(y), Arg::U32(n)]
    }

    #[test]
    fn fitting_arguments_pass() {
        let (x, y) = (Buffer(8, 0), Buffer(8, 0));
        assert_eq!(SAXPY.check(&axpy(&x, &y, 8), ours), Ok(()));
        let m = Buffer(16, 0);
        let square = [
            Arg::Buffer(&m),
            Arg::Buffer(&m),
            Arg::Buffer(&m),
            Arg::U32(4),
        ];
        assert_eq!(SGEMM.check(&square, ours), Ok(()));
    }

    #[test]
    fn wrong_kinds_are_refused_and_named() {
        let x = Buffer(8, 0);
        let args = [Arg::F32(2.0), Arg::Buffer(&x), Arg::U32(8)];
        let error = SAXPY.check(&args, ours).unwrap_err();
        assert_eq!(
            error.to_string(),
            "not launched: saxpy declares (f32, buffer, buffer, u32) but was given \
             (f32, buffer, u32)"
        );
    }

    #[test]
    fn short_or_foreign_buffers_are_refused() {
        let (x, short) = (Buffer(8, 0), Buffer(7, 0));
        let error = SAXPY.check(&axpy(&x, &short, 8), ours).unwrap_err();
        assert_eq!(
            error,
            LaunchError::Refused("saxpy reaches 8 elements but parameter 2 holds 7".into())
        );

        let m = Buffer(15, 0);
        let square = [
            Arg::Buffer(&m),
            Arg::Buffer(&m),
            Arg::Buffer(&m),
            Arg::U32(4),
        ];
        assert!(SGEMM.check(&square, ours).is_err());

        let foreign = Buffer(8, 1);
        let error = SAXPY.check(&axpy(&foreign, &x, 8), ours).unwrap_err();
        assert!(
            error.to_string().contains("buffer of another context"),
            "{error}"
        );
    }

    #[test]
    fn slots_hold_each_value_from_their_start() {
        let x = Buffer(8, 3);
        let slot = |arg: Arg<'_, Buffer>| {
            let (value, size) = arg.slot();
            (value.to_ne_bytes()[..size].to_vec(), size)
        };
        assert_eq!(slot(Arg::Buffer(&x)), (0x3000u64.to_ne_bytes().to_vec(), 8));
        assert_eq!(slot(Arg::F32(1.5)), (1.5f32.to_ne_bytes().to_vec(), 4));
        assert_eq!(slot(Arg::U32(7)), (7u32.to_ne_bytes().to_vec(), 4));
    }

    #[test]
    fn a_declaration_bounding_by_a_non_count_is_refused() {
        const BAD: Signature = Signature {
            entry: c"bad",
            params: &[ArgKind::F32, ArgKind::Buffer],
            reach: Reach::Count(0),
        };
        let x = Buffer(8, 0);
        assert!(BAD.check(&[Arg::F32(1.0), Arg::Buffer(&x)], ours).is_err());
    }
}
