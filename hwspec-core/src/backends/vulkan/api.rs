#![allow(unsafe_code)]
// Why: every Vulkan command is an unsafe ash call; these are the safe wrappers around them.

//! The wrapper layer: every Vulkan command the backend makes, behind RAII guards that return
//! `Result`, including the recording and dispatch of the two compute shaders.
//!
//! ash replaces a missing entry point with a stub that panics, so each wrapper first checks that
//! the commands it will call were really resolved, and a missing one becomes an error. Objects
//! are RAII guards that borrow their parent (loader → instance → device → buffers, pipelines),
//! so the borrow checker keeps the destruction order Vulkan requires. A device whose work did
//! not finish is marked lost: from then on nothing of it is destroyed (leaking is always sound,
//! and the worker exits right after), because freeing memory the device may still write is not.

use std::cell::Cell;
use std::ffi::CStr;
use std::fmt;
use std::io::Cursor;
use std::time::Duration;

use ash::vk;

use super::sys;
use crate::backends::common::{CallError, LoadError};

/// Why a Vulkan call did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum VkError {
    /// A command returned an error code.
    Call(CallError),
    /// The loader or driver did not resolve a command this backend needs.
    MissingCommand(&'static CStr),
    /// Submitted work did not finish in time; the device is now treated as lost.
    Timeout(Duration),
    /// The request itself was not valid for the wrapper (sizes, mixed devices); says why.
    Invalid(&'static str),
}

impl VkError {
    fn call(call: &'static str) -> impl FnOnce(vk::Result) -> VkError {
        move |result| VkError::Call(vk_error(call, result))
    }

    /// What the command returned, when it returned an error code.
    pub(super) fn result(&self) -> Option<vk::Result> {
        match self {
            VkError::Call(error) => i32::try_from(error.code).ok().map(vk::Result::from_raw),
            _ => None,
        }
    }
}

/// The error of `call`, which returned `result`, named as the Vulkan headers name it
/// (`VK_ERROR_INCOMPATIBLE_DRIVER`); a number they do not name stays a number.
pub(super) fn vk_error(call: &'static str, result: vk::Result) -> CallError {
    let error = CallError::new(call, result.as_raw());
    // ash writes the headers' names without their `VK_` prefix, and a number it does not know
    // as that number.
    let name = format!("{result:?}");
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        error.named(format!("VK_{name}"))
    } else {
        error
    }
}

impl fmt::Display for VkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VkError::Call(error) => error.fmt(f),
            VkError::MissingCommand(name) => {
                write!(f, "the loader does not provide {}", name.to_string_lossy())
            }
            VkError::Timeout(limit) => write!(
                f,
                "the fence did not signal within {} s",
                limit.as_secs_f64()
            ),
            VkError::Invalid(why) => f.write_str(why),
        }
    }
}

/// Global commands that must exist before anything else is tried.
const GLOBAL_COMMANDS: &[&CStr] = &[c"vkCreateInstance"];

/// Instance commands the probe calls. `vkDestroyInstance` comes first: without it the
/// instance cannot be guarded and is leaked instead.
const INSTANCE_COMMANDS: &[&CStr] = &[
    c"vkDestroyInstance",
    c"vkEnumeratePhysicalDevices",
    c"vkGetPhysicalDeviceProperties",
    c"vkGetPhysicalDeviceFeatures",
    c"vkGetPhysicalDeviceMemoryProperties",
    c"vkGetPhysicalDeviceQueueFamilyProperties",
    c"vkCreateDevice",
    c"vkGetDeviceProcAddr",
];

/// Device commands the kernels call; `vkDestroyDevice` first for the same reason as above.
const DEVICE_COMMANDS: &[&CStr] = &[
    c"vkDestroyDevice",
    c"vkDeviceWaitIdle",
    c"vkGetDeviceQueue",
    c"vkCreateBuffer",
    c"vkDestroyBuffer",
    c"vkGetBufferMemoryRequirements",
    c"vkAllocateMemory",
    c"vkFreeMemory",
    c"vkBindBufferMemory",
    c"vkMapMemory",
    c"vkCreateShaderModule",
    c"vkDestroyShaderModule",
    c"vkCreateDescriptorSetLayout",
    c"vkDestroyDescriptorSetLayout",
    c"vkCreatePipelineLayout",
    c"vkDestroyPipelineLayout",
    c"vkCreateComputePipelines",
    c"vkDestroyPipeline",
    c"vkCreateDescriptorPool",
    c"vkDestroyDescriptorPool",
    c"vkAllocateDescriptorSets",
    c"vkUpdateDescriptorSets",
    c"vkCreateCommandPool",
    c"vkDestroyCommandPool",
    c"vkAllocateCommandBuffers",
    c"vkBeginCommandBuffer",
    c"vkEndCommandBuffer",
    c"vkCmdBindPipeline",
    c"vkCmdBindDescriptorSets",
    c"vkCmdPushConstants",
    c"vkCmdDispatch",
    c"vkCmdPipelineBarrier",
    c"vkCreateFence",
    c"vkDestroyFence",
    c"vkQueueSubmit",
    c"vkWaitForFences",
];

/// `libvulkan.so.1`, opened. Everything created from it borrows it, so the library stays
/// mapped while any Vulkan object is alive.
pub(super) struct Loader {
    entry: ash::Entry,
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader").finish_non_exhaustive()
    }
}

