#![allow(unsafe_code)]
//! Why unsafe: this is the one file that calls libcuda's entry points, each behind a safe
//! function whose arguments make the call sound.
//!
//! Safe wrappers over the driver API calls the probe makes: each returns a [`CallError`]
//! naming the call and the driver's name for the code, and every context, module and
//! allocation is owned by a guard that releases it on drop. Kernels launch through a typed
//! argument list checked against the kernel's declared parameters, so no caller handles a raw
//! pointer. Nothing here panics or unwraps what the driver says.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::ptr;

use cudarc::driver::sys::{
    CUcontext, CUdevice, CUdevice_attribute, CUdeviceptr, CUfunction, CUjit_option, CUmodule,
    CUuuid,
};

use super::sys::{Api, RawResult, SUCCESS};
use crate::backends::common::{check_call, Arg, CallError, Floats, LaunchError, Signature};

/// Bytes kept of the JIT compiler's error log: its first lines name the problem.
const JIT_LOG_BYTES: usize = 4096;

/// The driver API of one loaded libcuda.
#[derive(Debug, Clone, Copy)]
pub(super) struct Driver {
    api: Api,
}

/// Text of a NUL-terminated `char` buffer the driver filled.
fn decode_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}

impl Driver {
    pub(super) fn new(api: Api) -> Driver {
        Driver { api }
    }

    /// `Ok` for `CUDA_SUCCESS`, otherwise the error of `call`, named as the driver names it.
    fn check(&self, call: &'static str, code: RawResult) -> Result<(), CallError> {
        check_call(call, code).map_err(|error| match self.error_name(code) {
            Some(name) => error.named(name),
            None => error,
        })
    }

    fn error_name(&self, code: RawResult) -> Option<String> {
        let get_error_name = self.api.get_error_name?;
        let mut name: *const c_char = ptr::null();
        // SAFETY: `name` is a valid place for the driver to store a pointer. cuGetErrorName
        // accepts any value and answers CUDA_ERROR_INVALID_VALUE for codes it does not know.
        if unsafe { get_error_name(code, &mut name) } != SUCCESS || name.is_null() {
            return None;
        }
        // SAFETY: on success the driver stores a pointer to a static NUL-terminated string.
        Some(
            unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// `cuInit(0)`: the first call, where most broken installations show.
    pub(super) fn init(&self) -> Result<(), CallError> {
        // SAFETY: cuInit takes flags by value; 0 is the only defined value.
        let code = unsafe { (self.api.init)(0) };
        self.check("cuInit", code)
    }

    /// The highest CUDA version the driver supports, as the driver encodes it (12080).
    pub(super) fn version(&self) -> Result<c_int, CallError> {
        let mut version = 0;
        // SAFETY: `version` is a valid place for one int.
        let code = unsafe { (self.api.driver_get_version)(&mut version) };
        self.check("cuDriverGetVersion", code).map(|()| version)
    }

    /// The devices the driver exposes, in its order.
    pub(super) fn devices(&self) -> Result<Vec<CUdevice>, CallError> {
        let mut count = 0;
        // SAFETY: `count` is a valid place for one int.
        let code = unsafe { (self.api.device_get_count)(&mut count) };
        self.check("cuDeviceGetCount", code)?;
        (0..count)
            .map(|ordinal| {
                let mut device = 0;
                // SAFETY: `device` is a valid place for one CUdevice; the ordinal is in range.
                let code = unsafe { (self.api.device_get)(&mut device, ordinal) };
                self.check("cuDeviceGet", code).map(|()| device)
            })
            .collect()
    }

    /// The device's marketing name.
    pub(super) fn name(&self, device: CUdevice) -> Result<String, CallError> {
        let mut buffer = [0u8; 256];
        // SAFETY: the driver writes at most `len` bytes, NUL included, into `buffer`.
        let code = unsafe {
            (self.api.device_get_name)(buffer.as_mut_ptr().cast(), buffer.len() as c_int, device)
        };
        self.check("cuDeviceGetName", code)
            .map(|()| decode_string(&buffer))
    }

    /// The UUID of the physical GPU.
    pub(super) fn uuid(&self, device: CUdevice) -> Result<[u8; 16], CallError> {
        let mut uuid = CUuuid { bytes: [0; 16] };
        // SAFETY: `uuid` is a valid place for one CUuuid.
        let code = unsafe { (self.api.device_get_uuid)(&mut uuid, device) };
        self.check("cuDeviceGetUuid", code)
            .map(|()| uuid.bytes.map(|b| b as u8))
    }

    /// The UUID of the MIG instance when the device is one, of the GPU otherwise; `None` when
    /// the driver predates `cuDeviceGetUuid_v2`.
    pub(super) fn uuid_v2(&self, device: CUdevice) -> Option<Result<[u8; 16], CallError>> {
        let get = self.api.device_get_uuid_v2?;
        let mut uuid = CUuuid { bytes: [0; 16] };
        // SAFETY: `uuid` is a valid place for one CUuuid.
        let code = unsafe { get(&mut uuid, device) };
        Some(
            self.check("cuDeviceGetUuid_v2", code)
                .map(|()| uuid.bytes.map(|b| b as u8)),
        )
    }

    /// An integer device attribute.
    pub(super) fn attribute(
        &self,
        device: CUdevice,
        attribute: CUdevice_attribute,
    ) -> Result<c_int, CallError> {
        let mut value = 0;
        // SAFETY: `value` is a valid place for one int; the attribute is a defined enumerator.
        let code = unsafe { (self.api.device_get_attribute)(&mut value, attribute, device) };
        self.check("cuDeviceGetAttribute", code).map(|()| value)
    }

    /// Device memory in bytes.
    pub(super) fn total_memory(&self, device: CUdevice) -> Result<u64, CallError> {
        let mut bytes = 0usize;
        // SAFETY: `bytes` is a valid place for one size_t.
        let code = unsafe { (self.api.device_total_mem)(&mut bytes, device) };
        self.check("cuDeviceTotalMem", code).map(|()| bytes as u64)
    }

    /// The PCI address, `domain:bus:device.function`.
    pub(super) fn pci_bus_id(&self, device: CUdevice) -> Result<String, CallError> {
        let mut buffer = [0u8; 64];
        // SAFETY: the driver writes at most `len` bytes, NUL included, into `buffer`.
        let code = unsafe {
            (self.api.device_get_pci_bus_id)(
                buffer.as_mut_ptr().cast(),
                buffer.len() as c_int,
                device,
            )
        };
        self.check("cuDeviceGetPCIBusId", code)
            .map(|()| decode_string(&buffer))
    }

    /// A new context on `device`, current on this thread until dropped.
    pub(super) fn context(&self, device: CUdevice) -> Result<Context<'_>, CallError> {
        let mut raw: CUcontext = ptr::null_mut();
        // SAFETY: `raw` is a valid place for the handle; flags 0 asks for the defaults.
        let code = unsafe { (self.api.ctx_create)(&mut raw, 0, device) };
        self.check("cuCtxCreate", code)?;
        Ok(Context { driver: self, raw })
    }
}

/// A context, destroyed on drop. Modules and buffers borrow it, so they are released first.
#[derive(Debug)]
pub(crate) struct Context<'d> {
    driver: &'d Driver,
    raw: CUcontext,
}

