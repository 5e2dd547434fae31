#![allow(unsafe_code)]
// Why: cl3's raw OpenCL calls, and the one place kernel arguments become pointers.

//! Thin wrappers over the cl3 calls the probe makes: each returns a [`CallError`] named by the
//! OpenCL headers' error names, and every OpenCL object is owned by a handle that releases it
//! on drop.
//!
//! opencl3's own object types are not used because their `Drop` implementations `expect()` the
//! release to succeed: a driver that fails `clRelease*` would panic the worker instead of being
//! reported. Info queries go through the byte-level `get_*_data` calls for the same reason:
//! cl3's `InfoType` conversions panic when a driver answers with an unexpected shape.
//!
//! Kernel launches are safe: a kernel is made with its declared [`Signature`], and
//! [`Queue::launch`] refuses arguments that do not match it, or buffers smaller than the
//! kernel's source reaches, before any of them reaches the driver.

use std::ffi::c_void;
use std::ptr;

use cl3::info_type::InfoType;
use opencl3::command_queue::{
    create_command_queue, enqueue_map_buffer, enqueue_nd_range_kernel, enqueue_unmap_mem_object,
    release_command_queue, CL_BLOCKING,
};
use opencl3::context::context::{create_context, release_context};
use opencl3::device::{get_device_data, get_device_ids, CL_DEVICE_TYPE_ALL};
use opencl3::error_codes::{CL_INVALID_CONTEXT, CL_INVALID_VALUE};
use opencl3::event::release_event;
use opencl3::kernel::{create_kernel, release_kernel, set_kernel_arg};
use opencl3::memory::{
    create_buffer, release_mem_object, CL_MAP_READ, CL_MAP_WRITE, CL_MEM_READ_WRITE,
};
use opencl3::platform::platform::{get_platform_data, get_platform_ids};
use opencl3::program::{
    build_program, create_program_with_binary, create_program_with_source, get_program_build_data,
    get_program_data, get_program_info, release_program, CL_PROGRAM_BINARIES,
    CL_PROGRAM_BINARY_SIZES, CL_PROGRAM_BUILD_LOG,
};
use opencl3::types::{
    cl_command_queue, cl_context, cl_device_id, cl_device_info, cl_event, cl_int, cl_kernel,
    cl_mem, cl_platform_id, cl_platform_info, cl_program, cl_uint,
};

use super::sys::error_name;
use crate::backends::common::{Arg, CallError, Floats, LaunchError, Signature};

/// Largest program binary kept; PoCL's SAXPY+SGEMM bundle is a few KiB.
const MAX_BINARY_BYTES: u64 = 16 << 20;

/// The error of `call`, which returned `code`, named as the OpenCL headers name it.
pub(super) fn cl_error(call: &'static str, code: cl_int) -> CallError {
    CallError::new(call, code).named_by(error_name)
}

fn named<T>(call: &'static str, result: Result<T, cl_int>) -> Result<T, CallError> {
    result.map_err(|code| cl_error(call, code))
}

/// Text of a `char[]` info value: drivers include the terminating NUL, some pad with more.
pub(super) fn decode_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}