impl Loader {
    /// Opens `libvulkan.so.1` and checks its global commands. Every object made from the
    /// loader borrows it.
    pub(super) fn load(library: &'static str) -> Result<Loader, LoadError> {
        let loader = Loader {
            entry: sys::load(library)?,
        };
        let missing: Vec<&'static str> = GLOBAL_COMMANDS
            .iter()
            .filter(|name| !loader.has_command(vk::Instance::null(), name))
            .map(|name| name.to_str().unwrap_or("an unnamed command"))
            .collect();
        if !missing.is_empty() {
            return Err(LoadError::MissingSymbols {
                library: sys::LIBRARY,
                symbols: missing,
            });
        }
        Ok(loader)
    }

    fn has_command(&self, instance: vk::Instance, name: &CStr) -> bool {
        // SAFETY: vkGetInstanceProcAddr accepts a null instance for global commands and a
        // live instance for instance commands; callers pass one of those, and `name` is
        // NUL-terminated.
        unsafe { self.entry.get_instance_proc_addr(instance, name.as_ptr()) }.is_some()
    }

    /// The instance-level API version the loader supports (1.0.0 for a loader that predates
    /// `vkEnumerateInstanceVersion`).
    pub(super) fn instance_version(&self) -> Result<u32, VkError> {
        // SAFETY: ash resolves vkEnumerateInstanceVersion itself and only calls it when the
        // loader has it; the output pointer is ash's own.
        let version = unsafe { self.entry.try_enumerate_instance_version() }
            .map_err(VkError::call("vkEnumerateInstanceVersion"))?;
        Ok(version.unwrap_or(vk::API_VERSION_1_0))
    }

    /// Creates an instance with no layers, asking for `api_version`. The loader's own messages
    /// while it creates the instance (which driver it refused, and why) are collected into
    /// `messages` through VK_EXT_debug_utils, which the loader itself implements; a loader
    /// without it gets an instance without the extension and says nothing.
    pub(super) fn create_instance(
        &self,
        api_version: u32,
        messages: &'static LoaderMessages,
    ) -> Result<Instance<'_>, VkError> {
        let app = vk::ApplicationInfo::default()
            .application_name(c"hwspec")
            .engine_name(c"hwspec")
            .api_version(api_version);
        let extensions = [ash::ext::debug_utils::NAME.as_ptr()];
        let mut listener = vk::DebugUtilsMessengerCreateInfoEXT::default()
            .message_severity(
                vk::DebugUtilsMessageSeverityFlagsEXT::ERROR
                    | vk::DebugUtilsMessageSeverityFlagsEXT::WARNING,
            )
            .message_type(
                vk::DebugUtilsMessageTypeFlagsEXT::GENERAL
                    | vk::DebugUtilsMessageTypeFlagsEXT::VALIDATION
                    | vk::DebugUtilsMessageTypeFlagsEXT::PERFORMANCE,
            )
            .pfn_user_callback(Some(collect_loader_message))
            .user_data(std::ptr::from_ref(messages).cast_mut().cast());
        let listening = vk::InstanceCreateInfo::default()
            .application_info(&app)
            .enabled_extension_names(&extensions)
            .push_next(&mut listener);
        // SAFETY: vkCreateInstance was checked to exist at load; the create info, the
        // application info, the extension name and the messenger info are valid for the call
        // and point at static strings and at `messages`, which is 'static, so the loader may
        // call back into it during this call and during vkDestroyInstance.
        let created = match unsafe { self.entry.create_instance(&listening, None) } {
            Err(vk::Result::ERROR_EXTENSION_NOT_PRESENT) => {
                let info = vk::InstanceCreateInfo::default().application_info(&app);
                // SAFETY: as above, without the extension and the messenger.
                unsafe { self.entry.create_instance(&info, None) }
            }
            other => other,
        };
        let raw = created.map_err(VkError::call("vkCreateInstance"))?;
        if let Some(missing) = INSTANCE_COMMANDS
            .iter()
            .find(|name| !self.has_command(raw.handle(), name))
        {
            // Without vkDestroyInstance there is no way to free it; otherwise free it now.
            if missing != &c"vkDestroyInstance" {
                // SAFETY: the instance was just created, nothing was made from it, and
                // vkDestroyInstance was resolved.
                unsafe { raw.destroy_instance(None) };
            }
            return Err(VkError::MissingCommand(missing));
        }
        Ok(Instance {
            raw,
            api_version,
            lost: Cell::new(false),
            loader: self,
        })
    }
}

/// What the loader said while creating an instance: one `severity: message` line each.
#[derive(Debug, Default)]
pub(super) struct LoaderMessages(std::sync::Mutex<Vec<String>>);

impl LoaderMessages {
    /// A collector that lives as long as the worker: the loader may call back while an
    /// instance is destroyed, however late that is.
    pub(super) fn leaked() -> &'static LoaderMessages {
        Box::leak(Box::default())
    }

    /// Everything said so far.
    pub(super) fn taken(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut lines| std::mem::take(&mut *lines))
            .unwrap_or_default()
    }
}

/// The most messages kept: a loader in a loop could otherwise fill the worker's memory.
const MAX_LOADER_MESSAGES: usize = 64;

