//! conda's virtual package detector protocol (conda/ceps pull request 191, as rattler's
//! `rattler_virtual_package_detectors` implements it): a detector is started with no arguments
//! and prints one JSON object, `{"version": 1, "virtual_packages": {...}, "cache": {...}}`,
//! with a verdict for exactly the names its registration declares, `null` for absence.
//!
//! The names and their rules are the CEPs': `__cuda` (CEP 30: the CUDA version the driver
//! supports, `major.minor`), `__cuda_arch` (CEP 46: the lowest compute capability, absent
//! without `__cuda`), `__amdgpu` (conda/ceps pull request 189: version and build `0`, present
//! with an AMD GPU) and `__amdgpu_arch` (the same proposal: the highest ISA version,
//! `major.minor.stepping`). hwspec counts validated devices only, so a driver whose GPU fails
//! validation, or that has none, gives `null` where conda's built-in detection would still
//! offer `__cuda`.

use serde::Serialize;
use serde_json::{json, Map, Value};

use hwspec_core::amdgpu;
use hwspec_core::model::{BackendName, DeviceKind, Report};
use hwspec_core::version;

/// The virtual packages hwspec can answer for, in registration order.
pub const NAMES: [&str; 4] = ["__cuda", "__cuda_arch", "__amdgpu", "__amdgpu_arch"];

/// Files whose appearance, disappearance or change means the answer may have changed within a
/// boot: the dynamic linker's cache (rewritten when a driver's libraries are installed or
/// removed), the kernel modules and the device nodes the runtimes open.
pub const WATCH_PATHS: [&str; 6] = [
    "/etc/ld.so.cache",
    "/sys/module/nvidia",
    "/sys/module/amdgpu",
    "/dev/nvidiactl",
    "/dev/kfd",
    "/dev/dri",
];

/// Variables of the client's environment that change which devices the runtimes offer.
pub const WATCH_ENV: [&str; 5] = [
    "CUDA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "HSA_OVERRIDE_GFX_VERSION",
    "LD_LIBRARY_PATH",
];

/// The detector's report for the registered `names` (each one of [`NAMES`]), from the
/// validated devices of `report` only. The cache hint is `"REBOOT"`: devices, drivers and
/// compute capabilities hold for a boot, and what changes within one is watched.
pub fn detector_report(report: &Report, names: &[&str]) -> Value {
    let proven = |backend: BackendName| {
        report
            .backend(backend)
            .into_iter()
            .flat_map(|b| &b.devices)
            .filter(|d| d.kind == DeviceKind::Gpu && d.proven_at(report.level))
            .collect::<Vec<_>>()
    };
    let cuda_gpus = proven(BackendName::Cuda);
    let cuda = report
        .backend(BackendName::Cuda)
        .and_then(|b| b.runtime_version.as_deref())
        .and_then(version::major_minor)
        .filter(|_| !cuda_gpus.is_empty());
    let cuda_arch = cuda.as_ref().and_then(|_| {
        cuda_gpus
            .iter()
            .filter_map(|d| d.arch.as_deref())
            .filter_map(version::major_minor)
            .min_by(|a, b| version::order(a, b))
    });
    let amd_isas: Vec<amdgpu::IsaVersion> = proven(BackendName::Hip)
        .iter()
        .filter_map(|d| d.arch.as_deref())
        .filter_map(amdgpu::isa_version)
        .collect();
    let amdgpu_present = !proven(BackendName::Hip).is_empty();
    let amdgpu_arch = amd_isas
        .iter()
        .max()
        .filter(|_| amdgpu_present)
        .map(ToString::to_string);

    let verdict = |version: Option<String>| match version {
        Some(version) => json!({ "version": version, "build_string": "0" }),
        None => Value::Null,
    };
    let mut packages = Map::new();
    for &name in names {
        let value = match name {
            "__cuda" => verdict(cuda.clone()),
            "__cuda_arch" => verdict(cuda_arch.clone()),
            "__amdgpu" => verdict(amdgpu_present.then(|| "0".to_owned())),
            "__amdgpu_arch" => verdict(amdgpu_arch.clone()),
            _ => continue,
        };
        packages.insert(name.to_owned(), value);
    }
    json!({
        "version": 1,
        "virtual_packages": packages,
        "cache": Cache {
            ttl_seconds: "REBOOT",
            watch_paths: &WATCH_PATHS,
            watch_env: &WATCH_ENV,
        },
    })
}

