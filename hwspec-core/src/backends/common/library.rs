//! Opening a runtime library for good, resolving a table of its entry points, and saying, as a
//! report, why either failed.
//!
//! Every backend opens its runtime the same way: by explicit names (versioned sonames or
//! absolute paths, never an unversioned development link), with `RTLD_NOW | RTLD_LOCAL`, and
//! never closed again (design §3: vendor teardown is where crashes live). Every entry point is
//! looked up before the first call, so a library that lacks one is reported by name instead of
//! crashing the worker, and an optional entry point is data (a lower capability), as in ash.

// The crate denies unsafe code outside a few files; this one holds dlopen and dlsym, behind
// Library and symbol_table!.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fmt;
use std::path::{Path, PathBuf};

use libloading::os::unix::{Library as Handle, RTLD_LAZY, RTLD_LOCAL, RTLD_NOW};

use crate::model::{BackendName, BackendReport, ReasonCode};

/// A runtime library opened for the life of the process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Library {
    /// The name it was opened by: a soname or an absolute path.
    name: &'static str,
    handle: &'static Handle,
}

impl Library {
    /// Opens the first of `names` that the dynamic loader accepts: sonames looked up along the
    /// loader's search path, or absolute paths. On failure, the loader's message for every
    /// name, in order (dlerror already names the file it could not open).
    pub(crate) fn open_first(names: &[&'static str]) -> Result<Library, LoadError> {
        let mut refusals = Vec::new();
        for &name in names {
            // SAFETY: opening a library runs its initialisers; for a vendor runtime that is the
            // very code this worker process exists to contain (design §3), and no Rust
            // invariant depends on what they do. The handle is leaked, so nothing ever unloads
            // the library.
            match unsafe { Handle::open(Some(name), RTLD_NOW | RTLD_LOCAL) } {
                Ok(handle) => {
                    return Ok(Library {
                        name,
                        handle: Box::leak(Box::new(handle)),
                    })
                }
                Err(error) => refusals.push(error.to_string()),
            }
        }
        Err(LoadError::NotFound(refusals))
    }

    /// Opens `name`, as [`Library::open_first`] does.
    pub(crate) fn open(name: &'static str) -> Result<Library, LoadError> {
        Library::open_first(&[name])
    }

    /// The library `name` when this process has already loaded it, without loading it
    /// (`RTLD_NOLOAD`): to ask a driver that is already loaded a question without running any
    /// code that had not run. `None` when it is not loaded.
    pub(crate) fn already_loaded(name: &str) -> Option<Library> {
        // SAFETY: with RTLD_NOLOAD the dynamic loader only finds a library that is already
        // loaded, so no initialiser runs; the handle is leaked, as in `open_first`.
        let handle = unsafe { Handle::open(Some(name), RTLD_LAZY | libc::RTLD_NOLOAD) }.ok()?;
        Some(Library {
            name: Box::leak(name.into()),
            handle: Box::leak(Box::new(handle)),
        })
    }

    /// The name the library was opened by.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The entry point `symbol` as a `T`, or `None` when the library lacks it.
    ///
    /// # Safety
    ///
    /// `T` must be the function pointer type of the symbol's C declaration.
    pub(crate) unsafe fn get<T: Copy>(&self, symbol: &CStr) -> Option<T> {
        // SAFETY: the caller promises that `T` matches the symbol; the library is never
        // unloaded, so the pointer copied out of the `Symbol` stays valid for the life of the
        // process.
        unsafe {
            self.handle
                .get::<T>(symbol.to_bytes_with_nul())
                .ok()
                .map(|s| *s)
        }
    }
}

/// The canonical path of the already loaded library that `name` (a bare soname or a path, as a
/// driver manifest writes it) resolves to, found through `symbol`, an entry point every such
/// driver exports. Nothing is loaded ([`Library::already_loaded`]): `None` when the library is
/// not in this process or lacks the symbol.
pub(crate) fn loaded_file(name: &Path, symbol: &CStr) -> Option<PathBuf> {
    let library = Library::already_loaded(name.to_str()?)?;
    // SAFETY: the address is only compared with the loaded objects' ranges, never called, so
    // any function pointer type serves.
    let entry: unsafe extern "C" fn() = unsafe { library.get(symbol)? };
    crate::sys::file_containing(entry as usize)
}

/// Declares a table of a library's entry points and the function that resolves them all:
///
/// ```ignore
/// symbol_table! {
///     /// The Level Zero loader's entry points the probe calls.
///     pub(super) struct Api {
///         required {
///             init = c"zeInit": unsafe extern "C" fn(u32) -> u32;
///         }
///         optional {
///             driver_get_extension = c"zeDriverGetExtensionFunctionAddress":
///                 unsafe extern "C" fn(Handle, *const c_char, *mut *mut c_void) -> u32;
///         }
///     }
/// }
/// ```
///
/// `Api::resolve(&library)` looks up every symbol once and fails with
/// [`LoadError::MissingSymbols`] naming all the required ones the library lacks; an optional
/// one is `None` in the table. The types must be the symbols' C declarations, transcribed from
/// the vendor's headers: that is what the `unsafe` inside the expansion relies on, so the
/// macro is invoked only in a backend's `sys.rs`.
macro_rules! symbol_table {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            required {
                $($field:ident = $symbol:literal: $ty:ty;)*
            }
            $(optional {
                $($opt_field:ident = $opt_symbol:literal: $opt_ty:ty;)*
            })?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name {
            $($vis $field: $ty,)*
            $($($vis $opt_field: Option<$opt_ty>,)*)?
        }

        impl $name {
            /// Looks up every entry point in `library`; the error names each required one it
            /// lacks.
            $vis fn resolve(
                library: &$crate::backends::common::Library,
            ) -> Result<$name, $crate::backends::common::LoadError> {
                let mut missing: Vec<&'static str> = Vec::new();
                $(
                    // SAFETY: the field's type is the C declaration of this symbol in the
                    // vendor's headers (the table's contract, stated where it is declared).
                    let $field: Option<$ty> = unsafe { library.get($symbol) };
                    if $field.is_none() {
                        missing.push(
                            std::ffi::CStr::to_str($symbol).unwrap_or("an unnamed entry point"),
                        );
                    }
                )*
                $($(
                    // SAFETY: as above.
                    let $opt_field: Option<$opt_ty> = unsafe { library.get($opt_symbol) };
                )*)?
                match ($($field,)*) {
                    ($(Some($field),)*) => Ok($name {
                        $($field,)*
                        $($($opt_field,)*)?
                    }),
                    _ => Err($crate::backends::common::LoadError::MissingSymbols {
                        library: library.name(),
                        symbols: missing,
                    }),
                }
            }
        }
    };
}
pub(crate) use symbol_table;