/// The debug-utils callback the loader calls with its messages.
unsafe extern "system" fn collect_loader_message(
    severity: vk::DebugUtilsMessageSeverityFlagsEXT,
    _types: vk::DebugUtilsMessageTypeFlagsEXT,
    data: *const vk::DebugUtilsMessengerCallbackDataEXT<'_>,
    user: *mut std::ffi::c_void,
) -> vk::Bool32 {
    if data.is_null() || user.is_null() {
        return vk::FALSE;
    }
    // SAFETY: `user` is the &'static LoaderMessages given at instance creation, and the loader
    // passes a callback data structure valid for the duration of the call.
    let (messages, data) = unsafe { (&*user.cast::<LoaderMessages>(), &*data) };
    if data.p_message.is_null() {
        return vk::FALSE;
    }
    // SAFETY: p_message is a NUL-terminated string valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(data.p_message) }.to_string_lossy();
    let level = if severity.contains(vk::DebugUtilsMessageSeverityFlagsEXT::ERROR) {
        "error"
    } else {
        "warning"
    };
    if let Ok(mut lines) = messages.0.lock() {
        if lines.len() < MAX_LOADER_MESSAGES {
            lines.push(format!("{level}: {}", text.trim()));
        }
    }
    vk::FALSE
}

/// A `VkInstance`, destroyed on drop unless one of its devices was lost.
pub(super) struct Instance<'l> {
    raw: ash::Instance,
    api_version: u32,
    lost: Cell<bool>,
    loader: &'l Loader,
}

impl fmt::Debug for Instance<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("handle", &self.raw.handle())
            .finish_non_exhaustive()
    }
}

impl Drop for Instance<'_> {
    fn drop(&mut self) {
        if self.lost.get() {
            return;
        }
        // SAFETY: every device and physical-device borrow of this instance has ended (they
        // borrow it), and none was lost, so no child object is left alive.
        unsafe { self.raw.destroy_instance(None) };
    }
}

impl Instance<'_> {
    /// The physical devices, in the loader's order.
    pub(super) fn physical_devices(&self) -> Result<Vec<PhysicalDevice<'_>>, VkError> {
        // SAFETY: the instance is alive and the command was checked at creation.
        let raw = unsafe { self.raw.enumerate_physical_devices() }
            .map_err(VkError::call("vkEnumeratePhysicalDevices"))?;
        Ok(raw
            .into_iter()
            .map(|raw| PhysicalDevice {
                raw,
                instance: self,
            })
            .collect())
    }

    /// The API version devices of this instance may be used at: a device's own version capped
    /// by what the instance asked for.
    fn usable_version(&self, device_version: u32) -> u32 {
        device_version.min(self.api_version)
    }

    fn has_properties2(&self) -> bool {
        self.api_version >= vk::API_VERSION_1_1
            && self.has_command(c"vkGetPhysicalDeviceProperties2")
    }

    fn has_command(&self, name: &CStr) -> bool {
        self.loader.has_command(self.raw.handle(), name)
    }

    fn mark_lost(&self) {
        self.lost.set(true);
    }
}

/// What the driver says about one physical device, as plain data.
#[derive(Debug, Clone)]
pub(super) struct DeviceFacts {
    /// `VkPhysicalDeviceProperties`.
    pub(super) properties: vk::PhysicalDeviceProperties,
    /// `VkPhysicalDeviceDriverProperties`, when the device is used at Vulkan 1.2 or later.
    pub(super) driver: Option<DriverFacts>,
    /// `subgroupSize`, when the device is used at Vulkan 1.1 or later.
    pub(super) subgroup_size: Option<u32>,
    /// Memory heaps and types.
    pub(super) memory: vk::PhysicalDeviceMemoryProperties,
    /// Queue families, in index order.
    pub(super) queue_families: Vec<vk::QueueFamilyProperties>,
    /// `shaderFloat64`.
    pub(super) shader_float64: bool,
    /// Names of the device extensions the driver offers (empty when it would not list them).
    pub(super) extensions: Vec<String>,
}

/// The strings and ids of `VkPhysicalDeviceDriverProperties`.
#[derive(Debug, Clone)]
pub(super) struct DriverFacts {
    /// Which driver, as a registered id.
    pub(super) id: vk::DriverId,
    /// `driverName`, e.g. `llvmpipe`.
    pub(super) name: String,
    /// `driverInfo`, e.g. `Mesa 22.3.6 (LLVM 15.0.6)`.
    pub(super) info: String,
    /// The conformance test suite version the driver passed.
    pub(super) conformance: vk::ConformanceVersion,
}

/// A `VkPhysicalDevice` of a live instance.
#[derive(Debug, Clone, Copy)]
pub(super) struct PhysicalDevice<'i> {
    raw: vk::PhysicalDevice,
    instance: &'i Instance<'i>,
}

