//! Kubernetes Node Feature Discovery (the `local` source's `features.d` files, as NFD 0.16 to
//! 0.19 read them): one `prefix/name=value` line per label, an `# +expiry-time=` directive,
//! at most 64 KiB.
//!
//! Labels carry the explicit prefix `feature.node.kubernetes.io/` and the name `hwspec-<cap>`:
//! NFD gave unprefixed labels exactly that prefix until its `DisableAutoPrefix` gate, so the
//! labels keep the names earlier hwspec versions produced, and nfd-master accepts the
//! namespace in every configuration (it denies `kubernetes.io` namespaces except its own).
//!
//! The expiry is the time of writing plus an explicit validity, never the cached report's age:
//! a node whose refreshing timer stops loses its labels after `--valid-for`, and one that
//! refreshes keeps them however old the cached report it rewrote them from.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use hwspec_core::model::{BackendName, Report};

use super::{provenance, vendor_gpus};

/// The label prefix: NFD's own feature namespace, written out.
pub const PREFIX: &str = "feature.node.kubernetes.io/";

/// NFD ignores a feature file larger than this.
pub const MAX_FILE_SIZE: usize = 65_536;

/// Renders `report` as a `features.d` file written at `now`, valid for `valid_for`. Each
/// capability becomes `feature.node.kubernetes.io/hwspec-<name>` with its version, or `true`
/// for a flag; a capability with several versions (`cuda-arch` on a mixed machine) gets its
/// highest as the value and one `hwspec-<name>-<version>=true` label per version. With
/// `gfd_labels`, NVIDIA GPU Feature Discovery's label names follow for the validated CUDA GPUs.
pub fn features(report: &Report, now: SystemTime, valid_for: Duration, gfd_labels: bool) -> String {
    let written = humantime::format_rfc3339_seconds(now);
    let expiry = humantime::format_rfc3339_seconds(now + valid_for);
    let mut out = format!(
        "# {}\n# written {written}, valid for {} (--valid-for)\n# +expiry-time={expiry}\n",
        provenance(report, "hwspec probe --format nfd"),
        humantime::format_duration(valid_for),
    );
    for (variable, value) in &report.overrides {
        let _ = writeln!(out, "# overridden: {variable}={value}");
    }
    let mut names: Vec<&str> = report
        .capabilities
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    names.dedup();
    for name in names {
        let mut versions: Vec<&str> = report
            .capabilities
            .iter()
            .filter(|c| c.name == name)
            .filter_map(|c| c.version.as_deref())
            .collect();
        versions.sort_by(|a, b| hwspec_core::version::order(a, b));
        let mut labels = vec![(
            format!("hwspec-{name}"),
            versions.last().copied().unwrap_or("true").to_owned(),
        )];
        if versions.len() > 1 {
            labels.extend(
                versions
                    .iter()
                    .map(|v| (format!("hwspec-{name}-{v}"), "true".to_owned())),
            );
        }
        for (label, value) in labels {
            push_label(&mut out, PREFIX, &label, &value);
        }
    }
    if gfd_labels {
        push_gfd_labels(&mut out, report);
    }
    out
}

/// NVIDIA GPU Feature Discovery's labels (k8s-device-plugin's "Generated Labels") for pods
/// that already select on them, derived from hwspec's validated CUDA GPUs instead of GFD's own
/// NVML query. GFD describes one GPU model per node, so the labels are written only when every
/// validated CUDA GPU is the same model.
fn push_gfd_labels(out: &mut String, report: &Report) {
    let gpus: Vec<_> = vendor_gpus(report)
        .into_iter()
        .filter(|g| g.backend == BackendName::Cuda)
        .collect();
    let _ = writeln!(
        out,
        "# nvidia.com/ labels in GPU Feature Discovery's names, written by hwspec from validated CUDA GPUs (not by GFD)"
    );
    let Some(first) = gpus.first() else {
        let _ = writeln!(out, "# no validated CUDA GPU, so none");
        return;
    };
    if gpus.iter().any(|g| g.device.name != first.device.name) {
        let _ = writeln!(
            out,
            "# the validated CUDA GPUs are of several models; GFD's labels describe one, so none"
        );
        return;
    }
    let device = first.device;
    let mut labels: Vec<(&str, String)> = vec![
        ("gpu.product", gfd_product(&device.name)),
        ("gpu.count", gpus.len().to_string()),
    ];
    if let Some(bytes) = device.memory_bytes {
        labels.push(("gpu.memory", (bytes >> 20).to_string()));
    }
    if let Some((major, minor)) = device.arch.as_deref().and_then(|a| a.split_once('.')) {
        labels.push(("gpu.compute.major", major.to_owned()));
        labels.push(("gpu.compute.minor", minor.to_owned()));
    }
    if let Some(cuda) = report.capability("cuda").and_then(|c| c.version.as_deref()) {
        if let Some((major, minor)) = cuda.split_once('.') {
            labels.push(("cuda.runtime-version.major", major.to_owned()));
            labels.push(("cuda.runtime-version.minor", minor.to_owned()));
            labels.push(("cuda.runtime-version.full", cuda.to_owned()));
        }
    }
    for (name, value) in labels {
        push_label(out, "nvidia.com/", name, &value);
    }
}

/// GFD's spelling of a product name: characters other than letters, digits, `-`, `_`, `.` and
/// spaces dropped, runs of spaces made one `-` ("Tesla T4" → `Tesla-T4`).
fn gfd_product(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join("-")
}

