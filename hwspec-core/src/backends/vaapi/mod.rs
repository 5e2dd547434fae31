//! VA-API through `libva.so.2` and `libva-drm.so.2`: one device per DRM render node, with the
//! codecs its driver decodes and encodes, validated by creating a decode context.
//!
//! [`sys`] declares libva, [`api`] wraps it safely, [`validate`] creates the decode context;
//! this module turns what they return into a report.

mod api;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use self::api::{Display, Va};
use self::sys::{Entrypoint, Profile};
use crate::backends::common::capabilities;
use crate::backends::{Backend, Variables};
use crate::host::{cannot_open, node_group, render_nodes};
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

/// Where DRM render nodes live.
const DRI_DIR: &str = "/dev/dri";

/// `VAEntrypointVLD`: full decode in the driver.
pub(super) const ENTRYPOINT_VLD: Entrypoint = 1;
/// `VAEntrypointEncSlice` and `VAEntrypointEncSliceLP` (the low-power fixed-function path).
const ENCODE_ENTRYPOINTS: &[Entrypoint] = &[6, 8];

/// `VAProfile` values per codec (va.h of libva 2.17).
const H264: &[Profile] = &[5, 6, 7, 13, 36];
const HEVC: &[Profile] = &[17, 18, 23, 24, 25, 26, 27, 28, 29, 30, 31, 34];
const VP9: &[Profile] = &[19, 20, 21, 22];
const AV1: &[Profile] = &[32, 33];

/// Feature names, with the profiles and entry points that prove them.
const CODEC_FEATURES: &[(&str, &[Profile], &[Entrypoint])] = &[
    ("decode-h264", H264, &[ENTRYPOINT_VLD]),
    ("decode-hevc", HEVC, &[ENTRYPOINT_VLD]),
    ("decode-av1", AV1, &[ENTRYPOINT_VLD]),
    ("decode-vp9", VP9, &[ENTRYPOINT_VLD]),
    ("encode-h264", H264, ENCODE_ENTRYPOINTS),
    ("encode-hevc", HEVC, ENCODE_ENTRYPOINTS),
    ("encode-av1", AV1, ENCODE_ENTRYPOINTS),
];

/// Probes VA-API.
#[derive(Debug)]
pub struct VaapiBackend;

impl Backend for VaapiBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(
            (sys::LIBVA_SONAME, sys::LIBVA_DRM_SONAME),
            Path::new(DRI_DIR),
            level,
            progress,
        )
    }

    /// Each proven device's decode and encode profiles (`vaapi-decode-h264`).
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        capabilities::renamed_features(proven, |f| {
            (f.starts_with("decode-") || f.starts_with("encode-")).then(|| format!("vaapi-{f}"))
        })
    }

    fn variables(&self) -> Variables {
        Variables {
            loaders: &["LIBVA_"],
            ..Variables::default()
        }
    }
}

/// Probes with the given library names and DRM directory; tests name missing ones.
fn probe_with(
    sonames: (&'static str, &'static str),
    dri_dir: &Path,
    level: Level,
    progress: &mut dyn Progress,
) -> BackendReport {
    progress.stage(Stage::Load);
    let va = match Va::load(sonames.0, sonames.1) {
        Ok(va) => va,
        Err(error) => return error.report(BackendName::Vaapi, "libva", "libva.so"),
    };
    let library = crate::sys::loaded_library("libva.so");

    progress.stage(Stage::Init);
    let nodes = render_nodes(dri_dir);
    if nodes.is_empty() {
        return BackendReport {
            library,
            ..BackendReport::absent(
                BackendName::Vaapi,
                ReasonCode::NoDevice,
                format!("no DRM render node ({}/renderD*)", dri_dir.display()),
            )
        };
    }
    let groups = crate::sys::etc_group();
    let mut report = BackendReport::new(BackendName::Vaapi, Status::Enumerated, None);
    report.library = library;
    let mut displays = Vec::new();
    for node in &nodes {
        let (device, display) = open_node(&va, node, &groups);
        report.devices.push(device);
        displays.push(display);
    }
    report.runtime_version = report.devices.iter().find_map(|d| d.api_version.clone());

    progress.stage(Stage::Enumerate);
    for (device, display) in report.devices.iter_mut().zip(&displays) {
        if let Some(display) = display {
            describe(display, device);
        }
    }
    report.settle_status();
    progress.partial(&report);
    if level == Level::Quick {
        return report;
    }

    progress.stage(Stage::Kernel);
    for (device, display) in report.devices.iter_mut().zip(&displays) {
        if let (Some(display), Status::Enumerated) = (display, device.status) {
            validate::device(display, device);
        }
    }
    report.settle_status();
    report
}

