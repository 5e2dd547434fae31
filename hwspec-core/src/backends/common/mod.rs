//! The toolkit every backend builds on: opening runtime libraries and resolving their entry
//! points, and reporting why that failed; the kernel cache; the shapes of capability rules.

pub(crate) mod capabilities;
pub(crate) mod driver_files;
mod error;
mod kernel_cache;
mod launch;
mod library;
pub(crate) mod skeleton;
pub(crate) mod validation;

pub(crate) use error::{check as check_call, name_in, CallError, Spelling};

pub(crate) use kernel_cache::KernelCache;
pub(crate) use launch::{Arg, Floats, LaunchError, Signature, SAXPY, SGEMM};
pub(crate) use library::{check_loadable, loaded_file, symbol_table, Library, LoadError};
