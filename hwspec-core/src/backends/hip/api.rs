//! Safe wrappers over the HIP runtime, hiprtc and the code object manager: every call returns
//! a `Result` whose error names the call ([`HipError`]), device objects are owned by handles
//! that free them on drop, and a kernel launch takes a typed argument list checked against the
//! kernel's declared signature.

// Each call into the runtime passes pointers the runtime reads or writes; the wrappers below
// are where their validity is established.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;

use super::sys::{
    self, Comgr, GetDeviceProperties, HipFunction, HipModule, HiprtcProgram, PropLayout, Rtc,
    Runtime, COMGR_SUCCESS, DEVICE_PROP_BUFFER, HIPRTC_SUCCESS, HIP_ERROR_INVALID_VALUE,
};
use crate::backends::common::{
    check_call, Arg, CallError, Floats, LaunchError, Library, LoadError, Signature,
};

/// A HIP or hiprtc call that did not succeed: the call, its number and the runtime's name for
/// it (`hipGetDeviceCount returned 100 (hipErrorNoDevice)`).
pub(super) type HipError = CallError;

const TOO_SMALL: &str = "refused before the call: buffer too small";

/// A call refused before reaching the runtime, as `hipErrorInvalidValue` with the reason.
fn refused(call: &'static str, why: &'static str) -> HipError {
    CallError::new(call, HIP_ERROR_INVALID_VALUE).named(why)
}

/// The opened HIP runtime.
#[derive(Debug)]
pub(super) struct Hip {
    library: Library,
    api: Runtime,
    get_device_properties: GetDeviceProperties,
    prop_layout: PropLayout,
}

impl Hip {
    /// Opens the first of `sonames` and resolves every entry point the probe uses.
    pub(super) fn load(sonames: &[&'static str]) -> Result<Hip, LoadError> {
        let (library, api, get_device_properties, prop_layout) = sys::open_runtime(sonames)?;
        Ok(Hip {
            library,
            api,
            get_device_properties,
            prop_layout,
        })
    }

    /// The soname that was opened.
    pub(super) fn soname(&self) -> &'static str {
        self.library.name()
    }

    /// The layout [`Hip::device_properties`] fills.
    pub(super) fn prop_layout(&self) -> PropLayout {
        self.prop_layout
    }

