#![allow(unsafe_code)]
//! Why unsafe: libcuda's entry points are resolved here as C function pointers, and the one
//! OS call that judges device-node access without opening a node is made here.
//!
//! Raw layer: finds libcuda, opens it for good and resolves every entry point the probe calls
//! before any of them is called.
//!
//! cudarc 0.19's `sys` functions cannot be used for the calls: each one resolves its symbol
//! through cudarc's global `culib()`, which tries the unversioned `libcuda.so` first (the
//! toolkit's stub when a stubs directory is on the search path), panics when no candidate
//! opens, and panics again on the first call of a symbol the library lacks. So the library is
//! opened through the toolkit's `Library` from an explicit list of names, every symbol is
//! looked up once, and the pointers are typed with cudarc's `sys` declarations.
//!
//! Return values are kept as raw numbers ([`RawResult`]) rather than cudarc's `CUresult` enum:
//! a driver newer than the bindings can return codes the enum lacks, and reading one into it
//! would be undefined behaviour.

use std::ffi::{c_char, c_int, c_uint, c_void};

use cudarc::driver::sys::{
    CUcontext, CUdevice, CUdevice_attribute, CUdeviceptr, CUfunction, CUjit_option, CUmodule,
    CUresult, CUstream, CUuuid,
};

use crate::backends::common::symbol_table;

/// A `CUresult` as the driver returned it.
pub(super) type RawResult = c_uint;

/// `CUDA_SUCCESS`.
pub(super) const SUCCESS: RawResult = CUresult::CUDA_SUCCESS as RawResult;

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
pub(crate) fn libcuda_candidates() -> Vec<&'static str> {
    std::iter::once(SONAME)
        .chain(KNOWN_LOCATIONS.iter().copied())
        .collect()
}

symbol_table! {
    /// The driver API entry points the probe calls, as cuda.h declares them (cudarc's
    /// transcription, with the result kept raw).
    pub(super) struct Api {
        required {
            init = c"cuInit": unsafe extern "C" fn(c_uint) -> RawResult;
            driver_get_version = c"cuDriverGetVersion": unsafe extern "C" fn(*mut c_int) -> RawResult;
            device_get_count = c"cuDeviceGetCount": unsafe extern "C" fn(*mut c_int) -> RawResult;
            device_get = c"cuDeviceGet": unsafe extern "C" fn(*mut CUdevice, c_int) -> RawResult;
            device_get_name = c"cuDeviceGetName":
                unsafe extern "C" fn(*mut c_char, c_int, CUdevice) -> RawResult;
            device_get_uuid = c"cuDeviceGetUuid":
                unsafe extern "C" fn(*mut CUuuid, CUdevice) -> RawResult;
            device_get_attribute = c"cuDeviceGetAttribute":
                unsafe extern "C" fn(*mut c_int, CUdevice_attribute, CUdevice) -> RawResult;
            device_total_mem = c"cuDeviceTotalMem_v2":
                unsafe extern "C" fn(*mut usize, CUdevice) -> RawResult;
            device_get_pci_bus_id = c"cuDeviceGetPCIBusId":
                unsafe extern "C" fn(*mut c_char, c_int, CUdevice) -> RawResult;
            ctx_create = c"cuCtxCreate_v2":
                unsafe extern "C" fn(*mut CUcontext, c_uint, CUdevice) -> RawResult;
            ctx_destroy = c"cuCtxDestroy_v2": unsafe extern "C" fn(CUcontext) -> RawResult;
            ctx_synchronize = c"cuCtxSynchronize": unsafe extern "C" fn() -> RawResult;
            module_load_data_ex = c"cuModuleLoadDataEx": unsafe extern "C" fn(
                *mut CUmodule, *const c_void, c_uint, *mut CUjit_option, *mut *mut c_void,
            ) -> RawResult;
            module_unload = c"cuModuleUnload": unsafe extern "C" fn(CUmodule) -> RawResult;
            module_get_function = c"cuModuleGetFunction":
                unsafe extern "C" fn(*mut CUfunction, CUmodule, *const c_char) -> RawResult;
            mem_alloc = c"cuMemAlloc_v2": unsafe extern "C" fn(*mut CUdeviceptr, usize) -> RawResult;
            mem_free = c"cuMemFree_v2": unsafe extern "C" fn(CUdeviceptr) -> RawResult;
            memcpy_htod = c"cuMemcpyHtoD_v2":
                unsafe extern "C" fn(CUdeviceptr, *const c_void, usize) -> RawResult;
            memcpy_dtoh = c"cuMemcpyDtoH_v2":
                unsafe extern "C" fn(*mut c_void, CUdeviceptr, usize) -> RawResult;
            launch_kernel = c"cuLaunchKernel": unsafe extern "C" fn(
                CUfunction, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, CUstream,
                *mut *mut c_void, *mut *mut c_void,
            ) -> RawResult;
        }
        optional {
            // Names of error codes; absent only from very old drivers.
            get_error_name = c"cuGetErrorName":
                unsafe extern "C" fn(RawResult, *mut *const c_char) -> RawResult;
            // The UUID of a MIG instance rather than its GPU (CUDA 11.4 and later).
            device_get_uuid_v2 = c"cuDeviceGetUuid_v2":
                unsafe extern "C" fn(*mut CUuuid, CUdevice) -> RawResult;
        }
    }
}
