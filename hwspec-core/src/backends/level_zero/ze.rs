//! The Level Zero C API as far as the probe uses it: the loader and its symbols, thin wrappers
//! that return a [`ZeError`] naming the call, and handles that destroy their object on drop.
//!
//! The declarations are written out here from the 1.8 headers (`ze_api.h` of Debian's
//! `libze-dev`) rather than generated, so building hwspec needs no Level Zero package; the
//! layout assertions below pin every structure the driver writes into. The library is opened
//! by its soname and never closed (design §3: no dlclose).

use crate::backends::common::{symbol_table, CallError, Library, LoadError, Spelling};
use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr};
use std::fmt;
use std::mem::{offset_of, size_of};
use std::ptr;

/// The loader's soname as Debian's `libze1` installs it. The unversioned name belongs to
/// `libze-dev` and is never opened.
pub(super) const LOADER_SONAME: &str = "libze_loader.so.1";

/// A `ze_result_t` as the driver returned it; values outside the 1.8 headers stay numbers.
pub(super) type ZeResult = u32;

pub(super) const ZE_RESULT_SUCCESS: ZeResult = 0;
pub(super) const ZE_RESULT_NOT_READY: ZeResult = 1;
pub(super) const ZE_RESULT_ERROR_UNINITIALIZED: ZeResult = 0x7800_0001;
pub(super) const ZE_RESULT_ERROR_INVALID_SIZE: ZeResult = 0x7800_0008;
const ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT: ZeResult = 0x7800_000a;

/// Every `ze_result_t` of the 1.8 headers with its name.
const RESULT_NAMES: &[(ZeResult, &str)] = &[
    (0, "ZE_RESULT_SUCCESS"),
    (1, "ZE_RESULT_NOT_READY"),
    (0x7000_0001, "ZE_RESULT_ERROR_DEVICE_LOST"),
    (0x7000_0002, "ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY"),
    (0x7000_0003, "ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY"),
    (0x7000_0004, "ZE_RESULT_ERROR_MODULE_BUILD_FAILURE"),
    (0x7000_0005, "ZE_RESULT_ERROR_MODULE_LINK_FAILURE"),
    (0x7000_0006, "ZE_RESULT_ERROR_DEVICE_REQUIRES_RESET"),
    (0x7000_0007, "ZE_RESULT_ERROR_DEVICE_IN_LOW_POWER_STATE"),
    (0x7ff0_0001, "ZE_RESULT_EXP_ERROR_DEVICE_IS_NOT_VERTEX"),
    (0x7ff0_0002, "ZE_RESULT_EXP_ERROR_VERTEX_IS_NOT_DEVICE"),
    (0x7ff0_0003, "ZE_RESULT_EXP_ERROR_REMOTE_DEVICE"),
    (0x7001_0000, "ZE_RESULT_ERROR_INSUFFICIENT_PERMISSIONS"),
    (0x7001_0001, "ZE_RESULT_ERROR_NOT_AVAILABLE"),
    (0x7002_0000, "ZE_RESULT_ERROR_DEPENDENCY_UNAVAILABLE"),
    (0x7002_0001, "ZE_RESULT_WARNING_DROPPED_DATA"),
    (0x7800_0001, "ZE_RESULT_ERROR_UNINITIALIZED"),
    (0x7800_0002, "ZE_RESULT_ERROR_UNSUPPORTED_VERSION"),
    (0x7800_0003, "ZE_RESULT_ERROR_UNSUPPORTED_FEATURE"),
    (0x7800_0004, "ZE_RESULT_ERROR_INVALID_ARGUMENT"),
    (0x7800_0005, "ZE_RESULT_ERROR_INVALID_NULL_HANDLE"),
    (0x7800_0006, "ZE_RESULT_ERROR_HANDLE_OBJECT_IN_USE"),
    (0x7800_0007, "ZE_RESULT_ERROR_INVALID_NULL_POINTER"),
    (0x7800_0008, "ZE_RESULT_ERROR_INVALID_SIZE"),
    (0x7800_0009, "ZE_RESULT_ERROR_UNSUPPORTED_SIZE"),
    (0x7800_000a, "ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT"),
    (
        0x7800_000b,
        "ZE_RESULT_ERROR_INVALID_SYNCHRONIZATION_OBJECT",
    ),
    (0x7800_000c, "ZE_RESULT_ERROR_INVALID_ENUMERATION"),
    (0x7800_000d, "ZE_RESULT_ERROR_UNSUPPORTED_ENUMERATION"),
    (0x7800_000e, "ZE_RESULT_ERROR_UNSUPPORTED_IMAGE_FORMAT"),
    (0x7800_000f, "ZE_RESULT_ERROR_INVALID_NATIVE_BINARY"),
    (0x7800_0010, "ZE_RESULT_ERROR_INVALID_GLOBAL_NAME"),
    (0x7800_0011, "ZE_RESULT_ERROR_INVALID_KERNEL_NAME"),
    (0x7800_0012, "ZE_RESULT_ERROR_INVALID_FUNCTION_NAME"),
    (0x7800_0013, "ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION"),
    (
        0x7800_0014,
        "ZE_RESULT_ERROR_INVALID_GLOBAL_WIDTH_DIMENSION",
    ),
    (0x7800_0015, "ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX"),
    (0x7800_0016, "ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE"),
    (
        0x7800_0017,
        "ZE_RESULT_ERROR_INVALID_KERNEL_ATTRIBUTE_VALUE",
    ),
    (0x7800_0018, "ZE_RESULT_ERROR_INVALID_MODULE_UNLINKED"),
    (0x7800_0019, "ZE_RESULT_ERROR_INVALID_COMMAND_LIST_TYPE"),
    (0x7800_001a, "ZE_RESULT_ERROR_OVERLAPPING_REGIONS"),
    (0x7800_001b, "ZE_RESULT_WARNING_ACTION_REQUIRED"),
    (0x7fff_fffe, "ZE_RESULT_ERROR_UNKNOWN"),
];