/// Appends `prefix+name=value`, or a comment saying why it cannot be a label.
fn push_label(out: &mut String, prefix: &str, name: &str, value: &str) {
    if is_label_part(name) && (value.is_empty() || is_label_part(value)) {
        let _ = writeln!(out, "{prefix}{name}={value}");
    } else {
        let _ = writeln!(out, "# not a valid label, left out: {prefix}{name}={value}");
    }
}

/// Whether `text` is a valid Kubernetes label name (without prefix) or value: at most 63
/// characters, alphanumerics with `-`, `_` and `.` inside, alphanumeric at both ends.
fn is_label_part(text: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.len() <= 63
        && ends_ok(text.chars().next())
        && ends_ok(text.chars().last())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use hwspec_core::model::Capability;
    use std::time::UNIX_EPOCH;

    /// The label lines of a features.d file as NFD's local source reads them.
    fn labels(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once('=').unwrap())
            .collect()
    }

    #[test]
    fn every_capability_becomes_a_prefixed_label_with_an_expiry_from_now() {
        let report = report(
            vec![
                Capability::flag("cpu"),
                Capability::versioned("cuda", "12.8"),
                Capability::versioned("cuda-arch", "8.6"),
                Capability::versioned("cuda-arch", "9.0"),
                Capability::flag("rocm-gfx90a"),
            ],
            Vec::new(),
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let text = features(&report, now, Duration::from_secs(3600), false);
        assert!(
            text.contains("\n# +expiry-time=2027-01-15T09:00:00Z\n"),
            "{text}"
        );
        assert_eq!(
            labels(&text),
            [
                ("feature.node.kubernetes.io/hwspec-cpu", "true"),
                ("feature.node.kubernetes.io/hwspec-cuda", "12.8"),
                ("feature.node.kubernetes.io/hwspec-cuda-arch", "9.0"),
                ("feature.node.kubernetes.io/hwspec-cuda-arch-8.6", "true"),
                ("feature.node.kubernetes.io/hwspec-cuda-arch-9.0", "true"),
                ("feature.node.kubernetes.io/hwspec-rocm-gfx90a", "true"),
            ]
        );
        for (name, value) in labels(&text) {
            let (prefix, name) = name.split_once('/').unwrap();
            assert_eq!(prefix, "feature.node.kubernetes.io");
            assert!(
                is_label_part(name) && is_label_part(value),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn the_expiry_ignores_the_age_of_a_cached_report() {
        let mut report = report(vec![Capability::flag("cpu")], Vec::new());
        report.cache = Some(hwspec_core::model::CacheInfo {
            hit: true,
            age_seconds: 3599.0,
            file: None,
            not_stored: None,
        });
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let text = features(&report, now, Duration::from_secs(3 * 3600), false);
        assert!(
            text.contains("# +expiry-time=2027-01-15T11:00:00Z"),
            "{text}"
        );
        assert!(text.contains("valid for 3h (--valid-for)"), "{text}");
    }

    #[test]
    fn label_syntax_is_checked() {
        assert!(is_label_part("hwspec-x86-64-v3"));
        assert!(!is_label_part("-x"));
        assert!(!is_label_part("a b"));
        assert!(!is_label_part(&"a".repeat(64)));
        let report = report(
            vec![Capability::versioned("cuda", "12.8+weird")],
            Vec::new(),
        );
        let text = features(&report, UNIX_EPOCH, Duration::ZERO, false);
        assert!(
            text.contains(
                "# not a valid label, left out: feature.node.kubernetes.io/hwspec-cuda=12.8+weird"
            ),
            "{text}"
        );
    }

    #[test]
    fn gfd_labels_describe_one_validated_model() {
        let t4 = |bus: &str, node: &str| gpu("Tesla T4", "7.5", bus, Some(node));
        let report = reduced(vec![backend(
            BackendName::Cuda,
            "12.2",
            vec![
                t4("0000:17:00.0", "/dev/nvidia0"),
                t4("0000:18:00.0", "/dev/nvidia1"),
            ],
        )]);
        let text = features(&report, UNIX_EPOCH, Duration::from_secs(10800), true);
        let gfd: Vec<(&str, &str)> = labels(&text)
            .into_iter()
            .filter(|(n, _)| n.starts_with("nvidia.com/"))
            .collect();
        assert_eq!(
            gfd,
            [
                ("nvidia.com/gpu.product", "Tesla-T4"),
                ("nvidia.com/gpu.count", "2"),
                ("nvidia.com/gpu.memory", "16384"),
                ("nvidia.com/gpu.compute.major", "7"),
                ("nvidia.com/gpu.compute.minor", "5"),
                ("nvidia.com/cuda.runtime-version.major", "12"),
                ("nvidia.com/cuda.runtime-version.minor", "2"),
                ("nvidia.com/cuda.runtime-version.full", "12.2"),
            ]
        );
        assert!(text.contains("written by hwspec from validated CUDA GPUs (not by GFD)"));

        let mixed = reduced(vec![backend(
            BackendName::Cuda,
            "12.2",
            vec![
                t4("0000:17:00.0", "/dev/nvidia0"),
                gpu(
                    "NVIDIA A100-SXM4-40GB",
                    "8.0",
                    "0000:18:00.0",
                    Some("/dev/nvidia1"),
                ),
            ],
        )]);
        let text = features(&mixed, UNIX_EPOCH, Duration::from_secs(10800), true);
        assert!(!text.contains("\nnvidia.com/"), "{text}");
        assert!(text.contains("of several models"), "{text}");
        assert_eq!(
            gfd_product("NVIDIA  A100-SXM4-40GB (rev a1)"),
            "NVIDIA-A100-SXM4-40GB-rev-a1"
        );
    }
}