    fn check(&self, call: &'static str, code: c_int) -> Result<(), HipError> {
        check_call(call, code).map_err(|error| {
            // SAFETY: hipGetErrorName takes any number and returns NULL or a pointer to a
            // static NUL-terminated string, copied here at once.
            let name = unsafe {
                let text = (self.api.get_error_name)(code);
                (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
            };
            match name {
                Some(name) => error.named(name),
                None => error,
            }
        })
    }

    fn int_out(
        &self,
        call: &'static str,
        f: unsafe extern "C" fn(*mut c_int) -> c_int,
    ) -> Result<i32, HipError> {
        let mut value: c_int = 0;
        // SAFETY: `f` is one of the `int (*)(int *)` entry points, given a valid out pointer.
        let code = unsafe { f(&mut value) };
        self.check(call, code).map(|()| value)
    }

    /// `hipInit(0)`.
    pub(super) fn init(&self) -> Result<(), HipError> {
        // SAFETY: hipInit takes flags, which must be 0.
        let code = unsafe { (self.api.init)(0) };
        self.check("hipInit", code)
    }

    /// The number of devices the runtime offers this process.
    pub(super) fn device_count(&self) -> Result<i32, HipError> {
        self.int_out("hipGetDeviceCount", self.api.get_device_count)
    }

    /// `HIP_VERSION` of the runtime: major * 10^7 + minor * 10^5 + patch.
    pub(super) fn runtime_version(&self) -> Result<i32, HipError> {
        self.int_out("hipRuntimeGetVersion", self.api.runtime_get_version)
    }

    /// The driver version the runtime reports.
    pub(super) fn driver_version(&self) -> Result<i32, HipError> {
        self.int_out("hipDriverGetVersion", self.api.driver_get_version)
    }

    /// The marketing name of device `index`.
    pub(super) fn device_name(&self, index: i32) -> Result<String, HipError> {
        let mut buffer = [0 as c_char; 256];
        // SAFETY: the buffer holds 256 chars and its length is passed; the runtime writes a
        // NUL-terminated name within it.
        let code = unsafe { (self.api.device_get_name)(buffer.as_mut_ptr(), 256, index) };
        self.check("hipDeviceGetName", code)?;
        let bytes: Vec<u8> = buffer.iter().map(|&c| c as u8).collect();
        Ok(c_string(&bytes))
    }

    /// The PCI address of device `index` (`0000:03:00.0`), `None` when the runtime lacks the
    /// entry point.
    pub(super) fn pci_bus_id(&self, index: i32) -> Option<Result<String, HipError>> {
        let get = self.api.device_get_pci_bus_id?;
        let mut buffer = [0 as c_char; 64];
        // SAFETY: the buffer holds 64 chars and its length is passed; the runtime writes a
        // NUL-terminated address within it.
        let code = unsafe { get(buffer.as_mut_ptr(), 64, index) };
        Some(self.check("hipDeviceGetPCIBusId", code).map(|()| {
            let bytes: Vec<u8> = buffer.iter().map(|&c| c as u8).collect();
            c_string(&bytes)
        }))
    }

    /// Global memory of device `index` in bytes.
    pub(super) fn device_total_mem(&self, index: i32) -> Result<u64, HipError> {
        let mut bytes: usize = 0;
        // SAFETY: valid out pointer for a size_t.
        let code = unsafe { (self.api.device_total_mem)(&mut bytes, index) };
        self.check("hipDeviceTotalMem", code).map(|()| bytes as u64)
    }

    /// The raw `hipDeviceProp_t` of device `index`, in [`Hip::prop_layout`]'s layout, in a
    /// buffer larger than either layout.
    pub(super) fn device_properties(&self, index: i32) -> Result<Vec<u8>, HipError> {
        // u64 elements give the buffer the 8-byte alignment of the struct's size_t fields.
        let mut buffer = vec![0u64; DEVICE_PROP_BUFFER / 8];
        // SAFETY: the buffer is zeroed, 8-aligned and larger than the struct the loaded entry
        // point fills (see DEVICE_PROP_BUFFER).
        let code = unsafe { (self.get_device_properties)(buffer.as_mut_ptr().cast(), index) };
        self.check(self.prop_layout.call(), code)?;
        Ok(buffer.iter().flat_map(|word| word.to_ne_bytes()).collect())
    }

    /// Makes device `index` current for this thread's later calls.
    pub(super) fn set_device(&self, index: i32) -> Result<(), HipError> {
        // SAFETY: hipSetDevice takes a device number and checks its range itself.
        let code = unsafe { (self.api.set_device)(index) };
        self.check("hipSetDevice", code)
    }

    /// Loads a code object on the current device.
    pub(super) fn load_module(&self, code_object: &[u8]) -> Result<Module<'_>, HipError> {
        // The runtime takes the code object's length from its ELF headers, so anything that is
        // not an ELF is refused here rather than read past its end.
        if !looks_like_elf(code_object) {
            return Err(refused("hipModuleLoadData", "not an ELF code object"));
        }
        let mut raw: HipModule = ptr::null_mut();
        // SAFETY: the code object is a complete ELF image read during the call only (its
        // headers give the runtime its length); `raw` is a valid out pointer and the module
        // is owned by `Module`.
        let code = unsafe { (self.api.module_load_data)(&mut raw, code_object.as_ptr().cast()) };
        self.check("hipModuleLoadData", code)?;
        Ok(Module { hip: self, raw })
    }

