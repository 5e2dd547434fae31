//! NVIDIA's video engines: NVDEC through `libnvcuvid.so.1` and NVENC through
//! `libnvidia-encode.so.1`, asked on a CUDA context per device which of H.264, HEVC, VP9 and
//! AV1 they decode and which of H.264, HEVC and AV1 they encode.
//!
//! [`nv`] holds the loading layer and the unsafe calls. No stream is decoded or encoded, so
//! devices stay `enumerated`: the capability queries are the evidence.

mod nv;

#[cfg(test)]
mod tests;

use self::nv::{DecodeCaps, Guid, Nvdec, Nvenc};
use crate::backends::common::{capabilities, CallError};
use crate::backends::{cuda, Backend, Variables};
use crate::model::{
    BackendName, BackendReport, Capability, CodecQuery, Device, DeviceKind, Level, Reason,
    ReasonCode, Validation, ValidationKind,
};
use crate::protocol::{Progress, Stage};

/// `cudaVideoCodec` values and the names features use.
const DECODE_CODECS: &[(u32, &str)] = &[(4, "h264"), (8, "hevc"), (10, "vp9"), (11, "av1")];

/// NVENC's codec GUIDs (nvEncodeAPI.h) and the names features use.
const ENCODE_CODECS: &[(Guid, &str)] = &[
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

/// Probes NVDEC and NVENC.
#[derive(Debug)]
pub struct NvcodecBackend;

impl Backend for NvcodecBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with((nv::NVCUVID_SONAME, nv::NVENCODE_SONAME), level, progress)
    }

    /// Each proven device's codecs, named after the interface: `nvdec-av1`, `nvenc-h264`.
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        capabilities::renamed_features(proven, |f| {
            f.strip_prefix("decode-")
                .map(|c| format!("nvdec-{c}"))
                .or_else(|| f.strip_prefix("encode-").map(|c| format!("nvenc-{c}")))
        })
    }

    /// CUDA's variables: NVDEC and NVENC work in a CUDA context.
    fn variables(&self) -> Variables {
        cuda::CudaBackend.variables()
    }
}

/// Probes with the given library names; tests name missing ones.
fn probe_with(
    sonames: (&'static str, &'static str),
    level: Level,
    progress: &mut dyn Progress,
) -> BackendReport {
    progress.stage(Stage::Load);
    let decoder = Nvdec::load(sonames.0);
    let encoder = Nvenc::load(sonames.1);
    if let (Err(dec), Err(enc)) = (&decoder, &encoder) {
        return BackendReport::absent(
            BackendName::Nvcodec,
            ReasonCode::LibraryNotFound,
            format!("neither NVDEC nor NVENC could be loaded: {dec}; {enc}"),
        );
    }
    let mut warnings: Vec<String> = [&decoder.as_ref().err(), &encoder.as_ref().err()]
        .into_iter()
        .flatten()
        .map(|why| format!("not used: {why}"))
        .collect();
    let library = crate::sys::loaded_library("libnvcuvid.so")
        .or_else(|| crate::sys::loaded_library("libnvidia-encode.so"));

    // NVDEC and NVENC need a CUDA context: libcuda is judged exactly as the CUDA backend
    // judges it, so "no NVIDIA device" reads absent/no-device here as there.
    let cuda = match crate::backends::cuda::initialise(
        BackendName::Nvcodec,
        &crate::backends::cuda::loader::default_candidates(),
        progress,
    ) {
        Ok(cuda) => cuda,
        Err(report) => {
            return BackendReport {
                library,
                warnings,
                ..*report
            }
        }
    };
    let ordinals = match cuda.devices(BackendName::Nvcodec) {
        Ok(ids) => 0..std::ffi::c_int::try_from(ids.len()).unwrap_or(std::ffi::c_int::MAX),
        Err(report) => {
            return BackendReport {
                library,
                warnings,
                ..*report
            }
        }
    };
    let api = cuda.api;

    progress.stage(Stage::Enumerate);
    let mut report = cuda.report(BackendName::Nvcodec, crate::model::Status::Enumerated, None);
    report.library = library;
    report.warnings.append(&mut warnings);
    for ordinal in ordinals {
        let mut device = Device::new(format!("CUDA device {ordinal}"), "NVIDIA", DeviceKind::Gpu);
        match nv::cuda_context(api, ordinal) {
            Ok(context) => {
                let started = std::time::Instant::now();
                let decode: Vec<(&str, Result<DecodeCaps, CallError>)> = match &decoder {
                    Ok(nvdec) => DECODE_CODECS
                        .iter()
                        .map(|&(codec, name)| (name, nvdec.caps(&context, codec)))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                let encode = encoder.as_ref().ok().map(|nvenc| nvenc.codecs(&context));
                apply(&mut device, &decode, encode.as_ref());
                if level >= Level::Standard {
                    let asked: Vec<&str> = decode.iter().map(|(name, _)| *name).collect();
                    judge_queries(&mut device, &asked, encode.is_some(), started);
                }
            }
            Err(error) => {
                device.status = crate::model::Status::Unusable;
                device.reason = Some(Reason::new(ReasonCode::DriverError, error.to_string()));
            }
        }
        report.devices.push(device);
    }
    report.settle_status();
    progress.partial(&report);
    report
}

/// At levels standard and full: a device whose CUDA context opened and whose NVDEC and NVENC
/// answered every capability query is `validated` (kind `codec-query`, naming the codecs NVDEC
/// was asked about and, when NVENC answered, the codecs looked up in its list): the engines are
/// there and talk to this driver. No stream is decoded or encoded, so that is all it proves; a
/// device with a failed query stays `enumerated` and says which.
fn judge_queries(device: &mut Device, decode: &[&str], encode: bool, started: std::time::Instant) {
    if device.status != crate::model::Status::Enumerated
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
fn apply(
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
