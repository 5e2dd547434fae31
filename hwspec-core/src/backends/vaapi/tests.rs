use crate::backends::conformance;
use std::io;
use std::path::Path;

use super::api::va_error;
use super::validate::{record_validation, validation_profile};
use super::*;
use crate::model::{Validation, ValidationKind};
use crate::protocol::Recorder;
use crate::testing::TempDir;

const REAL: (&str, &str) = (sys::LIBVA_SONAME, sys::LIBVA_DRM_SONAME);

#[test]
fn a_missing_libva_is_absent_and_named() {
    let dir = TempDir::new("vaapi-nolib");
    let missing = "libva-hwspec-missing.so.2";
    conformance::missing_runtime(&[missing], |level, progress| {
        probe_with(
            (missing, sys::LIBVA_DRM_SONAME),
            dir.path(),
            level,
            progress,
        )
    });
}

/// Needs `libva2` and `libva-drm2` (scripts/test.sh installs them).
#[test]
fn no_render_node_is_absent_with_no_device() {
    let mut progress = Recorder::default();
    let dir = TempDir::new("vaapi-nonode");
    let report = probe_with(REAL, dir.path(), Level::Standard, &mut progress);
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.starts_with("no DRM render node ("),
        "{}",
        reason.message
    );
    assert!(reason.message.ends_with("/renderD*)"), "{}", reason.message);
    assert!(report.library.unwrap().contains("libva.so.2"));
    assert_eq!(progress.stages, [Stage::Load, Stage::Init]);
}

/// The real libva refuses a node that is not a DRM device: `unusable`, naming the node.
#[test]
fn a_node_that_is_not_a_drm_device_is_unusable() {
    let dir = TempDir::new("vaapi-notdrm");
    let node = dir.path().join("renderD128");
    std::fs::write(&node, b"").unwrap();
    std::fs::write(dir.path().join("card0"), b"").unwrap();
    let mut progress = Recorder::default();
    let report = probe_with(REAL, dir.path(), Level::Standard, &mut progress);
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    assert_eq!(report.devices.len(), 1, "card0 is not a render node");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert!(
        reason.message.contains(&node.display().to_string()),
        "{}",
        reason.message
    );
    assert!(
        reason.message.contains("vaGetDisplayDRM"),
        "{}",
        reason.message
    );
    assert_eq!(
        progress.stages,
        [Stage::Load, Stage::Init, Stage::Enumerate, Stage::Kernel]
    );
    assert_eq!(progress.partials.len(), 1);
}

#[test]
fn a_refused_open_names_the_node_and_its_group() {
    let dir = TempDir::new("vaapi-denied");
    let node = dir.path().join("renderD128");
    std::fs::write(&node, b"").unwrap();
    let gid = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(&node).unwrap());
    let etc_group = format!("render:x:{gid}:\nvideo:x:44:\n");
    let error = io::Error::from(io::ErrorKind::PermissionDenied);
    let reason = open_failure(&node, &error, &etc_group);
    assert_eq!(reason.code, ReasonCode::PermissionDenied);
    assert!(reason.message.contains("renderD128"), "{}", reason.message);
    assert!(
        reason.message.contains("group render"),
        "{}",
        reason.message
    );

    let other = io::Error::from(io::ErrorKind::NotFound);
    assert_eq!(
        open_failure(&node, &other, "").code,
        ReasonCode::DriverError
    );
    assert_eq!(crate::sys::group_name("video:x:44:\n", 7), "gid 7");
}

/// A typical Intel iHD answer: H.264 and HEVC decode and low-power encode, VP9 and AV1
/// decode only, JPEG and video processing left out of the features.
fn intel_like() -> Vec<(Profile, Vec<Entrypoint>)> {
    vec![
        (13, vec![1, 6, 8]),
        (6, vec![1, 6, 8]),
        (7, vec![1, 6, 8]),
        (17, vec![1, 8]),
        (18, vec![1, 8]),
        (19, vec![1]),
        (32, vec![1]),
        (12, vec![1, 7]),
        (-1, vec![10]),
    ]
}

#[test]
fn codecs_map_to_features_by_profile_and_entry_point() {
    let mut device = Device::new("/dev/dri/renderD128", "Intel", DeviceKind::Gpu);
    apply_codecs(&mut device, &intel_like());
    assert_eq!(
        device.features,
        [
            "decode-h264",
            "decode-hevc",
            "decode-av1",
            "decode-vp9",
            "encode-h264",
            "encode-hevc"
        ]
    );
    let profiles = &device.properties["profiles"];
    assert!(
        profiles.starts_with("H264ConstrainedBaseline: VLD EncSlice EncSliceLP; "),
        "{profiles}"
    );
    assert!(profiles.ends_with("profile -1: VideoProc"), "{profiles}");

    // Encode without decode, and an unknown profile, prove only what they say.
    let encode_only = vec![(32, vec![6]), (99, vec![1])];
    let features: Vec<_> = codec_features(&encode_only).collect();
    assert_eq!(features, ["encode-av1"]);
    assert_eq!(validation_profile(&encode_only), None);
}

#[test]
fn validation_prefers_h264_then_the_other_8_bit_decoders() {
    assert_eq!(validation_profile(&intel_like()), Some(13));
    assert_eq!(
        validation_profile(&[(18, vec![1]), (19, vec![1])]),
        Some(19)
    );
    assert_eq!(validation_profile(&[(18, vec![1])]), None, "10-bit only");
}

#[test]
fn a_context_failure_is_a_failed_device() {
    let mut device = Device::new("Intel iHD driver", "Intel", DeviceKind::Gpu);
    record_validation(&mut device, 6, Ok(()), 1.5);
    assert_eq!(device.status, Status::Validated);
    let context = |device: &Device| match &device.validations[..] {
        [Validation {
            kind: ValidationKind::VaContext(context),
            passed,
            ..
        }] => (context.profile.clone(), *passed),
        other => panic!("{other:?}"),
    };
    assert_eq!(context(&device), ("H264Main".to_owned(), true));

    let error = va_error("vaCreateContext", 0x11, "resolution not supported".into());
    let mut device = Device::new("Intel iHD driver", "Intel", DeviceKind::Gpu);
    record_validation(&mut device, 6, Err(error), 1.5);
    assert_eq!(device.status, Status::Failed);
    assert_eq!(context(&device), ("H264Main".to_owned(), false));
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LaunchFailed);
    assert!(reason.message.contains("H264Main"), "{}", reason.message);
    assert!(
        reason
            .message
            .contains("vaCreateContext returned resolution not supported (0x11)"),
        "{}",
        reason.message
    );
}

#[test]
fn software_drivers_are_software_and_names_are_spelled_as_in_va_h() {
    assert_eq!(
        device_kind("Mesa Gallium driver 22.3.6 for llvmpipe"),
        DeviceKind::Software
    );
    assert_eq!(
        device_kind("Intel iHD driver for Intel(R) Gen Graphics - 23.1.1 ()"),
        DeviceKind::Gpu
    );
    assert_eq!(profile_name(32), "AV1Profile0");
    assert_eq!(profile_name(77), "profile 77");
    assert_eq!(entrypoint_name(8), "EncSliceLP");
    assert!(Path::new(DRI_DIR).is_absolute());
}
