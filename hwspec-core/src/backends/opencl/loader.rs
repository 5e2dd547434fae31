//! Loading layer: makes sure the ICD loader can be opened before any OpenCL call is made.
//!
//! cl3 opens `libOpenCL.so.1` lazily inside its first call and reduces every failure to the
//! error number `DLOPEN_RUNTIME_LOAD_FAILED`, which says neither which file was wanted nor why
//! the dynamic loader refused it. Opening the library here first keeps the loader's own
//! sentence for the report, and lets the load stage be timed apart from the vendor ICDs, which
//! only run in `clGetPlatformIDs`. The handle is never closed (design §3: no dlclose), so cl3's
//! later `dlopen` of the same name finds the library already mapped.

use std::ffi::{CStr, CString};

/// The ICD loader's soname, the one cl3 opens.
pub(super) const OPENCL_LIBRARY: &CStr = c"libOpenCL.so.1";

/// Opens `soname` with the dynamic loader and keeps it open for the life of the process.
/// The error is the dynamic loader's message.
pub(super) fn open_for_good(soname: &CStr) -> Result<(), String> {
    open(soname, libc::RTLD_NOW | libc::RTLD_LOCAL)
}

/// Whether the ICD library an `.icd` file names can be loaded, opened as ocl-icd opens it
/// (lazily, locally) and kept open. The error is the dynamic loader's message.
pub(super) fn check_loadable(library: &str) -> Result<(), String> {
    let name = CString::new(library).map_err(|_| "the name contains a NUL byte".to_owned())?;
    open(&name, libc::RTLD_LAZY | libc::RTLD_LOCAL)
}

fn open(soname: &CStr, flags: libc::c_int) -> Result<(), String> {
    // SAFETY: `soname` is a NUL-terminated string that outlives the call. Opening a library
    // runs its initialisers; for the ICD loader and its ICDs that is the very code this worker
    // process exists to contain (design §3), and cl3 would run it anyway on its first call.
    let handle = unsafe { libc::dlopen(soname.as_ptr(), flags) };
    if !handle.is_null() {
        return Ok(());
    }
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by the loader that stays
    // valid until the next dl* call on this thread; it is copied before any such call.
    let message = unsafe {
        let error = libc::dlerror();
        (!error.is_null()).then(|| CStr::from_ptr(error).to_string_lossy().into_owned())
    };
    Err(message.unwrap_or_else(|| format!("{} could not be opened", soname.to_string_lossy())))
}
