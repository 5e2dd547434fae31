//! Loading layer and thin wrappers for the HIP runtime, hiprtc and the code object manager.
//!
//! The crate `hip-sys` links libamdhip64 at build time and needs ROCm headers to build, so the
//! part of the C ABI the probe uses is declared here and resolved with `libloading` (design §7).
//! Every symbol is resolved when its library is opened, so a missing one is reported by name
//! before any call is made. Libraries are never closed (design §3: no dlclose; HIP's teardown is
//! where its heap corruption lives). Every call returns a [`HipError`] naming the call, and the
//! device objects are owned by handles that free them on drop.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::fmt;
use std::ptr;

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

/// HIP runtime sonames, newest first. Never an unversioned name: that is the development
/// symlink, and it may point at a runtime the probe did not mean to judge.
pub(super) const HIP_SONAMES: &[&str] =
    &["libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"];

/// hiprtc sonames for ROCm 6 and later; on ROCm 5 hiprtc lives inside libamdhip64.
pub(super) const HIPRTC_SONAMES: &[&str] = &["libhiprtc.so.7", "libhiprtc.so.6"];

/// Code object manager sonames, newest first (ROCm 7 ships `.so.3`, ROCm 5 and 6 `.so.2`).
const COMGR_SONAMES: &[&str] = &["libamd_comgr.so.3", "libamd_comgr.so.2"];

/// `hipSuccess`.
const HIP_SUCCESS: c_int = 0;
/// `hipErrorNoDevice`: the runtime found no usable GPU.
pub(super) const HIP_ERROR_NO_DEVICE: c_int = 100;
/// `hipErrorInvalidValue`, used for arguments refused before reaching the runtime.
const HIP_ERROR_INVALID_VALUE: c_int = 1;
/// `HIPRTC_SUCCESS`.
const HIPRTC_SUCCESS: c_int = 0;
/// `AMD_COMGR_STATUS_SUCCESS`.
const COMGR_SUCCESS: c_int = 0;

/// Bytes handed to `hipGetDeviceProperties*`: more than either layout needs (R0000 ends near
/// 800 bytes, R0600 is 1472), so a runtime with a longer struct than expected cannot write past
/// the buffer.
pub(super) const DEVICE_PROP_BUFFER: usize = 4096;

/// A HIP or hiprtc call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HipError {
    /// The C entry point, as people search for it.
    pub call: &'static str,
    /// The number it returned; unknown numbers stay numbers.
    pub code: i32,
    /// The runtime's name for the number (`hipErrorNoDevice`), when it has one.
    pub name: Option<String>,
}

impl fmt::Display for HipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} returned {} ({name})", self.call, self.code),
            None => write!(f, "{} returned {}", self.call, self.code),
        }
    }
}

/// Why a library could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LoadError {
    /// None of the sonames could be opened; the dynamic loader's messages, one per soname.
    NotFound(Vec<String>),
    /// The library opened but lacks an entry point the probe needs.
    MissingSymbol {
        library: &'static str,
        symbol: &'static str,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(messages) => f.write_str(&messages.join("; ")),
            LoadError::MissingSymbol { library, symbol } => {
                write!(f, "{library} lacks the entry point {symbol}")
            }
        }
    }
}

/// Which `hipDeviceProp_t` layout a properties call fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PropLayout {
    /// `hipGetDeviceProperties` of ROCm 5 (`hipDeviceProp_tR0000`).
    R0000,
    /// `hipGetDevicePropertiesR0600` of ROCm 6 and later.
    R0600,
}

