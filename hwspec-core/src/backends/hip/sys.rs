//! The C ABI of the HIP runtime, hiprtc and the code object manager as far as the probe uses
//! it, and the loading of their libraries.
//!
//! The crate `hip-sys` links libamdhip64 at build time and needs ROCm headers to build, so the
//! declarations are transcribed here from ROCm's public headers and resolved at run time
//! (design §7). Every entry point is resolved when its library is opened, so a missing one is
//! reported by name before any call is made. Libraries are never closed (design §3: no
//! dlclose; HIP's teardown is where its heap corruption lives).

// The symbol tables' expansions cast looked-up addresses to the C declarations below.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_void};

use crate::backends::common::{symbol_table, Library, LoadError};

/// HIP runtime sonames, newest first. Never an unversioned name: that is the development
/// symlink, and it may point at a runtime the probe did not mean to judge.
pub(super) const HIP_SONAMES: &[&str] =
    &["libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"];

/// hiprtc sonames for ROCm 6 and later; on ROCm 5 hiprtc lives inside libamdhip64.
pub(super) const HIPRTC_SONAMES: &[&str] = &["libhiprtc.so.7", "libhiprtc.so.6"];

/// Code object manager sonames, newest first (ROCm 7 ships `.so.3`, ROCm 5 and 6 `.so.2`).
pub(super) const COMGR_SONAMES: &[&str] = &["libamd_comgr.so.3", "libamd_comgr.so.2"];

/// `hipErrorNoDevice`: the runtime found no usable GPU.
pub(super) const HIP_ERROR_NO_DEVICE: c_int = 100;
/// `hipErrorInvalidValue`, used for arguments refused before reaching the runtime.
pub(super) const HIP_ERROR_INVALID_VALUE: c_int = 1;
/// `HIPRTC_SUCCESS`.
pub(super) const HIPRTC_SUCCESS: c_int = 0;
/// `AMD_COMGR_STATUS_SUCCESS`.
pub(super) const COMGR_SUCCESS: c_int = 0;

/// Bytes handed to `hipGetDeviceProperties*`: more than either layout needs (R0000 ends near
/// 800 bytes, R0600 is 1472), so a runtime with a longer struct than expected cannot write past
/// the buffer.
pub(super) const DEVICE_PROP_BUFFER: usize = 4096;

pub(super) type HipModule = *mut c_void;
pub(super) type HipFunction = *mut c_void;
pub(super) type HiprtcProgram = *mut c_void;

/// `hipGetDeviceProperties*`: fills a `hipDeviceProp_t` of the entry point's layout.
pub(super) type GetDeviceProperties = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;

/// Which `hipDeviceProp_t` layout a properties call fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PropLayout {
    /// `hipGetDeviceProperties` of ROCm 5 (`hipDeviceProp_tR0000`).
    R0000,
    /// `hipGetDevicePropertiesR0600` of ROCm 6 and later.
    R0600,
}

impl PropLayout {
    /// The entry point that fills this layout.
    pub(super) fn call(self) -> &'static str {
        match self {
            PropLayout::R0000 => "hipGetDeviceProperties",
            PropLayout::R0600 => "hipGetDevicePropertiesR0600",
        }
    }
}

symbol_table! {
    /// The HIP runtime's entry points, each declared as ROCm's hip_runtime_api.h declares it.
    pub(super) struct Runtime {
        required {
            init = c"hipInit": unsafe extern "C" fn(c_uint) -> c_int;
            get_device_count = c"hipGetDeviceCount": unsafe extern "C" fn(*mut c_int) -> c_int;
            runtime_get_version = c"hipRuntimeGetVersion": unsafe extern "C" fn(*mut c_int) -> c_int;
            driver_get_version = c"hipDriverGetVersion": unsafe extern "C" fn(*mut c_int) -> c_int;
            get_error_name = c"hipGetErrorName": unsafe extern "C" fn(c_int) -> *const c_char;
            device_get_name = c"hipDeviceGetName": unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;
            device_total_mem = c"hipDeviceTotalMem": unsafe extern "C" fn(*mut usize, c_int) -> c_int;
            set_device = c"hipSetDevice": unsafe extern "C" fn(c_int) -> c_int;
            module_load_data = c"hipModuleLoadData": unsafe extern "C" fn(*mut HipModule, *const c_void) -> c_int;
            module_get_function = c"hipModuleGetFunction": unsafe extern "C" fn(*mut HipFunction, HipModule, *const c_char) -> c_int;
            module_unload = c"hipModuleUnload": unsafe extern "C" fn(HipModule) -> c_int;
            malloc = c"hipMalloc": unsafe extern "C" fn(*mut *mut c_void, usize) -> c_int;
            free = c"hipFree": unsafe extern "C" fn(*mut c_void) -> c_int;
            memcpy_htod = c"hipMemcpyHtoD": unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> c_int;
            memcpy_dtoh = c"hipMemcpyDtoH": unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> c_int;
            module_launch_kernel = c"hipModuleLaunchKernel": unsafe extern "C" fn(
                HipFunction,
                c_uint,
                c_uint,
                c_uint,
                c_uint,
                c_uint,
                c_uint,
                c_uint,
                *mut c_void,
                *mut *mut c_void,
                *mut *mut c_void,
            ) -> c_int;
            device_synchronize = c"hipDeviceSynchronize": unsafe extern "C" fn() -> c_int;
        }
        optional {
            // ROCm 6 changed hipDeviceProp_t and exports the new layout under its own name; the
            // plain name keeps the ROCm 5 layout there. One of the two is needed.
            get_device_properties_r0600 = c"hipGetDevicePropertiesR0600": GetDeviceProperties;
            get_device_properties = c"hipGetDeviceProperties": GetDeviceProperties;
            // Only the device-node evidence depends on it.
            device_get_pci_bus_id = c"hipDeviceGetPCIBusId": unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;
        }
    }
}

