//! Safe wrappers over the Level Zero loader: every call returns a [`ZeError`] naming the call,
//! handles destroy their object on drop, and a kernel runs only through
//! [`Queue::launch`], whose typed argument list is checked against the kernel's declared
//! signature.

// Each call into the loader passes pointers the driver reads or writes; the wrappers below are
// where their validity is established.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::fmt;
use std::mem::size_of;
use std::ptr;

use super::sys::{self, *};
use crate::backends::common::{
    Arg, CallError, Floats, LaunchError, LoadError, Signature, Spelling,
};

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
        Ok(Loader(sys::open(soname)?))
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
pub(super) fn fixed_string(chars: &[c_char]) -> String {
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
    /// The kernel `signature` declares, by its entry point's name; launches of it are checked
    /// against the declaration.
    pub(super) fn kernel(&self, signature: &'static Signature) -> Result<Kernel<'_>, ZeError> {
        let desc = KernelDesc {
            stype: STYPE_KERNEL_DESC,
            p_next: ptr::null(),
            flags: 0,
            p_kernel_name: signature.entry.as_ptr(),
        };
        let mut raw = ptr::null_mut();
        // SAFETY: the module is live, `desc` and the name it points to outlive the call, and
        // `raw` is a writable handle slot owned by the returned value.
        check("zeKernelCreate", unsafe {
            (self.context.api.kernel_create)(self.raw, &desc, &mut raw)
        })?;
        Ok(Kernel {
            module: self,
            signature,
            raw,
        })
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

/// A kernel of a module.
pub(super) struct Kernel<'m> {
    module: &'m Module<'m>,
    signature: &'static Signature,
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

    /// Sets the arguments in order, once [`Queue::launch`] has checked them against the
    /// kernel's declaration.
    fn set_args(&self, args: &[Arg<'_, SharedFloats<'_>>]) -> Result<(), ZeError> {
        for (index, arg) in (0..).zip(args) {
            let (slot, size) = arg.slot();
            // SAFETY: `slot` holds `size` readable bytes that live for the call, which copies
            // them; a pointer argument is a live shared allocation of this context (checked
            // by the caller).
            check("zeKernelSetArgumentValue", unsafe {
                (self.api().kernel_set_argument_value)(
                    self.raw,
                    index,
                    size,
                    (&raw const slot).cast(),
                )
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

impl Floats for SharedFloats<'_> {
    fn floats(&self) -> usize {
        self.len
    }

    fn address(&self) -> u64 {
        self.ptr as u64
    }
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
        self.host_only()?;
        // SAFETY: the allocation holds `len` floats, and no device work is outstanding
        // (checked above; `Queue::launch` waits for completion), so the host is its only
        // accessor while `self` is borrowed mutably.
        let target = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) };
        target[..data.len()].copy_from_slice(data);
        Ok(())
    }

    /// The contents, in place, as the last completed kernel left them.
    pub(super) fn read(&self) -> Result<&[f32], ZeError> {
        self.host_only()?;
        // SAFETY: as in `write`, for reading while `self` is borrowed; any bit pattern is a
        // valid f32.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr, self.len) })
    }

    /// `Ok` while no device work may still touch the context's memory: after a wait that
    /// failed or timed out, a kernel may still be writing into it.
    fn host_only(&self) -> Result<(), ZeError> {
        if self.context.work_outstanding.get() {
            return Err(ze_error("zeCommandQueueSynchronize", ZE_RESULT_NOT_READY));
        }
        Ok(())
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
    fn launch_and_close(&self, kernel: &Kernel<'_>, groups: [u32; 3]) -> Result<(), ZeError> {
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
    /// Runs `kernel` over `groups` with `args` through `list`, and waits up to `timeout_ns`
    /// for it, once the arguments are found to fit the kernel's declared signature, every
    /// buffer being an allocation of this context holding as much as the kernel reaches. A
    /// wait that fails or times out (`ZE_RESULT_NOT_READY`) leaves the context's objects alive
    /// for good (see [`Context`]).
    pub(super) fn launch(
        &self,
        list: &CommandList<'_>,
        kernel: &Kernel<'_>,
        groups: [u32; 3],
        args: &[Arg<'_, SharedFloats<'_>>],
        timeout_ns: u64,
    ) -> Result<(), LaunchError> {
        let ours = |context: &Context| ptr::eq(context, self.context);
        if !ours(kernel.module.context) || !ours(list.context) {
            return Err(LaunchError::Refused(format!(
                "{} and its command list must belong to the queue's context",
                kernel.signature.entry.to_string_lossy()
            )));
        }
        kernel
            .signature
            .check(args, |floats| ours(floats.context))?;
        kernel.set_args(args)?;
        list.launch_and_close(kernel, groups)?;
        let mut lists = [list.raw];
        // SAFETY: queue and list are live and of this context, the list is closed, and no
        // fence is passed. The kernel's arguments were checked above against its declaration:
        // every buffer is a live allocation of this context, borrowed for the whole call,
        // holding as much as the kernel reaches.
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
        Ok(waited?)
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
