//! The Level Zero C API as far as the probe uses it: result codes, the structures the driver
//! fills, the loader's entry points, and opening the loader.
//!
//! The declarations are written out here from the 1.8 headers (`ze_api.h` of Debian's
//! `libze-dev`) rather than generated, so building hwspec needs no Level Zero package; the
//! layout assertions below pin every structure the driver writes into. The library is opened
//! by its soname and never closed (design §3: no dlclose).

// The symbol table's expansion casts looked-up addresses to the C declarations below.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};
use std::mem::{offset_of, size_of};

use crate::backends::common::{symbol_table, Library, LoadError};

/// The loader's soname as Debian's `libze1` installs it. The unversioned name belongs to
/// `libze-dev` and is never opened.
pub(super) const LOADER_SONAME: &str = "libze_loader.so.1";

/// A `ze_result_t` as the driver returned it; values outside the 1.8 headers stay numbers.
pub(super) type ZeResult = u32;

pub(super) const ZE_RESULT_SUCCESS: ZeResult = 0;
pub(super) const ZE_RESULT_NOT_READY: ZeResult = 1;
pub(super) const ZE_RESULT_ERROR_UNINITIALIZED: ZeResult = 0x7800_0001;
pub(super) const ZE_RESULT_ERROR_INVALID_SIZE: ZeResult = 0x7800_0008;
pub(super) const ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT: ZeResult = 0x7800_000a;

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
    crate::backends::common::name_in(RESULT_NAMES, &code)
}

pub(super) type Handle = *mut c_void;

// ze_structure_type_t values of the structures below.
pub(super) const STYPE_DRIVER_PROPERTIES: u32 = 0x1;
pub(super) const STYPE_DEVICE_PROPERTIES: u32 = 0x3;
pub(super) const STYPE_COMMAND_QUEUE_GROUP_PROPERTIES: u32 = 0x6;
pub(super) const STYPE_DEVICE_MEMORY_PROPERTIES: u32 = 0x7;
pub(super) const STYPE_CONTEXT_DESC: u32 = 0xd;
pub(super) const STYPE_COMMAND_QUEUE_DESC: u32 = 0xe;
pub(super) const STYPE_COMMAND_LIST_DESC: u32 = 0xf;
pub(super) const STYPE_DEVICE_MEM_ALLOC_DESC: u32 = 0x15;
pub(super) const STYPE_HOST_MEM_ALLOC_DESC: u32 = 0x16;
pub(super) const STYPE_MODULE_DESC: u32 = 0x1b;
pub(super) const STYPE_KERNEL_DESC: u32 = 0x1d;

pub(super) const ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE: u32 = 1;
/// Asynchronous, so that waiting happens in `zeCommandQueueSynchronize`, which takes a timeout;
/// a synchronous queue would block inside `zeCommandQueueExecuteCommandLists` without one.
pub(super) const ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS: u32 = 2;
pub(super) const ZE_MODULE_FORMAT_IL_SPIRV: u32 = 0;
pub(super) const ZE_DEVICE_PROPERTY_FLAG_INTEGRATED: u32 = 1;
pub(super) const DEVICE_NAME_LEN: usize = 256;

#[repr(C)]
pub(super) struct DriverPropertiesRaw {
    pub(super) stype: u32,
    pub(super) p_next: *mut c_void,
    pub(super) uuid: [u8; 16],
    pub(super) driver_version: u32,
}

#[repr(C)]
pub(super) struct DevicePropertiesRaw {
    pub(super) stype: u32,
    pub(super) p_next: *mut c_void,
    pub(super) device_type: u32,
    pub(super) vendor_id: u32,
    pub(super) device_id: u32,
    pub(super) flags: u32,
    pub(super) subdevice_id: u32,
    pub(super) core_clock_rate: u32,
    pub(super) max_mem_alloc_size: u64,
    pub(super) max_hardware_contexts: u32,
    pub(super) max_command_queue_priority: u32,
    pub(super) num_threads_per_eu: u32,
    pub(super) physical_eu_simd_width: u32,
    pub(super) num_eus_per_subslice: u32,
    pub(super) num_subslices_per_slice: u32,
    pub(super) num_slices: u32,
    pub(super) timer_resolution: u64,
    pub(super) timestamp_valid_bits: u32,
    pub(super) kernel_timestamp_valid_bits: u32,
    pub(super) uuid: [u8; 16],
    pub(super) name: [c_char; DEVICE_NAME_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct MemoryPropertiesRaw {
    pub(super) stype: u32,
    pub(super) p_next: *mut c_void,
    pub(super) flags: u32,
    pub(super) max_clock_rate: u32,
    pub(super) max_bus_width: u32,
    pub(super) total_size: u64,
    pub(super) name: [c_char; DEVICE_NAME_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct QueueGroupPropertiesRaw {
    pub(super) stype: u32,
    pub(super) p_next: *mut c_void,
    pub(super) flags: u32,
    pub(super) max_memory_fill_pattern_size: usize,
    pub(super) num_queues: u32,
}

#[repr(C)]
pub(super) struct ContextDesc {
    pub(super) stype: u32,
    pub(super) p_next: *const c_void,
    pub(super) flags: u32,
}

#[repr(C)]
pub(super) struct CommandQueueDesc {
    pub(super) stype: u32,
    pub(super) p_next: *const c_void,
    pub(super) ordinal: u32,
    pub(super) index: u32,
    pub(super) flags: u32,
    pub(super) mode: u32,
    pub(super) priority: u32,
}

#[repr(C)]
pub(super) struct CommandListDesc {
    pub(super) stype: u32,
    pub(super) p_next: *const c_void,
    pub(super) command_queue_group_ordinal: u32,
    pub(super) flags: u32,
}

#[repr(C)]
pub(super) struct ModuleDesc {
    pub(super) stype: u32,
    pub(super) p_next: *const c_void,
    pub(super) format: u32,
    pub(super) input_size: usize,
    pub(super) p_input_module: *const u8,
    pub(super) p_build_flags: *const c_char,
    pub(super) p_constants: *const c_void,
}

#[repr(C)]
pub(super) struct KernelDesc {
    pub(super) stype: u32,
    pub(super) p_next: *const c_void,
    pub(super) flags: u32,
    pub(super) p_kernel_name: *const c_char,
}

#[repr(C)]
pub(super) struct MemAllocDesc {
    pub(super) stype: u32,
    pub(super) p_next: *const c_void,
    pub(super) flags: u32,
    pub(super) ordinal: u32,
}

#[repr(C)]
pub(super) struct HostMemAllocDesc {
    pub(super) stype: u32,
    pub(super) p_next: *const c_void,
    pub(super) flags: u32,
}

#[repr(C)]
pub(super) struct GroupCount {
    pub(super) x: u32,
    pub(super) y: u32,
    pub(super) z: u32,
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
    pub(super) struct Api {
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

/// Opens the loader `soname` and resolves every entry point. The library is never closed, so
/// the table lives for the rest of the process.
pub(super) fn open(soname: &'static str) -> Result<&'static Api, LoadError> {
    let library = Library::open(soname)?;
    Ok(Box::leak(Box::new(Api::resolve(&library)?)))
}