fn c_chars(chars: Result<&CStr, std::ffi::FromBytesUntilNulError>) -> String {
    chars
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl<'i> PhysicalDevice<'i> {
    /// Reads the device's properties, features, memory and queue families.
    pub(super) fn facts(&self) -> DeviceFacts {
        let instance = &self.instance.raw;
        // SAFETY: the physical device belongs to the live instance it borrows, and the
        // commands were checked at instance creation.
        let (properties, features, memory, queue_families) = unsafe {
            (
                instance.get_physical_device_properties(self.raw),
                instance.get_physical_device_features(self.raw),
                instance.get_physical_device_memory_properties(self.raw),
                instance.get_physical_device_queue_family_properties(self.raw),
            )
        };
        let version = self.instance.usable_version(properties.api_version);
        let mut driver = vk::PhysicalDeviceDriverProperties::default();
        let mut subgroup = vk::PhysicalDeviceSubgroupProperties::default();
        let wants_driver = version >= vk::API_VERSION_1_2;
        let wants_subgroup = version >= vk::API_VERSION_1_1;
        let extended = wants_subgroup && self.instance.has_properties2();
        if extended {
            let mut properties2 = vk::PhysicalDeviceProperties2::default().push_next(&mut subgroup);
            if wants_driver {
                properties2 = properties2.push_next(&mut driver);
            }
            // SAFETY: vkGetPhysicalDeviceProperties2 was resolved and the instance asked for
            // 1.1; the chain holds only structures core in the version the device is used at,
            // and every structure outlives the call.
            unsafe {
                instance.get_physical_device_properties2(self.raw, &mut properties2);
            }
        }
        // SAFETY: as above. A driver that fails to list its extensions offers none the probe
        // looks for, so the error is only the absence of video facts.
        let extensions = unsafe { instance.enumerate_device_extension_properties(self.raw) }
            .unwrap_or_default()
            .iter()
            .map(|e| c_chars(e.extension_name_as_c_str()))
            .collect();
        DeviceFacts {
            properties,
            driver: (extended && wants_driver).then(|| DriverFacts {
                id: driver.driver_id,
                name: c_chars(driver.driver_name_as_c_str()),
                info: c_chars(driver.driver_info_as_c_str()),
                conformance: driver.conformance_version,
            }),
            subgroup_size: (extended && subgroup.subgroup_size > 0)
                .then_some(subgroup.subgroup_size),
            memory,
            queue_families,
            shader_float64: features.shader_float64 == vk::TRUE,
            extensions,
        }
    }

    /// Creates a logical device with one queue of `queue_family`, enabling no feature.
    pub(super) fn open(&self, queue_family: u32) -> Result<Device<'i>, VkError> {
        let instance = &self.instance.raw;
        let priorities = [1.0f32];
        let queues = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(queue_family)
            .queue_priorities(&priorities)];
        let info = vk::DeviceCreateInfo::default().queue_create_infos(&queues);
        // SAFETY: the physical device belongs to the live instance it borrows.
        let families = unsafe { instance.get_physical_device_queue_family_properties(self.raw) };
        if families.get(queue_family as usize).is_none() {
            return Err(VkError::Invalid("no such queue family"));
        }
        // SAFETY: as above; the queue family index was checked to exist, and `info` and what
        // it points to outlive the call.
        let raw = unsafe { instance.create_device(self.raw, &info, None) }
            .map_err(VkError::call("vkCreateDevice"))?;
        let has = |name: &CStr| {
            // SAFETY: the device was just created from this instance and `name` is
            // NUL-terminated.
            unsafe { instance.get_device_proc_addr(raw.handle(), name.as_ptr()) }.is_some()
        };
        if let Some(missing) = DEVICE_COMMANDS.iter().find(|name| !has(name)) {
            if missing != &c"vkDestroyDevice" {
                // SAFETY: nothing was created from the device yet and vkDestroyDevice exists.
                unsafe { raw.destroy_device(None) };
            }
            return Err(VkError::MissingCommand(missing));
        }
        // SAFETY: one queue of this family was requested at creation, so index 0 exists.
        let queue = unsafe { raw.get_device_queue(queue_family, 0) };
        // SAFETY: as for `facts`.
        let memory = unsafe { instance.get_physical_device_memory_properties(self.raw) };
        Ok(Device {
            raw,
            queue,
            queue_family,
            memory,
            lost: Cell::new(false),
            instance: self.instance,
        })
    }
}

impl Device<'_> {
    /// The canonical path of the library whose code runs this device's commands: with no
    /// layer in between, the loader hands out the driver's own entry points for device
    /// commands, so the file holding `vkCmdDispatch` is the driver (ICD) that made the device.
    pub(super) fn driver_library(&self) -> Option<std::path::PathBuf> {
        crate::sys::file_containing(self.raw.fp_v1_0().cmd_dispatch as usize)
    }
}

/// A logical device with one compute queue.
pub(super) struct Device<'i> {
    raw: ash::Device,
    queue: vk::Queue,
    queue_family: u32,
    memory: vk::PhysicalDeviceMemoryProperties,
    lost: Cell<bool>,
    instance: &'i Instance<'i>,
}

impl fmt::Debug for Device<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("handle", &self.raw.handle())
            .field("lost", &self.lost.get())
            .finish_non_exhaustive()
    }
}

impl Drop for Device<'_> {
    fn drop(&mut self) {
        if self.lost.get() {
            return;
        }
        // SAFETY: buffers, pipelines and command pools borrow the device, so all are gone;
        // waiting for idle first makes sure no submitted work still refers to them.
        unsafe {
            let _ = self.raw.device_wait_idle();
            self.raw.destroy_device(None);
        }
    }
}

