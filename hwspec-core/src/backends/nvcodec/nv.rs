//! NVDEC (`libnvcuvid.so.1`) and NVENC (`libnvidia-encode.so.1`) as far as the probe uses
//! them, with libcuda opened by the CUDA backend's loader. Both video libraries need a CUDA
//! context: NVDEC answers for the current one, NVENC opens a session on one.
//!
//! Declarations are transcribed from the Video Codec SDK 12 headers (`cuviddec.h`,
//! `nvEncodeAPI.h`); the libraries are opened by soname and never closed (design §3).

use std::ffi::{c_int, c_uint, c_void};
use std::mem::size_of;
use std::ptr;

use cudarc::driver::sys::{CUcontext, CUdevice};

use crate::backends::common::{check_call as check, symbol_table, CallError, Library, LoadError};
use crate::backends::cuda::loader::Api;

pub(super) const NVCUVID_SONAME: &str = "libnvcuvid.so.1";
pub(super) const NVENCODE_SONAME: &str = "libnvidia-encode.so.1";

/// `CUVIDDECODECAPS`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct DecodeCaps {
    pub codec: c_uint,
    pub chroma_format: c_uint,
    pub bit_depth_minus_8: c_uint,
    pub reserved1: [c_uint; 3],
    pub is_supported: u8,
    pub num_nvdecs: u8,
    pub output_format_mask: u16,
    pub max_width: c_uint,
    pub max_height: c_uint,
    pub max_mb_count: c_uint,
    pub min_width: u16,
    pub min_height: u16,
    pub reserved3: [c_uint; 11],
}

const _: () = assert!(size_of::<DecodeCaps>() == 88);

/// `cudaVideoChromaFormat_420`.
const CHROMA_420: c_uint = 1;

/// A CUDA context on one device, current on this thread while it lives.
pub(super) struct Context {
    api: Api,
    raw: CUcontext,
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context was created by `cuda_context` and nothing uses it any more.
        unsafe { (self.api.ctx_destroy)(self.raw) };
    }
}

/// Creates a context on device `ordinal`, current on this thread.
pub(super) fn cuda_context(api: Api, ordinal: c_int) -> Result<Context, CallError> {
    let mut device: CUdevice = 0;
    let mut raw: CUcontext = ptr::null_mut();
    // SAFETY: libcuda is initialised; the out pointers are live.
    check("cuDeviceGet", unsafe {
        (api.device_get)(&mut device, ordinal)
    })?;
    // SAFETY: as above; flags 0 is the default scheduling.
    check("cuCtxCreate", unsafe {
        (api.ctx_create)(&mut raw, 0, device)
    })?;
    Ok(Context { api, raw })
}

symbol_table! {
    /// NVDEC's one entry point the probe calls, as cuviddec.h declares it.
    pub(super) struct Nvdec {
        required {
            get_decoder_caps = c"cuvidGetDecoderCaps": unsafe extern "C" fn(*mut DecodeCaps) -> c_int;
        }
    }
}

impl Nvdec {
    /// Opens NVDEC by `soname` for good and resolves its entry point.
    pub(super) fn load(soname: &'static str) -> Result<Nvdec, LoadError> {
        Nvdec::resolve(&Library::open(soname)?)
    }

    /// The caps for 8-bit 4:2:0 `codec` (a `cudaVideoCodec`) on the current context.
    pub(super) fn caps(&self, _context: &Context, codec: c_uint) -> Result<DecodeCaps, CallError> {
        let mut caps = DecodeCaps {
            codec,
            chroma_format: CHROMA_420,
            ..DecodeCaps::default()
        };
        // SAFETY: `caps` is a live, fully initialised CUVIDDECODECAPS; a context is current.
        check("cuvidGetDecoderCaps", unsafe {
            (self.get_decoder_caps)(&mut caps)
        })?;
        Ok(caps)
    }
}

/// A `GUID`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Guid {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

/// `NV_ENCODE_API_FUNCTION_LIST`: two words, then entry points. Only the ones used are named;
/// the array is larger than any SDK's list, so the driver never writes past it.
#[repr(C)]
pub(super) struct FunctionList {
    version: u32,
    reserved: u32,
    functions: [*mut c_void; 320],
}

/// Indices in the list (nvEncodeAPI.h order).
const GET_ENCODE_GUID_COUNT: usize = 1;
const GET_ENCODE_GUIDS: usize = 4;
const DESTROY_ENCODER: usize = 27;
const OPEN_ENCODE_SESSION_EX: usize = 29;

/// `NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS`.
#[repr(C)]
struct OpenSessionParams {
    version: u32,
    device_type: u32,
    device: *mut c_void,
    reserved: *mut c_void,
    api_version: u32,
    reserved1: [u32; 253],
    reserved2: [*mut c_void; 64],
}

/// `NV_ENC_DEVICE_TYPE_CUDA`.
const DEVICE_TYPE_CUDA: u32 = 1;

