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

/// What an ICD's own `clIcdGetPlatformIDsKHR` answers when asked how many platforms it has:
/// the count, or the error it returned as the number and its name. Asked only of ICDs that the
/// ICD loader listed no platform of, to say why it dropped them; the library is already loaded
/// (see [`check_loadable`]), so this runs nothing that had not run.
pub(super) fn icd_platform_count(library: &str) -> Result<u32, String> {
    type GetPlatformIds = unsafe extern "C" fn(u32, *mut *mut std::ffi::c_void, *mut u32) -> i32;
    let name = CString::new(library).map_err(|_| "the name contains a NUL byte".to_owned())?;
    // SAFETY: as in `open`; RTLD_NOLOAD only finds the library when it is already loaded.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    if handle.is_null() {
        return Err("the library is not loaded".to_owned());
    }
    let symbol = icd_entry_point(handle);
    if symbol.is_null() {
        return Err(
            "it offers no clIcdGetPlatformIDsKHR, through clGetExtensionFunctionAddress or \
             exported, which the ICD loader needs"
                .into(),
        );
    }
    // SAFETY: cl_khr_icd fixes this entry point's signature: (cl_uint num_entries,
    // cl_platform_id *platforms, cl_uint *num_platforms) -> cl_int.
    let get: GetPlatformIds =
        unsafe { std::mem::transmute::<*mut libc::c_void, GetPlatformIds>(symbol) };
    let mut count = 0u32;
    // SAFETY: with 0 entries and a null array the ICD only writes the count, into `count`.
    let result = unsafe { get(0, std::ptr::null_mut(), &mut count) };
    if result == 0 {
        Ok(count)
    } else {
        Err(format!(
            "clIcdGetPlatformIDsKHR returned {result} ({})",
            opencl3::error_codes::error_text(result)
        ))
    }
}

/// The ICD's `clIcdGetPlatformIDsKHR`, found as ICD loaders find it: through the ICD's
/// `clGetExtensionFunctionAddress` (NVIDIA's and PoCL's libraries export nothing else), else
/// exported by name. Null when neither gives it.
fn icd_entry_point(handle: *mut libc::c_void) -> *mut libc::c_void {
    type GetExtensionFunctionAddress =
        unsafe extern "C" fn(*const libc::c_char) -> *mut libc::c_void;
    // SAFETY: `handle` is live and the symbol name is NUL-terminated.
    let lookup = unsafe { libc::dlsym(handle, ICD_LOOKUP_SYMBOL.as_ptr()) };
    if !lookup.is_null() {
        // SAFETY: OpenCL fixes clGetExtensionFunctionAddress's signature: (const char *) ->
        // void *.
        let lookup = unsafe {
            std::mem::transmute::<*mut libc::c_void, GetExtensionFunctionAddress>(lookup)
        };
        // SAFETY: the name is NUL-terminated and outlives the call.
        let entry = unsafe { lookup(c"clIcdGetPlatformIDsKHR".as_ptr()) };
        if !entry.is_null() {
            return entry;
        }
    }
    // SAFETY: as above.
    unsafe { libc::dlsym(handle, c"clIcdGetPlatformIDsKHR".as_ptr()) }
}

/// The entry point every ICD exports, by which ICD loaders reach the rest.
pub(super) const ICD_LOOKUP_SYMBOL: &CStr = c"clGetExtensionFunctionAddress";

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
