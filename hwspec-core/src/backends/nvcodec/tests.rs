use super::sys::{DecodeCaps, Guid};
use super::validate::{apply, judge_queries, ENCODE_CODECS};
use super::*;
use crate::backends::common::CallError;
use crate::backends::conformance;
use crate::model::ValidationKind;

#[test]
fn missing_libraries_are_absent_and_named() {
    let missing = (
        "libnvcuvid-hwspec-missing.so.1",
        "libnvidia-encode-hwspec-missing.so.1",
    );
    conformance::missing_runtime(&[missing.0, missing.1], |level, progress| {
        probe_with(missing, level, progress)
    });
}

/// This machine has no NVIDIA driver: the real sonames are absent.
#[test]
fn without_the_nvidia_driver_the_backend_is_absent() {
    if Nvdec::load(sys::NVCUVID_SONAME).is_ok() || Nvenc::load(sys::NVENCODE_SONAME).is_ok() {
        return; // a machine with the driver: nothing to check about absence
    }
    let report = NvcodecBackend.probe(Level::Standard, &mut crate::protocol::NoProgress);
    assert_eq!(report.status, Status::Absent);
    let message = report.reason.unwrap().message;
    assert!(message.contains(sys::NVCUVID_SONAME), "{message}");
    assert!(message.contains(sys::NVENCODE_SONAME), "{message}");
}

fn caps(supported: bool) -> DecodeCaps {
    DecodeCaps {
        is_supported: u8::from(supported),
        num_nvdecs: 2,
        max_width: 8192,
        max_height: 8192,
        ..DecodeCaps::default()
    }
}

#[test]
fn answers_map_to_features() {
    let mut device = Device::new("CUDA device 0", "NVIDIA", DeviceKind::Gpu);
    let decode = [
        ("h264", Ok(caps(true))),
        ("hevc", Ok(caps(true))),
        ("vp9", Ok(caps(false))),
        ("av1", Err(CallError::new("cuvidGetDecoderCaps", 801))),
    ];
    let encode = Ok(vec![
        ENCODE_CODECS[2].0,
        ENCODE_CODECS[0].0,
        Guid::default(),
    ]);
    apply(&mut device, &decode, Some(&encode));
    assert_eq!(
        device.features,
        ["decode-h264", "decode-hevc", "encode-h264", "encode-av1"]
    );
    assert_eq!(
        device.properties["decode_h264_max"],
        "8192x8192 on 2 NVDEC(s)"
    );
    assert_eq!(
        device.properties["query_failures"],
        "decode av1: cuvidGetDecoderCaps returned 801"
    );
}

#[test]
fn nvenc_versions_are_packed_as_the_sdk_does() {
    // NVENCAPI_VERSION of SDK 12.0 and NV_ENCODE_API_FUNCTION_LIST_VER from it.
    assert_eq!(sys::api_version(12, 0), 12);
    assert_eq!(sys::api_version(11, 1), 11 | 1 << 24);
    assert_eq!(sys::struct_version(12, 2), 0x7002_000c);
}

#[test]
fn answered_queries_validate_at_standard_and_failures_do_not() {
    let started = std::time::Instant::now();
    let mut answered = Device::new("CUDA device 0", "NVIDIA", DeviceKind::Gpu);
    answered.features.push("decode-h264".into());
    judge_queries(
        &mut answered,
        &["h264", "hevc", "vp9", "av1"],
        true,
        started,
    );
    assert_eq!(answered.status, Status::Validated);
    let [query] = answered.validations.as_slice() else {
        panic!("{:?}", answered.validations)
    };
    assert!(query.passed);
    let ValidationKind::CodecQuery(codecs) = &query.kind else {
        panic!("{query:?}")
    };
    assert_eq!(codecs.decode, ["h264", "hevc", "vp9", "av1"]);
    assert_eq!(codecs.encode, ["h264", "hevc", "av1"]);

    let mut encoder_only = Device::new("CUDA device 2", "NVIDIA", DeviceKind::Gpu);
    judge_queries(&mut encoder_only, &[], true, started);
    let ValidationKind::CodecQuery(codecs) = &encoder_only.validations[0].kind else {
        panic!("{encoder_only:?}")
    };
    assert!(codecs.decode.is_empty());
    assert_eq!(codecs.encode.len(), 3);

    let mut neither = Device::new("CUDA device 3", "NVIDIA", DeviceKind::Gpu);
    judge_queries(&mut neither, &[], false, started);
    assert_eq!(neither.status, Status::Enumerated, "no query, no evidence");
    assert!(neither.validations.is_empty());

    let mut partial = Device::new("CUDA device 1", "NVIDIA", DeviceKind::Gpu);
    partial.properties.insert(
        "query_failures".into(),
        "encode: NV_ENC_ERR_NO_ENCODE_DEVICE".into(),
    );
    judge_queries(&mut partial, &["h264"], true, started);
    assert_eq!(partial.status, Status::Enumerated);
    assert!(partial.validations.is_empty());
}
