//! Loading layer: finds libcuda, opens it for good and resolves every entry point the probe
//! calls before any of them is called.
//!
//! cudarc 0.19's `sys` functions cannot be used for the calls: each one resolves its symbol
//! through cudarc's global `culib()`, which tries the unversioned `libcuda.so` first (the
//! toolkit's stub when a stubs directory is on the search path), panics when no candidate
//! opens, and panics again on the first call of a symbol the library lacks. So the library is
//! opened here from an explicit list of names, every symbol is looked up once with the same
//! `libloading` cudarc uses, and the pointers are typed with cudarc's `sys` declarations.
//!
//! Return values are kept as raw numbers ([`RawResult`]) rather than cudarc's `CUresult` enum:
//! a driver newer than the bindings can return codes the enum lacks, and reading one into it
//! would be undefined behaviour.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use cudarc::driver::sys::{
    CUcontext, CUdevice, CUdevice_attribute, CUdeviceptr, CUfunction, CUjit_option, CUmodule,
    CUstream, CUuuid,
};
use libloading::Library;

/// A `CUresult` as the driver returned it.
pub(crate) type RawResult = c_uint;

/// The soname the NVIDIA driver installs, looked up through the dynamic loader's normal
/// search path.
pub(super) const SONAME: &str = "libcuda.so.1";

/// Where libcuda lives when the loader's search path does not cover it: WSL mounts the
/// Windows driver's libcuda in `/usr/lib/wsl/lib`, which not every distribution adds to
/// `ld.so.conf`.
pub(super) const KNOWN_LOCATIONS: &[&str] = &["/usr/lib/wsl/lib/libcuda.so.1"];

/// Every name tried, in order: the soname through the search path, then absolute paths.
/// Never an unversioned name (that is the toolkit's link-time stub) and never a relative path
/// (the dynamic loader would resolve it against the current directory).
pub(crate) fn default_candidates() -> Vec<&'static str> {
    std::iter::once(SONAME)
        .chain(KNOWN_LOCATIONS.iter().copied())
        .collect()
}

/// Opens the first candidate the dynamic loader accepts and keeps it open for the life of the
/// process (design §3: no dlclose). On failure, every candidate with the loader's reason.
pub(crate) fn open(candidates: &[&str]) -> Result<(&'static Library, String), Vec<String>> {
    let mut refusals = Vec::new();
    for &candidate in candidates {
        // SAFETY: opening a library runs its initialisers. For libcuda that is the vendor code
        // this worker process exists to contain (design §3); no Rust invariant depends on it.
        match unsafe { Library::new(candidate) } {
            Ok(library) => return Ok((Box::leak(Box::new(library)), candidate.to_owned())),
            // dlerror already names the file it could not open.
            Err(error) => refusals.push(error.to_string()),
        }
    }
    Err(refusals)
}