/// Opens the first of `sonames` that the dynamic loader accepts; never closed.
fn open_first(sonames: &[&'static str]) -> Result<(&'static str, &'static Library), Vec<String>> {
    let mut errors = Vec::new();
    for &soname in sonames {
        // SAFETY: opening a library runs its initialisers; for a vendor runtime that is the very
        // code this worker process exists to contain (design §3). The name is a plain soname.
        match unsafe { Library::open(Some(soname), RTLD_NOW | RTLD_LOCAL) } {
            Ok(library) => return Ok((soname, Box::leak(Box::new(library)))),
            Err(error) => errors.push(error.to_string()),
        }
    }
    Err(errors)
}

/// Resolves `$name` from `$lib` as the type of the field it is assigned to, or returns
/// [`LoadError::MissingSymbol`] naming it.
macro_rules! resolve {
    ($lib:expr, $soname:expr, $name:literal) => {{
        // SAFETY: the field receiving this pointer is declared with the C prototype of $name
        // in ROCm's public headers, and the library is never unloaded, so the pointer stays
        // valid for the life of the process.
        match unsafe { $lib.get(concat!($name, "\0").as_bytes()) } {
            Ok(symbol) => *symbol,
            Err(_) => {
                return Err(LoadError::MissingSymbol {
                    library: $soname,
                    symbol: $name,
                })
            }
        }
    }};
}

type HipModule = *mut c_void;
type HipFunction = *mut c_void;
type HiprtcProgram = *mut c_void;

/// The HIP runtime's entry points.
#[derive(Debug)]
pub(super) struct Hip {
    library: &'static Library,
    soname: &'static str,
    init: unsafe extern "C" fn(c_uint) -> c_int,
    get_device_count: unsafe extern "C" fn(*mut c_int) -> c_int,
    runtime_get_version: unsafe extern "C" fn(*mut c_int) -> c_int,
    driver_get_version: unsafe extern "C" fn(*mut c_int) -> c_int,
    get_error_name: unsafe extern "C" fn(c_int) -> *const c_char,
    device_get_name: unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int,
    device_total_mem: unsafe extern "C" fn(*mut usize, c_int) -> c_int,
    /// Optional: only the device-node evidence depends on it.
    device_get_pci_bus_id: Option<unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int>,
    get_device_properties: unsafe extern "C" fn(*mut c_void, c_int) -> c_int,
    prop_layout: PropLayout,
    set_device: unsafe extern "C" fn(c_int) -> c_int,
    module_load_data: unsafe extern "C" fn(*mut HipModule, *const c_void) -> c_int,
    module_get_function: unsafe extern "C" fn(*mut HipFunction, HipModule, *const c_char) -> c_int,
    module_unload: unsafe extern "C" fn(HipModule) -> c_int,
    malloc: unsafe extern "C" fn(*mut *mut c_void, usize) -> c_int,
    free: unsafe extern "C" fn(*mut c_void) -> c_int,
    memcpy_htod: unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> c_int,
    memcpy_dtoh: unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> c_int,
    module_launch_kernel: unsafe extern "C" fn(
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
    ) -> c_int,
    device_synchronize: unsafe extern "C" fn() -> c_int,
}

impl Hip {
    /// Opens the first of `sonames` and resolves every entry point the probe uses.
    pub(super) fn load(sonames: &[&'static str]) -> Result<Hip, LoadError> {
        let (soname, library) = open_first(sonames).map_err(LoadError::NotFound)?;
        // ROCm 6 changed hipDeviceProp_t and exports the new layout under its own name; the
        // plain name keeps the ROCm 5 layout there, but asking for R0600 first reads the
        // layout the runtime itself documents as current.
        let (get_device_properties, prop_layout) =
            // SAFETY: hipGetDevicePropertiesR0600(hipDeviceProp_tR0600 *, int) as in ROCm 6's
            // hip_runtime_api.h; the library is never unloaded.
            match unsafe { library.get(b"hipGetDevicePropertiesR0600\0") } {
                Ok(symbol) => (*symbol, PropLayout::R0600),
                Err(_) => (
                    resolve!(library, soname, "hipGetDeviceProperties"),
                    PropLayout::R0000,
                ),
            };
        Ok(Hip {
            library,
            soname,
            init: resolve!(library, soname, "hipInit"),
            get_device_count: resolve!(library, soname, "hipGetDeviceCount"),
            runtime_get_version: resolve!(library, soname, "hipRuntimeGetVersion"),
            driver_get_version: resolve!(library, soname, "hipDriverGetVersion"),
            get_error_name: resolve!(library, soname, "hipGetErrorName"),
            device_get_name: resolve!(library, soname, "hipDeviceGetName"),
            device_total_mem: resolve!(library, soname, "hipDeviceTotalMem"),
            // SAFETY: hipDeviceGetPCIBusId(char *, int, int) as in hip_runtime_api.h; the
            // library is never unloaded.
            device_get_pci_bus_id: unsafe { library.get(b"hipDeviceGetPCIBusId\0") }
                .ok()
                .map(|symbol| *symbol),
            get_device_properties,
            prop_layout,
            set_device: resolve!(library, soname, "hipSetDevice"),
            module_load_data: resolve!(library, soname, "hipModuleLoadData"),
            module_get_function: resolve!(library, soname, "hipModuleGetFunction"),
            module_unload: resolve!(library, soname, "hipModuleUnload"),
            malloc: resolve!(library, soname, "hipMalloc"),
            free: resolve!(library, soname, "hipFree"),
            memcpy_htod: resolve!(library, soname, "hipMemcpyHtoD"),
            memcpy_dtoh: resolve!(library, soname, "hipMemcpyDtoH"),
            module_launch_kernel: resolve!(library, soname, "hipModuleLaunchKernel"),
            device_synchronize: resolve!(library, soname, "hipDeviceSynchronize"),
        })
    }

    /// The soname that was opened.
    pub(super) fn soname(&self) -> &'static str {
        self.soname
    }

    /// The layout [`Hip::device_properties`] fills.
    pub(super) fn prop_layout(&self) -> PropLayout {
        self.prop_layout
    }

    fn check(&self, call: &'static str, code: c_int) -> Result<(), HipError> {
        if code == HIP_SUCCESS {
            return Ok(());
        }
        // SAFETY: hipGetErrorName takes any number and returns NULL or a pointer to a static
        // NUL-terminated string, copied here at once.
        let name = unsafe {
            let text = (self.get_error_name)(code);
            (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
        };
        Err(HipError { call, code, name })
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
        let code = unsafe { (self.init)(0) };
        self.check("hipInit", code)
    }

    /// The number of devices the runtime offers this process.
    pub(super) fn device_count(&self) -> Result<i32, HipError> {
        self.int_out("hipGetDeviceCount", self.get_device_count)
    }

    /// `HIP_VERSION` of the runtime: major * 10^7 + minor * 10^5 + patch.
    pub(super) fn runtime_version(&self) -> Result<i32, HipError> {
        self.int_out("hipRuntimeGetVersion", self.runtime_get_version)
    }

    /// The driver version the runtime reports.
    pub(super) fn driver_version(&self) -> Result<i32, HipError> {
        self.int_out("hipDriverGetVersion", self.driver_get_version)
    }

    /// The marketing name of device `index`.
    pub(super) fn device_name(&self, index: i32) -> Result<String, HipError> {
        let mut buffer = [0 as c_char; 256];
        // SAFETY: the buffer holds 256 chars and its length is passed; the runtime writes a
        // NUL-terminated name within it.
        let code = unsafe { (self.device_get_name)(buffer.as_mut_ptr(), 256, index) };
        self.check("hipDeviceGetName", code)?;
        let bytes: Vec<u8> = buffer.iter().map(|&c| c as u8).collect();
        Ok(c_string(&bytes))
    }

    /// The PCI address of device `index` (`0000:03:00.0`), `None` when the runtime lacks the
    /// entry point.
    pub(super) fn pci_bus_id(&self, index: i32) -> Option<Result<String, HipError>> {
        let get = self.device_get_pci_bus_id?;
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
        let code = unsafe { (self.device_total_mem)(&mut bytes, index) };
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
        let call = match self.prop_layout {
            PropLayout::R0000 => "hipGetDeviceProperties",
            PropLayout::R0600 => "hipGetDevicePropertiesR0600",
        };
        self.check(call, code)?;
        Ok(buffer.iter().flat_map(|word| word.to_ne_bytes()).collect())
    }

    /// Makes device `index` current for this thread's later calls.
    pub(super) fn set_device(&self, index: i32) -> Result<(), HipError> {
        // SAFETY: hipSetDevice takes a device number and checks its range itself.
        let code = unsafe { (self.set_device)(index) };
        self.check("hipSetDevice", code)
    }

    /// Loads a code object on the current device.
    pub(super) fn load_module(&self, code_object: &[u8]) -> Result<Module<'_>, HipError> {
        // The runtime takes the code object's length from its ELF headers, so anything that is
        // not an ELF is refused here rather than read past its end.
        if !looks_like_elf(code_object) {
            return Err(HipError {
                call: "hipModuleLoadData",
                code: HIP_ERROR_INVALID_VALUE,
                name: Some("not an ELF code object".into()),
            });
        }
        let mut raw: HipModule = ptr::null_mut();
        // SAFETY: the code object is a complete ELF image read during the call only (its
        // headers give the runtime its length); `raw` is a valid out pointer and the module
        // is owned by `Module`.
        let code = unsafe { (self.module_load_data)(&mut raw, code_object.as_ptr().cast()) };
        self.check("hipModuleLoadData", code)?;
        Ok(Module { hip: self, raw })
    }

    /// An uninitialised device buffer of `len` floats on the current device.
    pub(super) fn buffer(&self, len: usize) -> Result<DeviceBuffer<'_>, HipError> {
        let mut raw: *mut c_void = ptr::null_mut();
        // SAFETY: valid out pointer; the allocation is owned by `DeviceBuffer`.
        let code = unsafe { (self.malloc)(&mut raw, len.saturating_mul(size_of::<f32>())) };
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
            return Err(self.refused("hipMemcpyHtoD"));
        }
        // SAFETY: `data` covers size_of_val(data) readable bytes and the buffer at least as
        // many; hipMemcpyHtoD returns once the copy is complete.
        let code =
            unsafe { (self.memcpy_htod)(buffer.raw, data.as_ptr().cast(), size_of_val(data)) };
        self.check("hipMemcpyHtoD", code)
    }

    /// Copies the start of `buffer` into `out`; synchronous.
    pub(super) fn read(&self, buffer: &DeviceBuffer<'_>, out: &mut [f32]) -> Result<(), HipError> {
        if out.len() > buffer.len {
            return Err(self.refused("hipMemcpyDtoH"));
        }
        // SAFETY: `out` covers size_of_val(out) writable bytes (any bit pattern is a valid
        // f32) and the buffer at least as many; hipMemcpyDtoH returns once the copy is done.
        let code =
            unsafe { (self.memcpy_dtoh)(out.as_mut_ptr().cast(), buffer.raw, size_of_val(out)) };
        self.check("hipMemcpyDtoH", code)
    }

    /// Launches `function` on the null stream with `params` as its argument pointers.
    ///
    /// # Safety
    ///
    /// `params` must hold one pointer per kernel parameter, in order, each pointing at a value
    /// of the parameter's exact type, and for every thread of `grid` × `block` the kernel may
    /// only access its buffer arguments within their lengths.
    pub(super) unsafe fn launch(
        &self,
        function: Function<'_>,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<(), HipError> {
        // SAFETY: the function belongs to a module that outlives this call (the borrow in
        // `Function`); `params` is read during the call only; the kernel's own accesses are the
        // caller's contract above. No shared memory, the null stream, no `extra`.
        let code = unsafe {
            (self.module_launch_kernel)(
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
        self.check("hipModuleLaunchKernel", code)
    }

    /// Waits for every launch on the current device to finish.
    pub(super) fn synchronize(&self) -> Result<(), HipError> {
        // SAFETY: no arguments; blocks until the device is idle.
        let code = unsafe { (self.device_synchronize)() };
        self.check("hipDeviceSynchronize", code)
    }

    fn refused(&self, call: &'static str) -> HipError {
        HipError {
            call,
            code: HIP_ERROR_INVALID_VALUE,
            name: Some("refused before the call: buffer too small".into()),
        }
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
    /// The kernel called `name`.
    pub(super) fn function(&self, name: &CStr) -> Result<Function<'_>, HipError> {
        let mut raw: HipFunction = ptr::null_mut();
        // SAFETY: the module is live (owned by `self`), `name` is NUL-terminated and `raw` a
        // valid out pointer; the function handle is owned by the module.
        let code = unsafe { (self.hip.module_get_function)(&mut raw, self.raw, name.as_ptr()) };
        self.hip.check("hipModuleGetFunction", code)?;
        Ok(Function { raw, _module: self })
    }
}

impl Drop for Module<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was loaded by `Hip::load_module`, is owned by this value alone and is
        // unloaded once, after every launch from it was synchronised. A failed unload leaks.
        let _ = unsafe { (self.hip.module_unload)(self.raw) };
    }
}

