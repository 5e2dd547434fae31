//! The shapes the backends' capability rules share: an API version taken from the best proven
//! device, a runtime's version once any of its devices is proven, and flags named after device
//! features.

use crate::model::{BackendReport, Capability, Device, DeviceKind};
use crate::version::{self, major_minor};

/// `name` with the highest `major.minor` among `versions` (`1.10` above `1.9`); `None` when
/// none of them reads as one.
pub(crate) fn highest<'a>(
    name: &str,
    versions: impl IntoIterator<Item = &'a str>,
) -> Option<Capability> {
    versions
        .into_iter()
        .filter_map(major_minor)
        .max_by(|a, b| version::order(a, b))
        .map(|v| Capability::versioned(name, v))
}

/// `name` with the highest API version of the `devices`.
pub(crate) fn highest_api(name: &str, devices: &[&Device]) -> Option<Capability> {
    highest(
        name,
        devices.iter().filter_map(|d| d.api_version.as_deref()),
    )
}

/// `name` with the runtime's `major.minor` version (a flag when it reports none): the CUDA,
/// ROCm, Level Zero and EGL versions belong to the runtime, not to a device.
pub(crate) fn runtime(name: &str, report: &BackendReport) -> Capability {
    match report.runtime_version.as_deref().and_then(major_minor) {
        Some(version) => Capability::versioned(name, version),
        None => Capability::flag(name),
    }
}

/// Whether any of `devices` is a hardware GPU.
pub(crate) fn any_gpu(devices: &[&Device]) -> bool {
    devices.iter().any(|d| d.kind == DeviceKind::Gpu)
}

/// Whether any of `devices` has `feature`.
pub(crate) fn any_with(devices: &[&Device], feature: &str) -> bool {
    devices.iter().any(|d| d.has_feature(feature))
}

/// A flag for each feature of `devices` that `rename` names a capability.
pub(crate) fn renamed_features(
    devices: &[&Device],
    rename: impl Fn(&str) -> Option<String>,
) -> Vec<Capability> {
    devices
        .iter()
        .flat_map(|d| d.features.iter())
        .filter_map(|f| rename(f))
        .map(Capability::flag)
        .collect()
}
