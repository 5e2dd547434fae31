//! hwspec-core: probe which accelerators a Linux machine can really use.
//!
//! The calling process never loads a vendor library: [`probe`] starts one worker process per
//! backend (the `hwspec` executable in its hidden worker mode), collects their JSON results under
//! deadlines, and reduces them to a capability set ([`caps::reduce`]).

pub mod backend;
pub mod backends;
pub mod kernels;
pub mod model;
pub mod sys;