    /// An uninitialised device buffer of `len` floats on the current device.
    pub(super) fn buffer(&self, len: usize) -> Result<DeviceBuffer<'_>, HipError> {
        let mut raw: *mut c_void = ptr::null_mut();
        // SAFETY: valid out pointer; the allocation is owned by `DeviceBuffer`.
        let code = unsafe { (self.api.malloc)(&mut raw, len.saturating_mul(size_of::<f32>())) };
        self.check("hipMalloc", code)?;
        Ok(DeviceBuffer {
            hip: self,
            raw,
            len,
        })
    }

    /// Copies `data` to the start of `buffer`; synchronous.
    pub(super) fn write(&self, buffer: &DeviceBuffer<'_>, data: &[f32]) -> Result<(), HipError> {
        if data.len() > buffer.len {
            return Err(refused("hipMemcpyHtoD", TOO_SMALL));
        }
        // SAFETY: `data` covers size_of_val(data) readable bytes and the buffer at least as
        // many; hipMemcpyHtoD returns once the copy is complete.
        let code =
            unsafe { (self.api.memcpy_htod)(buffer.raw, data.as_ptr().cast(), size_of_val(data)) };
        self.check("hipMemcpyHtoD", code)
    }

    /// Copies the start of `buffer` into `out`; synchronous.
    pub(super) fn read(&self, buffer: &DeviceBuffer<'_>, out: &mut [f32]) -> Result<(), HipError> {
        if out.len() > buffer.len {
            return Err(refused("hipMemcpyDtoH", TOO_SMALL));
        }
        // SAFETY: `out` covers size_of_val(out) writable bytes (any bit pattern is a valid
        // f32) and the buffer at least as many; hipMemcpyDtoH returns once the copy is done.
        let code = unsafe {
            (self.api.memcpy_dtoh)(out.as_mut_ptr().cast(), buffer.raw, size_of_val(out))
        };
        self.check("hipMemcpyDtoH", code)
    }

    /// Launches `function` on the null stream over `grid` blocks of `block` threads with
    /// `args`, once they are found to fit the kernel's declared signature and every buffer
    /// is one of this runtime's, holding as much as the kernel reaches.
    pub(super) fn launch(
        &self,
        function: &Function<'_>,
        grid: [u32; 3],
        block: [u32; 3],
        args: &[Arg<'_, DeviceBuffer<'_>>],
    ) -> Result<(), LaunchError> {
        function
            .signature
            .check(args, |buffer| ptr::eq(buffer.hip, self))?;
        // hipModuleLaunchKernel reads each parameter through a pointer, as many bytes as the
        // kernel's signature says, so every value gets an 8-byte aligned slot of its own.
        let mut slots: Vec<u64> = args.iter().map(|arg| arg.slot().0).collect();
        let mut params: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|slot| (slot as *mut u64).cast())
            .collect();
        // SAFETY: the function belongs to a module that outlives this call (the borrow in
        // `Function`); `params` holds one pointer per kernel parameter (checked above against
        // the kernel's declaration), each to a live slot at least as large as the parameter,
        // read during the call only; every buffer is a live allocation of this runtime holding
        // as many floats as the kernel reaches (checked above). No shared memory, the null
        // stream, no `extra`.
        let code = unsafe {
            (self.api.module_launch_kernel)(
                function.raw,
                grid[0],
                grid[1],
                grid[2],
                block[0],
                block[1],
                block[2],
                0,
                ptr::null_mut(),
                params.as_mut_ptr(),
                ptr::null_mut(),
            )
        };
        Ok(self.check("hipModuleLaunchKernel", code)?)
    }

    /// Waits for every launch on the current device to finish.
    pub(super) fn synchronize(&self) -> Result<(), HipError> {
        // SAFETY: no arguments; blocks until the device is idle.
        let code = unsafe { (self.api.device_synchronize)() };
        self.check("hipDeviceSynchronize", code)
    }
}

/// Whether `bytes` starts with the ELF magic, as every AMDGPU code object does.
pub(super) fn looks_like_elf(bytes: &[u8]) -> bool {
    bytes.len() > 64 && bytes.starts_with(b"\x7fELF")
}

