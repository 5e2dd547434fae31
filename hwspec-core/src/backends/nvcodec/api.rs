#![allow(unsafe_code)]
//! Why unsafe: this is the one file that calls NVDEC's and NVENC's entry points, each behind a
//! safe function whose arguments make the call sound.
//!
//! The two capability queries the probe makes, on a CUDA context of the CUDA backend's
//! ([`CudaContext`], destroyed on drop), each returning a [`CallError`] naming the call.

use std::ffi::{c_uint, c_void};
use std::ptr;

use super::sys::{
    api_version, struct_version, DecodeCaps, DestroyFn, FunctionList, Guid, GuidCountFn, GuidsFn,
    Nvdec, Nvenc, OpenFn, OpenSessionParams, CHROMA_420, DESTROY_ENCODER, DEVICE_TYPE_CUDA,
    FUNCTION_SLOTS, GET_ENCODE_GUIDS, GET_ENCODE_GUID_COUNT, NEWEST_API, OPEN_ENCODE_SESSION_EX,
};
use crate::backends::common::{check_call as check, CallError};
use crate::backends::cuda::CudaContext;

impl Nvdec {
    /// The caps for 8-bit 4:2:0 `codec` (a `cudaVideoCodec`) on the current context.
    pub(super) fn caps(
        &self,
        _context: &CudaContext<'_>,
        codec: c_uint,
    ) -> Result<DecodeCaps, CallError> {
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

impl Nvenc {
    /// The encode GUIDs (codecs) a session on `context` offers.
    pub(super) fn codecs(&self, context: &CudaContext<'_>) -> Result<Vec<Guid>, CallError> {
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
            functions: [ptr::null_mut(); FUNCTION_SLOTS],
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
            device: context.raw().cast(),
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