/// The header's name for `code`, or `None` for a value the 1.8 headers do not define.
pub(super) fn result_name(code: ZeResult) -> Option<&'static str> {
    RESULT_NAMES
        .iter()
        .find(|(value, _)| *value == code)
        .map(|(_, name)| *name)
}

/// A Level Zero call that did not return `ZE_RESULT_SUCCESS`.
pub(super) type ZeError = CallError;

/// The error of `call` returning `code`, written as ze_api.h writes `ze_result_t`: the
/// constant's name and its value in hex.
pub(super) fn ze_error(call: &'static str, code: ZeResult) -> ZeError {
    CallError::new(call, code)
        .named_by(|code| u32::try_from(code).ok().and_then(result_name))
        .spelled(Spelling::Hex { digits: 8 })
}

fn check(call: &'static str, code: ZeResult) -> Result<(), ZeError> {
    if code == ZE_RESULT_SUCCESS {
        Ok(())
    } else {
        Err(ze_error(call, code))
    }
}

type Handle = *mut c_void;

// ze_structure_type_t values of the structures below.
const STYPE_DRIVER_PROPERTIES: u32 = 0x1;
const STYPE_DEVICE_PROPERTIES: u32 = 0x3;
const STYPE_COMMAND_QUEUE_GROUP_PROPERTIES: u32 = 0x6;
const STYPE_DEVICE_MEMORY_PROPERTIES: u32 = 0x7;
const STYPE_CONTEXT_DESC: u32 = 0xd;
const STYPE_COMMAND_QUEUE_DESC: u32 = 0xe;
const STYPE_COMMAND_LIST_DESC: u32 = 0xf;
const STYPE_DEVICE_MEM_ALLOC_DESC: u32 = 0x15;
const STYPE_HOST_MEM_ALLOC_DESC: u32 = 0x16;
const STYPE_MODULE_DESC: u32 = 0x1b;
const STYPE_KERNEL_DESC: u32 = 0x1d;

const ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE: u32 = 1;
/// Asynchronous, so that waiting happens in `zeCommandQueueSynchronize`, which takes a timeout;
/// a synchronous queue would block inside `zeCommandQueueExecuteCommandLists` without one.
const ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS: u32 = 2;
const ZE_MODULE_FORMAT_IL_SPIRV: u32 = 0;
const ZE_DEVICE_PROPERTY_FLAG_INTEGRATED: u32 = 1;
const DEVICE_NAME_LEN: usize = 256;

#[repr(C)]
struct DriverPropertiesRaw {
    stype: u32,
    p_next: *mut c_void,
    uuid: [u8; 16],
    driver_version: u32,
}

