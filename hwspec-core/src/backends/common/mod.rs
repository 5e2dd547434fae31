//! The toolkit every backend builds on: opening runtime libraries and reporting why they could
//! not be opened.

mod library;

pub(crate) use library::{check_loadable, LoadError};