/// An unsigned info value (`cl_uint`, `cl_ulong`, `size_t`, bitfields) of the size the driver
/// wrote; `None` for any other size rather than guessing.
pub(super) fn decode_unsigned(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        4 => Some(u64::from(u32::from_ne_bytes(bytes.try_into().ok()?))),
        8 => Some(u64::from_ne_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// Every platform the ICD loader offers.
pub(super) fn platforms() -> Result<Vec<Platform>, CallError> {
    let ids = named("clGetPlatformIDs", get_platform_ids())?;
    Ok(ids.into_iter().map(Platform).collect())
}

/// A platform id; platforms are never released.
#[derive(Debug, Clone, Copy)]
pub(super) struct Platform(cl_platform_id);

impl Platform {
    /// A string property such as `CL_PLATFORM_NAME`.
    pub(super) fn string(self, param: cl_platform_info) -> Result<String, CallError> {
        let bytes = named("clGetPlatformInfo", get_platform_data(self.0, param))?;
        Ok(decode_string(&bytes))
    }

    /// The canonical path of the ICD library that made this platform. The KHR ICD ABI makes
    /// every platform begin with a pointer to its driver's dispatch table, which the ICD loader
    /// follows on every call; the library holding that table is the driver.
    pub(super) fn driver_library(self) -> Option<std::path::PathBuf> {
        if self.0.is_null() {
            return None;
        }
        // SAFETY: a non-null platform id from clGetPlatformIDs points at the driver's
        // platform object, whose first member is the dispatch-table pointer (cl_icd.h); the
        // ICD loader reads the same word before every call it forwards. The pointer read is
        // only compared with loaded objects' ranges, never followed.
        let dispatch = unsafe { self.0.cast::<*const c_void>().read() };
        crate::sys::file_containing(dispatch as usize)
    }

    /// Every device of the platform, of any type. A platform without devices gives an empty
    /// list (cl3 folds `CL_DEVICE_NOT_FOUND` into it).
    pub(super) fn devices(self) -> Result<Vec<DeviceId>, CallError> {
        let ids = named("clGetDeviceIDs", get_device_ids(self.0, CL_DEVICE_TYPE_ALL))?;
        Ok(ids.into_iter().map(DeviceId).collect())
    }
}

/// A root device id; root devices are never released.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeviceId(cl_device_id);

impl DeviceId {
    fn data(self, param: cl_device_info) -> Result<Vec<u8>, CallError> {
        named("clGetDeviceInfo", get_device_data(self.0, param))
    }

    /// A string property such as `CL_DEVICE_NAME`.
    pub(super) fn string(self, param: cl_device_info) -> Result<String, CallError> {
        Ok(decode_string(&self.data(param)?))
    }

    /// An unsigned property such as `CL_DEVICE_GLOBAL_MEM_SIZE`; a value of unexpected size
    /// is reported as `CL_INVALID_VALUE`.
    pub(super) fn unsigned(self, param: cl_device_info) -> Result<u64, CallError> {
        decode_unsigned(&self.data(param)?)
            .ok_or_else(|| cl_error("clGetDeviceInfo", CL_INVALID_VALUE))
    }
}

/// A context holding one device, and the device it was made for.
#[derive(Debug)]
pub(super) struct Context {
    raw: cl_context,
    device: DeviceId,
}

impl Context {
    /// A context for `device` alone, so that one device's failure cannot spoil another's.
    pub(super) fn for_device(device: DeviceId) -> Result<Context, CallError> {
        let raw = named(
            "clCreateContext",
            create_context(&[device.0], ptr::null(), None, ptr::null_mut()),
        )?;
        Ok(Context { raw, device })
    }

    /// An in-order queue on the context's device: each command sees the previous one's writes.
    pub(super) fn queue(&self) -> Result<Queue, CallError> {
        // SAFETY: the context and device handles are live (owned by `self`); properties 0
        // asks for a plain in-order queue, and the returned handle is owned by `Queue`.
        let raw = unsafe { create_command_queue(self.raw, self.device.0, 0) };
        Ok(Queue {
            raw: named("clCreateCommandQueue", raw)?,
            context: self.raw,
        })
    }

    /// An uninitialised read-write buffer of `len` floats.
    pub(super) fn buffer(&self, len: usize) -> Result<Buffer, CallError> {
        let bytes = len.saturating_mul(size_of::<f32>());
        // SAFETY: no host pointer is passed, so the driver allocates and owns the storage;
        // the returned handle is owned by `Buffer`, which records its length for later copies.
        let raw = unsafe { create_buffer(self.raw, CL_MEM_READ_WRITE, bytes, ptr::null_mut()) };
        Ok(Buffer {
            raw: named("clCreateBuffer", raw)?,
            len,
            context: self.raw,
        })
    }

    /// A program made from one OpenCL C source, not yet built. One, because cl3 0.13 passes
    /// its `&[&str]` to the C API as an array of `char *` (a cast of fat pointers): with two
    /// sources the driver reads the first one's length as the second one's address and crashes.
    pub(super) fn program(&self, source: &str) -> Result<Program, CallError> {
        let raw = named(
            "clCreateProgramWithSource",
            create_program_with_source(self.raw, &[source]),
        )?;
        Ok(Program {
            raw,
            device: self.device,
            context: self.raw,
        })
    }

    /// A program made from a binary this device's driver produced earlier (see
    /// [`Program::binary`]), not yet built. Drivers check the binary and refuse one that is
    /// not theirs.
    pub(super) fn program_from_binary(&self, binary: &[u8]) -> Result<Program, CallError> {
        // SAFETY: the one device passed is the device this context was created for.
        let raw = unsafe { create_program_with_binary(self.raw, &[self.device.0], &[binary]) };
        Ok(Program {
            raw: named("clCreateProgramWithBinary", raw)?,
            device: self.device,
            context: self.raw,
        })
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by `for_device`, is owned by this value alone and is
        // released exactly once. A failed release only leaks; it is not worth failing a probe.
        let _ = unsafe { release_context(self.raw) };
    }
}

/// Why a program did not build: the failing call and the first part of the device's build log.
#[derive(Debug)]
pub(super) struct BuildFailure {
    pub error: CallError,
    pub log: String,
}

/// A program for one device.
#[derive(Debug)]
pub(super) struct Program {
    raw: cl_program,
    device: DeviceId,
    /// The context it was made in, to tell its kernels' arguments from another context's.
    context: cl_context,
}

impl Program {
    /// Compiles the program for its device. The build log is read only on failure.
    pub(super) fn build(&self) -> Result<(), BuildFailure> {
        let built = build_program(self.raw, &[self.device.0], c"", None, ptr::null_mut());
        named("clBuildProgram", built).map_err(|error| BuildFailure {
            error,
            log: get_program_build_data(self.raw, self.device.0, CL_PROGRAM_BUILD_LOG)
                .map(|bytes| decode_string(&bytes))
                .unwrap_or_default(),
        })
    }

    /// The device binary of a built program, for [`Context::program_from_binary`] next time.
    /// `None` when the driver offers none or one larger than [`MAX_BINARY_BYTES`].
    pub(super) fn binary(&self) -> Option<Vec<u8>> {
        // cl3 allocates whatever sizes the driver states before copying, so the sizes are
        // checked here first, through the byte-level query.
        let sizes = get_program_data(self.raw, CL_PROGRAM_BINARY_SIZES).ok()?;
        let size = decode_unsigned(&sizes)?;
        if size == 0 || size > MAX_BINARY_BYTES {
            return None;
        }
        match get_program_info(self.raw, CL_PROGRAM_BINARIES) {
            Ok(InfoType::VecVecUchar(mut binaries)) if binaries.len() == 1 => binaries.pop(),
            _ => None,
        }
    }

    /// The built kernel `signature` declares, held to that signature at every launch.
    pub(super) fn kernel(&self, signature: &'static Signature) -> Result<Kernel, CallError> {
        let raw = named("clCreateKernel", create_kernel(self.raw, signature.entry))?;
        Ok(Kernel {
            raw,
            signature,
            context: self.context,
        })
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by `Context::program`, is owned by this value alone and is
        // released exactly once; kernels made from it hold their own reference.
        let _ = unsafe { release_program(self.raw) };
    }
}

/// A kernel and the signature it was declared with.
#[derive(Debug)]
pub(super) struct Kernel {
    raw: cl_kernel,
    signature: &'static Signature,
    context: cl_context,
}

impl Kernel {
    /// Sets the arguments in order, already checked against the signature. A buffer is
    /// passed as its `cl_mem` handle, at the handle's own size, not as a device address.
    fn set_args(&self, args: &[Arg<'_, Buffer>]) -> Result<(), CallError> {
        for (index, arg) in (0..).zip(args) {
            let (size, value): (usize, *const c_void) = match arg {
                Arg::Buffer(buffer) => (size_of::<cl_mem>(), (&raw const buffer.raw).cast()),
                Arg::F32(value) => (size_of::<f32>(), (value as *const f32).cast()),
                Arg::U32(value) => (size_of::<cl_uint>(), (value as *const cl_uint).cast()),
            };
            // SAFETY: `value` points to `size` readable bytes that live for the duration of the
            // call, which copies them; a buffer argument is a live `cl_mem` owned by `Buffer`.
            let set = unsafe { set_kernel_arg(self.raw, index, size, value) };
            named("clSetKernelArg", set)?;
        }
        Ok(())
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by `Program::kernel`, is owned by this value alone and is
        // released exactly once.
        let _ = unsafe { release_kernel(self.raw) };
    }
}

/// A device buffer of `len` floats.
#[derive(Debug)]
pub(super) struct Buffer {
    raw: cl_mem,
    len: usize,
    context: cl_context,
}

impl Floats for Buffer {
    fn floats(&self) -> usize {
        self.len
    }

    fn address(&self) -> u64 {
        self.raw as u64
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by `Context::buffer`, is owned by this value alone and is
        // released exactly once; the driver keeps it alive while queued commands still use it.
        let _ = unsafe { release_mem_object(self.raw) };
    }
}

/// An in-order command queue.
#[derive(Debug)]
pub(super) struct Queue {
    raw: cl_command_queue,
    context: cl_context,
}

impl Queue {
    /// Fills `buffer` with `pattern` over and over, written in place through a mapping of the
    /// buffer (on a CPU device, its own memory: no copy is made). The buffer is borrowed
    /// mutably, so no kernel can be launched on it while it is mapped.
    pub(super) fn fill(&self, buffer: &mut Buffer, pattern: &[f32]) -> Result<(), CallError> {
        let mapped = self.map(buffer, CL_MAP_WRITE)?;
        // SAFETY: `mapped` points at `buffer.len` floats of the buffer, mapped for writing
        // until the unmap below and aligned for f32 (checked by `map`); the driver's memory
        // does not overlap `pattern`, which is the caller's.
        unsafe { crate::sys::write_repeating(mapped, buffer.len, pattern) };
        self.unmap(buffer, mapped)
    }

    /// Runs `look` on the contents of `buffer`, mapped for reading in place (on a CPU device,
    /// no copy is made). The queue is in order, so the contents are what every kernel
    /// enqueued before left there.
    pub(super) fn inspect<R>(
        &self,
        buffer: &mut Buffer,
        look: impl FnOnce(&[f32]) -> R,
    ) -> Result<R, CallError> {
        let mapped = self.map(buffer, CL_MAP_READ)?;
        // SAFETY: the blocking map has completed, so `mapped` points at `buffer.len` floats the
        // device wrote (any bit pattern is a valid f32), aligned for f32 (checked by `map`),
        // and they stay mapped, read by nobody else, until the unmap below.
        let seen = look(unsafe { std::slice::from_raw_parts(mapped, buffer.len) });
        self.unmap(buffer, mapped)?;
        Ok(seen)
    }

    /// Maps all of `buffer` with `flags`, blocking until done.
    fn map(
        &self,
        buffer: &mut Buffer,
        flags: opencl3::types::cl_map_flags,
    ) -> Result<*mut f32, CallError> {
        const CALL: &str = "clEnqueueMapBuffer";
        let bytes = buffer.len.saturating_mul(size_of::<f32>());
        let mut mapped: cl_mem = ptr::null_mut();
        // SAFETY: queue and buffer are live handles; the map covers the buffer's own size and
        // is blocking, so `mapped` is set and usable when the call returns successfully.
        let event = unsafe {
            enqueue_map_buffer(
                self.raw,
                buffer.raw,
                CL_BLOCKING,
                flags,
                0,
                bytes,
                &mut mapped,
                0,
                ptr::null(),
            )
        };
        release(named(CALL, event)?);
        let mapped = mapped.cast::<f32>();
        if mapped.is_null() || !mapped.is_aligned() {
            // A driver bug: nothing may be read or written through this pointer, but it is
            // unmapped all the same.
            if !mapped.is_null() {
                let _ = self.unmap(buffer, mapped);
            }
            return Err(cl_error(CALL, CL_INVALID_VALUE));
        }
        Ok(mapped)
    }

    /// Ends a mapping [`Queue::map`] made. The unmap is queued before anything enqueued after
    /// it, so a kernel launched next sees what was written.
    fn unmap(&self, buffer: &Buffer, mapped: *mut f32) -> Result<(), CallError> {
        // SAFETY: `mapped` is the pointer the map of this buffer returned and it is unmapped
        // once; no reference into it outlives this call.
        let event = unsafe {
            enqueue_unmap_mem_object(self.raw, buffer.raw, mapped.cast(), 0, ptr::null())
        };
        release(named("clEnqueueUnmapMemObject", event)?);
        Ok(())
    }

    /// Sets `args` on `kernel` and enqueues it over `global` work items (one entry per
    /// dimension), letting the driver choose the work-group size. The arguments are first
    /// checked against the kernel's [`Signature`]: on a CPU device (PoCL) device memory is this
    /// process's memory, so a kernel indexing past a buffer would corrupt the probe itself.
    pub(super) fn launch(
        &self,
        kernel: &Kernel,
        args: &[Arg<'_, Buffer>],
        global: &[usize],
    ) -> Result<(), LaunchError> {
        if kernel.context != self.context {
            return Err(cl_error("clEnqueueNDRangeKernel", CL_INVALID_CONTEXT).into());
        }
        kernel
            .signature
            .check(args, |buffer| buffer.context == kernel.context)?;
        kernel.set_args(args)?;
        let dimensions = cl_uint::try_from(global.len())
            .map_err(|_| cl_error("clEnqueueNDRangeKernel", CL_INVALID_VALUE))?;
        // SAFETY: queue and kernel are live handles owned by `self` and `kernel`, of one
        // context; `global` holds `dimensions` sizes and is only read during the call. Every
        // argument was set just now, after `check` held it to the kernel's signature, whose
        // reach bounds every index the kernel's source makes: it stays inside the buffers.
        let event = unsafe {
            enqueue_nd_range_kernel(
                self.raw,
                kernel.raw,
                dimensions,
                ptr::null(),
                global.as_ptr(),
                ptr::null(),
                0,
                ptr::null(),
            )
        };
        release(named("clEnqueueNDRangeKernel", event)?);
        Ok(())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: `raw` was created by `Context::queue`, is owned by this value alone and is
        // released exactly once; releasing waits for nothing the probe still needs, since every
        // result was read with a blocking copy.
        let _ = unsafe { release_command_queue(self.raw) };
    }
}

/// Drops the event an enqueue returned: the probe synchronises with blocking copies instead.
fn release(event: cl_event) {
    if !event.is_null() {
        // SAFETY: `event` was just returned by an enqueue call, nobody else holds it, and it is
        // released exactly once.
        let _ = unsafe { release_event(event) };
    }
}