#[repr(C)]
struct DevicePropertiesRaw {
    stype: u32,
    p_next: *mut c_void,
    device_type: u32,
    vendor_id: u32,
    device_id: u32,
    flags: u32,
    subdevice_id: u32,
    core_clock_rate: u32,
    max_mem_alloc_size: u64,
    max_hardware_contexts: u32,
    max_command_queue_priority: u32,
    num_threads_per_eu: u32,
    physical_eu_simd_width: u32,
    num_eus_per_subslice: u32,
    num_subslices_per_slice: u32,
    num_slices: u32,
    timer_resolution: u64,
    timestamp_valid_bits: u32,
    kernel_timestamp_valid_bits: u32,
    uuid: [u8; 16],
    name: [c_char; DEVICE_NAME_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MemoryPropertiesRaw {
    stype: u32,
    p_next: *mut c_void,
    flags: u32,
    max_clock_rate: u32,
    max_bus_width: u32,
    total_size: u64,
    name: [c_char; DEVICE_NAME_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct QueueGroupPropertiesRaw {
    stype: u32,
    p_next: *mut c_void,
    flags: u32,
    max_memory_fill_pattern_size: usize,
    num_queues: u32,
}

#[repr(C)]
struct ContextDesc {
    stype: u32,
    p_next: *const c_void,
    flags: u32,
}

#[repr(C)]
struct CommandQueueDesc {
    stype: u32,
    p_next: *const c_void,
    ordinal: u32,
    index: u32,
    flags: u32,
    mode: u32,
    priority: u32,
}

#[repr(C)]
struct CommandListDesc {
    stype: u32,
    p_next: *const c_void,
    command_queue_group_ordinal: u32,
    flags: u32,
}

#[repr(C)]
struct ModuleDesc {
    stype: u32,
    p_next: *const c_void,
    format: u32,
    input_size: usize,
    p_input_module: *const u8,
    p_build_flags: *const c_char,
    p_constants: *const c_void,
}

#[repr(C)]
struct KernelDesc {
    stype: u32,
    p_next: *const c_void,
    flags: u32,
    p_kernel_name: *const c_char,
}

#[repr(C)]
struct MemAllocDesc {
    stype: u32,
    p_next: *const c_void,
    flags: u32,
    ordinal: u32,
}

#[repr(C)]
struct HostMemAllocDesc {
    stype: u32,
    p_next: *const c_void,
    flags: u32,
}

#[repr(C)]
struct GroupCount {
    x: u32,
    y: u32,
    z: u32,
}

// Sizes and offsets as a C compiler lays out the 1.8 headers on LP64 Linux; a wrong field
// here would have the driver write past the structure or the probe read the wrong fact.
const _: () = {
    assert!(size_of::<DriverPropertiesRaw>() == 40);
    assert!(offset_of!(DriverPropertiesRaw, driver_version) == 32);
    assert!(size_of::<DevicePropertiesRaw>() == 368);
    assert!(offset_of!(DevicePropertiesRaw, device_type) == 16);
    assert!(offset_of!(DevicePropertiesRaw, core_clock_rate) == 36);
    assert!(offset_of!(DevicePropertiesRaw, max_mem_alloc_size) == 40);
    assert!(offset_of!(DevicePropertiesRaw, num_slices) == 72);
    assert!(offset_of!(DevicePropertiesRaw, timer_resolution) == 80);
    assert!(offset_of!(DevicePropertiesRaw, uuid) == 96);
    assert!(offset_of!(DevicePropertiesRaw, name) == 112);
    assert!(size_of::<MemoryPropertiesRaw>() == 296);
    assert!(offset_of!(MemoryPropertiesRaw, total_size) == 32);
    assert!(size_of::<QueueGroupPropertiesRaw>() == 40);
    assert!(offset_of!(QueueGroupPropertiesRaw, num_queues) == 32);
    assert!(size_of::<ContextDesc>() == 24);
    assert!(size_of::<CommandQueueDesc>() == 40);
    assert!(offset_of!(CommandQueueDesc, mode) == 28);
    assert!(size_of::<CommandListDesc>() == 24);
    assert!(size_of::<ModuleDesc>() == 56);
    assert!(offset_of!(ModuleDesc, p_input_module) == 32);
    assert!(size_of::<KernelDesc>() == 32);
    assert!(offset_of!(KernelDesc, p_kernel_name) == 24);
    assert!(size_of::<MemAllocDesc>() == 24);
    assert!(size_of::<HostMemAllocDesc>() == 24);
    assert!(size_of::<GroupCount>() == 12);
};

symbol_table! {
    /// Every entry point the probe calls, resolved when the loader is opened, so that a loader
    /// lacking one is reported before any of them runs; each declared as ze_api.h 1.8 declares it.
    struct Api {
        required {
            init = c"zeInit": unsafe extern "C" fn(u32) -> ZeResult;
            driver_get = c"zeDriverGet": unsafe extern "C" fn(*mut u32, *mut Handle) -> ZeResult;
            driver_get_api_version = c"zeDriverGetApiVersion": unsafe extern "C" fn(Handle, *mut u32) -> ZeResult;
            driver_get_properties = c"zeDriverGetProperties": unsafe extern "C" fn(Handle, *mut DriverPropertiesRaw) -> ZeResult;
            device_get = c"zeDeviceGet": unsafe extern "C" fn(Handle, *mut u32, *mut Handle) -> ZeResult;
            device_get_properties = c"zeDeviceGetProperties": unsafe extern "C" fn(Handle, *mut DevicePropertiesRaw) -> ZeResult;
            device_get_memory_properties = c"zeDeviceGetMemoryProperties": unsafe extern "C" fn(Handle, *mut u32, *mut MemoryPropertiesRaw) -> ZeResult;
            device_get_command_queue_group_properties = c"zeDeviceGetCommandQueueGroupProperties": unsafe extern "C" fn(Handle, *mut u32, *mut QueueGroupPropertiesRaw) -> ZeResult;
            context_create = c"zeContextCreate": unsafe extern "C" fn(Handle, *const ContextDesc, *mut Handle) -> ZeResult;
            context_destroy = c"zeContextDestroy": unsafe extern "C" fn(Handle) -> ZeResult;
            command_queue_create = c"zeCommandQueueCreate": unsafe extern "C" fn(Handle, Handle, *const CommandQueueDesc, *mut Handle) -> ZeResult;
            command_queue_destroy = c"zeCommandQueueDestroy": unsafe extern "C" fn(Handle) -> ZeResult;
            command_queue_execute_command_lists = c"zeCommandQueueExecuteCommandLists": unsafe extern "C" fn(Handle, u32, *mut Handle, Handle) -> ZeResult;
            command_queue_synchronize = c"zeCommandQueueSynchronize": unsafe extern "C" fn(Handle, u64) -> ZeResult;
            command_list_create = c"zeCommandListCreate": unsafe extern "C" fn(Handle, Handle, *const CommandListDesc, *mut Handle) -> ZeResult;
            command_list_destroy = c"zeCommandListDestroy": unsafe extern "C" fn(Handle) -> ZeResult;
            command_list_close = c"zeCommandListClose": unsafe extern "C" fn(Handle) -> ZeResult;
            command_list_append_launch_kernel = c"zeCommandListAppendLaunchKernel": unsafe extern "C" fn(Handle, Handle, *const GroupCount, Handle, u32, *mut Handle) -> ZeResult;
            module_create = c"zeModuleCreate": unsafe extern "C" fn(Handle, Handle, *const ModuleDesc, *mut Handle, *mut Handle) -> ZeResult;
            module_destroy = c"zeModuleDestroy": unsafe extern "C" fn(Handle) -> ZeResult;
            module_build_log_get_string = c"zeModuleBuildLogGetString": unsafe extern "C" fn(Handle, *mut usize, *mut c_char) -> ZeResult;
            module_build_log_destroy = c"zeModuleBuildLogDestroy": unsafe extern "C" fn(Handle) -> ZeResult;
            kernel_create = c"zeKernelCreate": unsafe extern "C" fn(Handle, *const KernelDesc, *mut Handle) -> ZeResult;
            kernel_destroy = c"zeKernelDestroy": unsafe extern "C" fn(Handle) -> ZeResult;
            kernel_suggest_group_size = c"zeKernelSuggestGroupSize": unsafe extern "C" fn(Handle, u32, u32, u32, *mut u32, *mut u32, *mut u32) -> ZeResult;
            kernel_set_group_size = c"zeKernelSetGroupSize": unsafe extern "C" fn(Handle, u32, u32, u32) -> ZeResult;
            kernel_set_argument_value = c"zeKernelSetArgumentValue": unsafe extern "C" fn(Handle, u32, usize, *const c_void) -> ZeResult;
            mem_alloc_shared = c"zeMemAllocShared": unsafe extern "C" fn(Handle, *const MemAllocDesc, *const HostMemAllocDesc, usize, usize, Handle, *mut *mut c_void) -> ZeResult;
            mem_free = c"zeMemFree": unsafe extern "C" fn(Handle, *mut c_void) -> ZeResult;
        }
    }
}

/// The opened loader. Copyable: it refers to an [`Api`] that lives for the rest of the process.
#[derive(Clone, Copy)]
pub(super) struct Loader(&'static Api);

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Loader")
    }
}

impl Loader {
    /// Opens `soname` and resolves every entry point. The library is never closed.
    pub(super) fn open(soname: &'static str) -> Result<Loader, LoadError> {
        let library = Library::open(soname)?;
        Ok(Loader(Box::leak(Box::new(Api::resolve(&library)?))))
    }

    /// `zeInit` with `flags` (0: every driver type).
    pub(super) fn init(self, flags: u32) -> Result<(), ZeError> {
        // SAFETY: zeInit takes a plain flag word.
        check("zeInit", unsafe { (self.0.init)(flags) })
    }

    /// Every driver the loader initialised.
    pub(super) fn drivers(self) -> Result<Vec<Driver>, ZeError> {
        let handles = list(
            "zeDriverGet",
            |count, out| {
                // SAFETY: `count` is a valid u32; `out` is NULL (count query) or holds `*count`
                // writable handles, as `list` guarantees.
                unsafe { (self.0.driver_get)(count, out) }
            },
            ptr::null_mut(),
        )?;
        Ok(handles
            .into_iter()
            .map(|raw| Driver { api: self.0, raw })
            .collect())
    }
}

/// The two-call pattern of the `*Get` functions: ask for the count, then fill that many.
/// A driver that reports more on the second call than on the first is trusted only as far as
/// the storage given to it.
fn list<T: Copy>(
    call: &'static str,
    mut query: impl FnMut(*mut u32, *mut T) -> ZeResult,
    empty: T,
) -> Result<Vec<T>, ZeError> {
    let mut count = 0u32;
    check(call, query(&mut count, ptr::null_mut()))?;
    let mut items = vec![empty; count as usize];
    if count == 0 {
        return Ok(items);
    }
    let mut filled = count;
    check(call, query(&mut filled, items.as_mut_ptr()))?;
    items.truncate(filled.min(count) as usize);
    Ok(items)
}

/// A driver handle; drivers are never destroyed.
#[derive(Clone, Copy)]
pub(super) struct Driver {
    api: &'static Api,
    raw: Handle,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Driver({:p})", self.raw)
    }
}

/// What `zeDriverGetProperties` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DriverProperties {
    pub uuid: [u8; 16],
    /// Vendor-defined encoding; reported as the number.
    pub driver_version: u32,
}

impl Driver {
    /// The API version the driver implements, packed as ZE_MAKE_VERSION does.
    pub(super) fn api_version(self) -> Result<u32, ZeError> {
        let mut version = 0u32;
        // SAFETY: `raw` is a driver handle from zeDriverGet; `version` is a writable u32.
        check("zeDriverGetApiVersion", unsafe {
            (self.api.driver_get_api_version)(self.raw, &mut version)
        })?;
        Ok(version)
    }