/// A loaded code object, unloaded on drop.
#[derive(Debug)]
pub(super) struct Module<'h> {
    hip: &'h Hip,
    raw: HipModule,
}

impl Module<'_> {
    /// The kernel `signature` declares, by its entry point's name; launches of it are checked
    /// against the declaration.
    pub(super) fn function(&self, signature: &'static Signature) -> Result<Function<'_>, HipError> {
        let mut raw: HipFunction = ptr::null_mut();
        // SAFETY: the module is live (owned by `self`), the name is NUL-terminated and `raw` a
        // valid out pointer; the function handle is owned by the module.
        let code = unsafe {
            (self.hip.api.module_get_function)(&mut raw, self.raw, signature.entry.as_ptr())
        };
        self.hip.check("hipModuleGetFunction", code)?;
        Ok(Function {
            raw,
            signature,
            _module: self,
        })
    }
}

impl Drop for Module<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was loaded by `Hip::load_module`, is owned by this value alone and is
        // unloaded once, after every launch from it was synchronised. A failed unload leaks.
        let _ = unsafe { (self.hip.api.module_unload)(self.raw) };
    }
}

/// A kernel of a loaded module, with the signature its source declares.
#[derive(Debug)]
pub(super) struct Function<'m> {
    raw: HipFunction,
    signature: &'static Signature,
    _module: &'m Module<'m>,
}

/// A device allocation of `len` floats, freed on drop.
#[derive(Debug)]
pub(super) struct DeviceBuffer<'h> {
    hip: &'h Hip,
    raw: *mut c_void,
    len: usize,
}

impl Floats for DeviceBuffer<'_> {
    fn floats(&self) -> usize {
        self.len
    }

    fn address(&self) -> u64 {
        self.raw as u64
    }
}

impl Drop for DeviceBuffer<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was allocated by `Hip::buffer`, is owned by this value alone and is
        // freed once; hipFree waits for work still using it.
        let _ = unsafe { (self.hip.api.free)(self.raw) };
    }
}

/// hiprtc, opened.
#[derive(Debug)]
pub(super) struct Hiprtc {
    library: Library,
    api: Rtc,
}

/// Why hiprtc produced no code object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CompileFailure {
    /// The hiprtc call that failed and its result number.
    pub call: &'static str,
    pub code: i32,
    /// The program log, possibly empty.
    pub log: String,
}

impl Hiprtc {
    /// hiprtc for `hip`: inside libamdhip64 before ROCm 6, else the first of `sonames`.
    pub(super) fn load(
        hip: &Hip,
        runtime_major: u32,
        sonames: &[&'static str],
    ) -> Result<Hiprtc, LoadError> {
        let (library, api) = sys::open_rtc(hip.library, runtime_major, sonames)?;
        Ok(Hiprtc { library, api })
    }

    /// The library hiprtc was found in.
    pub(super) fn library_name(&self) -> &'static str {
        self.library.name()
    }