/// Opens `node` and initialises a VA display on it. The device is `unusable` when either
/// fails; otherwise it carries the API version and is `enumerated`.
fn open_node(va: &Va, node: &Path, etc_group: &str) -> (Device, Option<Display>) {
    let mut device = Device::new(node.display().to_string(), "unknown", DeviceKind::Gpu);
    device
        .properties
        .insert("node".into(), node.display().to_string());
    if let Some(vendor_id) = pci_vendor_id(node) {
        device.vendor = crate::host::vendor_name_of_sysfs_id(&vendor_id)
            .unwrap_or(&vendor_id)
            .to_owned();
        device.properties.insert("pci_vendor_id".into(), vendor_id);
    }
    let fd = match OpenOptions::new().read(true).write(true).open(node) {
        Ok(file) => file.into(),
        Err(error) => {
            device.status = Status::Unusable;
            device.reason = Some(open_failure(node, &error, etc_group));
            return (device, None);
        }
    };
    match va.initialize(fd) {
        Ok((display, (major, minor))) => {
            device.api_version = Some(format!("{major}.{minor}"));
            (device, Some(display))
        }
        Err(error) => {
            device.status = Status::Unusable;
            device.reason = Some(Reason::new(
                ReasonCode::DriverError,
                format!("{}: {error}", node.display()),
            ));
            (device, None)
        }
    }
}

/// Why a node could not be opened: a refused open names the node's group, as the user must
/// join it (usually `render`).
fn open_failure(node: &Path, error: &io::Error, etc_group: &str) -> Reason {
    if error.kind() == io::ErrorKind::PermissionDenied {
        Reason::new(
            ReasonCode::PermissionDenied,
            cannot_open(node, &node_group(node, etc_group)),
        )
    } else {
        Reason::new(
            ReasonCode::DriverError,
            format!("opening {} failed: {error}", node.display()),
        )
    }
}

/// The PCI vendor id of the device behind a render node, from sysfs (`0x8086`).
fn pci_vendor_id(node: &Path) -> Option<String> {
    let name = node.file_name()?.to_string_lossy().into_owned();
    let vendor = format!("/sys/class/drm/{name}/device/vendor");
    let text =
        crate::sys::read_regular_text(Path::new(&vendor), crate::sys::SMALL_FILE_BYTES).ok()?;
    Some(text.trim().to_owned())
}

/// Names the device by its driver and lists its codecs. A failed profile query makes the
/// device `unusable`; a failed entry point query leaves that profile out, with a warning.
fn describe(display: &Display, device: &mut Device) {
    let vendor_string = display.vendor();
    if !vendor_string.is_empty() {
        device.name = vendor_string.clone();
    }
    device.kind = device_kind(&vendor_string);
    let profiles = match display.profiles() {
        Ok(profiles) => profiles,
        Err(error) => {
            device.status = Status::Unusable;
            device.reason = Some(Reason::new(ReasonCode::DriverError, error.to_string()));
            return;
        }
    };
    let mut supported = Vec::new();
    let mut failures = Vec::new();
    for profile in profiles {
        match display.entrypoints(profile) {
            Ok(entrypoints) => supported.push((profile, entrypoints)),
            Err(error) => failures.push(format!("profile {profile}: {error}")),
        }
    }
    apply_codecs(device, &supported);
    if !failures.is_empty() {
        device
            .properties
            .insert("query_failures".into(), failures.join("; "));
    }
}

