//! hwspec-core: probe which accelerators a Linux machine can really use.
//!
//! The entry point is [`report`]: the CLI, libhwspec and any embedding program call it with
//! [`ProbeOptions`] (one set of defaults, [`ProbeOptions::new`]) and get an [`Answer`]: the
//! report from the report cache while it still holds, else from a new probe shared by all the
//! callers asking at once, with the `HWSPEC_OVERRIDE_*` variables applied.
//!
//! The calling process never loads a vendor library: a probe ([`probe`]) starts one worker
//! process per backend (the `hwspec` executable in its hidden worker mode, see
//! [`worker::run_if_asked`]), collects their JSON results under deadlines, and reduces them to
//! a capability set ([`caps::reduce`]). The library never writes to stdout or stderr and never
//! panics on a caller's behalf.

#![warn(missing_docs)]
// Unsafe code only where a file says it is allowed: each backend's sys.rs and api.rs, sys.rs,
// supervise/process.rs and backends/common/library.rs.
#![deny(unsafe_code)]

pub mod amdgpu;
pub(crate) mod backends;
pub mod caps;
pub mod control;
pub(crate) mod driver_dirs;
mod entry;
pub mod files;
pub(crate) mod guard;
pub mod host;
pub(crate) mod kernels;
pub mod model;
pub mod options;
pub(crate) mod pipes;
pub mod protocol;
pub(crate) mod report_cache;
pub mod spec;
pub mod supervise;
pub mod sys;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
pub mod version;
pub mod worker;

pub use entry::{report, Answer};
pub use model::{BackendName, Level, Report, Status};
pub use options::{CachePolicy, Deadlines, ProbeOptions, WorkerCommand};
pub use supervise::probe;