    pub(super) fn properties(self) -> Result<DriverProperties, ZeError> {
        let mut raw = DriverPropertiesRaw {
            stype: STYPE_DRIVER_PROPERTIES,
            p_next: ptr::null_mut(),
            uuid: [0; 16],
            driver_version: 0,
        };
        // SAFETY: `raw` is a ze_driver_properties_t (layout asserted above) with its stype set
        // and no extension chain.
        check("zeDriverGetProperties", unsafe {
            (self.api.driver_get_properties)(self.raw, &mut raw)
        })?;
        Ok(DriverProperties {
            uuid: raw.uuid,
            driver_version: raw.driver_version,
        })
    }

    /// The driver's root devices.
    pub(super) fn devices(self) -> Result<Vec<DeviceHandle>, ZeError> {
        let handles = list(
            "zeDeviceGet",
            |count, out| {
                // SAFETY: as in `Loader::drivers`, for this driver's devices.
                unsafe { (self.api.device_get)(self.raw, count, out) }
            },
            ptr::null_mut(),
        )?;
        Ok(handles
            .into_iter()
            .map(|raw| DeviceHandle { driver: self, raw })
            .collect())
    }
}

/// What `zeDeviceGetProperties` reports, copied out of the C structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeviceProperties {
    /// `ze_device_type_t`, unchecked.
    pub device_type: u32,
    pub vendor_id: u32,
    pub device_id: u32,
    pub integrated: bool,
    pub core_clock_mhz: u32,
    pub max_mem_alloc_size: u64,
    pub threads_per_eu: u32,
    pub eu_simd_width: u32,
    pub eus_per_subslice: u32,
    pub subslices_per_slice: u32,
    pub slices: u32,
    pub uuid: [u8; 16],
    pub name: String,
}