/// Why a module could not be made: the failing call and the JIT compiler's error log.
#[derive(Debug)]
pub(super) struct JitFailure {
    pub error: CallError,
    pub log: String,
}

impl<'d> Context<'d> {
    /// The handle, for a library that works in a CUDA context (NVENC opens its session on
    /// one); it stays valid while this value lives.
    pub(crate) fn raw(&self) -> CUcontext {
        self.raw
    }

    /// Compiles `ptx` for this context's device.
    pub(super) fn load_ptx(&self, ptx: &CStr) -> Result<Module<'_>, JitFailure> {
        let mut log = vec![0u8; JIT_LOG_BYTES];
        let mut options = [
            CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
            CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        ];
        // The driver API passes option values through `void *` slots; a size is stored as
        // the pointer-sized integer itself.
        let mut values = [log.as_mut_ptr().cast::<c_void>(), log.len() as *mut c_void];
        let mut raw: CUmodule = ptr::null_mut();
        // SAFETY: `ptx` is NUL-terminated, as cuModuleLoadDataEx requires of PTX text; the two
        // options and values arrays have the length passed, the log buffer has the size
        // stated and outlives the call, and `raw` is a valid place for the handle.
        let code = unsafe {
            (self.driver.api.module_load_data_ex)(
                &mut raw,
                ptx.as_ptr().cast(),
                options.len() as c_uint,
                options.as_mut_ptr(),
                values.as_mut_ptr(),
            )
        };
        match self.driver.check("cuModuleLoadDataEx", code) {
            Ok(()) => Ok(Module { context: self, raw }),
            Err(error) => Err(JitFailure {
                error,
                log: decode_string(&log),
            }),
        }
    }

    /// An uninitialised device buffer of `len` floats.
    pub(super) fn alloc(&self, len: usize) -> Result<DeviceBuffer<'_>, CallError> {
        let mut raw: CUdeviceptr = 0;
        // SAFETY: `raw` is a valid place for the device address.
        let code = unsafe { (self.driver.api.mem_alloc)(&mut raw, size_of::<f32>() * len) };
        self.driver.check("cuMemAlloc", code)?;
        Ok(DeviceBuffer {
            context: self,
            raw,
            len,
        })
    }

    /// Waits for every launch in the context, reporting a kernel's failure.
    pub(super) fn synchronize(&self) -> Result<(), CallError> {
        // SAFETY: no arguments; the context is current on this thread.
        let code = unsafe { (self.driver.api.ctx_synchronize)() };
        self.driver.check("cuCtxSynchronize", code)
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by `Driver::context`, is owned by this value alone and is
        // destroyed once, after every module and buffer borrowing it. A failure only leaks.
        let _ = unsafe { (self.driver.api.ctx_destroy)(self.raw) };
    }
}