    /// Compiles HIP C++ `source` into a code object for `target` (a gfx target id such as
    /// `gfx90a` or `gfx90a:sramecc+:xnack-`). Needs no GPU.
    pub(super) fn compile(&self, source: &str, target: &str) -> Result<Vec<u8>, CompileFailure> {
        let fail =
            |call: &'static str, code: c_int, log: String| CompileFailure { call, code, log };
        let (Ok(source), Ok(option)) = (
            CString::new(source),
            CString::new(format!("--offload-arch={target}")),
        ) else {
            return Err(fail(
                "hiprtcCreateProgram",
                -1,
                "source or target contains NUL".into(),
            ));
        };
        let mut program: HiprtcProgram = ptr::null_mut();
        // SAFETY: `program` is a valid out pointer, the source and name are NUL-terminated and
        // outlive the call, and no headers are passed (count 0, NULL arrays).
        let code = unsafe {
            (self.api.create_program)(
                &mut program,
                source.as_ptr(),
                c"hwspec.hip".as_ptr(),
                0,
                ptr::null(),
                ptr::null(),
            )
        };
        if code != HIPRTC_SUCCESS {
            return Err(fail("hiprtcCreateProgram", code, String::new()));
        }
        let program = Program {
            rtc: self,
            raw: program,
        };
        let options = [option.as_ptr()];
        // SAFETY: the program is live; one option, a NUL-terminated string outliving the call.
        let code = unsafe { (self.api.compile_program)(program.raw, 1, options.as_ptr()) };
        if code != HIPRTC_SUCCESS {
            return Err(fail("hiprtcCompileProgram", code, program.log()));
        }
        let mut size = 0usize;
        // SAFETY: the program is live and compiled; valid out pointer.
        let code = unsafe { (self.api.get_code_size)(program.raw, &mut size) };
        if code != HIPRTC_SUCCESS || size == 0 {
            return Err(fail("hiprtcGetCodeSize", code, program.log()));
        }
        let mut bytes = vec![0u8; size];
        // SAFETY: the buffer holds exactly the `size` bytes hiprtc said the code has.
        let code = unsafe { (self.api.get_code)(program.raw, bytes.as_mut_ptr().cast()) };
        if code != HIPRTC_SUCCESS {
            return Err(fail("hiprtcGetCode", code, program.log()));
        }
        Ok(bytes)
    }
}

/// A hiprtc program, destroyed on drop.
struct Program<'r> {
    rtc: &'r Hiprtc,
    raw: HiprtcProgram,
}

impl Program<'_> {
    /// The compile log; empty when hiprtc offers none.
    fn log(&self) -> String {
        let mut size = 0usize;
        // SAFETY: the program is live; valid out pointer.
        let code = unsafe { (self.rtc.api.get_log_size)(self.raw, &mut size) };
        if code != HIPRTC_SUCCESS || size == 0 {
            return String::new();
        }
        let mut bytes = vec![0u8; size];
        // SAFETY: the buffer holds the `size` bytes (terminating NUL included) hiprtc stated.
        let code = unsafe { (self.rtc.api.get_log)(self.raw, bytes.as_mut_ptr().cast()) };
        if code != HIPRTC_SUCCESS {
            return String::new();
        }
        c_string(&bytes)
    }
}

impl Drop for Program<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by hiprtcCreateProgram, is owned by this value alone and is
        // destroyed once.
        let _ = unsafe { (self.rtc.api.destroy_program)(&mut self.raw) };
    }
}

/// The gfx targets the code object manager can compile for, as ISA names
/// (`amdgcn-amd-amdhsa--gfx90a`). hiprtc aborts the process on a target the code object
/// manager does not know (seen with ROCm 5.2), so the probe asks first. `None` when no code
/// object manager could be opened or it would not answer: the probe then compiles unchecked.
pub(super) fn compiler_isa_names() -> Option<Vec<String>> {
    isa_names(&sys::open_comgr()?)
}

fn isa_names(comgr: &Comgr) -> Option<Vec<String>> {
    let mut count = 0usize;
    // SAFETY: valid out pointer.
    if unsafe { (comgr.get_isa_count)(&mut count) } != COMGR_SUCCESS {
        return None;
    }
    let mut names = Vec::with_capacity(count.min(1024));
    for index in 0..count.min(1024) {
        let mut name: *const c_char = ptr::null();
        // SAFETY: index < count; the name is a static NUL-terminated string, copied at once.
        let ok =
            unsafe { (comgr.get_isa_name)(index, &mut name) } == COMGR_SUCCESS && !name.is_null();
        if ok {
            // SAFETY: checked non-NULL above; the string is owned by the library.
            names.push(
                unsafe { CStr::from_ptr(name) }
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Some(names)
}

/// Text up to the first NUL of a C string buffer.
pub(super) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}