/// A kernel of a loaded module.
#[derive(Debug, Clone, Copy)]
pub(super) struct Function<'m> {
    raw: HipFunction,
    _module: &'m Module<'m>,
}

/// A device allocation of `len` floats, freed on drop.
#[derive(Debug)]
pub(super) struct DeviceBuffer<'h> {
    hip: &'h Hip,
    raw: *mut c_void,
    len: usize,
}

impl DeviceBuffer<'_> {
    /// The device address, as a kernel pointer argument takes it.
    pub(super) fn device_pointer(&self) -> *mut c_void {
        self.raw
    }
}

impl Drop for DeviceBuffer<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` was allocated by `Hip::buffer`, is owned by this value alone and is
        // freed once; hipFree waits for work still using it.
        let _ = unsafe { (self.hip.free)(self.raw) };
    }
}

/// hiprtc's entry points.
#[derive(Debug)]
pub(super) struct Hiprtc {
    library_name: &'static str,
    create_program: unsafe extern "C" fn(
        *mut HiprtcProgram,
        *const c_char,
        *const c_char,
        c_int,
        *const *const c_char,
        *const *const c_char,
    ) -> c_int,
    compile_program: unsafe extern "C" fn(HiprtcProgram, c_int, *const *const c_char) -> c_int,
    get_code_size: unsafe extern "C" fn(HiprtcProgram, *mut usize) -> c_int,
    get_code: unsafe extern "C" fn(HiprtcProgram, *mut c_char) -> c_int,
    get_log_size: unsafe extern "C" fn(HiprtcProgram, *mut usize) -> c_int,
    get_log: unsafe extern "C" fn(HiprtcProgram, *mut c_char) -> c_int,
    destroy_program: unsafe extern "C" fn(*mut HiprtcProgram) -> c_int,
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
        if runtime_major < 6 {
            return Hiprtc::resolve(hip.library, hip.soname);
        }
        let (soname, library) = open_first(sonames).map_err(LoadError::NotFound)?;
        Hiprtc::resolve(library, soname)
    }

    fn resolve(library: &'static Library, soname: &'static str) -> Result<Hiprtc, LoadError> {
        Ok(Hiprtc {
            library_name: soname,
            create_program: resolve!(library, soname, "hiprtcCreateProgram"),
            compile_program: resolve!(library, soname, "hiprtcCompileProgram"),
            get_code_size: resolve!(library, soname, "hiprtcGetCodeSize"),
            get_code: resolve!(library, soname, "hiprtcGetCode"),
            get_log_size: resolve!(library, soname, "hiprtcGetProgramLogSize"),
            get_log: resolve!(library, soname, "hiprtcGetProgramLog"),
            destroy_program: resolve!(library, soname, "hiprtcDestroyProgram"),
        })
    }

    /// The library hiprtc was found in.
    pub(super) fn library_name(&self) -> &'static str {
        self.library_name
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
            (self.create_program)(
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
        let code = unsafe { (self.compile_program)(program.raw, 1, options.as_ptr()) };
        if code != HIPRTC_SUCCESS {
            return Err(fail("hiprtcCompileProgram", code, program.log()));
        }
        let mut size = 0usize;
        // SAFETY: the program is live and compiled; valid out pointer.
        let code = unsafe { (self.get_code_size)(program.raw, &mut size) };
        if code != HIPRTC_SUCCESS || size == 0 {
            return Err(fail("hiprtcGetCodeSize", code, program.log()));
        }
        let mut bytes = vec![0u8; size];
        // SAFETY: the buffer holds exactly the `size` bytes hiprtc said the code has.
        let code = unsafe { (self.get_code)(program.raw, bytes.as_mut_ptr().cast()) };
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
        let code = unsafe { (self.rtc.get_log_size)(self.raw, &mut size) };
        if code != HIPRTC_SUCCESS || size == 0 {
            return String::new();
        }
        let mut bytes = vec![0u8; size];
        // SAFETY: the buffer holds the `size` bytes (terminating NUL included) hiprtc stated.
        let code = unsafe { (self.rtc.get_log)(self.raw, bytes.as_mut_ptr().cast()) };
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
        let _ = unsafe { (self.rtc.destroy_program)(&mut self.raw) };
    }
}

/// The gfx targets the code object manager can compile for, as ISA names
/// (`amdgcn-amd-amdhsa--gfx90a`). hiprtc aborts the process on a target the code object
/// manager does not know (seen with ROCm 5.2), so the probe asks first. `None` when no code
/// object manager could be opened or it would not answer: the probe then compiles unchecked.
pub(super) fn compiler_isa_names() -> Option<Vec<String>> {
    // The copy hiprtc already mapped is the one whose answer matters; hiprtc opens it lazily.
    let mapped = crate::sys::loaded_library("libamd_comgr.so");
    let library = match mapped {
        // SAFETY: reopening a library already mapped in this process runs no initialiser again.
        Some(path) => unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.ok()?,
        None => {
            let (_, library) = open_first(COMGR_SONAMES).ok()?;
            return isa_names(library);
        }
    };
    isa_names(Box::leak(Box::new(library)))
}

fn isa_names(library: &'static Library) -> Option<Vec<String>> {
    let count_fn: unsafe extern "C" fn(*mut usize) -> c_int = {
        // SAFETY: amd_comgr_status_t amd_comgr_get_isa_count(size_t *) from amd_comgr.h.
        *unsafe { library.get(b"amd_comgr_get_isa_count\0") }.ok()?
    };
    let name_fn: unsafe extern "C" fn(usize, *mut *const c_char) -> c_int = {
        // SAFETY: amd_comgr_status_t amd_comgr_get_isa_name(size_t, const char **).
        *unsafe { library.get(b"amd_comgr_get_isa_name\0") }.ok()?
    };
    let mut count = 0usize;
    // SAFETY: valid out pointer.
    if unsafe { count_fn(&mut count) } != COMGR_SUCCESS {
        return None;
    }
    let mut names = Vec::with_capacity(count.min(1024));
    for index in 0..count.min(1024) {
        let mut name: *const c_char = ptr::null();
        // SAFETY: index < count; the name is a static NUL-terminated string, copied at once.
        let ok = unsafe { name_fn(index, &mut name) } == COMGR_SUCCESS && !name.is_null();
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