symbol_table! {
    /// hiprtc's entry points, as hiprtc.h declares them.
    pub(super) struct Rtc {
        required {
            create_program = c"hiprtcCreateProgram": unsafe extern "C" fn(
                *mut HiprtcProgram,
                *const c_char,
                *const c_char,
                c_int,
                *const *const c_char,
                *const *const c_char,
            ) -> c_int;
            compile_program = c"hiprtcCompileProgram": unsafe extern "C" fn(HiprtcProgram, c_int, *const *const c_char) -> c_int;
            get_code_size = c"hiprtcGetCodeSize": unsafe extern "C" fn(HiprtcProgram, *mut usize) -> c_int;
            get_code = c"hiprtcGetCode": unsafe extern "C" fn(HiprtcProgram, *mut c_char) -> c_int;
            get_log_size = c"hiprtcGetProgramLogSize": unsafe extern "C" fn(HiprtcProgram, *mut usize) -> c_int;
            get_log = c"hiprtcGetProgramLog": unsafe extern "C" fn(HiprtcProgram, *mut c_char) -> c_int;
            destroy_program = c"hiprtcDestroyProgram": unsafe extern "C" fn(*mut HiprtcProgram) -> c_int;
        }
    }
}

symbol_table! {
    /// The code object manager's entry points the probe asks, as amd_comgr.h declares them.
    pub(super) struct Comgr {
        required {
            get_isa_count = c"amd_comgr_get_isa_count": unsafe extern "C" fn(*mut usize) -> c_int;
            get_isa_name = c"amd_comgr_get_isa_name": unsafe extern "C" fn(usize, *mut *const c_char) -> c_int;
        }
    }
}

/// The HIP runtime opened from the first of `sonames`, its entry points, and the properties
/// entry point with the layout it fills (R0600 when the runtime exports it: that is the
/// layout the runtime itself documents as current).
pub(super) fn open_runtime(
    sonames: &[&'static str],
) -> Result<(Library, Runtime, GetDeviceProperties, PropLayout), LoadError> {
    let library = Library::open_first(sonames)?;
    let api = Runtime::resolve(&library)?;
    let properties = match (api.get_device_properties_r0600, api.get_device_properties) {
        (Some(r0600), _) => (r0600, PropLayout::R0600),
        (None, Some(r0000)) => (r0000, PropLayout::R0000),
        (None, None) => {
            return Err(LoadError::MissingSymbols {
                library: library.name(),
                symbols: vec!["hipGetDeviceProperties"],
            })
        }
    };
    Ok((library, api, properties.0, properties.1))
}

/// hiprtc for a runtime of major version `runtime_major` opened as `runtime`: inside
/// libamdhip64 before ROCm 6, else the first of `sonames`.
pub(super) fn open_rtc(
    runtime: Library,
    runtime_major: u32,
    sonames: &[&'static str],
) -> Result<(Library, Rtc), LoadError> {
    let library = if runtime_major < 6 {
        runtime
    } else {
        Library::open_first(sonames)?
    };
    Ok((library, Rtc::resolve(&library)?))
}

/// The code object manager: the copy hiprtc already mapped when there is one (its answer is
/// the one that matters; hiprtc opens it lazily, and reopening a mapped library runs no
/// initialiser again), else the first of [`COMGR_SONAMES`].
pub(super) fn open_comgr() -> Option<Comgr> {
    let library = match crate::sys::loaded_library("libamd_comgr.so") {
        // Leaked once per probe at most: `Library` keeps the name it was opened by.
        Some(path) => Library::open(Box::leak(path.into_boxed_str())),
        None => Library::open_first(COMGR_SONAMES),
    };
    Comgr::resolve(&library.ok()?).ok()
}
