//! The readable table of `hwspec probe`. Renders the report model only; decides nothing.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use hwspec_core::model::{Device, Reason, Report, Validation};

/// Renders `report` as the table `hwspec probe` prints.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let who = if report.host.root { "root" } else { "user" };
    let _ = writeln!(
        out,
        "hwspec {}: level {}, {} backend(s) in {:.0} ms, as {who} on {} {}",
        report.hwspec_version,
        report.level,
        report.backends.len(),
        report.elapsed_ms,
        report.host.kernel,
        report.host.architecture,
    );
    if let Some(cache) = report.cache.as_ref().filter(|c| c.hit) {
        let _ = writeln!(
            out,
            "note: from the report cache ({:.0} s old; --fresh probes again)",
            cache.age_seconds
        );
    }
    if !report.overrides.is_empty() {
        let set: Vec<String> = report
            .overrides
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "note: capabilities overridden by {}", set.join(", "));
    }
    if !report.host.dropped_environment.is_empty() {
        let _ = writeln!(
            out,
            "note: as root, these loader variables were not passed to the workers \
             (--trust-env passes them): {}",
            report.host.dropped_environment.join(", ")
        );
    }

    out.push('\n');
    let mut rows = vec![row(["BACKEND", "STATUS", "TIME", "LIBRARY"])];
    let mut notes: Vec<Vec<String>> = vec![Vec::new()];
    for b in &report.backends {
        rows.push(row([
            b.name.as_str(),
            b.status.as_str(),
            &format!("{:.0} ms", b.elapsed_ms),
            b.library.as_deref().unwrap_or("-"),
        ]));
        let mut lines: Vec<String> = b.reason.iter().map(reason_line).collect();
        lines.extend(b.warnings.iter().map(|w| format!("warning: {w}")));
        notes.push(lines);
    }
    push_table(&mut out, &rows, &notes);

    let devices: Vec<(&str, &Device)> = report
        .backends
        .iter()
        .flat_map(|b| b.devices.iter().map(move |d| (b.name.as_str(), d)))
        .collect();
    if !devices.is_empty() {
        out.push('\n');
        let mut rows = vec![row([
            "BACKEND",
            "DEVICE",
            "KIND",
            "STATUS",
            "API",
            "MEMORY",
            "VALIDATION",
        ])];
        let mut notes: Vec<Vec<String>> = vec![Vec::new()];
        for (backend, d) in devices {
            let checks: Vec<String> = [&d.validation, &d.gemm_validation]
                .into_iter()
                .flatten()
                .map(validation_cell)
                .collect();
            rows.push(row([
                backend,
                &d.name,
                d.kind.as_str(),
                d.status.as_str(),
                d.api_version.as_deref().unwrap_or("-"),
                &d.memory_bytes.map_or_else(|| "-".to_owned(), gib),
                &if checks.is_empty() {
                    "-".to_owned()
                } else {
                    checks.join(", ")
                },
            ]));
            notes.push(d.reason.iter().map(reason_line).collect());
        }
        push_table(&mut out, &rows, &notes);
    }

    out.push_str("\nCAPABILITIES\n  ");
    let caps: Vec<String> = report
        .capabilities
        .iter()
        .map(ToString::to_string)
        .collect();
    out.push_str(&caps.join(", "));
    out.push('\n');
    if report.level == hwspec_core::Level::Quick {
        out.push_str("  (level quick: devices were listed, not validated)\n");
    }
    out
}