/// One memory of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MemoryProperties {
    pub name: String,
    pub total_size: u64,
}

/// One command queue group of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct QueueGroup {
    pub compute: bool,
    pub queues: u32,
}

/// A root device of a driver; devices are never destroyed.
#[derive(Clone, Copy)]
pub(super) struct DeviceHandle {
    driver: Driver,
    raw: Handle,
}

impl fmt::Debug for DeviceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceHandle({:p})", self.raw)
    }
}

/// Text of a fixed `char[]` the driver filled: up to the first NUL, or the whole array.
fn fixed_string(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .map(|&c| c.to_ne_bytes()[0])
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

impl DeviceHandle {
    pub(super) fn properties(self) -> Result<DeviceProperties, ZeError> {
        // SAFETY: DevicePropertiesRaw is integers, arrays and a null-able pointer: all-zero is
        // a valid value of every field.
        let mut raw: DevicePropertiesRaw = unsafe { std::mem::zeroed() };
        raw.stype = STYPE_DEVICE_PROPERTIES;
        // SAFETY: `raw` is a ze_device_properties_t (layout asserted above) with its stype set
        // and no extension chain; `self.raw` is a device handle from zeDeviceGet.
        check("zeDeviceGetProperties", unsafe {
            (self.driver.api.device_get_properties)(self.raw, &mut raw)
        })?;
        Ok(DeviceProperties {
            device_type: raw.device_type,
            vendor_id: raw.vendor_id,
            device_id: raw.device_id,
            integrated: raw.flags & ZE_DEVICE_PROPERTY_FLAG_INTEGRATED != 0,
            core_clock_mhz: raw.core_clock_rate,
            max_mem_alloc_size: raw.max_mem_alloc_size,
            threads_per_eu: raw.num_threads_per_eu,
            eu_simd_width: raw.physical_eu_simd_width,
            eus_per_subslice: raw.num_eus_per_subslice,
            subslices_per_slice: raw.num_subslices_per_slice,
            slices: raw.num_slices,
            uuid: raw.uuid,
            name: fixed_string(&raw.name),
        })
    }

    pub(super) fn memories(self) -> Result<Vec<MemoryProperties>, ZeError> {
        // SAFETY: as for DevicePropertiesRaw, all-zero is valid for every field.
        let mut empty: MemoryPropertiesRaw = unsafe { std::mem::zeroed() };
        empty.stype = STYPE_DEVICE_MEMORY_PROPERTIES;
        let raw = list(
            "zeDeviceGetMemoryProperties",
            |count, out| {
                // SAFETY: as in `Loader::drivers`; each element is a ze_device_memory_properties_t
                // (layout asserted above) with its stype set and no extension chain.
                unsafe { (self.driver.api.device_get_memory_properties)(self.raw, count, out) }
            },
            empty,
        )?;
        Ok(raw
            .iter()
            .map(|m| MemoryProperties {
                name: fixed_string(&m.name),
                total_size: m.total_size,
            })
            .collect())
    }

    pub(super) fn queue_groups(self) -> Result<Vec<QueueGroup>, ZeError> {
        let empty = QueueGroupPropertiesRaw {
            stype: STYPE_COMMAND_QUEUE_GROUP_PROPERTIES,
            p_next: ptr::null_mut(),
            flags: 0,
            max_memory_fill_pattern_size: 0,
            num_queues: 0,
        };
        let raw = list(
            "zeDeviceGetCommandQueueGroupProperties",
            |count, out| {
                // SAFETY: as in `Loader::drivers`; each element is a
                // ze_command_queue_group_properties_t (layout asserted above) with its stype set.
                unsafe {
                    (self.driver.api.device_get_command_queue_group_properties)(
                        self.raw, count, out,
                    )
                }
            },
            empty,
        )?;
        Ok(raw
            .iter()
            .map(|g| QueueGroup {
                compute: g.flags & ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE != 0,
                queues: g.num_queues,
            })
            .collect())
    }
}

/// A context for one device. Everything made from it borrows it, so it is destroyed last.
///
/// Once a wait for the device has failed or timed out, the device may still be running a
/// kernel that writes into this context's memory; from then on nothing made from the context
/// is destroyed or freed (the worker process exits soon after, design §3).
pub(super) struct Context {
    api: &'static Api,
    raw: Handle,
    device: DeviceHandle,
    work_outstanding: Cell<bool>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Context({:p})", self.raw)
    }
}

impl Context {
    pub(super) fn new(device: DeviceHandle) -> Result<Context, ZeError> {
        let desc = ContextDesc {
            stype: STYPE_CONTEXT_DESC,
            p_next: ptr::null(),
            flags: 0,
        };
        let mut raw = ptr::null_mut();
        // SAFETY: the driver handle is live, `desc` is a valid ze_context_desc_t and `raw` a
        // writable handle slot; the new context is owned by the returned value.
        check("zeContextCreate", unsafe {
            (device.driver.api.context_create)(device.driver.raw, &desc, &mut raw)
        })?;
        Ok(Context {
            api: device.driver.api,
            raw,
            device,
            work_outstanding: Cell::new(false),
        })
    }