/// Features and properties from `(profile, entry points)` pairs: pure, so tests can feed it.
fn apply_codecs(device: &mut Device, supported: &[(Profile, Vec<Entrypoint>)]) {
    device.features = codec_features(supported).map(str::to_owned).collect();
    let listed: Vec<String> = supported
        .iter()
        .map(|(profile, entrypoints)| {
            let names: Vec<String> = entrypoints.iter().map(|&e| entrypoint_name(e)).collect();
            format!("{}: {}", profile_name(*profile), names.join(" "))
        })
        .collect();
    device
        .properties
        .insert("profiles".into(), listed.join("; "));
}

/// The features proven by the supported `(profile, entry points)` pairs.
fn codec_features(
    supported: &[(Profile, Vec<Entrypoint>)],
) -> impl Iterator<Item = &'static str> + '_ {
    CODEC_FEATURES
        .iter()
        .filter(|(_, profiles, entrypoints)| {
            supported.iter().any(|(profile, offered)| {
                profiles.contains(profile) && offered.iter().any(|e| entrypoints.contains(e))
            })
        })
        .map(|(feature, _, _)| *feature)
}

/// Software drivers are named in the vendor string; none ships for VA-API today, but a Mesa
/// VA driver on llvmpipe or softpipe would say so.
fn device_kind(vendor_string: &str) -> DeviceKind {
    let lower = vendor_string.to_ascii_lowercase();
    if ["llvmpipe", "softpipe", "swrast"]
        .iter()
        .any(|name| lower.contains(name))
    {
        DeviceKind::Software
    } else {
        DeviceKind::Gpu
    }
}

/// va.h's name for a profile, without the `VAProfile` prefix, or its number.
pub(super) fn profile_name(profile: Profile) -> String {
    const NAMES: &[(Profile, &str)] = &[
        (0, "MPEG2Simple"),
        (1, "MPEG2Main"),
        (2, "MPEG4Simple"),
        (3, "MPEG4AdvancedSimple"),
        (4, "MPEG4Main"),
        (5, "H264Baseline"),
        (6, "H264Main"),
        (7, "H264High"),
        (8, "VC1Simple"),
        (9, "VC1Main"),
        (10, "VC1Advanced"),
        (11, "H263Baseline"),
        (12, "JPEGBaseline"),
        (13, "H264ConstrainedBaseline"),
        (14, "VP8Version0_3"),
        (15, "H264MultiviewHigh"),
        (16, "H264StereoHigh"),
        (17, "HEVCMain"),
        (18, "HEVCMain10"),
        (19, "VP9Profile0"),
        (20, "VP9Profile1"),
        (21, "VP9Profile2"),
        (22, "VP9Profile3"),
        (23, "HEVCMain12"),
        (24, "HEVCMain422_10"),
        (25, "HEVCMain422_12"),
        (26, "HEVCMain444"),
        (27, "HEVCMain444_10"),
        (28, "HEVCMain444_12"),
        (29, "HEVCSccMain"),
        (30, "HEVCSccMain10"),
        (31, "HEVCSccMain444"),
        (32, "AV1Profile0"),
        (33, "AV1Profile1"),
        (34, "HEVCSccMain444_10"),
        (35, "Protected"),
        (36, "H264High10"),
    ];
    NAMES
        .iter()
        .find(|(value, _)| *value == profile)
        .map_or_else(|| format!("profile {profile}"), |(_, name)| (*name).into())
}

/// va.h's name for an entry point, without the `VAEntrypoint` prefix, or its number.
fn entrypoint_name(entrypoint: Entrypoint) -> String {
    match entrypoint {
        1 => "VLD".into(),
        2 => "IZZ".into(),
        3 => "IDCT".into(),
        4 => "MoComp".into(),
        5 => "Deblocking".into(),
        6 => "EncSlice".into(),
        7 => "EncPicture".into(),
        8 => "EncSliceLP".into(),
        10 => "VideoProc".into(),
        11 => "FEI".into(),
        12 => "Stats".into(),
        13 => "ProtectedTEEComm".into(),
        14 => "ProtectedContent".into(),
        other => other.to_string(),
    }
}
