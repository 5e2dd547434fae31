//! The VA-API C interface as far as the probe uses it, declared: `libva.so.2`'s and
//! `libva-drm.so.2`'s entry points and the constants the probe passes.
//!
//! The declarations are transcribed from libva 2.x's `va.h` and `va_drm.h` (API 1.x), so
//! building hwspec needs no libva package. Profiles and entry points stay plain `i32`s: a
//! driver newer than these notes may list values they do not name.

// Resolving symbols and reading the C strings libva returns are unsafe by nature.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};

use crate::backends::common::symbol_table;

/// The sonames of Debian's `libva2` and `libva-drm2`.
pub(super) const LIBVA_SONAME: &str = "libva.so.2";
pub(super) const LIBVA_DRM_SONAME: &str = "libva-drm.so.2";

pub(super) type VaDisplay = *mut c_void;
pub(super) type VaStatus = c_int;
/// A `VAProfile`.
pub(super) type Profile = i32;
/// A `VAEntrypoint`.
pub(super) type Entrypoint = i32;

pub(super) const VA_STATUS_SUCCESS: VaStatus = 0;
/// `VA_RT_FORMAT_YUV420`: 8-bit 4:2:0, what every profile chosen for validation decodes to.
pub(super) const VA_RT_FORMAT_YUV420: c_uint = 0x1;
/// `VA_PROGRESSIVE`.
pub(super) const VA_PROGRESSIVE: c_int = 0x1;

symbol_table! {
    /// libva's entry points, each declared as va.h declares it: VADisplay is `void *`, VAStatus
    /// and the enums `int`, the ids `unsigned int`, and the attribute lists (only ever passed
    /// as NULL) pointers.
    pub(super) struct Core {
        required {
            initialize = c"vaInitialize": unsafe extern "C" fn(VaDisplay, *mut c_int, *mut c_int) -> VaStatus;
            error_str = c"vaErrorStr": unsafe extern "C" fn(VaStatus) -> *const c_char;
            query_vendor_string = c"vaQueryVendorString": unsafe extern "C" fn(VaDisplay) -> *const c_char;
            max_num_profiles = c"vaMaxNumProfiles": unsafe extern "C" fn(VaDisplay) -> c_int;
            max_num_entrypoints = c"vaMaxNumEntrypoints": unsafe extern "C" fn(VaDisplay) -> c_int;
            query_config_profiles = c"vaQueryConfigProfiles":
                unsafe extern "C" fn(VaDisplay, *mut Profile, *mut c_int) -> VaStatus;
            query_config_entrypoints = c"vaQueryConfigEntrypoints":
                unsafe extern "C" fn(VaDisplay, Profile, *mut Entrypoint, *mut c_int) -> VaStatus;
            create_config = c"vaCreateConfig": unsafe extern "C" fn(
                VaDisplay, Profile, Entrypoint, *mut c_void, c_int, *mut c_uint) -> VaStatus;
            destroy_config = c"vaDestroyConfig": unsafe extern "C" fn(VaDisplay, c_uint) -> VaStatus;
            create_surfaces = c"vaCreateSurfaces": unsafe extern "C" fn(
                VaDisplay, c_uint, c_uint, c_uint, *mut c_uint, c_uint, *mut c_void, c_uint)
                -> VaStatus;
            destroy_surfaces = c"vaDestroySurfaces":
                unsafe extern "C" fn(VaDisplay, *mut c_uint, c_int) -> VaStatus;
            create_context = c"vaCreateContext": unsafe extern "C" fn(
                VaDisplay, c_uint, c_int, c_int, c_int, *mut c_uint, c_int, *mut c_uint)
                -> VaStatus;
            destroy_context = c"vaDestroyContext": unsafe extern "C" fn(VaDisplay, c_uint) -> VaStatus;
        }
    }
}

symbol_table! {
    /// libva-drm's one entry point, as va_drm.h declares it.
    pub(super) struct Drm {
        required {
            get_display_drm = c"vaGetDisplayDRM": unsafe extern "C" fn(c_int) -> VaDisplay;
        }
    }
}

/// The string at `p`, or empty for NULL.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that lives through the call.
pub(super) unsafe fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: promised by the caller.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