    /// An asynchronous queue on the device's command queue group `ordinal`.
    pub(super) fn queue(&self, ordinal: u32) -> Result<Queue<'_>, ZeError> {
        let desc = CommandQueueDesc {
            stype: STYPE_COMMAND_QUEUE_DESC,
            p_next: ptr::null(),
            ordinal,
            index: 0,
            flags: 0,
            mode: ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS,
            priority: 0,
        };
        let mut raw = ptr::null_mut();
        // SAFETY: context and device are live, `desc` is a valid ze_command_queue_desc_t and
        // `raw` a writable handle slot owned by the returned value.
        check("zeCommandQueueCreate", unsafe {
            (self.api.command_queue_create)(self.raw, self.device.raw, &desc, &mut raw)
        })?;
        Ok(Queue { context: self, raw })
    }

    /// A command list for queues of group `ordinal`.
    pub(super) fn command_list(&self, ordinal: u32) -> Result<CommandList<'_>, ZeError> {
        let desc = CommandListDesc {
            stype: STYPE_COMMAND_LIST_DESC,
            p_next: ptr::null(),
            command_queue_group_ordinal: ordinal,
            flags: 0,
        };
        let mut raw = ptr::null_mut();
        // SAFETY: as in `queue`, for a ze_command_list_desc_t.
        check("zeCommandListCreate", unsafe {
            (self.api.command_list_create)(self.raw, self.device.raw, &desc, &mut raw)
        })?;
        Ok(CommandList { context: self, raw })
    }

    /// Builds a module from SPIR-V for the device; on failure, the driver's build log.
    pub(super) fn module(&self, spirv: &[u8]) -> Result<Module<'_>, BuildFailure> {
        let desc = ModuleDesc {
            stype: STYPE_MODULE_DESC,
            p_next: ptr::null(),
            format: ZE_MODULE_FORMAT_IL_SPIRV,
            input_size: spirv.len(),
            p_input_module: spirv.as_ptr(),
            p_build_flags: ptr::null(),
            p_constants: ptr::null(),
        };
        let mut raw = ptr::null_mut();
        let mut log = ptr::null_mut();
        // SAFETY: context and device are live; `desc` points at `spirv`, which outlives the
        // call (the driver copies or compiles it before returning); both out slots are
        // writable, and the build log handle, if any, is destroyed by `BuildLog`.
        let code = unsafe {
            (self.api.module_create)(self.raw, self.device.raw, &desc, &mut raw, &mut log)
        };
        let log = BuildLog {
            api: self.api,
            raw: log,
        };
        match check("zeModuleCreate", code) {
            Ok(()) => Ok(Module { context: self, raw }),
            Err(error) => Err(BuildFailure {
                error,
                log: log.text(),
            }),
        }
    }

    /// `len` floats of shared memory, zero-filled, that both host and device may access.
    pub(super) fn shared_floats(&self, len: usize) -> Result<SharedFloats<'_>, ZeError> {
        let too_large = ze_error("zeMemAllocShared", ZE_RESULT_ERROR_INVALID_SIZE);
        let bytes = len.checked_mul(size_of::<f32>()).ok_or(too_large)?;
        let device_desc = MemAllocDesc {
            stype: STYPE_DEVICE_MEM_ALLOC_DESC,
            p_next: ptr::null(),
            flags: 0,
            ordinal: 0,
        };
        let host_desc = HostMemAllocDesc {
            stype: STYPE_HOST_MEM_ALLOC_DESC,
            p_next: ptr::null(),
            flags: 0,
        };
        let mut raw: *mut c_void = ptr::null_mut();
        // SAFETY: context and device are live, both descriptors are valid, and `raw` is a
        // writable pointer slot; the allocation is owned by the returned value.
        check("zeMemAllocShared", unsafe {
            (self.api.mem_alloc_shared)(
                self.raw,
                &device_desc,
                &host_desc,
                bytes.max(size_of::<f32>()),
                size_of::<f32>(),
                self.device.raw,
                &mut raw,
            )
        })?;
        if raw.is_null() || raw.align_offset(align_of::<f32>()) != 0 {
            return Err(ze_error(
                "zeMemAllocShared",
                ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT,
            ));
        }
        let floats = SharedFloats {
            context: self,
            ptr: raw.cast(),
            len,
        };
        // SAFETY: `ptr` is the start of a fresh, aligned allocation of at least `len` floats
        // that no device work refers to yet.
        unsafe { ptr::write_bytes(floats.ptr, 0, len) };
        Ok(floats)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if self.work_outstanding.get() {
            return;
        }
        // SAFETY: `raw` was created by `Context::new` and is destroyed once; every object made
        // from it borrowed it and has been dropped already.
        let _ = unsafe { (self.api.context_destroy)(self.raw) };
    }
}

/// Why a module did not build: the failing call and the driver's build log.
#[derive(Debug)]
pub(super) struct BuildFailure {
    pub error: ZeError,
    pub log: String,
}

/// A module build log, destroyed on drop.
struct BuildLog {
    api: &'static Api,
    raw: Handle,
}

impl BuildLog {
    fn text(&self) -> String {
        if self.raw.is_null() {
            return String::new();
        }
        let mut size = 0usize;
        // SAFETY: `raw` is a live build log handle; a NULL buffer asks for the size only.
        let code =
            unsafe { (self.api.module_build_log_get_string)(self.raw, &mut size, ptr::null_mut()) };
        if code != ZE_RESULT_SUCCESS || size == 0 {
            return String::new();
        }
        let mut buffer = vec![0 as c_char; size];
        // SAFETY: `buffer` holds `size` writable chars, the size the driver asked for.
        let code = unsafe {
            (self.api.module_build_log_get_string)(self.raw, &mut size, buffer.as_mut_ptr())
        };
        if code != ZE_RESULT_SUCCESS {
            return String::new();
        }
        fixed_string(&buffer)
    }
}

impl Drop for BuildLog {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: `raw` came from zeModuleCreate and is destroyed once.
            let _ = unsafe { (self.api.module_build_log_destroy)(self.raw) };
        }
    }
}