/// `NVENCAPI_VERSION` for API `major.minor`.
pub(super) fn api_version(major: u32, minor: u32) -> u32 {
    major | (minor << 24)
}

/// `NVENCAPI_STRUCT_VERSION(ver)` for API `api`.
pub(super) fn struct_version(api: u32, ver: u32) -> u32 {
    api | (ver << 16) | (0x7 << 28)
}

/// The newest API the probe speaks: SDK 12.0's structures are the ones declared here.
const NEWEST_API: (u32, u32) = (12, 0);

symbol_table! {
    /// NVENC's two exports, as nvEncodeAPI.h declares them; the rest comes through the
    /// function list `NvEncodeAPICreateInstance` fills.
    pub(super) struct Nvenc {
        required {
            max_supported_version = c"NvEncodeAPIGetMaxSupportedVersion":
                unsafe extern "C" fn(*mut u32) -> c_int;
            create_instance = c"NvEncodeAPICreateInstance":
                unsafe extern "C" fn(*mut FunctionList) -> c_int;
        }
    }
}

type GuidCountFn = unsafe extern "C" fn(*mut c_void, *mut u32) -> c_int;
type GuidsFn = unsafe extern "C" fn(*mut c_void, *mut Guid, u32, *mut u32) -> c_int;
type DestroyFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type OpenFn = unsafe extern "C" fn(*mut OpenSessionParams, *mut *mut c_void) -> c_int;

impl Nvenc {
    /// Opens NVENC by `soname` for good and resolves its exports.
    pub(super) fn load(soname: &'static str) -> Result<Nvenc, LoadError> {
        Nvenc::resolve(&Library::open(soname)?)
    }

    /// The encode GUIDs (codecs) a session on `context` offers.
    pub(super) fn codecs(&self, context: &Context) -> Result<Vec<Guid>, CallError> {
        let mut max = 0;
        // SAFETY: `max` is a live out pointer.
        check("NvEncodeAPIGetMaxSupportedVersion", unsafe {
            (self.max_supported_version)(&mut max)
        })?;
        // The driver packs its newest API as major << 4 | minor.
        let driver = (max >> 4, max & 0xf);
        let (major, minor) = driver.min(NEWEST_API);
        let api = api_version(major, minor);
        let mut list = FunctionList {
            version: struct_version(api, 2),
            reserved: 0,
            functions: [ptr::null_mut(); 320],
        };
        // SAFETY: `list` is a zeroed function list stamped with its version, larger than the
        // SDK's.
        check("NvEncodeAPICreateInstance", unsafe {
            (self.create_instance)(&mut list)
        })?;
        let entry = |index: usize, call: &'static str| {
            let f = list.functions[index];
            if f.is_null() {
                Err(CallError::new(call, -1))
            } else {
                Ok(f)
            }
        };
        let open = entry(OPEN_ENCODE_SESSION_EX, "nvEncOpenEncodeSessionEx")?;
        let count_fn = entry(GET_ENCODE_GUID_COUNT, "nvEncGetEncodeGUIDCount")?;
        let guids_fn = entry(GET_ENCODE_GUIDS, "nvEncGetEncodeGUIDs")?;
        let destroy = entry(DESTROY_ENCODER, "nvEncDestroyEncoder")?;
        // SAFETY: the driver filled these slots with the entry points of nvEncodeAPI.h at
        // those indices, whose types are the aliases above.
        let (open, count_fn, guids_fn, destroy) = unsafe {
            (
                std::mem::transmute::<*mut c_void, OpenFn>(open),
                std::mem::transmute::<*mut c_void, GuidCountFn>(count_fn),
                std::mem::transmute::<*mut c_void, GuidsFn>(guids_fn),
                std::mem::transmute::<*mut c_void, DestroyFn>(destroy),
            )
        };
        let mut params = OpenSessionParams {
            version: struct_version(api, 1),
            device_type: DEVICE_TYPE_CUDA,
            device: context.raw.cast(),
            reserved: ptr::null_mut(),
            api_version: api,
            reserved1: [0; 253],
            reserved2: [ptr::null_mut(); 64],
        };
        let mut encoder = ptr::null_mut();
        // SAFETY: `params` names a live CUDA context; `encoder` is a live out pointer.
        check("nvEncOpenEncodeSessionEx", unsafe {
            open(&mut params, &mut encoder)
        })?;
        let mut count = 0;
        // SAFETY: `encoder` is the session just opened.
        let result = check("nvEncGetEncodeGUIDCount", unsafe {
            count_fn(encoder, &mut count)
        })
        .and_then(|()| {
            let mut guids = vec![Guid::default(); count as usize];
            let mut filled = 0;
            // SAFETY: `guids` has room for `count` GUIDs.
            check("nvEncGetEncodeGUIDs", unsafe {
                guids_fn(encoder, guids.as_mut_ptr(), count, &mut filled)
            })?;
            guids.truncate(filled as usize);
            Ok(guids)
        });
        // SAFETY: the session is not used again.
        unsafe { destroy(encoder) };
        result
    }
}
