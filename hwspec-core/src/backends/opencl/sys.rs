#![allow(unsafe_code)]
// Why: an ICD's entry points are found by address and called here, outside cl3's wrappers.

//! Loading: the ICD loader opened before any OpenCL call, the ICD libraries checked the way the
//! loader opens them, and the one question asked of an ICD directly.
//!
//! cl3 opens `libOpenCL.so.1` lazily inside its first call and reduces every failure to the
//! error number `DLOPEN_RUNTIME_LOAD_FAILED`, which says neither which file was wanted nor why
//! the dynamic loader refused it. Opening the library first through [`Library`] keeps the
//! loader's own sentence for the report, and lets the load stage be timed apart from the vendor
//! ICDs, which only run in `clGetPlatformIDs`. The library is never closed (design §3), so
//! cl3's later `dlopen` of the same name finds it already mapped.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use opencl3::error_codes::error_text;

use crate::backends::common::{check_call, Library};

/// The ICD loader's soname, the one cl3 opens.
pub(super) const OPENCL_LIBRARY: &str = "libOpenCL.so.1";

/// The entry point every ICD exports, by which ICD loaders reach the rest.
pub(super) const ICD_LOOKUP_SYMBOL: &CStr = c"clGetExtensionFunctionAddress";

/// cl_khr_icd's `clIcdGetPlatformIDsKHR(cl_uint num_entries, cl_platform_id *platforms,
/// cl_uint *num_platforms) -> cl_int`.
type IcdGetPlatformIds = unsafe extern "C" fn(u32, *mut *mut c_void, *mut u32) -> i32;

/// OpenCL's `clGetExtensionFunctionAddress(const char *) -> void *`.
type GetExtensionFunctionAddress = unsafe extern "C" fn(*const c_char) -> *mut c_void;

/// The OpenCL headers' name for an error number; numbers they do not name stay numbers.
pub(super) fn error_name(code: i64) -> Option<&'static str> {
    let name = error_text(i32::try_from(code).ok()?);
    (name != "UNKNOWN_ERROR").then_some(name)
}

/// What an ICD's own `clIcdGetPlatformIDsKHR` answers when asked how many platforms it has:
/// the count, or why there is none to ask. Asked only of ICDs that the ICD loader listed no
/// platform of, to say why it dropped them; the library is already loaded (see
/// [`common::check_loadable`](crate::backends::common::check_loadable)), so this runs nothing
/// that had not run.
pub(super) fn icd_platform_count(library: &str) -> Result<u32, String> {
    let icd = Library::already_loaded(library).ok_or("the library is not loaded")?;
    let get = icd_entry_point(&icd).ok_or(
        "it offers no clIcdGetPlatformIDsKHR, through clGetExtensionFunctionAddress or \
         exported, which the ICD loader needs",
    )?;
    let mut count = 0u32;
    // SAFETY: with 0 entries and a null array the ICD only writes the count, into `count`.
    let result = unsafe { get(0, ptr::null_mut(), &mut count) };
    check_call("clIcdGetPlatformIDsKHR", result)
        .map_err(|error| error.named_by(error_name).to_string())?;
    Ok(count)
}

/// The ICD's `clIcdGetPlatformIDsKHR`, found as ICD loaders find it: through the ICD's
/// `clGetExtensionFunctionAddress` (NVIDIA's and PoCL's libraries export nothing else), else
/// exported by name.
fn icd_entry_point(icd: &Library) -> Option<IcdGetPlatformIds> {
    // SAFETY: OpenCL fixes clGetExtensionFunctionAddress's signature.
    let lookup = unsafe { icd.get::<GetExtensionFunctionAddress>(ICD_LOOKUP_SYMBOL) };
    if let Some(lookup) = lookup {
        // SAFETY: the name is NUL-terminated and outlives the call.
        let entry = unsafe { lookup(c"clIcdGetPlatformIDsKHR".as_ptr()) };
        if !entry.is_null() {
            // SAFETY: cl_khr_icd fixes this entry point's signature (see IcdGetPlatformIds).
            return Some(unsafe { std::mem::transmute::<*mut c_void, IcdGetPlatformIds>(entry) });
        }
    }
    // SAFETY: as above.
    unsafe { icd.get::<IcdGetPlatformIds>(c"clIcdGetPlatformIDsKHR") }
}