/// Why a runtime library could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoadError {
    /// No name could be opened: the dynamic loader's message for each, in order.
    NotFound(Vec<String>),
    /// The library opened but lacks entry points the probe needs.
    MissingSymbols {
        /// The name it was opened by.
        library: &'static str,
        /// The C names of the entry points it lacks.
        symbols: Vec<&'static str>,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(refusals) => f.write_str(&refusals.join("; ")),
            LoadError::MissingSymbols { library, symbols } => {
                write!(f, "{library} lacks the entry point")?;
                if symbols.len() > 1 {
                    f.write_str("s")?;
                }
                write!(f, " {}", symbols.join(", "))
            }
        }
    }
}

impl LoadError {
    /// The backend's report for this failure: `absent` with `library-not-found` when no name
    /// could be opened (normal: the runtime is not installed), `unusable` with `load-failed`
    /// when the library lacks an entry point, with the file the dynamic loader mapped (the
    /// first whose name starts with `mapped`). `what` names the runtime in the message
    /// (`the HIP runtime`, `libcuda`).
    pub(crate) fn report(&self, backend: BackendName, what: &str, mapped: &str) -> BackendReport {
        match self {
            LoadError::NotFound(_) => BackendReport::absent(
                backend,
                ReasonCode::LibraryNotFound,
                format!("{what} could not be loaded: {self}"),
            ),
            LoadError::MissingSymbols { .. } => BackendReport {
                library: crate::sys::loaded_library(mapped),
                ..BackendReport::unusable(backend, ReasonCode::LoadFailed, self.to_string())
            },
        }
    }
}