/// A loaded module, unloaded on drop.
#[derive(Debug)]
pub(super) struct Module<'c> {
    context: &'c Context<'c>,
    raw: CUmodule,
}

impl Module<'_> {
    /// The kernel `signature` declares, by its entry point's name; launches of it are checked
    /// against that signature.
    pub(super) fn function(
        &self,
        signature: &'static Signature,
    ) -> Result<Function<'_>, CallError> {
        let mut raw: CUfunction = ptr::null_mut();
        // SAFETY: the entry name is NUL-terminated, `raw` is a valid place for the handle.
        let code = unsafe {
            (self.context.driver.api.module_get_function)(
                &mut raw,
                self.raw,
                signature.entry.as_ptr(),
            )
        };
        self.context.driver.check("cuModuleGetFunction", code)?;
        Ok(Function {
            module: self,
            signature,
            raw,
        })
    }
}

impl Drop for Module<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by `Context::load_ptx`, is owned by this value alone and is
        // unloaded once, after the functions borrowing it.
        let _ = unsafe { (self.context.driver.api.module_unload)(self.raw) };
    }
}

/// A device buffer of `len` floats, freed on drop.
#[derive(Debug)]
pub(super) struct DeviceBuffer<'c> {
    context: &'c Context<'c>,
    raw: CUdeviceptr,
    len: usize,
}

impl DeviceBuffer<'_> {
    /// Copies `data` to the start of the buffer.
    pub(super) fn write(&self, data: &[f32]) -> Result<(), CallError> {
        let bytes = size_of_val(data).min(self.len * size_of::<f32>());
        // SAFETY: the copy is synchronous and reads `bytes` bytes from `data`, which holds at
        // least that many; the buffer was allocated with at least as many.
        let code =
            unsafe { (self.context.driver.api.memcpy_htod)(self.raw, data.as_ptr().cast(), bytes) };
        self.context.driver.check("cuMemcpyHtoD", code)
    }

    /// Copies the start of the buffer into `data`.
    pub(super) fn read(&self, data: &mut [f32]) -> Result<(), CallError> {
        let bytes = size_of_val(data).min(self.len * size_of::<f32>());
        // SAFETY: the copy is synchronous and writes `bytes` bytes into `data`, which holds at
        // least that many; the buffer holds at least as many.
        let code = unsafe {
            (self.context.driver.api.memcpy_dtoh)(data.as_mut_ptr().cast(), self.raw, bytes)
        };
        self.context.driver.check("cuMemcpyDtoH", code)
    }
}

impl Floats for DeviceBuffer<'_> {
    fn floats(&self) -> usize {
        self.len
    }

    fn address(&self) -> u64 {
        self.raw
    }
}

impl Drop for DeviceBuffer<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was allocated by `Context::alloc` in the context this value borrows,
        // which is still current; it is owned by this value alone and freed once.
        let _ = unsafe { (self.context.driver.api.mem_free)(self.raw) };
    }
}

/// A kernel of a loaded module.
#[derive(Debug)]
pub(super) struct Function<'m> {
    module: &'m Module<'m>,
    signature: &'static Signature,
    raw: CUfunction,
}

impl Function<'_> {
    /// Launches the kernel on the default stream with a 2D grid and block, once `args` are
    /// found to fit the kernel's declared signature, every buffer allocated in this context
    /// and holding as much as the kernel reaches.
    pub(super) fn launch(
        &self,
        grid: (u32, u32),
        block: (u32, u32),
        args: &[Arg<'_, DeviceBuffer<'_>>],
    ) -> Result<(), LaunchError> {
        self.signature
            .check(args, |buffer| ptr::eq(buffer.context, self.module.context))?;
        // cuLaunchKernel reads each parameter through a pointer, as many bytes as the kernel's
        // signature says, so every value gets an 8-byte aligned slot of its own.
        let mut slots: Vec<u64> = args.iter().map(|arg| arg.slot().0).collect();
        let mut params: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|slot| (slot as *mut u64).cast())
            .collect();
        let driver = self.module.context.driver;
        // SAFETY: `params` holds one pointer per kernel parameter (checked above against the
        // kernel's declaration), each to a live slot at least as large as the parameter; the
        // launch copies them before returning, and every buffer is a live allocation of this
        // context holding as many floats as the kernel reaches (checked above). No shared
        // memory, the default stream, and no `extra` array.
        let code = unsafe {
            (driver.api.launch_kernel)(
                self.raw,
                grid.0,
                grid.1,
                1,
                block.0,
                block.1,
                1,
                0,
                ptr::null_mut(),
                params.as_mut_ptr(),
                ptr::null_mut(),
            )
        };
        Ok(driver.check("cuLaunchKernel", code)?)
    }
}