/// Picks a memory type the host can map without flushing, among those `type_bits` allows,
/// preferring one that is also host-cached: the result is compared element by element straight
/// from the mapping, and reading uncached (write-combined) memory that way is many times slower.
pub(super) fn host_coherent_type(
    memory: &vk::PhysicalDeviceMemoryProperties,
    type_bits: u32,
) -> Option<u32> {
    let coherent = vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
    let first_with = |wanted: vk::MemoryPropertyFlags| {
        memory
            .memory_types_as_slice()
            .iter()
            .enumerate()
            .find(|(i, t)| type_bits & (1 << i) != 0 && t.property_flags.contains(wanted))
            .map(|(i, _)| i as u32)
    };
    first_with(coherent | vk::MemoryPropertyFlags::HOST_CACHED).or_else(|| first_with(coherent))
}

/// The compute shaders this backend runs, compiled from the `.comp` files beside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shader {
    /// `saxpy.comp`: `y = a * x + y`; push constants `{float a; uint n;}`; buffers x, y.
    Saxpy,
    /// `sgemm.comp`: `C = A × B`, square and row-major; push constant `uint n`; buffers A, B, C.
    Sgemm,
}

/// `local_size_x` of `saxpy.comp`.
pub(super) const SAXPY_GROUP: u32 = 256;
/// `local_size_x` and `local_size_y` of `sgemm.comp`.
pub(super) const SGEMM_TILE: u32 = 16;
/// The smallest `maxComputeWorkGroupCount` Vulkan allows, so every device accepts it.
const MAX_GROUPS: u32 = 65_535;

impl Shader {
    /// The compiled SPIR-V, as committed.
    pub(super) fn spirv(self) -> &'static [u8] {
        match self {
            Shader::Saxpy => include_bytes!("saxpy.spv"),
            Shader::Sgemm => include_bytes!("sgemm.spv"),
        }
    }

    fn bindings(self) -> u32 {
        match self {
            Shader::Saxpy => 2,
            Shader::Sgemm => 3,
        }
    }

    fn push_constant_bytes(self) -> u32 {
        match self {
            Shader::Saxpy => 8,
            Shader::Sgemm => 4,
        }
    }
}

/// A compute pipeline for one [`Shader`], with the descriptor set its buffers are bound to.
pub(super) struct Pipeline<'d> {
    device: &'d Device<'d>,
    shader: Shader,
    set_layout: vk::DescriptorSetLayout,
    layout: vk::PipelineLayout,
    pipeline: vk::Pipeline,
    pool: vk::DescriptorPool,
    set: vk::DescriptorSet,
}

impl fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("shader", &self.shader)
            .finish_non_exhaustive()
    }
}

impl Drop for Pipeline<'_> {
    fn drop(&mut self) {
        if self.device.lost.get() {
            return;
        }
        let raw = &self.device.raw;
        // SAFETY: the handles were made from this device and are destroyed once; the ones
        // still null (creation stopped early) are ignored by Vulkan. No work uses them:
        // dispatches wait for completion, and a dispatch that did not finish marked the
        // device lost, which skips this.
        unsafe {
            raw.destroy_pipeline(self.pipeline, None);
            raw.destroy_descriptor_pool(self.pool, None);
            raw.destroy_pipeline_layout(self.layout, None);
            raw.destroy_descriptor_set_layout(self.set_layout, None);
        }
    }
}

/// A shader module, only needed until its pipeline exists.
struct ShaderModule<'d> {
    device: &'d Device<'d>,
    raw: vk::ShaderModule,
}

impl Drop for ShaderModule<'_> {
    fn drop(&mut self) {
        // SAFETY: made from this device; a pipeline keeps no reference to its module.
        unsafe { self.device.raw.destroy_shader_module(self.raw, None) };
    }
}

/// A host-visible, host-coherent storage buffer of `f32`, mapped for its whole life.
pub(super) struct Buffer<'d> {
    device: &'d Device<'d>,
    buffer: vk::Buffer,
    memory: vk::DeviceMemory,
    mapped: *mut f32,
    len: usize,
}

impl fmt::Debug for Buffer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        if self.device.lost.get() {
            return;
        }
        // SAFETY: made from this device, destroyed once, null handles ignored; freeing the
        // memory unmaps it. No work uses them (see Pipeline's drop).
        unsafe {
            self.device.raw.destroy_buffer(self.buffer, None);
            self.device.raw.free_memory(self.memory, None);
        }
    }
}

impl Buffer<'_> {
    /// The buffer's contents, read in place from the mapping rather than copied out: the
    /// comparison with the CPU reference is the only reader. Fails on a lost device, whose
    /// work may still be writing it.
    pub(super) fn contents(&self) -> Result<&[f32], VkError> {
        if self.device.lost.get() {
            return Err(VkError::Invalid(
                "the device was lost; its buffers cannot be read",
            ));
        }
        // SAFETY: `mapped` points at `len` f32s (any bit pattern is a valid f32) of coherent
        // memory mapped for the buffer's life and aligned to minMemoryMapAlignment (>= 64).
        // No device work is pending on a device that is not lost, since every dispatch waits
        // for its fence; and no dispatch can write the buffer while the slice lives, because
        // the buffers a shader writes are taken by `&mut` (`run_saxpy`'s `y`, `run_sgemm`'s
        // `c`), which the borrow of `self` excludes. Read-only inputs may be viewed during a
        // dispatch, as the device only reads them too.
        Ok(unsafe { std::slice::from_raw_parts(self.mapped, self.len) })
    }
}