/// Renders `report` as a Kubernetes Node Feature Discovery `features.d` file: one
/// `name=value` label per line, which NFD publishes as `feature.node.kubernetes.io/<name>`.
/// Each capability becomes `hwspec-<name>` with its version, or `true` for a flag; a
/// capability with several versions (`cuda-arch` on a mixed machine) gets its highest as the
/// value and one `hwspec-<name>-<version>=true` label per version. The expiry directive tells
/// NFD to drop the labels once the report is older than `valid_for`, so a stale file on a node
/// whose exporter stopped does not keep attracting GPU jobs.
pub fn nfd(report: &Report, now: SystemTime, valid_for: Duration) -> String {
    let age = report.cache.as_ref().map_or(0.0, |c| c.age_seconds);
    let remaining = valid_for.saturating_sub(Duration::from_secs_f64(age.max(0.0)));
    let expiry = humantime::format_rfc3339_seconds(now + remaining);
    let mut out = format!(
        "# hwspec {} capabilities at level {} (hwspec probe --format nfd)\n# +expiry-time={expiry}\n",
        report.hwspec_version, report.level
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
        versions.sort_by(|a, b| hwspec_core::caps::compare_versions(a, b));
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
            if is_label_part(&label) && (value.is_empty() || is_label_part(&value)) {
                let _ = writeln!(out, "{label}={value}");
            } else {
                let _ = writeln!(out, "# not a valid label, left out: {label}={value}");
            }
        }
    }
    out
}

/// Renders `report` for Slurm: a `slurm.conf` node line whose `Features=` are the capability
/// set (for `sbatch --constraint`), and `gres.conf` lines for the validated hardware GPUs.
/// A flag capability is one feature (`gpu`); a versioned one is two, its name and its name with
/// the version (`cuda`, `cuda-12.8`), since Slurm compares features by name only. GPUs are
/// counted as the capability set counts them (`gpu-count`), grouped by model for `Type=`.
pub fn slurm(report: &Report, hostname: &str) -> String {
    let mut features: Vec<String> = Vec::new();
    for cap in &report.capabilities {
        let mut add = |f: String| {
            if is_slurm_feature(&f) && !features.contains(&f) {
                features.push(f);
            }
        };
        add(cap.name.clone());
        if let Some(version) = &cap.version {
            add(format!("{}-{version}", cap.name));
        }
    }
    let mut out = format!(
        "# hwspec {} capabilities at level {} (hwspec probe --format slurm)\n",
        report.hwspec_version, report.level
    );
    for (variable, value) in &report.overrides {
        let _ = writeln!(out, "# overridden: {variable}={value}");
    }
    let gpu_count: usize = report
        .capability("gpu-count")
        .and_then(|c| c.version.as_deref())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut types: Vec<(String, usize)> = Vec::new();
    if let Some(best) = report
        .backends
        .iter()
        .map(|b| gpu_models(b, report.level))
        .max_by_key(Vec::len)
    {
        for model in best {
            match types.iter_mut().find(|(t, _)| *t == model) {
                Some((_, n)) => *n += 1,
                None => types.push((model, 1)),
            }
        }
    }
    let gres = if gpu_count == 0 {
        String::new()
    } else {
        format!(" Gres=gpu:{gpu_count}")
    };
    let _ = writeln!(out, "# slurm.conf");
    let _ = writeln!(
        out,
        "NodeName={hostname} Features={}{gres}",
        features.join(",")
    );
    let _ = writeln!(out, "# gres.conf");
    if types.is_empty() {
        let _ = writeln!(out, "# no validated hardware GPU, so no gres.conf line");
    }
    for (model, count) in types {
        let _ = writeln!(
            out,
            "NodeName={hostname} Name=gpu Type={model} Count={count}"
        );
    }
    out
}

/// The validated (or, at level quick, enumerated) hardware GPUs of one backend, as Slurm
/// `Type=` names: the device name lowercased, runs of other characters made `_`.
fn gpu_models(
    backend: &hwspec_core::model::BackendReport,
    level: hwspec_core::Level,
) -> Vec<String> {
    backend
        .devices
        .iter()
        .filter(|d| d.kind == hwspec_core::model::DeviceKind::Gpu)
        .filter(|d| hwspec_core::caps::proven(d, level))
        .map(|d| {
            let mut model = String::new();
            for c in d.name.to_ascii_lowercase().chars() {
                if c.is_ascii_alphanumeric() {
                    model.push(c);
                } else if !model.ends_with('_') && !model.is_empty() {
                    model.push('_');
                }
            }
            model.trim_end_matches('_').to_owned()
        })
        .collect()
}