#[derive(Serialize)]
struct Cache {
    ttl_seconds: &'static str,
    watch_paths: &'static [&'static str],
    watch_env: &'static [&'static str],
}

/// One name of `--virtual-packages`: one of [`NAMES`].
pub fn parse_name(text: &str) -> Result<&'static str, String> {
    let text = text.trim();
    NAMES.iter().copied().find(|n| *n == text).ok_or_else(|| {
        format!(
            "`{text}` is not a virtual package hwspec detects: use {}",
            NAMES.join(", ")
        )
    })
}

/// The registered names: each once, all of [`NAMES`] when none are given.
pub fn registered(names: &[&'static str]) -> Result<Vec<&'static str>, String> {
    if names.is_empty() {
        return Ok(NAMES.to_vec());
    }
    let mut seen = Vec::new();
    for &name in names {
        if seen.contains(&name) {
            return Err(format!("`{name}` is listed twice in --virtual-packages"));
        }
        seen.push(name);
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn validated_gpus_give_the_cep_versions() {
        let mut failed = gpu("Tesla K80", "3.7", "0000:02:00.0", None);
        failed.status = hwspec_core::Status::Failed;
        let report = reduced(vec![
            backend(
                BackendName::Cuda,
                "12.8",
                vec![
                    gpu("NVIDIA H100 80GB HBM3", "9.0", "0000:17:00.0", None),
                    gpu("Tesla T4", "7.5", "0000:18:00.0", None),
                    failed,
                ],
            ),
            backend(
                BackendName::Hip,
                "6.2.41133",
                vec![
                    gpu("AMD Instinct MI210", "gfx90a", "0000:c1:00.0", None),
                    gpu("AMD Radeon PRO W6800", "gfx1030", "0000:c2:00.0", None),
                ],
            ),
        ]);
        let out = detector_report(&report, &NAMES);
        assert_eq!(
            out["virtual_packages"],
            json!({
                "__cuda": {"version": "12.8", "build_string": "0"},
                "__cuda_arch": {"version": "7.5", "build_string": "0"},
                "__amdgpu": {"version": "0", "build_string": "0"},
                "__amdgpu_arch": {"version": "10.3.0", "build_string": "0"},
            })
        );
        assert_eq!(out["version"], 1);
        assert_eq!(out["cache"]["ttl_seconds"], "REBOOT");
        for path in out["cache"]["watch_paths"].as_array().unwrap() {
            assert!(path.as_str().unwrap().starts_with('/'));
        }
    }

    #[test]
    fn absence_is_null_for_every_declared_name_and_nothing_else_is_said() {
        let report = reduced(Vec::new());
        let out = detector_report(&report, &["__cuda_arch", "__amdgpu"]);
        assert_eq!(
            out["virtual_packages"],
            json!({"__cuda_arch": null, "__amdgpu": null})
        );
    }

    #[test]
    fn registered_names_are_checked() {
        assert_eq!(parse_name(" __amdgpu").unwrap(), "__amdgpu");
        assert!(parse_name("__rocm").unwrap_err().contains("__amdgpu_arch"));
        assert!(parse_name("").is_err());
        assert_eq!(registered(&[]).unwrap(), NAMES);
        assert!(registered(&["__cuda", "__cuda"]).is_err());
        assert_eq!(registered(&["__amdgpu"]).unwrap(), ["__amdgpu"]);
    }
}
