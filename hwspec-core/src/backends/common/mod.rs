//! The toolkit every backend builds on: opening runtime libraries and resolving their entry
//! points, and reporting why that failed.

mod error;
mod library;
pub(crate) mod skeleton;
pub(crate) mod validation;

pub(crate) use error::{check as check_call, CallError, Spelling};

pub(crate) use library::{check_loadable, symbol_table, Library, LoadError};