/// Declares the table of entry points: each field is looked up under the C name beside it.
macro_rules! entry_points {
    ($($field:ident = $symbol:literal: fn($($arg:ty),*);)*) => {
        /// The driver API entry points the probe calls, all resolved.
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct Api {
            $(pub(crate) $field: unsafe extern "C" fn($($arg),*) -> RawResult,)*
            /// Names of error codes; absent only from very old drivers.
            pub(super) get_error_name:
                Option<unsafe extern "C" fn(RawResult, *mut *const c_char) -> RawResult>,
            /// The UUID of a MIG instance rather than its GPU (CUDA 11.4 and later).
            pub(super) device_get_uuid_v2:
                Option<unsafe extern "C" fn(*mut CUuuid, CUdevice) -> RawResult>,
        }

        impl Api {
            /// Looks up every entry point in `library`. On failure, the C names of all the
            /// required ones it lacks.
            pub(crate) fn resolve(library: &'static Library) -> Result<Api, Vec<&'static str>> {
                let mut missing = Vec::new();
                $(
                    // SAFETY: the type is the driver API's declaration of this symbol in
                    // cuda.h, as cudarc's bindings transcribe it (with the result kept raw).
                    let $field = unsafe { lookup::<unsafe extern "C" fn($($arg),*) -> RawResult>(
                        library, $symbol) };
                    if $field.is_none() {
                        missing.push($symbol);
                    }
                )*
                // SAFETY: as above; `cuGetErrorName(CUresult, const char **)` and
                // `cuDeviceGetUuid_v2(CUuuid *, CUdevice)` as declared in cuda.h.
                let (get_error_name, device_get_uuid_v2) = unsafe {
                    (lookup(library, "cuGetErrorName"), lookup(library, "cuDeviceGetUuid_v2"))
                };
                match ($($field,)*) {
                    ($(Some($field),)*) => Ok(Api {
                        $($field,)*
                        get_error_name,
                        device_get_uuid_v2,
                    }),
                    _ => Err(missing),
                }
            }
        }
    };
}

entry_points! {
    init = "cuInit": fn(c_uint);
    driver_get_version = "cuDriverGetVersion": fn(*mut c_int);
    device_get_count = "cuDeviceGetCount": fn(*mut c_int);
    device_get = "cuDeviceGet": fn(*mut CUdevice, c_int);
    device_get_name = "cuDeviceGetName": fn(*mut c_char, c_int, CUdevice);
    device_get_uuid = "cuDeviceGetUuid": fn(*mut CUuuid, CUdevice);
    device_get_attribute = "cuDeviceGetAttribute": fn(*mut c_int, CUdevice_attribute, CUdevice);
    device_total_mem = "cuDeviceTotalMem_v2": fn(*mut usize, CUdevice);
    device_get_pci_bus_id = "cuDeviceGetPCIBusId": fn(*mut c_char, c_int, CUdevice);
    ctx_create = "cuCtxCreate_v2": fn(*mut CUcontext, c_uint, CUdevice);
    ctx_destroy = "cuCtxDestroy_v2": fn(CUcontext);
    ctx_synchronize = "cuCtxSynchronize": fn();
    module_load_data_ex = "cuModuleLoadDataEx":
        fn(*mut CUmodule, *const c_void, c_uint, *mut CUjit_option, *mut *mut c_void);
    module_unload = "cuModuleUnload": fn(CUmodule);
    module_get_function = "cuModuleGetFunction": fn(*mut CUfunction, CUmodule, *const c_char);
    mem_alloc = "cuMemAlloc_v2": fn(*mut CUdeviceptr, usize);
    mem_free = "cuMemFree_v2": fn(CUdeviceptr);
    memcpy_htod = "cuMemcpyHtoD_v2": fn(CUdeviceptr, *const c_void, usize);
    memcpy_dtoh = "cuMemcpyDtoH_v2": fn(*mut c_void, CUdeviceptr, usize);
    launch_kernel = "cuLaunchKernel": fn(
        CUfunction, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, CUstream,
        *mut *mut c_void, *mut *mut c_void);
}

/// The symbol `name` of `library` as a `T`, or `None` when the library lacks it.
///
/// # Safety
///
/// `T` must be a function pointer type matching the symbol's C declaration.
unsafe fn lookup<T: Copy>(library: &'static Library, name: &str) -> Option<T> {
    // SAFETY: the caller promises `T` matches the symbol; the library is never unloaded, so
    // the pointer copied out of the `Symbol` stays valid for the life of the process.
    unsafe { library.get::<T>(name.as_bytes()).ok().map(|symbol| *symbol) }
}

/// Whether this process may open `path` for reading and writing, judged with its effective
/// ids as the kernel would judge an `open`, without opening it: opening an NVIDIA node can
/// have side effects.
pub(super) fn may_read_write(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `path` is a NUL-terminated string that outlives the call; faccessat only
    // inspects the file system.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::R_OK | libc::W_OK,
            libc::AT_EACCESS,
        )
    };
    rc == 0
}
