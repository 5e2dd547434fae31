#![allow(unsafe_code)]
//! Why unsafe: NVDEC's and NVENC's entry points are resolved here as C function pointers.
//!
//! NVDEC (`libnvcuvid.so.1`) and NVENC (`libnvidia-encode.so.1`) as far as the probe uses
//! them: declarations transcribed from the Video Codec SDK 12 headers (`cuviddec.h`,
//! `nvEncodeAPI.h`), and the libraries, opened by soname and never closed (design §3). Both
//! need a CUDA context, which the CUDA backend makes: NVDEC answers for the current one, NVENC
//! opens a session on one.

use std::ffi::{c_int, c_uint, c_void};
use std::mem::size_of;

use crate::backends::common::{symbol_table, Library, LoadError};

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
pub(super) const CHROMA_420: c_uint = 1;

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
    pub(super) version: u32,
    pub(super) reserved: u32,
    pub(super) functions: [*mut c_void; FUNCTION_SLOTS],
}

/// Slots in [`FunctionList`].
pub(super) const FUNCTION_SLOTS: usize = 320;

/// Indices in the list (nvEncodeAPI.h order).
pub(super) const GET_ENCODE_GUID_COUNT: usize = 1;
pub(super) const GET_ENCODE_GUIDS: usize = 4;
pub(super) const DESTROY_ENCODER: usize = 27;
pub(super) const OPEN_ENCODE_SESSION_EX: usize = 29;

/// `NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS`.
#[repr(C)]
pub(super) struct OpenSessionParams {
    pub(super) version: u32,
    pub(super) device_type: u32,
    pub(super) device: *mut c_void,
    pub(super) reserved: *mut c_void,
    pub(super) api_version: u32,
    pub(super) reserved1: [u32; 253],
    pub(super) reserved2: [*mut c_void; 64],
}

/// `NV_ENC_DEVICE_TYPE_CUDA`.
pub(super) const DEVICE_TYPE_CUDA: u32 = 1;

/// `NVENCAPI_VERSION` for API `major.minor`.
pub(super) fn api_version(major: u32, minor: u32) -> u32 {
    major | (minor << 24)
}

/// `NVENCAPI_STRUCT_VERSION(ver)` for API `api`.
pub(super) fn struct_version(api: u32, ver: u32) -> u32 {
    api | (ver << 16) | (0x7 << 28)
}

/// The newest API the probe speaks: SDK 12.0's structures are the ones declared here.
pub(super) const NEWEST_API: (u32, u32) = (12, 0);

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

pub(super) type GuidCountFn = unsafe extern "C" fn(*mut c_void, *mut u32) -> c_int;
pub(super) type GuidsFn = unsafe extern "C" fn(*mut c_void, *mut Guid, u32, *mut u32) -> c_int;
pub(super) type DestroyFn = unsafe extern "C" fn(*mut c_void) -> c_int;
pub(super) type OpenFn = unsafe extern "C" fn(*mut OpenSessionParams, *mut *mut c_void) -> c_int;

impl Nvenc {
    /// Opens NVENC by `soname` for good and resolves its exports.
    pub(super) fn load(soname: &'static str) -> Result<Nvenc, LoadError> {
        Nvenc::resolve(&Library::open(soname)?)
    }
}