/// A built module.
pub(super) struct Module<'c> {
    context: &'c Context,
    raw: Handle,
}

impl fmt::Debug for Module<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Module({:p})", self.raw)
    }
}

impl Module<'_> {
    /// The kernel called `name`.
    pub(super) fn kernel(&self, name: &CStr) -> Result<Kernel<'_>, ZeError> {
        let desc = KernelDesc {
            stype: STYPE_KERNEL_DESC,
            p_next: ptr::null(),
            flags: 0,
            p_kernel_name: name.as_ptr(),
        };
        let mut raw = ptr::null_mut();
        // SAFETY: the module is live, `desc` and the name it points to outlive the call, and
        // `raw` is a writable handle slot owned by the returned value.
        check("zeKernelCreate", unsafe {
            (self.context.api.kernel_create)(self.raw, &desc, &mut raw)
        })?;
        Ok(Kernel { module: self, raw })
    }
}

impl Drop for Module<'_> {
    fn drop(&mut self) {
        if self.context.work_outstanding.get() {
            return;
        }
        // SAFETY: `raw` came from zeModuleCreate, is destroyed once, after its kernels.
        let _ = unsafe { (self.context.api.module_destroy)(self.raw) };
    }
}

/// A kernel argument.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    Floats(&'a SharedFloats<'a>),
    F32(f32),
    U32(u32),
}

/// A kernel of a module.
pub(super) struct Kernel<'m> {
    module: &'m Module<'m>,
    raw: Handle,
}

impl fmt::Debug for Kernel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kernel({:p})", self.raw)
    }
}

impl Kernel<'_> {
    fn api(&self) -> &'static Api {
        self.module.context.api
    }

    /// Sets the arguments in order. The driver checks each size against the kernel's
    /// signature, so a mismatch is an error, not a misread.
    pub(super) fn set_args(&self, args: &[Arg<'_>]) -> Result<(), ZeError> {
        for (index, arg) in (0..).zip(args) {
            let (size, value): (usize, *const c_void) = match arg {
                Arg::Floats(floats) => (size_of::<*mut f32>(), (&raw const floats.ptr).cast()),
                Arg::F32(value) => (size_of::<f32>(), (value as *const f32).cast()),
                Arg::U32(value) => (size_of::<u32>(), (value as *const u32).cast()),
            };
            // SAFETY: `value` points to `size` readable bytes that live for the call, which
            // copies them; a pointer argument is a live shared allocation of this context.
            check("zeKernelSetArgumentValue", unsafe {
                (self.api().kernel_set_argument_value)(self.raw, index, size, value)
            })?;
        }
        Ok(())
    }

    /// Chooses the driver's suggested work-group size for `global` work items and returns the
    /// group counts that cover them all (the kernels check their bounds, so the last group may
    /// run past the end).
    pub(super) fn fit_groups(&self, global: [u32; 3]) -> Result<[u32; 3], ZeError> {
        let mut group = [0u32; 3];
        let [gx, gy, gz] = &mut group;
        // SAFETY: the kernel is live and the three out-pointers are writable u32s.
        check("zeKernelSuggestGroupSize", unsafe {
            (self.api().kernel_suggest_group_size)(
                self.raw, global[0], global[1], global[2], gx, gy, gz,
            )
        })?;
        if group.contains(&0) {
            return Err(ze_error(
                "zeKernelSuggestGroupSize",
                ZE_RESULT_ERROR_INVALID_SIZE,
            ));
        }
        // SAFETY: the kernel is live; the sizes are the ones the driver suggested for it.
        check("zeKernelSetGroupSize", unsafe {
            (self.api().kernel_set_group_size)(self.raw, group[0], group[1], group[2])
        })?;
        Ok(group_counts(global, group))
    }
}

/// How many groups of `group` items cover `global` items in each dimension.
pub(super) fn group_counts(global: [u32; 3], group: [u32; 3]) -> [u32; 3] {
    [0, 1, 2].map(|d| global[d].div_ceil(group[d].max(1)))
}

impl Drop for Kernel<'_> {
    fn drop(&mut self) {
        if self.module.context.work_outstanding.get() {
            return;
        }
        // SAFETY: `raw` came from zeKernelCreate and is destroyed once.
        let _ = unsafe { (self.api().kernel_destroy)(self.raw) };
    }
}

/// `len` floats of shared (USM) memory.
pub(super) struct SharedFloats<'c> {
    context: &'c Context,
    ptr: *mut f32,
    len: usize,
}

impl fmt::Debug for SharedFloats<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedFloats({:p}, {})", self.ptr, self.len)
    }
}

impl SharedFloats<'_> {
    /// Copies `data` into the start of the allocation; longer data is an error.
    pub(super) fn write(&mut self, data: &[f32]) -> Result<(), ZeError> {
        if data.len() > self.len {
            return Err(ze_error("zeMemAllocShared", ZE_RESULT_ERROR_INVALID_SIZE));
        }
        // SAFETY: the allocation holds `len` floats; no device work runs between launches
        // (`Queue::run` waits for completion), so the host is the only accessor.
        let target = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) };
        target[..data.len()].copy_from_slice(data);
        Ok(())
    }

    /// The contents, as the last completed kernel left them.
    pub(super) fn to_vec(&self) -> Vec<f32> {
        // SAFETY: as in `write`; any bit pattern is a valid f32.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
    }
}

impl Drop for SharedFloats<'_> {
    fn drop(&mut self) {
        if self.context.work_outstanding.get() {
            return;
        }
        // SAFETY: `ptr` came from zeMemAllocShared on this context and is freed once, with no
        // device work outstanding.
        let _ = unsafe { (self.context.api.mem_free)(self.context.raw, self.ptr.cast()) };
    }
}