/// Whether `text` can be a Slurm feature name usable in `--constraint`: letters, digits, `_`,
/// `-` and `.`, none of the constraint operators (`&`, `|`, `*`, `[`, `]`, `,`, `!`, `(`, `)`).
fn is_slurm_feature(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
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

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn reason_line(reason: &Reason) -> String {
    format!("reason: {}: {}", reason.code, reason.message)
}

fn validation_cell(v: &Validation) -> String {
    let verdict = if v.passed { "ok" } else { "WRONG" };
    let error = if v.max_abs_error == 0.0 {
        "exact".to_owned()
    } else {
        format!("max err {:.1e}", v.max_abs_error)
    };
    format!("{} {verdict} ({:.1} ms, {error})", v.kernel, v.elapsed_ms)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Writes rows as left-aligned columns, each followed by its indented notes.
fn push_table(out: &mut String, rows: &[Vec<String>], notes: &[Vec<String>]) {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (cells, notes) in rows.iter().zip(notes) {
        let mut line = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for note in notes {
            let _ = writeln!(out, "    {note}");
        }
    }
}

#[cfg(test)]
mod slurm_tests {
    use super::*;
    use hwspec_core::model::{
        BackendName, BackendReport, Capability, Device, DeviceKind, HostInfo, Status,
        SCHEMA_VERSION,
    };

    /// A report with the given capabilities and backends, for the renderers' tests.
    pub(super) fn report(caps: Vec<Capability>, backends: Vec<BackendReport>) -> Report {
        Report {
            schema: SCHEMA_VERSION,
            hwspec_version: "0.1.0".into(),
            level: hwspec_core::Level::Standard,
            capabilities: caps,
            backends,
            host: HostInfo {
                kernel: "Linux".into(),
                architecture: "x86_64".into(),
                root: true,
                driver_cache: None,
                environment: Default::default(),
                dropped_environment: Vec::new(),
            },
            elapsed_ms: 1.0,
            cache: None,
            overrides: Default::default(),
        }
    }

    fn gpu(name: &str) -> Device {
        let mut d = Device::new(name, "NVIDIA", DeviceKind::Gpu);
        d.status = Status::Validated;
        d
    }

    /// Splits a slurm.conf-style line into its `Key=Value` pairs, as slurmd reads them.
    fn pairs(line: &str) -> Vec<(&str, &str)> {
        line.split_whitespace()
            .map(|pair| pair.split_once('=').expect(pair))
            .collect()
    }

    #[test]
    fn features_and_gres_follow_the_capability_set() {
        let mut cuda = BackendReport::new(BackendName::Cuda, Status::Validated, None);
        cuda.devices = vec![
            gpu("NVIDIA H100 80GB HBM3"),
            gpu("NVIDIA H100 80GB HBM3"),
            gpu("NVIDIA A100-SXM4-40GB"),
        ];
        let text = slurm(
            &report(
                vec![
                    Capability::flag("cpu"),
                    Capability::versioned("cuda", "12.8"),
                    Capability::versioned("cuda-arch", "8.0"),
                    Capability::versioned("cuda-arch", "9.0"),
                    Capability::flag("gpu"),
                    Capability::versioned("gpu-count", "3"),
                ],
                vec![cuda],
            ),
            "node7",
        );
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            pairs(lines[0]),
            [
                ("NodeName", "node7"),
                (
                    "Features",
                    "cpu,cuda,cuda-12.8,cuda-arch,cuda-arch-8.0,cuda-arch-9.0,gpu,gpu-count,gpu-count-3"
                ),
                ("Gres", "gpu:3")
            ]
        );
        assert_eq!(
            &lines[1..],
            [
                "NodeName=node7 Name=gpu Type=nvidia_h100_80gb_hbm3 Count=2",
                "NodeName=node7 Name=gpu Type=nvidia_a100_sxm4_40gb Count=1"
            ]
        );
        for feature in pairs(lines[0])[1].1.split(',') {
            assert!(is_slurm_feature(feature), "{feature}");
        }
    }

    #[test]
    fn a_machine_without_gpus_has_no_gres() {
        let text = slurm(&report(vec![Capability::flag("cpu")], Vec::new()), "n");
        assert!(text.contains("NodeName=n Features=cpu\n"), "{text}");
        assert!(!text.contains("Gres="), "{text}");
        assert!(text.contains("# no validated hardware GPU"), "{text}");
        assert!(!is_slurm_feature("a|b"));
        assert!(!is_slurm_feature("cuda (>= 12)"));
    }
}

#[cfg(test)]
mod nfd_tests {
    use super::*;
    use hwspec_core::model::Capability;
    use std::time::UNIX_EPOCH;

    fn report_with(caps: Vec<Capability>) -> Report {
        super::slurm_tests::report(caps, Vec::new())
    }

    #[test]
    fn every_capability_becomes_a_valid_label_with_an_expiry() {
        let report = report_with(vec![
            Capability::flag("cpu"),
            Capability::versioned("cuda", "12.8"),
            Capability::versioned("cuda-arch", "8.6"),
            Capability::versioned("cuda-arch", "9.0"),
            Capability::flag("rocm-gfx90a"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let text = nfd(&report, now, Duration::from_secs(3600));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "# +expiry-time=2027-01-15T09:00:00Z");
        assert_eq!(
            &lines[2..],
            [
                "hwspec-cpu=true",
                "hwspec-cuda=12.8",
                "hwspec-cuda-arch=9.0",
                "hwspec-cuda-arch-8.6=true",
                "hwspec-cuda-arch-9.0=true",
                "hwspec-rocm-gfx90a=true"
            ]
        );
        for line in lines.iter().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.split_once('=').unwrap();
            assert!(is_label_part(name) && is_label_part(value), "{line}");
        }
    }

    #[test]
    fn label_syntax_is_checked() {
        assert!(is_label_part("hwspec-x86-64-v3"));
        assert!(!is_label_part("-x"));
        assert!(!is_label_part("a b"));
        assert!(!is_label_part(&"a".repeat(64)));
        let report = report_with(vec![Capability::versioned("cuda", "12.8+weird")]);
        let text = nfd(&report, UNIX_EPOCH, Duration::ZERO);
        assert!(
            text.contains("# not a valid label, left out: hwspec-cuda=12.8+weird"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwspec_core::model::{
        BackendName, BackendReport, Capability, DeviceKind, HostInfo, ReasonCode, Status,
        SCHEMA_VERSION,
    };

    #[test]
    fn the_table_shows_states_reasons_devices_and_capabilities() {
        let mut opencl = BackendReport::new(BackendName::Opencl, Status::Validated, None);
        let mut device = Device::new("pthread-x", "PoCL", DeviceKind::Software);
        device.status = Status::Validated;
        device.memory_bytes = Some(3 << 30);
        device.api_version = Some("3.0".into());
        device.validation = Some(Validation {
            kernel: "saxpy".into(),
            passed: true,
            max_abs_error: 0.0,
            elapsed_ms: 4.2,
            elements: 1 << 20,
        });
        opencl.devices.push(device);
        let vulkan = BackendReport::absent(
            BackendName::Vulkan,
            ReasonCode::LibraryNotFound,
            "no libvulkan.so.1",
        );
        let report = Report {
            schema: SCHEMA_VERSION,
            hwspec_version: "0.1.0".into(),
            level: hwspec_core::Level::Standard,
            capabilities: vec![
                Capability::flag("cpu"),
                Capability::versioned("opencl", "3.0"),
            ],
            backends: vec![opencl, vulkan],
            host: HostInfo {
                kernel: "Linux 6.1".into(),
                architecture: "x86_64".into(),
                root: false,
                driver_cache: None,
                environment: Default::default(),
                dropped_environment: vec!["LD_PRELOAD".into()],
            },
            elapsed_ms: 12.0,
            cache: None,
            overrides: Default::default(),
        };
        let text = table(&report);
        assert!(text.contains("opencl   validated"), "{text}");
        assert!(
            text.contains("reason: library-not-found: no libvulkan.so.1"),
            "{text}"
        );
        assert!(text.contains("pthread-x"), "{text}");
        assert!(text.contains("3.0 GiB"), "{text}");
        assert!(text.contains("saxpy ok"), "{text}");
        assert!(text.contains("cpu, opencl (= 3.0)"), "{text}");
        assert!(text.contains("not passed to the workers"), "{text}");
        assert!(text.contains("LD_PRELOAD"), "{text}");
    }
}
