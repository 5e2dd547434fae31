//! Opening a runtime library for good and saying, as a report, why it could not be opened.

use crate::model::{BackendName, BackendReport, ReasonCode};

/// How opening a runtime library failed, for backends that resolve their entry points
/// themselves.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The dynamic loader could not open the library: its name and the loader's message.
    Library(String, String),
    /// The library lacks an entry point: its name and the dynamic loader's message.
    Symbol(&'static str, String),
}

impl LoadError {
    /// The backend's report for this failure: `absent` with `library-not-found` when the file
    /// could not be opened (normal: the runtime is not installed), `unusable` with `load-failed`
    /// when `library` lacks an entry point, with the file the dynamic loader mapped (the first
    /// whose name starts with `mapped`).
    pub(crate) fn report(self, backend: BackendName, library: &str, mapped: &str) -> BackendReport {
        match self {
            LoadError::Library(name, why) => BackendReport::absent(
                backend,
                ReasonCode::LibraryNotFound,
                format!("{name} could not be loaded: {why}"),
            ),
            LoadError::Symbol(symbol, why) => BackendReport {
                library: crate::sys::loaded_library(mapped),
                ..BackendReport::unusable(
                    backend,
                    ReasonCode::LoadFailed,
                    format!("{library} lacks the entry point {symbol}: {why}"),
                )
            },
        }
    }
}

/// Whether the driver library at `path` (or found by that name) can be loaded. A library that
/// loads is kept loaded: the loader is about to load it in this worker anyway, and unloading
/// vendor code is where crashes live (design §3).
pub(crate) fn check_loadable(path: &std::path::Path) -> Result<(), String> {
    // SAFETY: loading a driver library runs its initialisers, the vendor code this worker
    // process exists to contain; no Rust invariant depends on what they do.
    match unsafe { libloading::Library::new(path) } {
        Ok(library) => {
            std::mem::forget(library);
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}
