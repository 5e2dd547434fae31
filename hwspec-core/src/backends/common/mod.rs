//! The toolkit every backend builds on: opening runtime libraries and resolving their entry
//! points, and reporting why that failed.

mod library;

pub(crate) use library::{check_loadable, symbol_table, Library, LoadError};