/// Whether the driver library at `path` (or found by that name) can be loaded. A library that
/// loads is kept loaded: the loader is about to load it in this worker anyway, and unloading
/// vendor code is where crashes live (design §3).
pub(crate) fn check_loadable(path: &Path) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use std::ffi::{c_char, c_int};

    use super::*;

    symbol_table! {
        /// Two entry points of the C library every test process has loaded.
        struct Libc {
            required {
                abs = c"abs": unsafe extern "C" fn(c_int) -> c_int;
                strlen = c"strlen": unsafe extern "C" fn(*const c_char) -> usize;
            }
            optional {
                missing = c"hwspec_no_such_symbol": unsafe extern "C" fn();
            }
        }
    }

    symbol_table! {
        /// A table no library satisfies; only its resolution is looked at.
        #[allow(dead_code)]
        struct Impossible {
            required {
                abs = c"abs": unsafe extern "C" fn(c_int) -> c_int;
                first = c"hwspec_missing_one": unsafe extern "C" fn();
                second = c"hwspec_missing_two": unsafe extern "C" fn();
            }
        }
    }

    #[test]
    fn a_table_resolves_required_and_optional_entry_points() {
        let libc = Library::open_first(&["libc.so.6"]).unwrap();
        assert_eq!(libc.name(), "libc.so.6");
        let api = Libc::resolve(&libc).unwrap();
        assert!(api.missing.is_none());
        // SAFETY: abs and strlen as libc declares them; the string is NUL-terminated.
        unsafe {
            assert_eq!((api.abs)(-3), 3);
            assert_eq!((api.strlen)(c"four".as_ptr()), 4);
        }
    }

    #[test]
    fn only_a_library_already_loaded_is_found_without_loading() {
        let libc = Library::already_loaded("libc.so.6").unwrap();
        assert_eq!(libc.name(), "libc.so.6");
        assert!(Libc::resolve(&libc).is_ok());
        assert!(Library::already_loaded("libhwspec-never-loaded.so.1").is_none());
    }

    #[test]
    fn every_missing_entry_point_is_named() {
        let libc = Library::open("libc.so.6").unwrap();
        let error = Impossible::resolve(&libc).unwrap_err();
        assert_eq!(
            error.to_string(),
            "libc.so.6 lacks the entry points hwspec_missing_one, hwspec_missing_two"
        );
        let report = error.report(BackendName::LevelZero, "libc", "libc.so");
        assert_eq!(report.status, crate::model::Status::Unusable);
        assert_eq!(report.reason.unwrap().code, ReasonCode::LoadFailed);
        assert!(report.library.is_some_and(|l| l.contains("libc")));
    }

    #[test]
    fn a_library_that_is_not_there_is_absent_with_every_refusal() {
        let error =
            Library::open_first(&["libhwspec-none.so.1", "/nonexistent/libhwspec-none.so.2"])
                .unwrap_err();
        let LoadError::NotFound(refusals) = &error else {
            panic!("{error:?}");
        };
        assert_eq!(refusals.len(), 2);
        assert!(refusals[0].contains("libhwspec-none.so.1"), "{refusals:?}");
        assert!(refusals[1].contains("/nonexistent/"), "{refusals:?}");
        let report = error.report(BackendName::Cuda, "libcuda", "libcuda.so");
        assert_eq!(report.status, crate::model::Status::Absent);
        let reason = report.reason.unwrap();
        assert_eq!(reason.code, ReasonCode::LibraryNotFound);
        assert!(reason.message.starts_with("libcuda could not be loaded: "));
    }
}