/// A closed-over command list of one launch.
pub(super) struct CommandList<'c> {
    context: &'c Context,
    raw: Handle,
}

impl fmt::Debug for CommandList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandList({:p})", self.raw)
    }
}

impl CommandList<'_> {
    /// Appends a launch of `kernel` over `groups` and closes the list.
    pub(super) fn launch_and_close(
        &self,
        kernel: &Kernel<'_>,
        groups: [u32; 3],
    ) -> Result<(), ZeError> {
        let count = GroupCount {
            x: groups[0],
            y: groups[1],
            z: groups[2],
        };
        // SAFETY: list and kernel are live and belong to this context; no signal event and no
        // wait events are passed. The launch only runs once the list is executed.
        check("zeCommandListAppendLaunchKernel", unsafe {
            (self.context.api.command_list_append_launch_kernel)(
                self.raw,
                kernel.raw,
                &count,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
            )
        })?;
        // SAFETY: the list is live and closed once.
        check("zeCommandListClose", unsafe {
            (self.context.api.command_list_close)(self.raw)
        })
    }
}

impl Drop for CommandList<'_> {
    fn drop(&mut self) {
        if self.context.work_outstanding.get() {
            return;
        }
        // SAFETY: `raw` came from zeCommandListCreate and is destroyed once, after the queue
        // that ran it finished.
        let _ = unsafe { (self.context.api.command_list_destroy)(self.raw) };
    }
}

/// An asynchronous command queue.
pub(super) struct Queue<'c> {
    context: &'c Context,
    raw: Handle,
}

impl fmt::Debug for Queue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Queue({:p})", self.raw)
    }
}

impl Queue<'_> {
    /// Executes `list` and waits up to `timeout_ns` for it. A wait that fails or times out
    /// (`ZE_RESULT_NOT_READY`) leaves the context's objects alive for good (see [`Context`]).
    ///
    /// # Safety
    ///
    /// Every kernel launched by `list` must have its arguments set, and for every work item of
    /// its launch may only access its [`SharedFloats`] arguments within their lengths; those
    /// allocations must stay alive for the call.
    pub(super) unsafe fn run(
        &self,
        list: &CommandList<'_>,
        timeout_ns: u64,
    ) -> Result<(), ZeError> {
        let mut lists = [list.raw];
        // SAFETY: queue and list are live and of this context, the list is closed, and no
        // fence is passed; what the kernels access is the caller's contract above.
        check("zeCommandQueueExecuteCommandLists", unsafe {
            (self.context.api.command_queue_execute_command_lists)(
                self.raw,
                1,
                lists.as_mut_ptr(),
                ptr::null_mut(),
            )
        })?;
        // SAFETY: the queue is live; the timeout bounds the wait.
        let waited = check("zeCommandQueueSynchronize", unsafe {
            (self.context.api.command_queue_synchronize)(self.raw, timeout_ns)
        });
        if waited.is_err() {
            self.context.work_outstanding.set(true);
        }
        waited
    }
}

impl Drop for Queue<'_> {
    fn drop(&mut self) {
        if self.context.work_outstanding.get() {
            return;
        }
        // SAFETY: `raw` came from zeCommandQueueCreate and is destroyed once, idle.
        let _ = unsafe { (self.context.api.command_queue_destroy)(self.raw) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_results_have_their_header_names() {
        assert_eq!(
            result_name(ZE_RESULT_ERROR_UNINITIALIZED),
            Some("ZE_RESULT_ERROR_UNINITIALIZED")
        );
        assert_eq!(
            result_name(0x7000_0001),
            Some("ZE_RESULT_ERROR_DEVICE_LOST")
        );
        assert_eq!(result_name(0x7fff_fffe), Some("ZE_RESULT_ERROR_UNKNOWN"));
        assert_eq!(result_name(0x7fff_ffff), None);
        assert_eq!(result_name(0x1234), None);
    }

    #[test]
    fn errors_name_the_call_the_constant_and_the_hex_value() {
        let known = ze_error("zeInit", ZE_RESULT_ERROR_UNINITIALIZED);
        assert_eq!(
            known.to_string(),
            "zeInit returned ZE_RESULT_ERROR_UNINITIALIZED (0x78000001)"
        );
        let unknown = ze_error("zeDeviceGet", 0x7abc_0001);
        assert_eq!(unknown.to_string(), "zeDeviceGet returned 0x7abc0001");
        let small = ze_error("zeCommandQueueSynchronize", ZE_RESULT_NOT_READY);
        assert!(small.to_string().ends_with("(0x00000001)"), "{small}");
    }

    #[test]
    fn fixed_strings_stop_at_the_first_nul() {
        let mut name = [0 as c_char; 8];
        for (slot, byte) in name.iter_mut().zip(b"Arc A770") {
            *slot = *byte as c_char;
        }
        assert_eq!(fixed_string(&name), "Arc A770");
        name[3] = 0;
        assert_eq!(fixed_string(&name), "Arc");
        assert_eq!(fixed_string(&[0; 4]), "");
    }

    #[test]
    fn group_counts_cover_every_item() {
        assert_eq!(group_counts([1 << 20, 1, 1], [64, 1, 1]), [1 << 14, 1, 1]);
        assert_eq!(group_counts([100, 1, 1], [64, 1, 1]), [2, 1, 1]);
        assert_eq!(group_counts([128, 128, 1], [16, 8, 1]), [8, 16, 1]);
        assert_eq!(group_counts([5, 1, 1], [0, 1, 1]), [5, 1, 1]);
    }
}
