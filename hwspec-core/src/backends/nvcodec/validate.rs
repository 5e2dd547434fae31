//! The codec queries of one device, and what they prove: NVDEC asked, for each codec, whether
//! it decodes 8-bit 4:2:0 and up to what size; NVENC asked which codecs a session offers. At
//! levels `standard` and `full`, a device that answered every query is validated with kind
//! `codec-query`.

use std::time::Instant;

use super::sys::{DecodeCaps, Guid, Nvdec, Nvenc};
use crate::backends::common::CallError;
use crate::backends::cuda::CudaContext;
use crate::model::{CodecQuery, Device, Level, Status, Validation, ValidationKind};

/// `cudaVideoCodec` values and the names features use.
pub(super) const DECODE_CODECS: &[(u32, &str)] =
    &[(4, "h264"), (8, "hevc"), (10, "vp9"), (11, "av1")];

/// NVENC's codec GUIDs (nvEncodeAPI.h) and the names features use.
pub(super) const ENCODE_CODECS: &[(Guid, &str)] = &[
    (
        Guid {
            data1: 0x6bc8_2762,
            data2: 0x4e63,
            data3: 0x4ca4,
            data4: [0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf],
        },
        "h264",
    ),
    (
        Guid {
            data1: 0x790c_dc88,
            data2: 0x4522,
            data3: 0x4d7b,
            data4: [0x94, 0x25, 0xbd, 0xa9, 0x97, 0x5f, 0x76, 0x03],
        },
        "hevc",
    ),
    (
        Guid {
            data1: 0x0a35_2289,
            data2: 0x0aa7,
            data3: 0x4759,
            data4: [0x86, 0x2d, 0x5d, 0x15, 0xcd, 0x16, 0xd2, 0x54],
        },
        "av1",
    ),
];

/// Asks NVDEC (when loaded) about every codec of [`DECODE_CODECS`] and NVENC (when loaded)
/// for its codecs, on `context` of `device`, and records the answers on `device`.
pub(super) fn query(
    device: &mut Device,
    context: &CudaContext<'_>,
    decoder: Option<&Nvdec>,
    encoder: Option<&Nvenc>,
    level: Level,
) {
    let started = Instant::now();
    let decode: Vec<(&str, Result<DecodeCaps, CallError>)> = match decoder {
        Some(nvdec) => DECODE_CODECS
            .iter()
            .map(|&(codec, name)| (name, nvdec.caps(context, codec)))
            .collect(),
        None => Vec::new(),
    };
    let encode = encoder.map(|nvenc| nvenc.codecs(context));
    apply(device, &decode, encode.as_ref());
    if level >= Level::Standard {
        let asked: Vec<&str> = decode.iter().map(|(name, _)| *name).collect();
        judge_queries(device, &asked, encode.is_some(), started);
    }
}

/// At levels standard and full: a device whose CUDA context opened and whose NVDEC and NVENC
/// answered every capability query is `validated` (kind `codec-query`, naming the codecs NVDEC
/// was asked about and, when NVENC answered, the codecs looked up in its list): the engines are
/// there and talk to this driver. No stream is decoded or encoded, so that is all it proves; a
/// device with a failed query stays `enumerated` and says which.
pub(super) fn judge_queries(device: &mut Device, decode: &[&str], encode: bool, started: Instant) {
    if device.status != Status::Enumerated
        || device.properties.contains_key("query_failures")
        || (decode.is_empty() && !encode)
    {
        return;
    }
    let encode = if encode {
        ENCODE_CODECS
            .iter()
            .map(|(_, name)| (*name).to_owned())
            .collect()
    } else {
        Vec::new()
    };
    device.validations.push(Validation {
        kind: ValidationKind::CodecQuery(CodecQuery {
            decode: decode.iter().map(|name| (*name).to_owned()).collect(),
            encode,
        }),
        passed: true,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    });
    device.judge_validations();
}

/// Features and properties from the answers: pure, so tests can feed it any.
pub(super) fn apply(
    device: &mut Device,
    decode: &[(&str, Result<DecodeCaps, CallError>)],
    encode: Option<&Result<Vec<Guid>, CallError>>,
) {
    let mut failures = Vec::new();
    for (name, caps) in decode {
        match caps {
            Ok(caps) if caps.is_supported != 0 => {
                device.features.push(format!("decode-{name}"));
                device.properties.insert(
                    format!("decode_{name}_max"),
                    format!(
                        "{}x{} on {} NVDEC(s)",
                        caps.max_width, caps.max_height, caps.num_nvdecs
                    ),
                );
            }
            Ok(_) => {}
            Err(error) => failures.push(format!("decode {name}: {error}")),
        }
    }
    match encode {
        Some(Ok(guids)) => device.features.extend(
            ENCODE_CODECS
                .iter()
                .filter(|(guid, _)| guids.contains(guid))
                .map(|(_, name)| format!("encode-{name}")),
        ),
        Some(Err(error)) => failures.push(format!("encode: {error}")),
        None => {}
    }
    if !failures.is_empty() {
        device
            .properties
            .insert("query_failures".into(), failures.join("; "));
    }
}