/// Destroys a command pool (and so its command buffers) on drop.
struct CommandPool<'d> {
    device: &'d Device<'d>,
    raw: vk::CommandPool,
}

impl Drop for CommandPool<'_> {
    fn drop(&mut self) {
        if self.device.lost.get() {
            return;
        }
        // SAFETY: made from this device; its command buffer finished (the fence signalled)
        // or was never submitted, else the device is lost and this is skipped.
        unsafe { self.device.raw.destroy_command_pool(self.raw, None) };
    }
}

/// Destroys a fence on drop.
struct Fence<'d> {
    device: &'d Device<'d>,
    raw: vk::Fence,
}

impl Drop for Fence<'_> {
    fn drop(&mut self) {
        if self.device.lost.get() {
            return;
        }
        // SAFETY: made from this device; no queue operation waits to signal it (as above).
        unsafe { self.device.raw.destroy_fence(self.raw, None) };
    }
}

impl<'i> Device<'i> {
    fn mark_lost(&self) {
        self.lost.set(true);
        self.instance.mark_lost();
    }

    /// A storage buffer holding a copy of `data`.
    pub(super) fn buffer(&self, data: &[f32]) -> Result<Buffer<'_>, VkError> {
        self.buffer_repeating(data.len(), data)
    }

    /// A storage buffer of `len` floats repeating `pattern`, written in place in its
    /// host-visible memory: no host copy of the whole is made.
    pub(super) fn buffer_repeating(
        &self,
        len: usize,
        pattern: &[f32],
    ) -> Result<Buffer<'_>, VkError> {
        if len == 0 {
            return Err(VkError::Invalid("a buffer needs at least one element"));
        }
        let bytes = len
            .checked_mul(std::mem::size_of::<f32>())
            .and_then(|b| vk::DeviceSize::try_from(b).ok())
            .ok_or(VkError::Invalid("a buffer too large to address"))?;
        let mut buffer = Buffer {
            device: self,
            buffer: vk::Buffer::null(),
            memory: vk::DeviceMemory::null(),
            mapped: std::ptr::null_mut(),
            len,
        };
        let info = vk::BufferCreateInfo::default()
            .size(bytes)
            .usage(vk::BufferUsageFlags::STORAGE_BUFFER)
            .sharing_mode(vk::SharingMode::EXCLUSIVE);
        // SAFETY: the device is alive and `info` is valid for the call (size > 0).
        buffer.buffer = unsafe { self.raw.create_buffer(&info, None) }
            .map_err(VkError::call("vkCreateBuffer"))?;
        // SAFETY: the buffer was just made from this device.
        let needs = unsafe { self.raw.get_buffer_memory_requirements(buffer.buffer) };
        let memory_type = host_coherent_type(&self.memory, needs.memory_type_bits).ok_or(
            VkError::Invalid("no host-visible, host-coherent memory type"),
        )?;
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(needs.size)
            .memory_type_index(memory_type);
        // SAFETY: the type index comes from this device's memory properties and the buffer's
        // own requirements.
        buffer.memory = unsafe { self.raw.allocate_memory(&alloc, None) }
            .map_err(VkError::call("vkAllocateMemory"))?;
        // SAFETY: fresh buffer and memory of this device, sized from the buffer's requirements;
        // offset 0 satisfies any alignment.
        unsafe { self.raw.bind_buffer_memory(buffer.buffer, buffer.memory, 0) }
            .map_err(VkError::call("vkBindBufferMemory"))?;
        // SAFETY: host-visible memory of this device, not yet mapped.
        let mapped = unsafe {
            self.raw.map_memory(
                buffer.memory,
                0,
                vk::WHOLE_SIZE,
                vk::MemoryMapFlags::empty(),
            )
        }
        .map_err(VkError::call("vkMapMemory"))?;
        buffer.mapped = mapped.cast::<f32>();
        // SAFETY: the mapping covers at least `bytes` = `len` floats (the allocation is at least
        // the buffer's size), is aligned to minMemoryMapAlignment (>= 64), no device work uses
        // it yet, and the driver's memory does not overlap `pattern`, which is the caller's.
        unsafe { crate::sys::write_repeating(buffer.mapped, len, pattern) };
        Ok(buffer)
    }

    /// Builds the compute pipeline of `shader`.
    pub(super) fn pipeline(&self, shader: Shader) -> Result<Pipeline<'_>, VkError> {
        let words = ash::util::read_spv(&mut Cursor::new(shader.spirv()))
            .map_err(|_| VkError::Invalid("the embedded SPIR-V is not a whole number of words"))?;
        let mut pipeline = Pipeline {
            device: self,
            shader,
            set_layout: vk::DescriptorSetLayout::null(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
            pool: vk::DescriptorPool::null(),
            set: vk::DescriptorSet::null(),
        };
        let bindings: Vec<_> = (0..shader.bindings())
            .map(|binding| {
                vk::DescriptorSetLayoutBinding::default()
                    .binding(binding)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::COMPUTE)
            })
            .collect();
        let info = vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings);
        // SAFETY: the device is alive; `info` and `bindings` outlive the call.
        pipeline.set_layout = unsafe { self.raw.create_descriptor_set_layout(&info, None) }
            .map_err(VkError::call("vkCreateDescriptorSetLayout"))?;
        let set_layouts = [pipeline.set_layout];
        let ranges = [vk::PushConstantRange::default()
            .stage_flags(vk::ShaderStageFlags::COMPUTE)
            .size(shader.push_constant_bytes())];
        let info = vk::PipelineLayoutCreateInfo::default()
            .set_layouts(&set_layouts)
            .push_constant_ranges(&ranges);
        // SAFETY: the set layout is this device's; the arrays outlive the call.
        pipeline.layout = unsafe { self.raw.create_pipeline_layout(&info, None) }
            .map_err(VkError::call("vkCreatePipelineLayout"))?;
        let info = vk::ShaderModuleCreateInfo::default().code(&words);
        let module = ShaderModule {
            device: self,
            // SAFETY: `words` is the committed SPIR-V, checked by the tests to be valid for
            // Vulkan 1.0; it outlives the call.
            raw: unsafe { self.raw.create_shader_module(&info, None) }
                .map_err(VkError::call("vkCreateShaderModule"))?,
        };
        let stage = vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::COMPUTE)
            .module(module.raw)
            .name(c"main");
        let info = [vk::ComputePipelineCreateInfo::default()
            .stage(stage)
            .layout(pipeline.layout)];
        // SAFETY: module and layout are this device's and match the shader's interface (its
        // bindings and push constant block are what `Shader` declares); no cache is used.
        let created = unsafe {
            self.raw
                .create_compute_pipelines(vk::PipelineCache::null(), &info, None)
        };
        pipeline.pipeline = match created {
            Ok(pipelines) => pipelines[0],
            Err((pipelines, result)) => {
                // Vulkan leaves failed entries null, so anything else was made and is kept
                // for the guard to destroy.
                pipeline.pipeline = pipelines.first().copied().unwrap_or_default();
                return Err(VkError::call("vkCreateComputePipelines")(result));
            }
        };
        drop(module);
        let sizes = [vk::DescriptorPoolSize::default()
            .ty(vk::DescriptorType::STORAGE_BUFFER)
            .descriptor_count(shader.bindings())];
        let info = vk::DescriptorPoolCreateInfo::default()
            .max_sets(1)
            .pool_sizes(&sizes);
        // SAFETY: the device is alive; `sizes` outlives the call.
        pipeline.pool = unsafe { self.raw.create_descriptor_pool(&info, None) }
            .map_err(VkError::call("vkCreateDescriptorPool"))?;
        let info = vk::DescriptorSetAllocateInfo::default()
            .descriptor_pool(pipeline.pool)
            .set_layouts(&set_layouts);
        // SAFETY: pool and layout are this device's and the pool has room for this one set.
        let sets = unsafe { self.raw.allocate_descriptor_sets(&info) }
            .map_err(VkError::call("vkAllocateDescriptorSets"))?;
        pipeline.set = sets[0];
        Ok(pipeline)
    }

    /// Runs `saxpy.comp` on `x` and `y` (of equal length), waiting at most `timeout`. `y` is
    /// written, so it is borrowed mutably: no view of it from [`Buffer::contents`] may live.
    pub(super) fn run_saxpy(
        &self,
        pipeline: &Pipeline<'_>,
        a: f32,
        x: &Buffer<'_>,
        y: &mut Buffer<'_>,
        timeout: Duration,
    ) -> Result<(), VkError> {
        if pipeline.shader != Shader::Saxpy {
            return Err(VkError::Invalid("run_saxpy needs the SAXPY pipeline"));
        }
        if x.len != y.len {
            return Err(VkError::Invalid("x and y differ in length"));
        }
        let n = u32::try_from(x.len).map_err(|_| VkError::Invalid("too many elements"))?;
        let groups = n.div_ceil(SAXPY_GROUP);
        if groups > MAX_GROUPS {
            return Err(VkError::Invalid("too many elements for one dispatch"));
        }
        let mut push = [0u8; 8];
        push[..4].copy_from_slice(&a.to_ne_bytes());
        push[4..].copy_from_slice(&n.to_ne_bytes());
        self.dispatch(pipeline, &[x, &*y], &push, [groups, 1, 1], timeout)
    }

    /// Runs `sgemm.comp`: `c = a × b` for `n × n` matrices, waiting at most `timeout`; `c`
    /// is written, hence `&mut` as for `run_saxpy`'s `y`.
    pub(super) fn run_sgemm(
        &self,
        pipeline: &Pipeline<'_>,
        n: u32,
        [a, b]: [&Buffer<'_>; 2],
        c: &mut Buffer<'_>,
        timeout: Duration,
    ) -> Result<(), VkError> {
        let c = &*c;
        if pipeline.shader != Shader::Sgemm {
            return Err(VkError::Invalid("run_sgemm needs the SGEMM pipeline"));
        }
        let elements = (n as usize).checked_mul(n as usize);
        if [a, b, c].iter().any(|m| Some(m.len) != elements) {
            return Err(VkError::Invalid(
                "a matrix buffer does not hold n × n elements",
            ));
        }
        let groups = n.div_ceil(SGEMM_TILE);
        if groups > MAX_GROUPS {
            return Err(VkError::Invalid(
                "the matrices are too large for one dispatch",
            ));
        }
        self.dispatch(
            pipeline,
            &[a, b, c],
            &n.to_ne_bytes(),
            [groups, groups, 1],
            timeout,
        )
    }

    /// Binds `buffers`, records one dispatch, submits it and waits for its fence. The shader's
    /// bounds (its `n`) must fit the buffers: `run_saxpy`/`run_sgemm` check that.
    fn dispatch(
        &self,
        pipeline: &Pipeline<'_>,
        buffers: &[&Buffer<'_>],
        push: &[u8],
        [gx, gy, gz]: [u32; 3],
        timeout: Duration,
    ) -> Result<(), VkError> {
        if self.lost.get() {
            return Err(VkError::Invalid(
                "the device was lost by an earlier dispatch",
            ));
        }
        let mine = |d: &Device<'_>| std::ptr::eq(d, self);
        if !mine(pipeline.device) || !buffers.iter().all(|b| mine(b.device)) {
            return Err(VkError::Invalid(
                "the pipeline and buffers belong to another device",
            ));
        }
        let infos: Vec<[vk::DescriptorBufferInfo; 1]> = buffers
            .iter()
            .map(|b| {
                [vk::DescriptorBufferInfo::default()
                    .buffer(b.buffer)
                    .range(vk::WHOLE_SIZE)]
            })
            .collect();
        let writes: Vec<_> = infos
            .iter()
            .zip(0..)
            .map(|(info, binding)| {
                vk::WriteDescriptorSet::default()
                    .dst_set(pipeline.set)
                    .dst_binding(binding)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .buffer_info(info)
            })
            .collect();
        // SAFETY: the set is this device's and not in use (every earlier dispatch finished),
        // the buffers are live storage buffers of this device, and the writes match the
        // set's layout; the arrays outlive the call.
        unsafe { self.raw.update_descriptor_sets(&writes, &[]) };

        let info = vk::CommandPoolCreateInfo::default()
            .flags(vk::CommandPoolCreateFlags::TRANSIENT)
            .queue_family_index(self.queue_family);
        let pool = CommandPool {
            device: self,
            // SAFETY: the device is alive and the family is the one its queue came from.
            raw: unsafe { self.raw.create_command_pool(&info, None) }
                .map_err(VkError::call("vkCreateCommandPool"))?,
        };
        let info = vk::CommandBufferAllocateInfo::default()
            .command_pool(pool.raw)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool is this device's.
        let commands = unsafe { self.raw.allocate_command_buffers(&info) }
            .map_err(VkError::call("vkAllocateCommandBuffers"))?[0];
        let begin = vk::CommandBufferBeginInfo::default()
            .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT);
        let to_host = [vk::MemoryBarrier::default()
            .src_access_mask(vk::AccessFlags::SHADER_WRITE)
            .dst_access_mask(vk::AccessFlags::HOST_READ)];
        // SAFETY: a fresh primary command buffer of this device, recorded once from this
        // thread; the pipeline, its layout and set are this device's and match each other;
        // the push constants are exactly the layout's range; the group counts were checked
        // against the minimum maxComputeWorkGroupCount by the callers; the barrier makes the
        // shader's writes visible to the host read after the fence.
        unsafe {
            self.raw
                .begin_command_buffer(commands, &begin)
                .map_err(VkError::call("vkBeginCommandBuffer"))?;
            self.raw
                .cmd_bind_pipeline(commands, vk::PipelineBindPoint::COMPUTE, pipeline.pipeline);
            self.raw.cmd_bind_descriptor_sets(
                commands,
                vk::PipelineBindPoint::COMPUTE,
                pipeline.layout,
                0,
                &[pipeline.set],
                &[],
            );
            self.raw.cmd_push_constants(
                commands,
                pipeline.layout,
                vk::ShaderStageFlags::COMPUTE,
                0,
                push,
            );
            self.raw.cmd_dispatch(commands, gx, gy, gz);
            self.raw.cmd_pipeline_barrier(
                commands,
                vk::PipelineStageFlags::COMPUTE_SHADER,
                vk::PipelineStageFlags::HOST,
                vk::DependencyFlags::empty(),
                &to_host,
                &[],
                &[],
            );
            self.raw
                .end_command_buffer(commands)
                .map_err(VkError::call("vkEndCommandBuffer"))?;
        }
        let fence = Fence {
            device: self,
            // SAFETY: the device is alive.
            raw: unsafe { self.raw.create_fence(&vk::FenceCreateInfo::default(), None) }
                .map_err(VkError::call("vkCreateFence"))?,
        };
        let command_buffers = [commands];
        let submit = [vk::SubmitInfo::default().command_buffers(&command_buffers)];
        // SAFETY: the queue is this device's and only used from here (Device is not Sync);
        // the command buffer is fully recorded and the fence unsignalled.
        unsafe { self.raw.queue_submit(self.queue, &submit, fence.raw) }
            .map_err(VkError::call("vkQueueSubmit"))?;
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: the fence is this device's and was submitted above.
        match unsafe { self.raw.wait_for_fences(&[fence.raw], true, nanos) } {
            Ok(()) => Ok(()),
            Err(vk::Result::TIMEOUT) => {
                self.mark_lost();
                Err(VkError::Timeout(timeout))
            }
            Err(result) => {
                // Whether the work still runs is unknown, so nothing it touches is freed.
                self.mark_lost();
                Err(VkError::call("vkWaitForFences")(result))
            }
        }
    }
}
